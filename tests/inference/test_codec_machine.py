"""A codec with its flow prior in a `DrumMachine`: new sounds by class, reproducible, recalled from sidecars, varied."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from dkvae import DrumMachine
from dkvae.inference.generation import render_sidecar, write_generated
from dkvae.models.flow_prior import FlowConfig
from dkvae.training.prior import train_prior
from dkvae.training.train import train

from ..conftest import drum_hit, tiny_config

CODEC = {"kind": "codec", "conditional": False, "latent_channels": 4, "codec_width": 16, "codec_blocks": 1, "mel_bands": (8,)}


@pytest.fixture(scope="module")
def codec_run(tiny_bank, tmp_path_factory):
    run = tmp_path_factory.mktemp("codec") / "run"
    train(tiny_bank, run, tiny_config(**CODEC), progress_bar=False)
    train_prior(run, tiny_bank, FlowConfig(width=16, blocks=2, position_channels=4, steps=4), steps=30, batch_size=8, progress_bar=False)
    return run


def test_new_sounds_come_from_the_flow_by_class_and_repeat_with_their_seed(codec_run) -> None:
    machine = DrumMachine.load(codec_run)
    assert machine.flow is not None and machine.latent_shape == (4, machine.model.latent_frames(machine.config.audio.n_frames))
    kicks = machine.generate("kick", n=2, seed=5)
    assert kicks.shape[0] == 2 and np.isfinite(kicks).all() and np.abs(kicks).max() > 0
    np.testing.assert_array_equal(kicks, machine.generate("kick", n=2, seed=5))
    assert not np.array_equal(machine.sample_latents(1, 5, "kick"), machine.sample_latents(1, 5, "snare"))
    assert not np.array_equal(machine.sample_latents(1, 5, "kick"), machine.sample_latents(1, 6, "kick"))


def test_a_generated_sound_renders_again_bit_for_bit_from_its_sidecar(codec_run, tmp_path) -> None:
    machine = DrumMachine.load(codec_run)
    [path] = write_generated(machine, "snare", 1, 3, tmp_path / "first")
    again = render_sidecar(path.with_suffix(".json"), tmp_path / "again")
    np.testing.assert_array_equal(sf.read(path)[0], sf.read(again)[0])


def test_a_variation_keeps_what_the_amount_says(codec_run) -> None:
    machine = DrumMachine.load(codec_run)
    sound = drum_hit("noise", sample_rate=machine.model_sample_rate)
    latent, _ = machine.analyse(sound, machine.model_sample_rate)
    same = machine.neighbour_latents(latent, "snare", 2, 0.0, seed=1)
    np.testing.assert_allclose(same, np.repeat(latent[None], 2, axis=0), atol=1e-5)
    near = machine.neighbour_latents(latent, "snare", 4, 0.2, seed=1)
    far = machine.neighbour_latents(latent, "snare", 4, 1.0, seed=1)
    assert np.linalg.norm(near - latent, axis=1).mean() < np.linalg.norm(far - latent, axis=1).mean()
    assert machine.vary(sound, machine.model_sample_rate, n=2, amount=0.3).shape[0] == 2
    assert machine.reconstruct(sound, machine.model_sample_rate).ndim == 1


def test_a_codec_whose_flow_prior_is_cut_short_is_refused_with_a_reason(tmp_path) -> None:
    from dkvae.core.errors import DkvaeError
    from dkvae.models.flow_prior import FLOW_PRIOR_NAME

    from .test_export_codec import write_codec

    directory = write_codec(tmp_path / "codec", flow=True)
    prior = directory / FLOW_PRIOR_NAME
    prior.write_bytes(prior.read_bytes()[:100])
    with pytest.raises(DkvaeError, match=f"has a flow prior that cannot be used: {FLOW_PRIOR_NAME} is damaged"):
        DrumMachine.load(directory)
