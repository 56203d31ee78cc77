"""SoundFont kits checked by FluidSynth itself: every pad on its key, 24-bit samples, the hi-hat choke, atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import dkvae.kits.soundfont
from dkvae.importers import soundfont as player
from dkvae.kits.kit import Kit, KitPad, KitSound
from dkvae.kits.layout import PADS, pad_named
from dkvae.kits.soundfont import DRUM_BANK, DRUM_PROGRAM, write_soundfont

RATE = 44100
#: FluidSynth ramps a new voice's gain up over its first block of 64 frames; the file's samples start after it.
VOICE_RAMP = 64


def decaying_sine(frequency: float, seconds: float = 0.2, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * frequency * t) * np.exp(-t / 0.05)).astype(np.float32)


@pytest.fixture
def kit() -> Kit:
    """Every pad a decaying sine of its own frequency; the snare has a second round robin a SoundFont leaves out."""
    pads = []
    for index, pad in enumerate(PADS):
        sounds = [KitSound(decaying_sine(100.0 + 50.0 * index), {})]
        if pad.name == "snare":
            sounds.append(KitSound(decaying_sine(3000.0), {}))
        pads.append(KitPad(pad, sounds))
    return Kit("Röck & Roll: the kit with a long name", RATE, pads)


def render(font: Path, notes: list[tuple[float, int]], seconds: float) -> np.ndarray:
    """FluidSynth's float render ``(samples,)`` (left channel) of `notes`, (time in seconds, key) at velocity 127
    on the drum channel, through the synth the SoundFont importer drives."""
    synth = player._Synth(font, RATE)
    try:
        assert synth.select(player.read_presets(font)[0])
        parts, now = [], 0
        for time, key in [*sorted(notes), (seconds, None)]:
            frames = round(time * RATE) - now
            if frames > 0:
                parts.append(synth._write(frames)[:, 0])
                now += frames
            if key is not None:
                synth._library.fluid_synth_noteon(synth._synth, player._DRUM_CHANNEL, key, 127)
        return np.concatenate(parts)
    finally:
        synth.close()


def test_fluidsynth_plays_every_pad_on_its_key_as_written(kit: Kit, tmp_path: Path) -> None:
    font = write_soundfont(kit, tmp_path / "kit.sf2")
    presets = player.read_presets(font)
    assert [(p.name, p.bank, p.program) for p in presets] == [("Rock & Roll: the ki", DRUM_BANK, DRUM_PROGRAM)]
    report = player.import_soundfont(tmp_path / "bank", font, velocities=[127])
    assert report.kits == 1 and not report.skipped
    for kit_pad in kit.pads:
        (path,) = (tmp_path / "bank").glob(f"*/*__{kit_pad.pad.note}_v127.wav")
        played, rate = sf.read(path, dtype="float64")
        played = played if played.ndim == 1 else played[:, 0]
        written = kit_pad.sounds[0].audio.astype(np.float64)
        span = slice(VOICE_RAMP, min(len(played), len(written)) - 100)
        assert rate == RATE and abs(len(played) - len(written)) <= 8, kit_pad.pad.name
        assert np.corrcoef(played[span], written[span])[0, 1] > 0.9995, kit_pad.pad.name


def test_24_bit_samples_reach_fluidsynth_through_sm24(tmp_path: Path) -> None:
    """A quiet sound, where 16 bits lose most: the 24-bit font plays it far closer to the float original."""
    quiet = decaying_sine(440.0, amplitude=2e-4)
    kit = Kit("quiet", RATE, [KitPad(pad_named("kick"), [KitSound(quiet, {})])])
    errors = {}
    for bits in (16, 24):
        played = render(write_soundfont(kit, tmp_path / f"kit{bits}.sf2", bits), [(0.0, 36)], 0.2)
        span = slice(VOICE_RAMP, len(quiet) - 100)
        gain = np.dot(played[span], quiet[span]) / np.dot(quiet[span], quiet[span])
        errors[bits] = float(np.sqrt(np.mean((played[span] / gain - quiet[span]) ** 2)))
    assert errors[24] < errors[16] / 20


def test_a_closed_hat_chokes_the_open_hat_but_a_tom_does_not(tmp_path: Path) -> None:
    t = np.arange(RATE) / RATE
    open_hat = (0.3 * np.sin(2 * np.pi * 300.0 * t)).astype(np.float32)  # rings for a second, undamped
    sounds = {"open_hat": open_hat, "closed_hat": decaying_sine(2000.0), "tom_high": decaying_sine(2000.0)}
    kit = Kit("hats", RATE, [KitPad(pad_named(name), [KitSound(audio, {})]) for name, audio in sounds.items()])
    font = write_soundfont(kit, tmp_path / "hats.sf2")

    def open_hat_left(second: str | None) -> float:
        """The 300 Hz (open hat) level 0.2-0.4 s after the pad `second` is struck, 0.1 s after the open hat.

        FluidSynth fades a choked voice out with a release of -200 timecents (about 100 dB in 0.9 s)."""
        notes = [(0.0, pad_named("open_hat").note)] + ([(0.1, pad_named(second).note)] if second else [])
        played = render(font, notes, 0.5)[round(0.3 * RATE) : round(0.5 * RATE)]
        spectrum = np.abs(np.fft.rfft(played * np.hanning(len(played))))
        return float(spectrum[round(300.0 * len(played) / RATE)])

    alone = open_hat_left(None)
    assert open_hat_left("closed_hat") < alone / 30
    assert open_hat_left("tom_high") > alone * 0.9


def test_an_interrupted_write_leaves_the_previous_font(kit: Kit, tmp_path: Path, monkeypatch) -> None:
    font = write_soundfont(kit, tmp_path / "kit.sf2")
    before = font.read_bytes()

    def broken(self: Path, data: bytes) -> int:
        self.open("wb").write(data[: len(data) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(Path, "write_bytes", broken)
    with pytest.raises(OSError, match="disk full"):
        dkvae.kits.soundfont.write_soundfont(kit, font, 24)
    assert font.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["kit.sf2"]
