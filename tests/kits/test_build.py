"""Tests for building a kit from a model: layout, measured pad choice, consistency, round robins, recall by sidecar."""

from __future__ import annotations

import numpy as np
import pytest

from dkvae.core.errors import DkvaeError
from dkvae.inference.generation import render_sidecar
from dkvae.inference.machine import DrumMachine
from dkvae.kits.build import CHOICES, build_kit
from dkvae.kits.export import export_kit
from dkvae.kits.layout import PADS
from dkvae.kits.measure import decay_seconds, noisiness, pitch_hz

from ..conftest import tiny_config, write_bank


@pytest.fixture(scope="module")
def machine() -> DrumMachine:
    return DrumMachine.load()


@pytest.fixture(scope="module")
def kit(machine):
    return build_kit(machine, seed=3, round_robin=3)


def test_a_kit_has_every_pad_of_the_layout_on_its_gm_note(kit) -> None:
    assert [(p.pad.name, p.pad.note) for p in kit.pads] == [(pad.name, pad.note) for pad in PADS]
    notes = {p.pad.name: p.pad.note for p in kit.pads}
    assert notes["kick"] == 36 and notes["snare"] == 38 and notes["closed_hat"] == 42 and notes["open_hat"] == 46
    assert (notes["tom_low"], notes["tom_mid"], notes["tom_high"]) == (41, 45, 48)
    assert kit.pad("open_hat").pad.choked_by == ("closed_hat", "pedal_hat")
    assert kit.name == "DKVAE 3" and kit.sample_rate == 44100


def test_pads_are_chosen_by_what_they_measure(kit) -> None:
    def measured(name, measure):
        return measure(kit.pad(name).sounds[0].audio.astype(np.float64), kit.sample_rate)

    assert (
        measured("closed_hat", decay_seconds)
        <= measured("pedal_hat", decay_seconds)
        <= measured("open_hat", decay_seconds)
    )
    assert measured("closed_hat", decay_seconds) < measured("open_hat", decay_seconds)
    assert measured("tom_low", pitch_hz) <= measured("tom_mid", pitch_hz) <= measured("tom_high", pitch_hz)
    assert measured("ride", noisiness) <= measured("crash", noisiness)
    assert measured("rim", decay_seconds) <= measured("snare", decay_seconds)


def test_the_same_seed_gives_the_same_kit_and_another_seed_another(machine, kit) -> None:
    again = build_kit(machine, seed=3, round_robin=3)
    for a, b in zip(kit.pads, again.pads):
        for x, y in zip(a.sounds, b.sounds):
            np.testing.assert_array_equal(x.audio, y.audio)
    other = build_kit(machine, seed=4)
    assert not np.array_equal(other.pad("kick").sounds[0].audio, kit.pad("kick").sounds[0].audio)


def test_round_robins_are_close_variations_not_copies(kit) -> None:
    for kit_pad in kit.pads:
        assert len(kit_pad.sounds) == 3
        latents = np.array([s.sidecar["latent"] for s in kit_pad.sounds])
        assert len({tuple(row) for row in latents}) == 3
        to_variations = np.linalg.norm(latents[1:] - latents[0], axis=1)
        assert np.all(to_variations > 0) and np.all(to_variations < 0.5 * np.linalg.norm(latents[0]) + 1.0)
        assert [s.sidecar["details"].get("round_robin", 1) for s in kit_pad.sounds] == [1, 2, 3]
    main = build_kit(DrumMachine.load(), seed=3)
    np.testing.assert_array_equal(main.pad("snare").sounds[0].audio, kit.pad("snare").sounds[0].audio)


def test_a_small_spread_keeps_a_kits_sounds_closer_together(machine) -> None:
    def mean_distance(spread):
        distances = []
        for seed in range(6):
            latents = [
                p.sounds[0].sidecar["latent"]
                for p in build_kit(machine, seed, spread).pads
                if p.pad.instrument == "hihat"
            ]
            distances.append(np.mean([np.linalg.norm(np.subtract(a, b)) for a in latents for b in latents]))
        return np.mean(distances)

    assert mean_distance(0.1) < mean_distance(1.0)


def typical_latent(machine: DrumMachine, instrument: str) -> np.ndarray:
    """The latent ``(latent_dim,)`` a temperature of 0 draws for `instrument`: the class mean of a Gaussian latent
    prior (a VAE's), or where a flow prior (a codec's) carries noise of zeros. The flow's rounding depends on how many
    rows it carries at once (about 1e-5 apart), so they are as many as a kit draws for the class: its candidates."""
    if machine.flow is None and machine.directory.latent_prior is not None:
        return machine.directory.latent_prior.mean[machine.class_index(instrument)]
    (choice,) = [choice for choice in CHOICES if choice.instrument == instrument]
    return machine.latents_from_noise(np.zeros((choice.candidates, machine.latent_dim), np.float32), instrument)[0]


def test_temperature_scales_the_kits_draws_and_is_recorded(machine, kit) -> None:
    typical = build_kit(machine, seed=3, temperature=0.0)
    hats = [p.sounds[0] for p in typical.pads if p.pad.instrument == "hihat"]
    assert len(hats) == 3 and all(s.sidecar["latent"] == hats[0].sidecar["latent"] for s in hats)  # the class's typical
    np.testing.assert_allclose(hats[0].sidecar["latent"], typical_latent(machine, "hihat"), atol=1e-6)
    assert typical.info["temperature"] == 0.0 and hats[0].sidecar["details"]["temperature"] == 0.0
    assert kit.info["temperature"] == 1.0 and kit.pad("kick").sounds[0].sidecar["details"]["temperature"] == 1.0
    with pytest.raises(DkvaeError, match="temperature must be between 0 and 4"):
        build_kit(machine, temperature=4.5)


def test_bad_spread_and_round_robin_counts_are_refused(machine) -> None:
    with pytest.raises(DkvaeError, match="spread"):
        build_kit(machine, spread=1.5)
    with pytest.raises(DkvaeError, match="round robins"):
        build_kit(machine, round_robin=0)


def test_every_kit_sound_is_recreated_bit_for_bit_from_its_sidecar(kit, tmp_path) -> None:
    export_kit(kit, tmp_path / "kit", "wav")
    for sample in sorted((tmp_path / "kit" / "samples").glob("*.wav"))[:8]:
        again = render_sidecar(sample.with_suffix(".json"), tmp_path / "again")
        assert again.read_bytes() == sample.read_bytes(), sample.name


def test_choices_fill_the_most_wanted_pads_when_sounds_are_few() -> None:
    hats = next(choice for choice in CHOICES if choice.instrument == "hihat")
    assert hats.assign([0.3]) == {"closed_hat": 0}
    assert hats.assign([0.5, 0.1]) == {"closed_hat": 1, "open_hat": 0}
    assert hats.assign([0.5, 0.1, 0.3, 0.2]) == {"closed_hat": 1, "open_hat": 0, "pedal_hat": 3}
    toms = next(choice for choice in CHOICES if choice.instrument == "tom")
    assert toms.assign([90.0]) == {"tom_mid": 0}
    assert toms.assign([120.0, 80.0]) == {"tom_low": 1, "tom_mid": 0}


def test_a_model_without_some_classes_makes_a_kit_of_the_pads_it_can_fill(tmp_path) -> None:
    from dkvae.training.train import train

    bank = write_bank(tmp_path / "bank", per_class=20)
    train(bank, tmp_path / "run", tiny_config(), progress_bar=False)
    kit = build_kit(DrumMachine.load(tmp_path / "run"), seed=0, round_robin=2)
    assert [p.pad.name for p in kit.pads] == ["kick", "rim", "snare"]
    assert all(len(p.sounds) == 2 for p in kit.pads)
