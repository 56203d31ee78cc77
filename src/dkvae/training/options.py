"""Build a training `Config` from a preset, a run to resume, and the options a user gave."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from dkvae.core.config import (
    LOSS_WEIGHT_FIELDS,
    PRESETS,
    AdversarialConfig,
    Config,
    ModelConfig,
    TrainConfig,
    get_preset,
)
from dkvae.core.errors import DkvaeError
from dkvae.models.checkpoint import read_model_config

MODEL_KINDS = ("vae", "ae", "cgan", "classifier", "codec")
ARCHITECTURES = ("conv", "dense", "seed")
GAN_FROM_SCRATCH = "a GAN trains from scratch: --init starts a VAE or autoencoder (a GAN run goes on with --resume)"
#: Optimizer settings a resumed run takes from its checkpoint, whatever its config says (Lightning restores
#: each optimizer's state, its learning rate included), by config section and field, with the option naming each.
RESTORED_ON_RESUME = {
    ("train", "learning_rate"): "--lr",
    ("train", "weight_decay"): "weight_decay",
    ("train", "lr_schedule"): "lr_schedule",
    ("train", "final_lr_fraction"): "final_lr_fraction",
    ("adversarial", "generator_lr"): "generator_lr",
    ("adversarial", "discriminator_lr"): "discriminator_lr",
    ("adversarial", "betas"): "betas",
}


def build_config(
    out: str | os.PathLike[str],
    resume: bool,
    preset: str = "default",
    kind: str | None = None,
    architecture: str | None = None,
    config_file: str | os.PathLike[str] | None = None,
    init: str | os.PathLike[str] | None = None,
    **overrides: Any,
) -> Config:
    """The config of a run: the saved one when resuming, else `config_file`'s or the preset's; then the options given.

    A GAN is conditional on the class unless told otherwise. `init`, a model directory to start from,
    brings its audio, split, model and inversion settings (they must match its weights), and no KL warm-up; a model
    kind, architecture or network option that differs from its own is refused (a DkvaeError) rather than
    dropped. `overrides` are `ModelConfig`, `AdversarialConfig` or `TrainConfig` field names; None means
    "not given". A resumed run refuses an optimizer setting other than its own (see `RESTORED_ON_RESUME`):
    its checkpoint's would be used while the new one was recorded.
    """
    if preset not in PRESETS:
        raise DkvaeError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    if kind is not None and kind not in MODEL_KINDS:
        raise DkvaeError(f"unknown model {kind!r}; choose one of {', '.join(MODEL_KINDS)}")
    if architecture is not None and architecture not in ARCHITECTURES:
        raise DkvaeError(f"unknown architecture {architecture!r}; choose one of {', '.join(ARCHITECTURES)}")
    saved = Path(out) / "run.json"
    start: Config | None = None
    requested: dict[str, Any] = {}
    resumed = resume and saved.exists()
    if resumed:
        config = Config.from_dict(json.loads(saved.read_text(encoding="utf-8"))["config"])
    else:
        config = _read_config_file(config_file) if config_file is not None else get_preset(preset)
        model_fields = {"kind": kind, "architecture": architecture}
        model_fields = {name: value for name, value in model_fields.items() if value is not None}
        if kind == "cgan":
            model_fields["conditional"] = True
        config = dataclasses.replace(config, model=dataclasses.replace(config.model, **model_fields))
        if init is not None:
            start = Config.from_dict(read_model_config(Path(init))["config"])
            if kind == "cgan":
                raise DkvaeError(GAN_FROM_SCRATCH)
            requested = model_fields
            # Trained weights had their KL warm-up: another would make the first epochs' validation losses
            # (under a smaller KL weight) the lowest, and the best model one of them. Their inversion is
            # their decoder's (a codec's smooth guard has its own line).
            config = dataclasses.replace(
                config,
                audio=start.audio,
                split=start.split,
                model=start.model,
                inversion=start.inversion,
                train=dataclasses.replace(config.train, kl_warmup_epochs=0),
            )
    given = {name: value for name, value in overrides.items() if value is not None}
    model_names = {f.name for f in dataclasses.fields(ModelConfig)}
    adversarial_names = {f.name for f in dataclasses.fields(AdversarialConfig)}
    model_changes = {k: v for k, v in given.items() if k in model_names}
    # A name both sections have (``augment``) is the training option: the CLI's --augment is the data's augmentation.
    train_names = {f.name for f in dataclasses.fields(TrainConfig)}
    adversarial_changes = {k: v for k, v in given.items() if k in adversarial_names - train_names}
    train_changes = {k: v for k, v in given.items() if k not in model_names | (adversarial_names - train_names)}
    if start is not None and init is not None:
        _refuse_network_changes(start.model, requested | model_changes, init)
    if resumed:
        _refuse_optimizer_changes(config, {"train": train_changes, "adversarial": adversarial_changes}, out)
    try:
        return dataclasses.replace(
            config,
            model=dataclasses.replace(config.model, **model_changes),
            adversarial=dataclasses.replace(config.adversarial, **adversarial_changes),
            train=dataclasses.replace(config.train, **train_changes),
        )
    except (TypeError, ValueError) as error:
        raise DkvaeError(f"invalid training options: {error}") from None


def _refuse_network_changes(start: ModelConfig, changes: dict[str, Any], init: str | os.PathLike[str]) -> None:
    """A DkvaeError naming each of `changes` that would make another network than the model in `init`:
    its weights are the run's start, so its network is the run's (loss weights such as beta may change)."""
    differing = [
        f"{name} {value!r} (the model's: {getattr(start, name)!r})"
        for name, value in changes.items()
        if name not in LOSS_WEIGHT_FIELDS and getattr(start, name) != value
    ]
    if differing:
        raise DkvaeError(
            f"--init {init} goes on training that model's network, so these options cannot apply: "
            f"{'; '.join(differing)}. Leave them out, or train from scratch without --init"
        )


def _refuse_optimizer_changes(saved: Config, changes: dict[str, dict[str, Any]], out: str | os.PathLike[str]) -> None:
    """A DkvaeError naming each of `changes` (by config section) that would set another optimizer setting than the
    run in `out` saved: resuming restores its optimizers from the checkpoint, so the change would not apply."""
    differing = [
        f"{option} {changes[section][name]!r} (the run's: {getattr(getattr(saved, section), name)!r})"
        for (section, name), option in RESTORED_ON_RESUME.items()
        if name in changes[section] and changes[section][name] != getattr(getattr(saved, section), name)
    ]
    if differing:
        raise DkvaeError(
            "--resume restores the run's optimizer from its checkpoint, so these would be recorded but not used: "
            f"{'; '.join(differing)}. Leave them out, or start a new run from its weights with them: "
            f"--init {out} --out NEW_RUN"
        )


def _read_config_file(path: str | os.PathLike[str]) -> Config:
    """A full config from a JSON file (as ``Config.to_json`` writes it; missing sections take defaults)."""
    try:
        return Config.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise DkvaeError(f"config file not found: {path}") from None
    except (ValueError, TypeError, KeyError) as error:
        raise DkvaeError(f"config file {path} is not a dkvae config: {error}") from None
