"""The web exports' pad mix and step velocities: applied to the loop and the kit as the page's engine plays them."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pydantic", reason="the web extra (fastapi, uvicorn) is not installed")

from dkvae.kits.kit import KitSound, Pad
from dkvae.web.exports import DECAY_HOLD, Pattern, mixed, pan_gains, render_loop, web_kit
from dkvae.web.schemas import PadSettings, PatternRequest

RATE = 8000


def test_a_mix_tunes_by_playback_rate_shortens_by_decay_and_scales_by_volume() -> None:
    ramp = np.linspace(0.0, 1.0, 1000, dtype=np.float32)
    assert np.array_equal(mixed(ramp, PadSettings()), ramp)
    octave_up = mixed(ramp, PadSettings(tune=12.0))
    assert len(octave_up) == 500 and octave_up[100] == pytest.approx(ramp[200])
    short = mixed(ramp, PadSettings(decay=0.4, volume=0.5))
    assert len(short) == 400
    hold = round(DECAY_HOLD * 400)
    assert np.allclose(short[:hold], 0.5 * ramp[:hold]) and short[-1] < 0.01  # held, then faded out
    assert pan_gains(0.0) == pytest.approx((np.sqrt(0.5), np.sqrt(0.5)))
    assert pan_gains(-1.0) == pytest.approx((1.0, 0.0), abs=1e-12)


def test_the_loop_plays_step_velocities_and_each_pad_s_mix() -> None:
    pattern = Pattern(16, 120.0, 0.0, {"kick": [1] + [0] * 15, "snare": [0] * 4 + [1] + [0] * 11})
    click = np.zeros(100, np.float32)
    click[0] = 1.0
    sounds = {"kick": click, "snare": click}
    step = round(pattern.step_seconds * RATE)
    plain = render_loop(pattern, sounds, {}, RATE)
    assert plain.ndim == 1 and plain[0] == pytest.approx(plain[4 * step])
    soft = Pattern(16, 120.0, 0.0, pattern.cells, {"snare": [0] * 4 + [40] + [0] * 11})
    assert soft.hits() == [(0, "kick", 100), (4, "snare", 40)]
    quiet = render_loop(soft, sounds, {}, RATE)
    assert quiet[4 * step] / quiet[0] == pytest.approx((40 / 100) ** 1.5, rel=1e-3)
    panned = render_loop(pattern, sounds, {}, RATE, {"kick": PadSettings(pan=-1.0), "snare": PadSettings(volume=0.5)})
    assert panned.shape == (len(plain), 2)
    assert panned[0, 1] == pytest.approx(0.0, abs=1e-6) and panned[0, 0] > 0  # the kick hard left
    assert panned[4 * step, 0] == pytest.approx(panned[4 * step, 1])  # the snare in the centre
    assert panned[4 * step, 0] / panned[0, 0] == pytest.approx(0.5 * np.sqrt(0.5), rel=1e-3)


def test_a_kit_s_samples_carry_the_mix_and_their_sidecars_the_pan() -> None:
    kick = Pad("kick", "Kick", 36, "kick")
    snare = Pad("snare", "Snare", 38, "snare")
    sound = np.linspace(1.0, 0.0, 1000, dtype=np.float32)
    kit = web_kit(
        "k",
        RATE,
        [(kick, KitSound(sound, {"id": "a"})), (snare, KitSound(sound, {"id": "b"}))],
        {"kick": PadSettings(tune=-12.0, volume=0.25, pan=0.5)},
    )
    kicked, snared = kit.pad("kick").sounds[0], kit.pad("snare").sounds[0]
    assert len(kicked.audio) == 2000 and kicked.audio.max() == pytest.approx(0.25)
    assert kicked.sidecar["playback"] == {"volume": 0.25, "tune": -12.0, "decay": 1.0, "pan": 0.5}
    assert np.array_equal(snared.audio, sound) and "playback" not in snared.sidecar


def test_pattern_requests_take_velocities_and_settings_within_range() -> None:
    body = {"pads": {}, "pattern": {"kick": [1]}, "velocities": {"kick": [64]}, "settings": {"kick": {"tune": 3}}}
    request = PatternRequest.model_validate(body)
    assert request.settings["kick"].tune == 3 and request.settings["kick"].volume == 1.0
    for bad in ({"velocities": {"kick": [128]}}, {"settings": {"kick": {"pan": 2}}}, {"settings": {"kick": {"x": 1}}},
                {"velocities": {"kick": [1] * 33}}, {"settings": {"kick": {"decay": 0}}}):  # fmt: skip
        with pytest.raises(ValueError):
            PatternRequest.model_validate({**body, **bad})
