"""Tests for `DrumMachine` on a tiny trained model: shapes, rates, determinism, and each operation's contract."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

import dkvae.inference.machine
from dkvae import DkvaeError
from dkvae.core.config import OUTPUT_PEAK_DB, OUTPUT_SAMPLE_RATE
from dkvae.inference.machine import DrumMachine, bundled_model_dir, interpolate_latents

from ..conftest import drum_hit

#: The tiny model works at 8 kHz on 2048 samples; its sounds come out at 44.1 kHz.
OUTPUT_LENGTH = round(2048 * OUTPUT_SAMPLE_RATE / 8000)


@pytest.fixture(scope="module")
def machine(trained_run) -> DrumMachine:
    return DrumMachine.load(trained_run)


@pytest.fixture(scope="module")
def kick() -> np.ndarray:
    return drum_hit("tone", 0.4, OUTPUT_SAMPLE_RATE, seed=2)


@pytest.fixture(scope="module")
def snare() -> np.ndarray:
    return drum_hit("noise", 0.4, OUTPUT_SAMPLE_RATE, seed=4)


def test_a_loaded_model_generates_per_class_without_pickle(trained_run, no_pickle) -> None:
    machine = DrumMachine.load(trained_run)
    assert machine.sample_rate == OUTPUT_SAMPLE_RATE and machine.model_sample_rate == 8000
    kicks = machine.generate("kick", n=3, seed=5)
    assert kicks.shape == (3, OUTPUT_LENGTH) and kicks.dtype == np.float32 and np.isfinite(kicks).all()
    np.testing.assert_array_equal(kicks, machine.generate("kick", n=3, seed=5))
    assert not np.array_equal(kicks, machine.generate("kick", n=3, seed=6))
    assert not np.array_equal(kicks, machine.generate("snare", n=3, seed=5))


def test_generated_sounds_are_finished(machine) -> None:
    sounds = machine.generate("snare", n=4, seed=1)
    peaks = 20 * np.log10(np.abs(sounds).max(axis=1))
    np.testing.assert_allclose(peaks, OUTPUT_PEAK_DB, atol=1e-3)  # headroom, never clipping
    assert np.all(sounds[:, -1] == 0)  # faded out: no click at the end


def test_a_sound_does_not_depend_on_what_is_rendered_with_it(machine) -> None:
    latents = machine.sample_latents(4, seed=9)
    together = machine.render(latents, "kick")
    np.testing.assert_array_equal(together[2], machine.render(latents[2:3], "kick")[0])


def test_render_threads_keep_every_sound_and_its_order(machine, monkeypatch) -> None:
    latents = machine.sample_latents(5, seed=4)
    monkeypatch.setattr(dkvae.inference.machine, "RENDER_WORKERS", 1)
    one_by_one = machine.render(latents, "snare")
    monkeypatch.setattr(dkvae.inference.machine, "RENDER_WORKERS", 3)
    np.testing.assert_array_equal(machine.render(latents, "snare"), one_by_one)


def test_unknown_instruments_and_empty_requests_are_user_errors(machine) -> None:
    with pytest.raises(DkvaeError, match="unknown instrument 'cowbell'.*kick"):
        machine.generate("cowbell")
    with pytest.raises(DkvaeError, match="at least 1"):
        machine.generate("kick", n=0)
    with pytest.raises(DkvaeError, match="at least 1"):
        machine.render(np.zeros((0, machine.latent_dim), np.float32), "kick")
    with pytest.raises(DkvaeError, match="sum to 1"):
        machine.render(np.zeros((1, machine.latent_dim), np.float32), np.full(len(machine.instruments), 0.5))


def test_encode_decode_and_reconstruct(machine, kick) -> None:
    z = machine.encode(kick, OUTPUT_SAMPLE_RATE, "kick")
    assert z.shape == (machine.latent_dim,) and z.dtype == np.float32
    np.testing.assert_array_equal(z, machine.encode(kick, OUTPUT_SAMPLE_RATE, "kick"))
    assert machine.decode(z, "kick").shape == (OUTPUT_LENGTH,)
    assert machine.decode(np.stack([z, z]), "kick").shape == (2, OUTPUT_LENGTH)
    np.testing.assert_array_equal(machine.reconstruct(kick, OUTPUT_SAMPLE_RATE, "kick"), machine.decode(z, "kick"))
    assert machine.classify(kick, OUTPUT_SAMPLE_RATE) in machine.instruments
    # any input rate and channel layout: a stereo 22.05 kHz copy encodes like the mono original
    stereo = np.stack([kick[::2], kick[::2]], axis=1)
    assert np.abs(machine.encode(stereo, 22050, "kick") - z).max() < 0.1


def test_a_silent_or_broken_sound_is_a_user_error(machine) -> None:
    with pytest.raises(DkvaeError, match="silent"):
        machine.encode(np.zeros(4000, np.float32), OUTPUT_SAMPLE_RATE, "kick")
    with pytest.raises(DkvaeError, match="NaN"):
        machine.encode(np.full(4000, np.nan, np.float32), OUTPUT_SAMPLE_RATE, "kick")


@pytest.mark.parametrize("method", ["slerp", "linear"])
def test_interpolation_latents_start_and_end_at_the_inputs(method) -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(8).astype(np.float32), rng.standard_normal(8).astype(np.float32)
    path = interpolate_latents(a, b, 5, method)
    assert path.shape == (5, 8)
    np.testing.assert_array_equal(path[0], a)
    np.testing.assert_array_equal(path[-1], b)
    norms = np.linalg.norm(path, axis=1)
    if method == "slerp":  # the norm moves linearly, the direction along the great circle
        np.testing.assert_allclose(norms, np.linspace(norms[0], norms[-1], 5), rtol=1e-5)
    else:
        np.testing.assert_allclose(path[2], (a + b) / 2, rtol=1e-5)


def test_interpolate_ends_at_the_reconstructions_of_its_inputs(machine, kick, snare) -> None:
    morph = machine.interpolate(kick, snare, steps=4, sample_rate=OUTPUT_SAMPLE_RATE)
    assert morph.shape == (4, OUTPUT_LENGTH)
    np.testing.assert_array_equal(morph[0], machine.reconstruct(kick, OUTPUT_SAMPLE_RATE))
    np.testing.assert_array_equal(morph[-1], machine.reconstruct(snare, OUTPUT_SAMPLE_RATE))
    latents, weights = machine.morph_plan(kick, OUTPUT_SAMPLE_RATE, snare, OUTPUT_SAMPLE_RATE, 4)
    np.testing.assert_array_equal(latents[0], machine.encode(kick, OUTPUT_SAMPLE_RATE))
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)
    with pytest.raises(DkvaeError, match="at least 2"):
        machine.interpolate(kick, snare, steps=1)
    assert machine.default_interpolation == "linear"  # a VAE's (a codec's: tests/inference/test_codec_morph.py)
    linear = interpolate_latents(latents[0], latents[-1], 4, "linear")
    np.testing.assert_array_equal(latents, linear)


def test_vary_stays_near_the_sound_and_is_repeatable(machine, kick) -> None:
    same = machine.vary(kick, OUTPUT_SAMPLE_RATE, n=2, amount=0.0)
    np.testing.assert_array_equal(same[0], machine.reconstruct(kick, OUTPUT_SAMPLE_RATE))
    varied = machine.vary(kick, OUTPUT_SAMPLE_RATE, n=3, amount=0.5, seed=1)
    assert varied.shape == (3, OUTPUT_LENGTH) and not np.array_equal(varied[0], varied[1])
    np.testing.assert_array_equal(varied, machine.vary(kick, OUTPUT_SAMPLE_RATE, n=3, amount=0.5, seed=1))
    latents, instrument = machine.variation_latents(kick, OUTPUT_SAMPLE_RATE, 5, 0.3, 0)
    spread = machine.directory.latent_prior.scale_tril[machine.class_index(instrument)]  # the class's own spread
    offsets = latents - machine.encode(kick, OUTPUT_SAMPLE_RATE, instrument)
    np.testing.assert_allclose(offsets, 0.3 * machine.noise(5, 0) @ spread.T, atol=1e-5)


def test_temperature_scales_the_draws_around_the_class_mean(machine) -> None:
    prior = machine.directory.latent_prior
    mean = prior.mean[machine.class_index("kick")]
    typical = machine.sample_latents(3, 5, "kick", temperature=0.0)
    np.testing.assert_allclose(typical, np.broadcast_to(mean, typical.shape), atol=1e-6)
    unscaled = prior.sample(machine.class_index("kick"), machine.noise(3, 5))  # the draws before temperatures
    np.testing.assert_array_equal(machine.sample_latents(3, 5, "kick", temperature=1.0), unscaled)
    wild = machine.sample_latents(3, 5, "kick", temperature=2.5)
    np.testing.assert_allclose(wild - mean, 2.5 * (machine.sample_latents(3, 5, "kick") - mean), rtol=1e-4, atol=1e-5)
    sounds = machine.generate("kick", 2, 5, temperature=0.0)
    np.testing.assert_array_equal(sounds[0], sounds[1])
    for temperature in (-0.1, 4.5):
        with pytest.raises(DkvaeError, match="temperature must be between 0 and 4"):
            machine.sample_latents(1, 0, "kick", temperature)


def test_kit_has_one_sound_per_class(machine) -> None:
    kit = machine.kit(seed=3)
    assert list(kit) == machine.instruments
    assert all(sound.shape == (OUTPUT_LENGTH,) for sound in kit.values())
    np.testing.assert_array_equal(kit["snare"], machine.generate("snare", 1, 3)[0])


def test_save_wav_trims_the_tail_and_writes_the_bit_depth(machine, tmp_path) -> None:
    sound = np.zeros(OUTPUT_SAMPLE_RATE, np.float32)
    sound[:4410] = drum_hit("tone", 0.1, OUTPUT_SAMPLE_RATE)
    path = machine.save_wav(tmp_path / "a.wav", sound, bit_depth=24)
    info = sf.info(path)
    assert info.subtype == "PCM_24" and info.samplerate == OUTPUT_SAMPLE_RATE
    assert info.frames <= 4410
    with pytest.raises(DkvaeError, match="bit depth"):
        machine.save_wav(tmp_path / "b.wav", sound, bit_depth=12)
    assert not (tmp_path / "b.wav").exists()


def test_a_classifier_cannot_generate(tmp_path, tiny_bank) -> None:
    from dkvae.training.train import train

    from ..conftest import tiny_config

    run = tmp_path / "classifier"
    train(tiny_bank, run, tiny_config(kind="classifier"), progress_bar=False)
    with pytest.raises(DkvaeError, match="cannot generate"):
        DrumMachine.load(run)


def test_the_bundled_model_loads_without_pickle_and_makes_every_class(no_pickle) -> None:
    from dkvae.core.classes import CLASSES
    from dkvae.models.flow_prior import FLOW_PRIOR_NAME
    from dkvae.models.latent_prior import LATENT_PRIOR_NAME

    machine = DrumMachine.load()
    assert sorted(machine.instruments) == sorted(CLASSES)
    # Its prior is loaded, of its kind: a VAE's Gaussian latent prior or a codec's flow prior.
    priors = {LATENT_PRIOR_NAME: machine.directory.latent_prior, FLOW_PRIOR_NAME: machine.flow}
    held = [name for name in priors if (bundled_model_dir() / name).is_file()]
    assert len(held) == 1 and priors[held[0]] is not None and machine.sample_rate == 44100
    kit = machine.kit(seed=7)
    assert all(np.isfinite(sound).all() and np.abs(sound).max() > 0.5 for sound in kit.values())
    np.testing.assert_array_equal(kit["kick"], machine.generate("kick", 1, 7)[0])
