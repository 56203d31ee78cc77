"""The "prior" morph of a codec: along its flow prior's noise, ends exactly the two sounds, the class blended."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dkvae import DkvaeError
from dkvae.inference.machine import DrumMachine, interpolate_latents

from ..conftest import drum_hit
from .test_export_codec import CLASSES, write_codec


@pytest.fixture(scope="module")
def machine(tmp_path_factory) -> DrumMachine:
    return DrumMachine.load(write_codec(tmp_path_factory.mktemp("codec") / "model", flow=True))


@pytest.fixture(scope="module")
def sounds(machine) -> tuple[np.ndarray, np.ndarray]:
    rate = machine.model_sample_rate
    return drum_hit("tone", 0.3, rate, seed=2), drum_hit("noise", 0.3, rate, seed=4)


def morph_scores(machine: DrumMachine, start: np.ndarray, end: np.ndarray, instrument: str, steps: int) -> dict:
    """How bench/interpolation.py can score the "prior" morph beside slerp and linear: its `score`, with
    `interpolate_latents(start, end, steps, method)` replaced by this call (the bench's instrument for both ends)."""
    scores = {}
    for method in ("slerp", "linear", "prior"):
        latents = machine.interpolation_latents(start, end, steps, method, (instrument, instrument))
        spectrograms = machine.decode_spectrograms(latents, instrument)
        distances = np.abs(np.diff(spectrograms, axis=0)).mean(axis=(1, 2))
        norms = np.linalg.norm(latents.astype(np.float64), axis=1)
        scores[method] = (float(distances.max() / distances.mean()), float(norms.min() / norms[[0, -1]].mean()))
    return scores


def test_a_prior_morph_starts_and_ends_on_the_sounds_own_latents(machine, sounds) -> None:
    rate = machine.model_sample_rate
    latents, weights = machine.morph_plan(sounds[0], rate, sounds[1], rate, 5, "prior")
    first, last = machine.encode(sounds[0], rate), machine.encode(sounds[1], rate)
    np.testing.assert_array_equal(latents[0], first)
    np.testing.assert_array_equal(latents[-1], last)
    assert latents.shape == (5, machine.latent_dim) and np.isfinite(latents).all()
    assert not np.allclose(latents[1:-1], interpolate_latents(first, last, 5, "slerp")[1:-1], atol=1e-3)
    assert weights.shape == (5, len(CLASSES))
    morph = machine.interpolate(sounds[0], sounds[1], steps=3, sample_rate=rate, method="prior")
    assert morph.shape[0] == 3 and np.isfinite(morph).all()


def test_the_flow_brings_its_own_latents_back_near_where_they_were(machine) -> None:
    # From a latent to itself every step is the flow's re-sampling of its inverted noise: what a morph's
    # ends would be without putting the sounds back. Measured in the flow's units, relative to the latent:
    # 0.046 here, 0.02 to 0.054 over seeds 0 to 4 (4 Euler steps each way; see test_flow_prior.py).
    latent = machine.sample_latents(1, seed=3, instrument="kick")[0]
    again = machine.interpolation_latents(latent, latent, 3, "prior", ("kick", "kick"))[1]
    standardized = [
        machine.flow.standardize(torch.as_tensor(x).reshape(1, *machine.latent_shape)) for x in (latent, again)
    ]
    assert 0 < float((standardized[1] - standardized[0]).norm() / standardized[0].norm()) < 0.1


def test_each_step_is_carried_with_its_blend_of_the_ends_classes(machine) -> None:
    start, end = machine.sample_latents(2, seed=5, instrument="kick")
    weights = []

    def record(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        weights.append(inputs[2][: len(inputs[2]) // 2].clone())  # guided: the conditional half

    handle = machine.flow.register_forward_hook(record)
    blended = machine.interpolation_latents(start, end, 5, "prior", ("kick", "snare"))
    handle.remove()
    kick, snare = np.eye(len(CLASSES) + 1)[[CLASSES.index("kick"), CLASSES.index("snare")]]
    inverted, carried = weights[0].numpy(), weights[-1].numpy()
    np.testing.assert_array_equal(inverted, np.stack([kick, snare]))
    np.testing.assert_allclose(carried, np.linspace(kick, snare, 5), atol=1e-6)
    same = machine.interpolation_latents(start, end, 5, "prior", ("kick", "kick"))
    assert not np.allclose(blended[2], same[2], atol=1e-4)


def test_a_prior_morph_repeats_bit_for_bit(machine) -> None:
    start, end = machine.sample_latents(2, seed=7, instrument="snare")
    first = machine.interpolation_latents(start, end, 4, "prior", ("snare", "hihat"))
    np.testing.assert_array_equal(first, machine.interpolation_latents(start, end, 4, "prior", ("snare", "hihat")))


def test_a_prior_morph_needs_a_flow_and_the_bench_can_score_it(machine, tmp_path) -> None:
    plain = DrumMachine.load(write_codec(tmp_path / "plain", flow=False))
    start, end = plain.noise(2, seed=0)
    with pytest.raises(DkvaeError, match="needs a codec model with a flow prior"):
        plain.interpolation_latents(start, end, 4, "prior")
    with pytest.raises(DkvaeError, match="use slerp, linear or prior"):
        plain.interpolation_latents(start, end, 4, "spline")  # type: ignore[arg-type]
    start, end = machine.sample_latents(2, seed=9, instrument="hihat")
    scores = morph_scores(machine, start, end, "hihat", 5)
    assert set(scores) == {"slerp", "linear", "prior"} and all(np.isfinite(pair).all() for pair in scores.values())


def test_a_codec_morphs_spherically_unless_told_and_its_sidecars_say_so(machine, sounds, tmp_path) -> None:
    import json

    import soundfile as sf

    from dkvae.inference.generation import write_interpolation

    start, end = (machine.encode(sound, machine.model_sample_rate, "kick") for sound in sounds)
    np.testing.assert_array_equal(
        machine.interpolation_latents(start, end, 5), machine.interpolation_latents(start, end, 5, "slerp")
    )
    assert machine.default_interpolation == "slerp"
    assert not np.array_equal(
        machine.interpolation_latents(start, end, 5), machine.interpolation_latents(start, end, 5, "linear")
    )
    for index, sound in enumerate(sounds):
        sf.write(tmp_path / f"{index}.wav", sound, machine.model_sample_rate)
    paths = write_interpolation(machine, tmp_path / "0.wav", tmp_path / "1.wav", 3, tmp_path / "morph", None)
    assert {json.loads(path.with_suffix(".json").read_text())["details"]["method"] for path in paths} == {"slerp"}
