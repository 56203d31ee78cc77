"""Model directories: ``model.safetensors`` + ``config.json``, saved atomically, loaded without unpickling.

A model directory holds everything needed to use a model: the weights (safetensors: plain tensors,
no code), and JSON with the full config (audio, split, model, training), the class names, the
normalization statistics of the training data and the training metadata. Lightning's ``.ckpt`` files
in ``RUN/checkpoints/`` are only for resuming one's own runs and are never read here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import reprlib
import stat
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import safetensors.torch
import torch
from torch import nn

from dkvae.core.atomic import atomic_paths
from dkvae.core.config import DB_RANGE, MAX_CLASS_NAME_BYTES, MAX_CLASSES, AudioConfig, Config
from dkvae.core.errors import DkvaeError
from dkvae.models import build_model
from dkvae.models.latent_prior import LATENT_PRIOR_NAME, LatentPrior

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
FORMAT = "dkvae-model"
FORMAT_VERSION = 1
#: Largest ``config.json`` read, in bytes (a model's own is a few kB), so a tampered one cannot fill memory.
MAX_CONFIG_BYTES = 1 << 20
#: The dtypes a weight may be stored in: the model's own, or a float of another width for a floating-point
#: weight (`save_model_dir`'s `weights_dtype`; loading casts it back). Anything else is refused unread.
STORED_DTYPES = {
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "BOOL": torch.bool,
}


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
    #: Per-class Gaussians of the training sounds' latents, when fitted (see `dkvae.models.latent_prior`).
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
    weights in that type; loading casts them back to the model's own. Both files are written in full
    under temporary names before either replaces its old self (a full disk or a kill before that
    leaves the previous model whole); the model id in ``config.json`` is the weights' digest, so in
    the instant between the two renames a load sees the pair disagree and says so. A latent prior
    fitted to other weights is removed.
    """
    try:
        check_class_names(list(class_names))
    except ValueError as error:
        raise DkvaeError(f"cannot save this model: {error}") from None
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    if weights_dtype is not None:
        tensors = {name: t.to(weights_dtype) if t.is_floating_point() else t for name, t in tensors.items()}
    weights = safetensors.torch.save(tensors, metadata={"format": FORMAT})
    model_id = _digest(weights)
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
    with atomic_paths(directory / WEIGHTS_NAME, directory / CONFIG_NAME) as (weights_file, config_file):
        weights_file.write_bytes(weights)  # a full disk is an OSError
        config_file.write_text(json.dumps(document, indent=2, sort_keys=True), encoding="utf-8")
    if LatentPrior.fitted_for(directory) not in (None, model_id):
        (directory / LATENT_PRIOR_NAME).unlink()
    return model_id


def load_model_dir(path: str | os.PathLike[str]) -> ModelDirectory:
    """Load a model directory; never unpickles. A missing, corrupt or foreign one raises `DkvaeError`.

    Nothing is built until the weights file's header has been checked against the network the
    config describes (built first on the ``meta`` device, which allocates nothing), so a tampered
    config cannot make it allocate more than the weights file holds. Every number read is bounded and
    finite (the config's own checks, `check_class_names`, weights and prior free of NaN and infinities),
    and only regular files are opened (a FIFO would block the read for ever).
    """
    directory = Path(path)
    document = read_model_config(directory)
    try:
        _check_json(document["config"], Config, "config")
        _check_json(document["class_names"], list[str], "class_names")
        _check_json(document.get("normalization", {}), dict[str, float], "normalization")
        _check_json(document.get("training", {}), dict[str, Any], "training")
        if "model_id" not in document:
            raise ValueError(f"its {CONFIG_NAME} has no model_id (every saved model has one); save or train it again")
        _check_json(document["model_id"], str, "model_id")
        config = Config.from_dict(document["config"])
        class_names = list(document["class_names"])
        check_class_names(class_names)
        _check_normalization(document.get("normalization", {}))
        with torch.device("meta"):
            expected = build_model(config.model, config.audio.shape, len(class_names), config.adversarial).state_dict()
        _check_weights(_regular_file(directory / WEIGHTS_NAME), expected)
        weights = (directory / WEIGHTS_NAME).read_bytes()  # read once: digested, then loaded
        model_id = document["model_id"]
        if _digest(weights) != model_id:
            raise ValueError(
                f"its {WEIGHTS_NAME} is not model {model_id} that {CONFIG_NAME} describes"
                " (replaced by hand, or a save was cut off between the two files); save or train it again"
            )
        state = safetensors.torch.load(weights)
        for name, tensor in state.items():
            if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                raise ValueError(f"its weight {name} holds NaN or infinite values")
        model = build_model(config.model, config.audio.shape, len(class_names), config.adversarial)
        model.load_state_dict(state, strict=True)
        latent_prior = _load_latent_prior(directory, (len(class_names), config.model.latent_dim), model_id)
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
        model_id=model_id,
        path=directory,
        latent_prior=latent_prior,
    )


def read_model_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed ``config.json`` of a model directory, checked to be one of ours."""
    directory = Path(path)
    if not directory.is_dir():
        raise DkvaeError(f"model directory not found: {directory}")
    try:
        info = (directory / CONFIG_NAME).stat()
        if not stat.S_ISREG(info.st_mode):
            raise DkvaeError(f"{directory / CONFIG_NAME} is not a regular file")
        if info.st_size > MAX_CONFIG_BYTES:
            raise ValueError(f"larger than {MAX_CONFIG_BYTES} bytes")
        document = json.loads((directory / CONFIG_NAME).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DkvaeError(f"{directory} is not a dkvae model directory (no {CONFIG_NAME})") from None
    except RecursionError:
        raise DkvaeError(f"{directory / CONFIG_NAME} is unreadable: its JSON is nested too deeply") from None
    except (OSError, ValueError) as error:
        raise DkvaeError(f"{directory / CONFIG_NAME} is unreadable: {_first_line(error)}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise DkvaeError(f"{directory} is not a dkvae model directory ({CONFIG_NAME} is of another format)")
    version = document.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise DkvaeError(f"{directory} is not a dkvae model directory (format_version {version!r})")
    if version > FORMAT_VERSION:
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


def check_class_names(names: list[str]) -> None:
    """Raise ValueError unless `names` are 1 to `MAX_CLASSES` distinct names, each a name its bank folder could have.

    A class's name becomes part of the file names its sounds are written under, so a tampered model
    must not name one ``../../evil``: each is one part of a path (no ``/`` or ``\\``, not ``.`` or ``..``),
    of printable characters (no newline, no bytes that are not UTF-8), at most `MAX_CLASS_NAME_BYTES` long.
    """
    if not 1 <= len(names) <= MAX_CLASSES:
        raise ValueError(f"it needs 1 to {MAX_CLASSES} class names, not {len(names)}")
    for index, name in enumerate(names):
        one_part = name not in ("", ".", "..") and not {"/", "\\"} & set(name)
        if not (one_part and name.isprintable() and len(name.encode("utf-8")) <= MAX_CLASS_NAME_BYTES):
            raise ValueError(
                f"class name {reprlib.repr(name)} is not a folder name (one part of a path, printable,"
                f" at most {MAX_CLASS_NAME_BYTES} bytes)"
            )
        if name in names[:index]:
            raise ValueError(f"it names class {name!r} twice")


def _check_normalization(normalization: dict[str, float]) -> None:
    """Raise ValueError unless each saved level (dB) is within `DB_RANGE`, as a config's own levels are."""
    for name, value in normalization.items():
        if not DB_RANGE[0] <= value <= DB_RANGE[1]:
            raise ValueError(
                f"normalization {name} must be a number from {DB_RANGE[0]:g} to {DB_RANGE[1]:g} (dB); got {value!r}"
            )


def _regular_file(path: Path) -> Path:
    """`path`, when it is a regular file (a FIFO or a device could block its read for ever, or never end it)."""
    if not stat.S_ISREG(path.stat().st_mode):
        raise ValueError(f"{path.name} is not a regular file")
    return path


def _check_json(value: Any, hint: Any, where: str) -> None:
    """Raise TypeError unless parsed JSON `value` fits the type `hint` (config dataclasses too, recursively).

    Runs before anything is built from the JSON, so a tampered file gets a message naming the field.
    """
    if hint is Any:
        return
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return
        (hint,) = (arg for arg in args if arg is not type(None))  # an optional field: one type or null
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint) or origin is dict:
        _expect(isinstance(value, dict), value, "an object", where)
        hints = typing.get_type_hints(hint) if origin is None else dict.fromkeys(value, args[1])
        for name, item in value.items():
            if name in hints:
                _check_json(item, hints[name], f"{where}.{name}")
    elif origin in (list, tuple):
        _expect(isinstance(value, list), value, "a list", where)
        items = args if origin is tuple and args[-1:] != (...,) else args[:1] * len(value)
        _expect(len(items) == len(value), value, f"a list of {len(items)}", where)
        for index, (item, item_hint) in enumerate(zip(value, items)):
            _check_json(item, item_hint, f"{where}[{index}]")
    elif origin is typing.Literal:
        _expect(value in args, value, "one of " + ", ".join(map(repr, args)), where)
    elif hint is float:
        _expect(isinstance(value, (int, float)) and not isinstance(value, bool), value, "a number", where)
        _expect(math.isfinite(value), value, "a finite number", where)
    else:
        _expect(isinstance(value, hint) and (hint is bool or not isinstance(value, bool)), value, hint.__name__, where)


def _expect(fits: bool, value: Any, expected: str, where: str) -> None:
    """Raise TypeError saying what `where` holds and what it should, unless it `fits`."""
    if not fits:
        raise TypeError(f"{where} is {reprlib.repr(value)}, not {expected}")


def _check_weights(path: Path, expected: dict[str, torch.Tensor]) -> None:
    """Compare a safetensors file's header (names, shapes, dtypes) with a state dict; reads no tensor data."""
    try:
        with safetensors.safe_open(str(path), framework="pt") as weights:
            stored = {name: weights.get_slice(name) for name in weights.keys()}  # noqa: SIM118 (safe_open is not iterable)
    except safetensors.SafetensorError as error:
        raise ValueError(f"{path.name} is damaged: {error}") from None
    missing, unexpected = sorted(expected.keys() - stored.keys()), sorted(stored.keys() - expected.keys())
    if missing or unexpected:
        raise ValueError(f"its weights do not fit its config: missing {missing[:3]}, unexpected {unexpected[:3]}")
    for name, tensor in expected.items():
        shape, dtype = tuple(stored[name].get_shape()), stored[name].get_dtype()
        if shape != tuple(tensor.shape):
            raise ValueError(f"weight {name} has shape {shape}; its config needs {tuple(tensor.shape)}")
        kind = STORED_DTYPES.get(dtype)
        fits = kind is not None and (kind.is_floating_point if tensor.is_floating_point() else kind == tensor.dtype)
        if not fits:
            raise ValueError(f"weight {name} is stored as {dtype}, not as {tensor.dtype}")


def _load_latent_prior(directory: Path, shape: tuple[int, int], model_id: str) -> LatentPrior | None:
    """The model's latent prior, if it has one, checked to be floats of `shape` (classes, latent_dim) fitted to this model."""
    try:
        prior = LatentPrior.load(directory)
    except safetensors.SafetensorError as error:
        raise ValueError(f"{LATENT_PRIOR_NAME} is damaged: {error}") from None
    if prior is None:
        return None
    if prior.model_id and model_id and prior.model_id != model_id:
        raise ValueError(f"its latent prior was fitted to model {prior.model_id}, not to this one ({model_id})")
    if prior.mean.shape != shape:
        raise ValueError(f"its latent prior has shape {prior.mean.shape}, not (classes, latent_dim) {shape}")
    if not all(np.issubdtype(array.dtype, np.floating) for array in (prior.mean, prior.scale_tril)):
        raise TypeError("its latent prior is not stored as floats")
    return prior


def _digest(data: bytes) -> str:
    """A short hex digest of a weights file's bytes: the model id."""
    return hashlib.blake2b(data, digest_size=6).hexdigest()


def _first_line(error: BaseException) -> str:
    """The first line of an exception's message."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
