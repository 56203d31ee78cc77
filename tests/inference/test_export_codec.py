"""Tests for exporting a codec: its decoder takes flattened latents, its flow prior exports, and a host following
the description draws the latents `DrumMachine` draws."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from dkvae.inference.export import export_model, inversion_path, prior_path
from dkvae.inference.machine import DrumMachine
from dkvae.models import build_model
from dkvae.models.checkpoint import save_model_dir
from dkvae.models.flow_prior import FlowConfig, LatentFlow, save_flow_prior

from ..conftest import tiny_config
from .test_codec_machine import CODEC
from .test_export import DESCRIPTION_KEYS, assert_parity, decoder_inputs, onnx_session, reference_magnitude

pytestmark = pytest.mark.filterwarnings(r"ignore:`torch\.jit\.\w+` is deprecated:DeprecationWarning")

FLOW = FlowConfig(width=16, blocks=2, position_channels=4, steps=4, guidance=2.0)
CLASSES = ["kick", "snare", "hihat"]
FORMATS = {"onnx": "codec.onnx", "torchscript": "codec.pt"}
#: A velocity function of the exported prior: (state, time, class_weights, no_class) -> velocity, numpy float32.
Velocity = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def write_codec(directory: Path, flow: bool) -> Path:
    """An untrained tiny codec's model directory, with a flow prior whose velocity is not zero when `flow`."""
    torch.manual_seed(0)
    config = tiny_config(**CODEC)
    model_id = save_model_dir(directory, build_model(config.model, config.audio.shape, len(CLASSES)), config, CLASSES)
    if flow:
        prior = LatentFlow(FLOW, CODEC["latent_channels"], len(CLASSES))
        nn.init.normal_(prior.output.weight, std=0.2)  # a new flow's last layer is zero: no velocity at all
        prior.latent_mean.normal_()
        prior.latent_std.uniform_(0.5, 2.0)
        save_flow_prior(prior, directory, model_id)
    return directory


@pytest.fixture(scope="module")
def codec_dir(tmp_path_factory) -> Path:
    return write_codec(tmp_path_factory.mktemp("codec") / "model", flow=True)


@pytest.fixture(scope="module")
def machine(codec_dir) -> DrumMachine:
    return DrumMachine.load(codec_dir)


@pytest.fixture(scope="module", params=list(FORMATS))
def exported(request, codec_dir, tmp_path_factory) -> Path:
    if request.param == "onnx":
        pytest.importorskip("onnxruntime")
        pytest.importorskip("onnxscript")
    return export_model(codec_dir, request.param, tmp_path_factory.mktemp(request.param) / FORMATS[request.param])


def decoder_of(path: Path) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The exported decoder as a function of numpy latents and class weights."""
    if path.suffix == ".onnx":
        session = onnx_session(path)
        return lambda latents, weights: session.run(["magnitude"], {"latent": latents, "class_weights": weights})[0]
    module = torch.jit.load(str(path))
    return lambda latents, weights: module(torch.from_numpy(latents), torch.from_numpy(weights)).detach().numpy()


def machine_magnitude(machine: DrumMachine, latents: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """`DrumMachine.decode_spectrograms` of `latents`, as the STFT magnitudes the exported decoder gives."""
    return reference_magnitude(machine, latents, weights, *machine.db_range())


def velocity_of(path: Path) -> Velocity:
    """The exported flow prior as a function of numpy inputs."""
    if path.suffix == ".onnx":
        session = onnx_session(path)
        names = ("state", "time", "class_weights", "no_class")
        return lambda *inputs: session.run(["velocity"], dict(zip(names, inputs, strict=True)))[0]
    module = torch.jit.load(str(path))
    return lambda *inputs: module(*map(torch.from_numpy, inputs)).detach().numpy()


def host_sample(
    description: dict, velocity: Velocity, noise: np.ndarray, class_weights: np.ndarray, no_class: float
) -> np.ndarray:
    """Latents ``(n, latent_dim)`` drawn as the description's prior.sampling says, in numpy around the exported flow."""
    prior = description["prior"]
    steps, guidance = prior["steps"], np.float32(prior["guidance"])
    times = np.linspace(0.0, 1.0, steps + 1, dtype=np.float32)
    n = len(noise)
    conditional = (class_weights, np.full(n, no_class, np.float32))
    free = (np.zeros_like(class_weights), np.ones(n, np.float32))
    state = noise
    for k in range(steps):
        t = np.full(n, times[k], np.float32)
        v = velocity(state, t, *conditional)
        if guidance != 1:
            v_free = velocity(state, t, *free)
            v = v_free + guidance * (v - v_free)
        state = state + (times[k + 1] - times[k]) * v
    return state * np.array(prior["latent_std"], np.float32) + np.array(prior["latent_mean"], np.float32)


@pytest.mark.parametrize("n", (1, 5))
def test_the_decoder_takes_flattened_latents_and_decodes_as_the_drum_machine_does(machine, exported, n) -> None:
    latents, weights = decoder_inputs(machine, n, seed=n)
    assert latents.shape == (n, int(np.prod(machine.latent_shape)))
    assert_parity(decoder_of(exported)(latents, weights), machine_magnitude(machine, latents, weights))


@pytest.mark.parametrize(("instrument", "temperature"), [("snare", 1.0), ("kick", 0.6), (None, 1.0)])
def test_a_host_following_the_description_draws_the_drum_machine_s_latents(
    machine, exported, instrument, temperature
) -> None:
    description = json.loads(exported.with_suffix(".json").read_text())
    n, seed = 3, 11
    generator = torch.Generator().manual_seed(seed)  # the draw the description names
    noise = torch.randn(n, description["latent_dim"], generator=generator).numpy() * np.float32(temperature)
    weights = np.zeros((n, len(description["class_names"])), np.float32)
    if instrument is not None:
        weights[:, description["class_names"].index(instrument)] = 1.0
    latents = host_sample(description, velocity_of(prior_path(exported)), noise, weights, 0.0 if instrument else 1.0)
    expected = machine.sample_latents(n, seed, instrument, temperature)
    assert np.abs(expected - noise).max() > 0.1  # the flow moved the noise: the comparison says something
    # Measured: at most 1e-6 apart (ONNX Runtime and TorchScript alike) on latents of up to 5.
    np.testing.assert_allclose(latents, expected, rtol=1e-4, atol=1e-5)
    decoder_weights = machine.class_weights(instrument or "", n)  # uniform when no class: the codec ignores them
    assert_parity(decoder_of(exported)(latents, decoder_weights), machine_magnitude(machine, expected, decoder_weights))


def test_the_description_states_the_latent_sequence_and_the_flow(machine, exported) -> None:
    description = json.loads(exported.with_suffix(".json").read_text())
    assert set(description) == DESCRIPTION_KEYS | {"latent_sequence", "prior"}
    assert set(description["files"]) == {"model", "inversion", "description", "prior"}
    assert all((exported.parent / name).is_file() for name in description["files"].values())
    assert description["files"]["prior"] == prior_path(exported).name
    assert description["latent_prior"] is None
    channels, frames = machine.latent_shape
    sequence = description["latent_sequence"]
    audio = machine.config.audio
    assert (sequence["channels"], sequence["frames"]) == (channels, frames) == (4, 9)
    assert description["latent_dim"] == channels * frames
    assert sequence["frame_rate"] == audio.sample_rate / (audio.hop_length * 4)
    meaning = description["inputs"][0]["meaning"]
    assert "flattened" in meaning and "latent_prior is null" in meaning
    prior = description["prior"]
    assert prior["exported"] is True and (prior["steps"], prior["guidance"]) == (4, 2.0)
    assert [tensor["name"] for tensor in prior["inputs"]] == ["state", "time", "class_weights", "no_class"]
    shapes = [tensor["shape"] for tensor in prior["inputs"]]
    assert shapes == [["batch", channels * frames], ["batch"], ["batch", 3], ["batch"]]
    latent_std = np.reshape(prior["latent_std"], (channels, frames))
    np.testing.assert_array_equal(latent_std, np.repeat(machine.flow.latent_std.numpy()[:, None], frames, axis=1))
    assert list(prior["sampling"]) == ["noise", "time_grid", "euler", "guided_velocity", "latent", "decode"]


def test_a_codec_without_a_flow_prior_exports_its_decoder_and_says_new_sounds_need_one(tmp_path) -> None:
    model_dir = write_codec(tmp_path / "model", flow=False)
    machine = DrumMachine.load(model_dir)
    out = export_model(model_dir, "torchscript", tmp_path / "codec.pt")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["codec-inversion.pt", "codec.json", "codec.pt", "model"]
    description = json.loads(out.with_suffix(".json").read_text())
    assert set(description["files"]) == {"model", "inversion", "description"}
    assert description["prior"]["exported"] is False and "`dkvae prior RUN BANK`" in description["prior"]["note"]
    assert "dkvae prior RUN BANK" in description["inputs"][0]["meaning"] and description["latent_prior"] is None
    latents, weights = decoder_inputs(machine, 2, seed=4)
    magnitude = decoder_of(out)(latents, weights)
    assert_parity(magnitude, machine_magnitude(machine, latents, weights))
    inversion = torch.jit.load(str(inversion_path(out)))
    audio = inversion(torch.from_numpy(magnitude), torch.zeros_like(torch.from_numpy(magnitude)))
    assert tuple(audio.shape) == (2, machine.config.audio.num_samples)
