"""Export a model's decoder and its inversion for plugin hosts, with a JSON description beside them.

The exported decoder maps a latent ``(batch, latent_dim)`` and class weights ``(batch, num_classes)``
to linear STFT magnitudes ``(batch, freq, frames)``: what `DrumMachine` decodes, with the model's dB
normalization undone, so a host inverts it directly. A codec's latent sequence is flattened as
`DrumMachine` flattens it; a codec's flow prior exports too, as its velocity network over such
flattened states (the sampling loop around it is the description's, `dkvae.inference.export_description`).
What exports where (torch 2.13):

- ONNX: the decoder, with torch's ``torch.export``-based exporter (``dynamo=True``, the default
  since torch 2.9; the TorchScript-based one is deprecated), opset `ONNX_OPSET`, dynamic batch.
- TorchScript (``torch.jit.trace``; deprecated by torch but still supported): the decoder.

Both also write, to ``<stem>-inversion<suffix>``, the model's fast Griffin-Lim iterations from a
given initial phase (in ONNX through opset 18's DFT), over every frame, where dkvae leaves a sound's
frames all 70 dB under its peak out (`dkvae.sound.inversion`; the two differ by under 1% of the peak,
as tests/inference/test_export.py checks), and a codec's flow prior to ``<stem>-prior<suffix>``. PGHI
cannot export to either format: its loops run a data-dependent number of times.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from dkvae.core.atomic import atomic_path
from dkvae.core.errors import DkvaeError
from dkvae.inference.export_description import DESCRIPTION_FORMAT, ONNX_OPSET, describe
from dkvae.inference.machine import DrumMachine
from dkvae.sound.audio import denormalize, stft_magnitude
from dkvae.sound.inversion import fast_griffin_lim

ExportFormat = Literal["onnx", "torchscript"]
EXPORT_FORMATS: tuple[str, ...] = ("onnx", "torchscript")
#: Batch of the example inputs an export is traced with: 2, because torch.export treats a size of 1 as fixed.
EXAMPLE_BATCH = 2
#: The packages ONNX export needs besides torch.
ONNX_PACKAGES = ("onnx", "onnxscript")
#: Input and output names of the exported decoder, inversion and flow prior, as the description gives them.
DECODER_NAMES = (("latent", "class_weights"), "magnitude")
INVERSION_NAMES = (("magnitude", "phase"), "audio")
PRIOR_NAMES = (("state", "time", "class_weights", "no_class"), "velocity")


class SpectrogramDecoder(nn.Module):
    """Latents ``(batch, latent_dim)`` and class weights ``(batch, num_classes)`` -> STFT magnitudes ``(batch, freq, frames)``.

    `DrumMachine.decode_spectrograms` followed by the denormalization `DrumMachine.render` applies,
    as one module; class weights are ignored by an unconditional model. A codec's flattened latents
    are reshaped to its ``(channels, frames)`` sequence, as `DrumMachine` reshapes them.
    """

    def __init__(self, machine: DrumMachine) -> None:
        super().__init__()
        self.model = machine.model
        self.latent_shape = machine.latent_shape
        self.conditional = machine.conditional
        self.min_db, self.max_db = machine.db_range()
        self.n_fft = machine.config.audio.n_fft

    def forward(self, latent: Tensor, class_weights: Tensor) -> Tensor:
        latent = latent.reshape(latent.shape[0], *self.latent_shape)
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


class FlowVelocity(nn.Module):
    """A codec's flow prior: flattened states ``(batch, latent_dim)``, times ``(batch,)``, class weights
    ``(batch, num_classes)`` and "no class" weights ``(batch,)`` -> velocities ``(batch, latent_dim)``.

    `dkvae.models.flow_prior.LatentFlow` itself, its class weights with "no class" split off so that
    the class weights are the decoder's; states and velocities are in the flow's standardized units.
    """

    def __init__(self, machine: DrumMachine) -> None:
        super().__init__()
        assert machine.flow is not None
        self.flow = machine.flow
        self.latent_shape = machine.latent_shape

    def forward(self, state: Tensor, time: Tensor, class_weights: Tensor, no_class: Tensor) -> Tensor:
        batch = state.shape[0]
        weights = torch.cat([class_weights, no_class[:, None]], dim=1)
        return self.flow(state.reshape(batch, *self.latent_shape), time, weights).reshape(batch, -1)


def inversion_path(out: Path) -> Path:
    """Where the inversion goes beside the decoder `out`: ``<stem>-inversion<suffix>``."""
    return out.with_name(f"{out.stem}-inversion{out.suffix}")


def prior_path(out: Path) -> Path:
    """Where a codec's flow prior goes beside the decoder `out`: ``<stem>-prior<suffix>``."""
    return out.with_name(f"{out.stem}-prior{out.suffix}")


def export_model(model_dir: Path | None, fmt: ExportFormat, out: Path) -> Path:
    """Export the decoder of the model in `model_dir` (None: the bundled model) as `fmt` to `out`; returns `out`.

    Beside it go ``<out stem>.json`` (`describe`: everything a host needs), the inversion
    (`inversion_path`) and a codec's flow prior when it has one (`prior_path`). All files are written
    under temporary names and renamed at the end, so an interrupted export leaves none half-written.
    A missing or unusable model, an unknown format or missing ONNX packages raise `DkvaeError`.
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
    if machine.flow is not None:
        files["prior"] = prior_path(out)
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
        exports = [
            ("model", decoder, (latent, class_weights), DECODER_NAMES),
            ("inversion", inversion, (magnitude, phase), INVERSION_NAMES),
        ]
        if machine.flow is not None:
            exports.append(("prior", FlowVelocity(machine).eval(), prior_example_inputs(machine), PRIOR_NAMES))
        for name, module, inputs, names in exports:
            if fmt == "onnx":
                _save_onnx(module, inputs, names, tmp[name], metadata)
            else:
                _save_torchscript(module, inputs, tmp[name], metadata)
        tmp["description"].write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
    return out


def example_inputs(machine: DrumMachine) -> tuple[Tensor, Tensor]:
    """Latents ``(EXAMPLE_BATCH, latent_dim)`` and class weights ``(EXAMPLE_BATCH, num_classes)`` to trace with."""
    latent = torch.as_tensor(machine.noise(EXAMPLE_BATCH, seed=0))
    weights = torch.full((EXAMPLE_BATCH, len(machine.instruments)), 1.0 / len(machine.instruments))
    return latent, weights


def prior_example_inputs(machine: DrumMachine) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """States ``(EXAMPLE_BATCH, latent_dim)``, times, class weights and "no class" weights to trace a flow with."""
    state = torch.as_tensor(machine.noise(EXAMPLE_BATCH, seed=0))
    time = torch.linspace(0.25, 0.75, EXAMPLE_BATCH)
    weights = torch.eye(EXAMPLE_BATCH, len(machine.instruments))
    return state, time, weights, torch.zeros(EXAMPLE_BATCH)


def _save_onnx(
    module: nn.Module, inputs: tuple[Tensor, ...], names: tuple[tuple[str, ...], str], path: Path, metadata: str
) -> None:
    """Export `module` with torch's torch.export-based exporter, batch axis dynamic, to the file `path`.

    `names` are the inputs' names (those of `module.forward`'s arguments) and the output's.
    """
    batch = torch.export.Dim("batch")
    input_names, output = names
    with _quiet_onnx_exporter():
        program = torch.onnx.export(
            module,
            inputs,
            input_names=list(input_names),
            output_names=[output],
            opset_version=ONNX_OPSET,
            dynamic_shapes={name: {0: batch} for name in input_names},
            dynamo=True,
            verbose=False,
        )
    assert program is not None
    program.model.metadata_props[DESCRIPTION_FORMAT] = metadata
    program.save(path, external_data=False)


def _save_torchscript(module: nn.Module, inputs: tuple[Tensor, ...], path: Path, metadata: str) -> None:
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
