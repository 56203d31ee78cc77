"""Model directories: ``model.safetensors`` + ``config.json``, saved atomically, loaded without unpickling.

A model directory holds everything needed to use a model: the weights (safetensors: plain tensors,
no code), and JSON with the full config (audio, split, model, training), the class names, the
normalization statistics of the training data and the training metadata. Lightning's ``.ckpt`` files
in ``RUN/checkpoints/`` are only for resuming one's own runs and are never read here.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch
from torch import nn

from .atomic import atomic_path, write_text
from .config import AudioConfig, Config
from .errors import DkvaeError
from .latent_prior import LatentPrior
from .models import build_model

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
FORMAT = "dkvae-model"
FORMAT_VERSION = 1


@dataclass
class ModelDirectory:
    """A loaded model and what it was trained with."""

    model: nn.Module
    config: Config
    class_names: list[str]
    #: Mean ``min_value``/``max_value`` (dB) of the training spectrograms: what a generated
    #: spectrogram is denormalized with under per-sample min-max normalization.
    normalization: dict[str, float] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    model_id: str = ""
    path: Path | None = None
    #: Per-class Gaussians of the training sounds' latents, when fitted (see `dkvae.latent_prior`).
    latent_prior: LatentPrior | None = None


def save_model_dir(
    path: str | os.PathLike[str],
    model: nn.Module,
    config: Config,
    class_names: list[str],
    normalization: dict[str, float] | None = None,
    training: dict[str, Any] | None = None,
    weights_dtype: torch.dtype | None = None,
) -> str:
    """Write `model` and its metadata to the directory `path`; returns the model id (a weights digest).

    `weights_dtype` (e.g. ``torch.float16``, to halve a bundled model's size) stores floating-point
    weights in that type; loading casts them back to the model's own.
    """
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    if weights_dtype is not None:
        tensors = {name: t.to(weights_dtype) if t.is_floating_point() else t for name, t in tensors.items()}
    with atomic_path(directory / WEIGHTS_NAME) as tmp:
        safetensors.torch.save_file(tensors, str(tmp), metadata={"format": FORMAT})
    model_id = _digest(directory / WEIGHTS_NAME)
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_id": model_id,
        "config": config.to_dict(),
        "class_names": list(class_names),
        "input_shape": list(config.audio.shape),
        "normalization": dict(normalization or {}),
        "training": dict(training or {}),
    }
    write_text(directory / CONFIG_NAME, json.dumps(document, indent=2, sort_keys=True))
    return model_id


def load_model_dir(path: str | os.PathLike[str]) -> ModelDirectory:
    """Load a model directory; never unpickles. A missing, corrupt or foreign one raises `DkvaeError`."""
    directory = Path(path)
    document = read_model_config(directory)
    try:
        config = Config.from_dict(document["config"])
        class_names = [str(name) for name in document["class_names"]]
        model = build_model(config.model, config.audio.shape, len(class_names), config.adversarial)
        tensors = safetensors.torch.load_file(str(directory / WEIGHTS_NAME))
        model.load_state_dict(tensors, strict=True)
        latent_prior = LatentPrior.load(directory)
        if latent_prior is not None and latent_prior.mean.shape != (len(class_names), config.model.latent_dim):
            raise ValueError(f"its latent prior has shape {latent_prior.mean.shape}, not (classes, latent_dim)")
    except FileNotFoundError:
        raise DkvaeError(f"{directory} has no {WEIGHTS_NAME}") from None
    except (KeyError, TypeError, ValueError, RuntimeError, safetensors.SafetensorError) as error:
        raise DkvaeError(f"{directory} is not a usable dkvae model: {_first_line(error)}") from None
    model.eval()
    return ModelDirectory(
        model=model,
        config=config,
        class_names=class_names,
        normalization={k: float(v) for k, v in document.get("normalization", {}).items()},
        training=dict(document.get("training", {})),
        model_id=str(document.get("model_id", "")),
        path=directory,
        latent_prior=latent_prior,
    )


def read_model_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed ``config.json`` of a model directory, checked to be one of ours."""
    directory = Path(path)
    if not directory.is_dir():
        raise DkvaeError(f"model directory not found: {directory}")
    try:
        document = json.loads((directory / CONFIG_NAME).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DkvaeError(f"{directory} is not a dkvae model directory (no {CONFIG_NAME})") from None
    except (OSError, ValueError) as error:
        raise DkvaeError(f"{directory / CONFIG_NAME} is unreadable: {_first_line(error)}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise DkvaeError(f"{directory} is not a dkvae model directory ({CONFIG_NAME} is of another format)")
    if document.get("format_version", 0) > FORMAT_VERSION:
        raise DkvaeError(f"{directory} was written by a newer dkvae (format {document['format_version']})")
    return document


def check_audio_matches(model_audio: AudioConfig, bank_audio: AudioConfig, what: str = "this bank") -> None:
    """Refuse to use a model on spectrograms made with other audio settings."""
    if model_audio != bank_audio:
        differences = [
            f"{name} {getattr(model_audio, name)} vs {getattr(bank_audio, name)}"
            for name in model_audio.__dataclass_fields__
            if getattr(model_audio, name) != getattr(bank_audio, name)
        ]
        raise DkvaeError(f"the model was trained with other audio settings than {what}: {', '.join(differences)}")


def _digest(path: Path) -> str:
    """A short hex digest of a file's bytes."""
    digest = hashlib.blake2b(digest_size=6)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _first_line(error: BaseException) -> str:
    """The first line of an exception's message."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
