"""Tests for `dkvae.inference.export`: ONNX Runtime and TorchScript match DrumMachine's own decode, files and description are complete."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dkvae import DkvaeError
from dkvae.inference.export import export_model, inversion_path, prior_path
from dkvae.inference.machine import DrumMachine
from dkvae.models import build_model
from dkvae.models.checkpoint import save_model_dir
from dkvae.sound.audio import denormalize, spectrogram_to_audio, stft_magnitude
from dkvae.sound.inversion import fast_griffin_lim, pghi_phase

from ..conftest import tiny_config

#: torch 2.13 deprecates every torch.jit function; the TorchScript export uses them on purpose.
pytestmark = pytest.mark.filterwarnings(r"ignore:`torch\.jit\.\w+` is deprecated:DeprecationWarning")

#: Largest difference allowed between an export's magnitudes and PyTorch's, relative to each value (1e-4 is
#: 0.0009 dB; so the max abs diff is below 1e-4 of the output's largest value too). Measured on the bundled
#: model: ONNX Runtime at most 1.8e-5 per value and 6.3e-6 of the largest (4e-4 on 158), TorchScript float rounding.
PARITY = 1e-4
BATCH_SIZES = (1, 5)
DESCRIPTION_KEYS = {
    "format", "format_version", "export_format", "files", "dkvae_version", "torch_version", "opset", "model_id",
    "class_names", "conditional", "latent_dim", "sample_rate", "output_sample_rate", "num_samples", "n_fft",
    "hop_length", "window", "n_freq", "n_frames", "normalization", "inputs", "outputs", "inversion", "finishing",
    "latent_prior",
}  # fmt: skip
#: What a codec's description says besides (`tests/inference/test_export_codec.py` checks them on a tiny codec).
CODEC_DESCRIPTION_KEYS = {"latent_sequence", "prior"}


def decoder_inputs(machine: DrumMachine, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random latents ``(n, latent_dim)`` and class weights ``(n, classes)``: one-hot for the first row, blends after."""
    rng = np.random.default_rng(seed)
    latents = (1.5 * rng.standard_normal((n, machine.latent_dim))).astype(np.float32)
    weights = rng.dirichlet(np.ones(len(machine.instruments)), n).astype(np.float32)
    weights[0] = np.eye(len(machine.instruments), dtype=np.float32)[seed % len(machine.instruments)]
    return latents, weights


def reference_magnitude(
    machine: DrumMachine, latents: np.ndarray, weights: np.ndarray, min_db: float, max_db: float
) -> np.ndarray:
    """DrumMachine's decode, denormalized with the given dB range and turned to STFT magnitudes."""
    normalized = machine.decode_spectrograms(latents, weights)
    return stft_magnitude(denormalize(normalized, min_db, max_db), machine.config.audio.n_fft).numpy()


def assert_parity(exported: np.ndarray, reference: np.ndarray) -> None:
    assert exported.shape == reference.shape and exported.dtype == np.float32
    np.testing.assert_allclose(exported, reference, rtol=PARITY, atol=0)


def all_frames_inversion(machine: DrumMachine, magnitude: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """What the exported inversion computes: the model's fast Griffin-Lim iterations from `phase`, over every frame."""
    settings, inversion = machine.config.audio, machine.config.inversion
    size = (settings.n_fft, settings.hop_length, settings.num_samples)
    iterations = (inversion.iterations, inversion.momentum)
    return fast_griffin_lim(torch.from_numpy(magnitude), *size, *iterations, torch.from_numpy(phase)).numpy()


def assert_close_to_the_machines(machine: DrumMachine, latents: np.ndarray, weights: np.ndarray, audio: np.ndarray) -> None:
    """The export's audio is DrumMachine's within 1% of each sound's peak: the machine leaves frames all 70 dB under
    the peak out of its iterations (`dkvae.sound.inversion`), the export iterates them too (at most 0.18% measured)."""
    normalized = machine.decode_spectrograms(latents, weights)
    expected = spectrogram_to_audio(normalized, machine.config.audio, inversion=machine.config.inversion)
    assert_within_peak(audio, expected, 0.01)


def assert_within_peak(audio: np.ndarray, expected: np.ndarray, fraction: float) -> None:
    """Every sound of `audio` ``(n, samples)`` within `fraction` of its `expected` sound's peak, sample by sample."""
    assert (np.abs(audio - expected).max(axis=-1) <= fraction * np.abs(expected).max(axis=-1)).all()


def onnx_session(path: Path):
    onnxruntime = pytest.importorskip("onnxruntime")
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def machine() -> DrumMachine:
    return DrumMachine.load()


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory) -> Path:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    return export_model(None, "onnx", tmp_path_factory.mktemp("onnx") / "decoder.onnx")


@pytest.fixture(scope="module")
def torchscript_file(tmp_path_factory) -> Path:
    return export_model(None, "torchscript", tmp_path_factory.mktemp("torchscript") / "decoder.pt")


@pytest.mark.parametrize("n", BATCH_SIZES)
def test_onnx_runtime_decodes_and_inverts_as_the_drum_machine_does(machine, onnx_file, n) -> None:
    latents, weights = decoder_inputs(machine, n, seed=n)
    (magnitude,) = onnx_session(onnx_file).run(["magnitude"], {"latent": latents, "class_weights": weights})
    settings = machine.config.audio
    reference = reference_magnitude(machine, latents, weights, settings.min_db, settings.max_db)
    assert_parity(magnitude, reference)
    phase = pghi_phase(torch.from_numpy(reference), settings.n_fft, settings.hop_length).numpy()
    (audio,) = onnx_session(inversion_path(onnx_file)).run(["audio"], {"magnitude": reference, "phase": phase})
    assert audio.shape == (n, settings.num_samples) and audio.dtype == np.float32
    # Its DFTs round differently from torch's FFTs, and twelve momentum iterations carry that into the phase of
    # the quietest coefficients; the difference stays 60 dB under each sound's peak (at most 0.036% of it measured).
    assert_within_peak(audio, all_frames_inversion(machine, reference, phase), 1e-3)
    assert_close_to_the_machines(machine, latents, weights, audio)


@pytest.mark.parametrize("n", BATCH_SIZES)
def test_torchscript_decodes_and_inverts_as_the_drum_machine_does(machine, torchscript_file, n) -> None:
    latents, weights = decoder_inputs(machine, n, seed=10 + n)
    decoder, inversion = torch.jit.load(str(torchscript_file)), torch.jit.load(str(inversion_path(torchscript_file)))
    settings = machine.config.audio
    reference = reference_magnitude(machine, latents, weights, settings.min_db, settings.max_db)
    with torch.inference_mode():
        assert_parity(decoder(torch.from_numpy(latents), torch.from_numpy(weights)).numpy(), reference)
        # Inverted from the machine's own magnitudes: PGHI's trees can turn on a difference of float rounding,
        # and the export's last layer is the library's transposed conv where the machine sums by F.fold.
        magnitude = torch.from_numpy(reference)
        phase = pghi_phase(magnitude, settings.n_fft, settings.hop_length)
        audio = inversion(magnitude, phase).numpy()
    assert audio.shape == (n, settings.num_samples)
    np.testing.assert_allclose(audio, all_frames_inversion(machine, reference, phase.numpy()), rtol=0, atol=1e-5)
    assert_close_to_the_machines(machine, latents, weights, audio)


def test_torchscript_runs_without_dkvae(torchscript_file, tmp_path) -> None:
    script = f"""
import json, sys, torch
extra = {{"dkvae-export.json": ""}}
decoder = torch.jit.load({str(torchscript_file)!r}, _extra_files=extra)
inversion = torch.jit.load({str(inversion_path(torchscript_file))!r})
description = json.loads(extra["dkvae-export.json"])
weights = torch.eye(len(description["class_names"]))[:3]
magnitude = decoder(torch.randn(3, description["latent_dim"]), weights)
audio = inversion(magnitude, torch.zeros_like(magnitude))
assert tuple(magnitude.shape) == (3, description["n_freq"], description["n_frames"]), magnitude.shape
assert tuple(audio.shape) == (3, description["num_samples"]) and bool(torch.isfinite(audio).all())
assert "dkvae" not in sys.modules, "dkvae was imported"
"""
    result = subprocess.run(
        [sys.executable, "-I", "-c", script], check=False, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize(
    "fmt, files", [("onnx", {"model", "description", "inversion"}), ("torchscript", {"model", "description", "inversion"})]
)
def test_the_description_says_what_a_host_needs(machine, request, fmt, files) -> None:
    path = request.getfixturevalue("onnx_file" if fmt == "onnx" else "torchscript_file")
    description = json.loads(path.with_suffix(".json").read_text())
    codec = machine.config.model.kind == "codec"
    assert set(description) == DESCRIPTION_KEYS | (CODEC_DESCRIPTION_KEYS if codec else set())
    files = files | ({"prior"} if machine.flow is not None else set())  # a flow prior exports beside the decoder
    assert description["export_format"] == fmt and set(description["files"]) == files
    assert all((path.parent / name).is_file() for name in description["files"].values())
    assert description["model_id"] == machine.model_id and description["class_names"] == machine.instruments
    assert description["opset"] == (18 if fmt == "onnx" else None)
    assert description["inversion"]["exported"] is True
    assert [tensor["name"] for tensor in description["inversion"]["inputs"]] == ["magnitude", "phase"]
    assert [tensor["name"] for tensor in description["inputs"]] == ["latent", "class_weights"]
    assert description["outputs"][0]["shape"] == ["batch", description["n_freq"], description["n_frames"]]
    prior = machine.directory.latent_prior
    if prior is None:  # a codec's prior is its flow, exported as a file of its own
        assert description["latent_prior"] is None and codec
        assert description["prior"]["exported"] is (machine.flow is not None)
    else:
        np.testing.assert_array_equal(np.array(description["latent_prior"]["scale_tril"], np.float32), prior.scale_tril)


def test_an_unconditional_minmax_model_exports_with_its_own_db_range(tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    config = tiny_config(conditional=False)
    config = dataclasses.replace(config, audio=dataclasses.replace(config.audio, normalization="minmax"))
    model_dir = tmp_path / "model"
    torch.manual_seed(0)
    model = build_model(config.model, config.audio.shape, 3)
    save_model_dir(model_dir, model, config, ["kick", "snare", "hihat"], {"min_value": -80.0, "max_value": -5.0})
    machine = DrumMachine.load(model_dir)
    path = export_model(model_dir, "onnx", tmp_path / "tiny.onnx")
    latents, weights = decoder_inputs(machine, 4, seed=3)
    (magnitude,) = onnx_session(path).run(None, {"latent": latents, "class_weights": weights})
    assert_parity(magnitude, reference_magnitude(machine, latents, weights, -80.0, -5.0))
    description = json.loads(path.with_suffix(".json").read_text())
    assert description["normalization"]["min_db"] == -80.0 and not description["conditional"]
    assert description["latent_prior"] is None


def test_an_interrupted_export_leaves_no_file(tmp_path, monkeypatch) -> None:
    out = tmp_path / "decoder.pt"
    out.write_bytes(b"an earlier export")

    def interrupted(module, path, **kwargs) -> None:
        Path(path).write_bytes(b"half a model")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch.jit, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        export_model(None, "torchscript", out)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["decoder.pt"]
    assert out.read_bytes() == b"an earlier export"


def test_bad_requests_are_user_errors(tmp_path, monkeypatch) -> None:
    with pytest.raises(DkvaeError, match="model directory not found"):
        export_model(tmp_path / "missing", "torchscript", tmp_path / "decoder.pt")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "config.json").write_text('{"format": "keras"}')
    with pytest.raises(DkvaeError, match="not a dkvae model directory"):
        export_model(tmp_path / "foreign", "onnx", tmp_path / "decoder.onnx")
    with pytest.raises(DkvaeError, match="unknown export format"):
        export_model(None, "tflite", tmp_path / "decoder.tflite")  # type: ignore[arg-type]
    with pytest.raises(DkvaeError, match="cannot end in .json"):
        export_model(None, "onnx", tmp_path / "decoder.json")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DkvaeError, match="ONNX export needs onnx and onnxscript"):
        export_model(None, "onnx", tmp_path / "decoder.onnx")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["foreign"]


def test_the_export_model_command_writes_the_files_and_refuses_a_bad_format(machine, tmp_path) -> None:
    from typer.testing import CliRunner

    from dkvae.cli import app

    out = tmp_path / "d.ts"
    result = CliRunner().invoke(app, ["export-model", "--format", "torchscript", "--out", str(out)])
    assert result.exit_code == 0, result.output
    priors = {prior_path(out).name} if machine.flow is not None else set()  # the bundled model's flow prior, if a codec
    assert {p.name for p in tmp_path.iterdir()} == {"d.ts", "d.json", "d-inversion.ts"} | priors
    bad = CliRunner().invoke(app, ["export-model", "--format", "vst", "--out", str(tmp_path / "x")])
    assert isinstance(bad.exception, DkvaeError) and "unknown export format 'vst'" in str(bad.exception)
