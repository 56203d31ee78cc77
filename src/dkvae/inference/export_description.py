"""The JSON description of a model export: each exported file's tensors and units, and how a host makes sound with them.

A VAE's latents are vectors with a Gaussian prior per class (``latent_prior``); a codec's are flattened
latent sequences (``latent_sequence``) whose new sounds come from its flow prior (``prior``: the
velocity network's file and the exact sampling loop `DrumMachine` runs).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from dkvae import __version__
from dkvae.core.config import MAX_TEMPERATURE, OUTPUT_FADE_SECONDS, OUTPUT_PEAK_DB, OUTPUT_SAMPLE_RATE
from dkvae.inference.machine import DrumMachine
from dkvae.models.codec import TimeLocalAutoencoder

#: The opset torch's exporter implements natively (no version conversion). Its files are ONNX IR version 10,
#: which ONNX Runtime reads since 1.18.
ONNX_OPSET = 18
#: What the JSON description calls itself.
DESCRIPTION_FORMAT = "dkvae-export"
DESCRIPTION_VERSION = 1

MAGNITUDE_UNITS = (
    "linear STFT magnitude of audio in [-1, 1] as torch.stft makes it (periodic Hann window, no normalization, "
    "frame t centred on sample t * hop_length with zero padding): a full-scale sine reads n_fft / 4, "
    "so 20 * log10(magnitude / (n_fft / 4)) is dB full scale"
)
VAE_LATENT = (
    "latent vectors; new sounds of class c: latent_prior.mean[c] + latent_prior.scale_tril[c] @ standard "
    "normal noise (standard normal noise alone when latent_prior is null)"
)
INVERSION_NOTE = (
    "files.inversion runs the fast Griffin-Lim iterations (Perraudin et al. 2013) from the given phase, over every "
    "frame. PGHI (Prusa et al. 2017, the pghi method's initial phase) does not export: its loops are data-dependent. "
    "dkvae itself leaves frames all 70 dB under a sound's peak out of the iterations (their phase stays PGHI's "
    "random one); the two differ by under 1% of the sound's peak"
)
NO_FLOW_NOTE = (
    "this codec has no flow prior yet, and new sounds need it: train it with `dkvae prior RUN BANK` (RUN the "
    "codec's run folder, BANK the bank it trained on), then export again. Until then the decoder decodes only "
    "latents dkvae made (a sidecar's latent, DrumMachine.encode); standard normal noise is not a codec latent"
)


def describe(machine: DrumMachine, fmt: str, files: dict[str, str]) -> dict[str, Any]:
    """The JSON description of an export: model, audio settings, tensors, units and how to get sound out.

    `files` names the exported files (``model``, ``description``, ``inversion``; ``prior`` for a codec's flow).
    """
    audio, settings = machine.config.audio, machine.config.inversion
    min_db, max_db = machine.db_range()
    frequency_frames = [audio.n_freq, audio.n_frames]
    codec = isinstance(machine.model, TimeLocalAutoencoder)
    prior = None if codec else machine.directory.latent_prior
    description = {
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
            _tensor("latent", [machine.latent_dim], _codec_latent(machine) if codec else VAE_LATENT),
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
    if codec:
        description["latent_sequence"] = _latent_sequence(machine)
        description["prior"] = _flow(machine) if machine.flow is not None else {"exported": False, "note": NO_FLOW_NOTE}
    return description


def _codec_latent(machine: DrumMachine) -> str:
    """What the decoder's latent input is for a codec."""
    channels, frames = machine.latent_shape
    origin = "new sounds come from the flow prior (see prior)" if machine.flow is not None else NO_FLOW_NOTE
    return (
        f"the codec's latent sequence (channels {channels}, frames {frames}) flattened channel by channel (see "
        f"latent_sequence); latent_prior is null: {origin}"
    )


def _latent_sequence(machine: DrumMachine) -> dict[str, Any]:
    """A codec latent's layout and time scale."""
    channels, frames = machine.latent_shape
    downsample = machine.config.model.codec_downsample
    hop = machine.config.audio.hop_length * downsample
    return {
        "channels": channels,
        "frames": frames,
        "layout": f"latent[c * {frames} + f] is channel c of latent frame f (a C-order reshape to (channels, frames))",
        "hop_length": hop,
        "frame_rate": machine.model_sample_rate / hop,
        "note": f"hop_length: samples at sample_rate from one latent frame to the next; frame_rate: latent frames "
        f"a second (Hz). Latent frame f covers spectrogram frames {downsample} * f to {downsample} * f + "
        f"{downsample - 1} (those past n_frames are padding)",
    }


def _flow(machine: DrumMachine) -> dict[str, Any]:
    """The flow prior's file, units and the exact sampling loop of `DrumMachine.sample_latents` through it."""
    assert machine.flow is not None
    flow, dim, (_, frames) = machine.flow, machine.latent_dim, machine.latent_shape
    steps, guidance = flow.config.steps, flow.config.guidance
    return {
        "exported": True,
        "method": "rectified flow (flow matching) from noise at time 0 to a latent at time 1, Euler steps, "
        "classifier-free guidance",
        "steps": steps,
        "guidance": guidance,
        "inputs": [
            _tensor("state", [dim], "the flow's state, in its standardized units, flattened as latent is"),
            _tensor("time", [], "the time of the state, from 0 (noise) to 1"),
            _tensor(
                "class_weights",
                [len(machine.instruments)],
                "one weight per class in class_names order, as the decoder's; zeros for the unconditional velocity",
            ),
            _tensor("no_class", [], "the weight of 'no class': 0 beside class weights summing to 1, 1 beside zeros"),
        ],
        "outputs": [_tensor("velocity", [dim], "d state / d time, flattened as latent is")],
        "latent_mean": _floats(np.repeat(flow.latent_mean.numpy(), frames)),
        "latent_std": _floats(np.repeat(flow.latent_std.numpy(), frames)),
        "sampling": {
            "noise": f"noise = temperature * standard normal (batch, latent_dim) float32, temperature from 0 to "
            f"{MAX_TEMPERATURE:g} (1: as the training sounds spread; 0: the most typical sound). dkvae's draw for "
            "seed s is torch.randn(batch, latent_dim, generator=torch.Generator().manual_seed(s)) before the "
            "temperature multiplies it",
            "time_grid": f"t_k = k / {steps} for k = 0 .. {steps} (steps + 1 float32 times, torch.linspace(0, 1, "
            f"{steps + 1}))",
            "euler": f"state_0 = noise; for k = 0 .. {steps - 1}: state_(k+1) = state_k + (t_(k+1) - t_k) * "
            "v(state_k, t_k), with time t_k in every row",
            "guided_velocity": "v = v_free + guidance * (v_class - v_free), v_class = files.prior(state, t, "
            "class_weights, no_class = 0) and v_free = files.prior(state, t, class_weights = 0, no_class = 1); "
            "guidance 1 is v_class alone. A sound of class c takes class_weights one-hot at c; a sound of no "
            "particular class takes class_weights 0 and no_class 1 in both, so v = v_free",
            "latent": "latent = state_steps * latent_std + latent_mean, element by element",
            "decode": "magnitude = files.model(latent, class_weights) (the codec ignores class_weights), then "
            "files.inversion and the finishing",
        },
    }


def _tensor(name: str, shape: list[int], meaning: str) -> dict[str, Any]:
    """How the description states one float32 tensor ``(batch, *shape)``."""
    return {"name": name, "shape": ["batch", *shape], "dtype": "float32", "meaning": meaning}


def _floats(array: np.ndarray) -> list[Any]:
    """A float32 array as nested lists of Python floats (exact float32 values)."""
    return np.asarray(array, np.float32).tolist()
