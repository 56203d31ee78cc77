"""Export a model's decoder and its inversion for plugin hosts, with a JSON description beside them.

The exported decoder maps a latent ``(batch, latent_dim)`` and class weights ``(batch, num_classes)``
to linear STFT magnitudes ``(batch, freq, frames)``: what `DrumMachine` decodes, with the model's dB
normalization undone, so a host inverts it directly. What exports where (torch 2.13):

- ONNX: the decoder, with torch's ``torch.export``-based exporter (``dynamo=True``, the default
  since torch 2.9; the TorchScript-based one is deprecated), opset `ONNX_OPSET`, dynamic batch.
- TorchScript (``torch.jit.trace``; deprecated by torch but still supported): the decoder.

Both also write, to ``<stem>-inversion<suffix>``, the model's fast Griffin-Lim iterations from a
given initial phase (in ONNX through opset 18's DFT), over every frame, where dkvae leaves a sound's
frames all 70 dB under its peak out (`dkvae.sound.inversion`; under 1% of the peak apart). PGHI cannot export
to either format: its loops run a data-dependent number of times.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from dkvae import __version__
from dkvae.core.atomic import atomic_path
from dkvae.core.config import OUTPUT_FADE_SECONDS, OUTPUT_PEAK_DB, OUTPUT_SAMPLE_RATE
from dkvae.core.errors import DkvaeError
from dkvae.inference.machine import DrumMachine
from dkvae.sound.audio import denormalize, stft_magnitude
from dkvae.sound.inversion import fast_griffin_lim

ExportFormat = Literal["onnx", "torchscript"]
EXPORT_FORMATS: tuple[str, ...] = ("onnx", "torchscript")
#: The opset torch's exporter implements natively (no version conversion). Its files are ONNX IR version 10,
#: which ONNX Runtime reads since 1.18.
ONNX_OPSET = 18
#: Batch of the example inputs an export is traced with: 2, because torch.export treats a size of 1 as fixed.
EXAMPLE_BATCH = 2
#: What the JSON description calls itself.
DESCRIPTION_FORMAT = "dkvae-export"
DESCRIPTION_VERSION = 1
#: The packages ONNX export needs besides torch.
ONNX_PACKAGES = ("onnx", "onnxscript")
#: Input and output names of the exported decoder and inversion, as the description gives them.
DECODER_NAMES = (("latent", "class_weights"), "magnitude")
INVERSION_NAMES = (("magnitude", "phase"), "audio")

MAGNITUDE_UNITS = (
    "linear STFT magnitude of audio in [-1, 1] as torch.stft makes it (periodic Hann window, no normalization, "
    "frame t centred on sample t * hop_length with zero padding): a full-scale sine reads n_fft / 4, "
    "so 20 * log10(magnitude / (n_fft / 4)) is dB full scale"
)


class SpectrogramDecoder(nn.Module):
    """Latents ``(batch, latent_dim)`` and class weights ``(batch, num_classes)`` -> STFT magnitudes ``(batch, freq, frames)``.

    `DrumMachine.decode_spectrograms` followed by the denormalization `DrumMachine.render` applies,
    as one module; class weights are ignored by an unconditional model.
    """

    def __init__(self, machine: DrumMachine) -> None:
        super().__init__()
        self.model = machine.model
        self.conditional = machine.conditional
        self.min_db, self.max_db = machine.db_range()
        self.n_fft = machine.config.audio.n_fft

    def forward(self, latent: Tensor, class_weights: Tensor) -> Tensor:
        normalized = self.model.decode(latent, class_weights if self.conditional else None).clamp(0, 1)
        return stft_magnitude(denormalize(normalized, self.min_db, self.max_db), self.n_fft)


class GriffinLimIterations(nn.Module):
    """STFT magnitudes and initial phases (radians), both ``(batch, freq, frames)`` -> audio ``(batch, num_samples)``.

    The model's configured fast Griffin-Lim iterations (`dkvae.sound.inversion.fast_griffin_lim`); plain
    Griffin-Lim (``gla``) is momentum 0. Zero phase gives the ``fgla``/``gla`` methods; the ``pghi``
    method starts from `dkvae.sound.inversion.pghi_phase`, which a host computes itself.
    """

    def __init__(self, machine: DrumMachine) -> None:
        super().__init__()
        audio, settings = machine.config.audio, machine.config.inversion
        self.size = (audio.n_fft, audio.hop_length, audio.num_samples)
        self.iterations = settings.iterations
        self.momentum = 0.0 if settings.method == "gla" else settings.momentum

    def forward(self, magnitude: Tensor, phase: Tensor) -> Tensor:
        return fast_griffin_lim(magnitude, *self.size, self.iterations, self.momentum, phase)


def inversion_path(out: Path) -> Path:
    """Where the TorchScript inversion goes beside the decoder `out`: ``<stem>-inversion<suffix>``."""
    return out.with_name(f"{out.stem}-inversion{out.suffix}")


def export_model(model_dir: Path | None, fmt: ExportFormat, out: Path) -> Path:
    """Export the decoder of the model in `model_dir` (None: the bundled model) as `fmt` to `out`; returns `out`.

    Beside it go ``<out stem>.json`` (`describe`: everything a host needs) and the inversion
    (`inversion_path`). All files are written under temporary names and renamed at
    the end, so an interrupted export leaves none half-written. A missing or unusable model, an
    unknown format or missing ONNX packages raise `DkvaeError`.
    """
    if fmt not in EXPORT_FORMATS:
        raise DkvaeError(f"unknown export format {fmt!r}; choose {' or '.join(EXPORT_FORMATS)}")
    out = Path(out)
    if out.suffix == ".json":
        raise DkvaeError(f"{out}: the model file cannot end in .json (its description is written beside it as JSON)")
    missing = [name for name in ONNX_PACKAGES if importlib.util.find_spec(name) is None] if fmt == "onnx" else []
    if missing:
        raise DkvaeError(f"ONNX export needs {' and '.join(missing)}: pip install 'dkvae[export]'")
    machine = DrumMachine.load(model_dir)
    decoder = SpectrogramDecoder(machine).eval()
    latent, class_weights = example_inputs(machine)
    files = {"model": out, "inversion": inversion_path(out), "description": out.with_suffix(".json")}
    description = describe(machine, fmt, {name: path.name for name, path in files.items()})
    metadata = json.dumps({key: value for key, value in description.items() if key != "latent_prior"})
    with ExitStack() as stack:
        tmp = {name: stack.enter_context(atomic_path(path)) for name, path in files.items()}
        inversion = GriffinLimIterations(machine).eval()
        with torch.no_grad():
            magnitude = decoder(latent, class_weights)
            phase = torch.zeros_like(magnitude)
            # The transform's window and envelope are made once per size and cached: made here, from real
            # tensors, they are constants in the exports (made while exporting, the cache would keep tracer values).
            inversion(magnitude, phase)
        if fmt == "onnx":
            _save_onnx(decoder, (latent, class_weights), DECODER_NAMES, tmp["model"], metadata)
            _save_onnx(inversion, (magnitude, phase), INVERSION_NAMES, tmp["inversion"], metadata)
        else:
            _save_torchscript(decoder, (latent, class_weights), tmp["model"], metadata)
            _save_torchscript(inversion, (magnitude, phase), tmp["inversion"], metadata)
        tmp["description"].write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
    return out


def example_inputs(machine: DrumMachine) -> tuple[Tensor, Tensor]:
    """Latents ``(EXAMPLE_BATCH, latent_dim)`` and class weights ``(EXAMPLE_BATCH, num_classes)`` to trace with."""
    latent = torch.as_tensor(machine.noise(EXAMPLE_BATCH, seed=0))
    weights = torch.full((EXAMPLE_BATCH, len(machine.instruments)), 1.0 / len(machine.instruments))
    return latent, weights


def _save_onnx(
    module: nn.Module, inputs: tuple[Tensor, Tensor], names: tuple[tuple[str, str], str], path: Path, metadata: str
) -> None:
    """Export `module` with torch's torch.export-based exporter, batch axis dynamic, to the file `path`.

    `names` are the two inputs' names (those of `module.forward`'s arguments) and the output's.
    """
    batch = torch.export.Dim("batch")
    (first, second), output = names
    with _quiet_onnx_exporter():
        program = torch.onnx.export(
            module,
            inputs,
            input_names=[first, second],
            output_names=[output],
            opset_version=ONNX_OPSET,
            dynamic_shapes={first: {0: batch}, second: {0: batch}},
            dynamo=True,
            verbose=False,
        )
    assert program is not None
    program.model.metadata_props[DESCRIPTION_FORMAT] = metadata
    program.save(path, external_data=False)


def _save_torchscript(module: nn.Module, inputs: tuple[Tensor, Tensor], path: Path, metadata: str) -> None:
    """Trace `module` on `inputs` and save it to `path` with the description as the extra file ``dkvae-export.json``."""
    with warnings.catch_warnings():
        # ClassConditioning checks the class weights' shape in Python; tracing runs the check once and warns.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace(module, inputs)
    frozen = torch.jit.freeze(traced)  # keeps only the weights the trace uses (the decoder's, not the encoder's)
    torch.jit.save(frozen, str(path), _extra_files={f"{DESCRIPTION_FORMAT}.json": metadata})


@contextmanager
def _quiet_onnx_exporter() -> Iterator[None]:
    """Hide the exporter's messages that say nothing about this model (torchvision ops it skips, axis renaming)."""
    logger = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"# The axis name: .* will not be used")
            warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
            yield
    finally:
        logger.setLevel(level)


def describe(machine: DrumMachine, fmt: ExportFormat, files: dict[str, str]) -> dict[str, Any]:
    """The JSON description of an export: model, audio settings, tensors, units and how to get sound out.

    `files` names the exported files (``model``, ``description``, ``inversion`` when there is one).
    """
    audio, settings = machine.config.audio, machine.config.inversion
    min_db, max_db = machine.db_range()
    frequency_frames = [audio.n_freq, audio.n_frames]
    prior = machine.directory.latent_prior
    return {
        "format": DESCRIPTION_FORMAT,
        "format_version": DESCRIPTION_VERSION,
        "export_format": fmt,
        "files": files,
        "dkvae_version": __version__,
        "torch_version": torch.__version__,
        "opset": ONNX_OPSET if fmt == "onnx" else None,
        "model_id": machine.model_id,
        "class_names": list(machine.instruments),
        "conditional": machine.conditional,
        "latent_dim": machine.latent_dim,
        "sample_rate": machine.model_sample_rate,
        "output_sample_rate": OUTPUT_SAMPLE_RATE,
        "num_samples": audio.num_samples,
        "n_fft": audio.n_fft,
        "hop_length": audio.hop_length,
        "window": "hann, periodic",
        "n_freq": audio.n_freq,
        "n_frames": audio.n_frames,
        "normalization": {
            "method": audio.normalization,
            "min_db": min_db,
            "max_db": max_db,
            "baked_in": "the model's [0, 1] output x is clamped, mapped to dB as min_db + x * (max_db - min_db), "
            "then to the magnitude (n_fft / 4) * 10 ** (dB / 20)",
        },
        "inputs": [
            _tensor(
                "latent",
                [machine.latent_dim],
                "latent vectors; new sounds of class c: latent_prior.mean[c] + latent_prior.scale_tril[c] @ standard "
                "normal noise (standard normal noise alone when latent_prior is null)",
            ),
            _tensor(
                "class_weights",
                [len(machine.instruments)],
                "one weight per class in class_names order, non-negative, each row summing to 1: one-hot for one "
                "class, a blend morphs between classes"
                + ("" if machine.conditional else "; this model is unconditional and ignores them"),
            ),
        ],
        "outputs": [_tensor("magnitude", frequency_frames, MAGNITUDE_UNITS)],
        "inversion": {
            "method": settings.method,
            "iterations": settings.iterations,
            "momentum": 0.0 if settings.method == "gla" else settings.momentum,
            "exported": True,
            "note": INVERSION_NOTE,
            "inputs": [
                _tensor("magnitude", frequency_frames, MAGNITUDE_UNITS),
                _tensor(
                    "phase",
                    frequency_frames,
                    "initial phase in radians, torch.stft's convention (measured from each frame's first sample); "
                    "zeros for fgla and gla, PGHI's phase for pghi",
                ),
            ],
            "outputs": [_tensor("audio", [audio.num_samples], "samples in [-1, 1] at sample_rate")],
        },
        "finishing": {
            "resample_to": OUTPUT_SAMPLE_RATE,
            "peak_db": OUTPUT_PEAK_DB,
            "fade_out_seconds": OUTPUT_FADE_SECONDS,
            "note": "dkvae resamples each sound to output_sample_rate, scales its peak to peak_db dBFS and fades "
            "out its last fade_out_seconds with a half-cosine",
        },
        "latent_prior": None
        if prior is None
        else {"mean": _floats(prior.mean), "scale_tril": _floats(prior.scale_tril)},
    }


def _tensor(name: str, shape: list[int], meaning: str) -> dict[str, Any]:
    """How the description states one float32 tensor ``(batch, *shape)``."""
    return {"name": name, "shape": ["batch", *shape], "dtype": "float32", "meaning": meaning}


INVERSION_NOTE = (
    "files.inversion runs the fast Griffin-Lim iterations (Perraudin et al. 2013) from the given phase, over every "
    "frame. PGHI (Prusa et al. 2017, the pghi method's initial phase) does not export: its loops are data-dependent. "
    "dkvae itself leaves frames all 70 dB under a sound's peak out of the iterations (their phase stays PGHI's "
    "random one); the two differ by under 1% of the sound's peak"
)


def _floats(array: np.ndarray) -> list[Any]:
    """A float32 array as nested lists of Python floats (exact float32 values)."""
    return np.asarray(array, np.float32).tolist()
