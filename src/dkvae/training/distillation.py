"""Distillation: a narrower decoder trained to decode as a model's own does, so sounds render faster.

`distill` keeps the teacher's encoder, class embedding and latent prior, and trains a new step from the
latent to the decoder and a new decoder of `DistillSettings.decoder_channels` on the teacher's own
outputs. Each step decodes one batch of latents with both and lowers the squared difference of their
spectrograms, more in the first frames (the attack). The latents are those the drum machine decodes:
- drawn from the teacher's per-class prior at temperatures 0 to `MAX_TEMPERATURE` (`generate`, `vary`);
- the bank's training sounds' own latents, jittered (`reconstruct`);
- blends of two of these, latents and classes alike (`interpolate`, morphs).
Every batch follows from the seed and the step alone, so a resumed run trains on what an unbroken one
would; a checkpoint is written every `checkpoint_every` steps, under temporary names.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch
from torch import Tensor, nn

from dkvae.core.atomic import atomic_paths
from dkvae.core.config import Config
from dkvae.core.errors import DkvaeError
from dkvae.core.progress import Progress
from dkvae.data.bank import Bank
from dkvae.data.packed import PackedArray
from dkvae.inference.machine import DrumMachine
from dkvae.models import build_model
from dkvae.models.checkpoint import ModelDirectory, load_model_dir, save_model_dir
from dkvae.models.latent_prior import LatentPrior

#: Prior samples are drawn at temperatures (scales of the class's spread) uniform in [0, MAX_TEMPERATURE].
MAX_TEMPERATURE = 1.6
#: Shares of a batch: latents of training sounds; the rest are prior samples. Then a share of all is blended.
TRAINING_SHARE = 0.35
BLEND_SHARE = 0.2
#: Standard deviation of the noise added to the training sounds' latents.
JITTER = 0.1
#: Files of a run in progress in the output folder (removed when the model is written).
STATE_WEIGHTS = "distill_state.safetensors"
STATE_JSON = "distill_state.json"
#: The modules a student trains; everything else is the teacher's, frozen.
TRAINED_MODULES = ("from_latent", "decoder")


@dataclass(frozen=True)
class DistillSettings:
    """What a distillation run trains: the decoder's widths, its length and its optimizer."""

    #: The student decoder's stage widths, listed like `ModelConfig.channels` (narrowest first).
    decoder_channels: tuple[int, ...]
    steps: int = 12000
    batch_size: int = 32
    learning_rate: float = 2e-3
    #: Weight of the error in the first `ModelConfig.onset_frames` frames against the rest's 1 (drums live in their attacks).
    onset_weight: float = 4.0
    seed: int = 0
    checkpoint_every: int = 500

    def __post_init__(self) -> None:
        if not self.decoder_channels or any(width < 1 for width in self.decoder_channels):
            raise DkvaeError("decoder channels must be positive widths, one per stage")
        if self.steps < 1 or self.batch_size < 1 or self.checkpoint_every < 1:
            raise DkvaeError("steps, batch size and checkpoint interval must be at least 1")
        if self.learning_rate <= 0 or self.onset_weight < 0:
            raise DkvaeError("the learning rate must be positive and the onset weight at least 0")


@dataclass(frozen=True)
class DistillResult:
    """A finished run: the student's model id, where it was written, and its last loss."""

    model_id: str
    directory: Path
    steps: int
    final_loss: float


def distill(
    teacher_dir: Path,
    bank_dir: Path,
    out: Path,
    settings: DistillSettings,
    resume: bool = False,
    progress: Progress | None = None,
) -> DistillResult:
    """Train a student of the model in `teacher_dir` on latents of the bank in `bank_dir`, write it to `out`.

    `out` becomes a model directory like any other (the student's config has `decoder_channels`). With
    `resume`, the run in `out` goes on from its last checkpoint; without, `out` must hold no model or run.
    """
    teacher = load_model_dir(teacher_dir)
    student, config = build_student(teacher, settings)
    if teacher.latent_prior is None:
        raise DkvaeError(f"{teacher_dir} has no latent prior to draw latents from; fit one first (see `dkvae train`)")
    out = Path(out)
    start, state = _start_state(out, teacher, settings, resume)
    sources = LatentSources(teacher, DrumMachine(teacher).processed_bank(bank_dir))
    trained = [parameter for name in TRAINED_MODULES for parameter in getattr(student, name).parameters()]
    optimizer = torch.optim.AdamW(trained, lr=settings.learning_rate, weight_decay=0.0)
    if state is not None:
        _load_state(out, student, optimizer)
    weights = torch.ones(config.audio.n_frames)
    weights[: config.model.onset_frames] = settings.onset_weight
    began = time.monotonic()
    seconds = float(state["seconds"]) if state else 0.0
    loss = float(state["loss"]) if state else math.nan
    for step in range(start, settings.steps):
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(settings, step)
        latents, classes = sources.batch(settings.seed, step, settings.batch_size)
        with torch.no_grad():
            target = teacher.model.decode(latents, classes)
        error = (student.decode(latents, classes) - target).square() * weights
        batch_loss = error.mean()
        optimizer.zero_grad(set_to_none=True)
        batch_loss.backward()
        optimizer.step()
        loss = batch_loss.item()
        if not math.isfinite(loss):
            raise DkvaeError(f"distillation diverged at step {step + 1} (loss {loss}); try a lower --lr")
        done = step + 1
        if done % settings.checkpoint_every == 0 and done < settings.steps:
            _save_state(out, student, optimizer, teacher, settings, done, seconds + time.monotonic() - began, loss)
        if progress is not None:
            progress(done, settings.steps)
    seconds += time.monotonic() - began
    training = {
        "distilled_from": teacher.model_id,
        "distill": _settings_json(settings),
        "final_loss": loss,
        "seconds": round(seconds, 1),
        "torch": torch.__version__,
    }
    model_id = save_model_dir(out, student, config, teacher.class_names, teacher.normalization, training)
    teacher.latent_prior.save(out, model_id)  # the teacher's encoder, so the same Gaussians
    for name in (STATE_WEIGHTS, STATE_JSON):
        (out / name).unlink(missing_ok=True)
    return DistillResult(model_id, out, settings.steps, loss)


class LatentSources:
    """The latents a batch is drawn from: the teacher's prior and its encodings of the bank's training sounds."""

    def __init__(self, teacher: ModelDirectory, bank: Bank) -> None:
        prior: LatentPrior = teacher.latent_prior  # type: ignore[assignment]  # checked by `distill`
        self.mean = torch.as_tensor(prior.mean)
        self.scale_tril = torch.as_tensor(prior.scale_tril)
        self.num_classes = len(teacher.class_names)
        rows, labels = bank.split_rows("train")
        known = {name: index for index, name in enumerate(teacher.class_names)}
        classes = np.array([known.get(bank.instruments[label], -1) for label in labels], np.int64)
        keep = classes >= 0
        if not keep.any():
            raise DkvaeError(f"bank {bank.id} has no training sounds of the model's classes")
        self.labels = torch.as_tensor(classes[keep])
        self.latents = _encode(teacher, PackedArray(bank.array_path, rows[keep]), self.labels)

    def batch(self, seed: int, step: int, size: int) -> tuple[Tensor, Tensor]:
        """Latents ``(size, latent_dim)`` and class weights ``(size, classes)`` of step `step`: a function of both alone."""
        generator = torch.Generator().manual_seed(seed * 1_000_003 + step)
        dim = self.mean.shape[1]
        classes = torch.randint(self.num_classes, (size,), generator=generator)
        temperature = torch.rand(size, 1, generator=generator) * MAX_TEMPERATURE
        noise = torch.randn(size, dim, generator=generator)
        drawn = self.mean[classes] + temperature * torch.einsum("bij,bj->bi", self.scale_tril[classes], noise)
        picks = torch.randint(len(self.latents), (size,), generator=generator)
        own = self.latents[picks] + JITTER * torch.randn(size, dim, generator=generator)
        training = (torch.rand(size, generator=generator) < TRAINING_SHARE)[:, None]
        latents = torch.where(training, own, drawn)
        weights = nn.functional.one_hot(torch.where(training[:, 0], self.labels[picks], classes), self.num_classes)
        weights = weights.to(torch.float32)
        blend = (torch.rand(size, generator=generator) < BLEND_SHARE)[:, None]
        amount = torch.rand(size, 1, generator=generator)
        partner = torch.randperm(size, generator=generator)
        latents = torch.where(blend, torch.lerp(latents, latents[partner], amount), latents)
        weights = torch.where(blend, torch.lerp(weights, weights[partner], amount), weights)
        return latents, weights


@torch.no_grad()
def _encode(teacher: ModelDirectory, spectrograms: PackedArray, labels: Tensor, batch: int = 64) -> Tensor:
    """Posterior means ``(n, latent_dim)`` of `spectrograms` under their classes `labels`."""
    conditional = teacher.model.conditional
    latents = []
    for start in range(0, len(labels), batch):
        x = torch.as_tensor(np.asarray(spectrograms[np.arange(start, min(start + batch, len(labels)))], np.float32))
        encoded = teacher.model.encode(x, labels[start : start + batch] if conditional else None)
        latents.append(encoded[0] if isinstance(encoded, tuple) else encoded)
    return torch.cat(latents)


def build_student(teacher: ModelDirectory, settings: DistillSettings) -> tuple[nn.Module, Config]:
    """The untrained student and its config: the teacher's, with `settings.decoder_channels`, and the teacher's
    weights everywhere but `TRAINED_MODULES`, which start fresh (the same for every run)."""
    config = _student_config(teacher, settings)
    return _student(teacher, config), config


def _student_config(teacher: ModelDirectory, settings: DistillSettings) -> Config:
    """The teacher's config with the student's decoder widths."""
    model = teacher.config.model
    if model.kind not in ("vae", "ae") or model.architecture != "conv":
        raise DkvaeError(
            f"only conv VAEs and autoencoders can be distilled; this is a {model.architecture} {model.kind}"
        )
    if len(settings.decoder_channels) != len(model.channels):
        raise DkvaeError(
            f"the model has {len(model.channels)} decoder stages; give {len(model.channels)} decoder channels"
        )
    return dataclasses.replace(
        teacher.config, model=dataclasses.replace(model, decoder_channels=settings.decoder_channels)
    )


def _student(teacher: ModelDirectory, config: Config) -> nn.Module:
    """The student network: the teacher's weights everywhere but `TRAINED_MODULES`, which start fresh."""
    torch.manual_seed(0)
    student = build_model(config.model, config.audio.shape, len(teacher.class_names), config.adversarial)
    kept = {name: tensor for name, tensor in teacher.model.state_dict().items() if not _is_trained(name)}
    missing, unexpected = student.load_state_dict(kept, strict=False)
    if unexpected or not all(_is_trained(name) for name in missing):
        raise DkvaeError("the student's network does not match the teacher's outside its decoder")
    for name, parameter in student.named_parameters():
        parameter.requires_grad_(_is_trained(name))
    return student.train()


def _learning_rate(settings: DistillSettings, step: int) -> float:
    """Cosine decay from `settings.learning_rate` to a hundredth of it over the run."""
    floor = settings.learning_rate / 100
    return floor + (settings.learning_rate - floor) * 0.5 * (1 + math.cos(math.pi * step / settings.steps))


def _settings_json(settings: DistillSettings) -> dict[str, Any]:
    return {**dataclasses.asdict(settings), "decoder_channels": list(settings.decoder_channels)}


def _start_state(
    out: Path, teacher: ModelDirectory, settings: DistillSettings, resume: bool
) -> tuple[int, dict[str, Any] | None]:
    """The step to start from and the checkpoint's record (None for a fresh run); refuses a mismatched resume."""
    record_path = out / STATE_JSON
    if not resume:
        if record_path.exists() or (out / "config.json").exists():
            raise DkvaeError(
                f"{out} already holds a model or a distillation run; pass --resume or choose another --out"
            )
        return 0, None
    if not record_path.exists():
        if (out / "config.json").exists():
            raise DkvaeError(f"the distillation in {out} has finished; its model is there")
        return 0, None
    record = json.loads(record_path.read_text(encoding="utf-8"))
    if record.get("teacher") != teacher.model_id or record.get("settings") != _settings_json(settings):
        raise DkvaeError(f"the run in {out} distils another model or with other settings; start it with the same ones")
    return int(record["step"]), record


def _save_state(
    out: Path,
    student: nn.Module,
    optimizer: torch.optim.Optimizer,
    teacher: ModelDirectory,
    settings: DistillSettings,
    step: int,
    seconds: float,
    loss: float,
) -> None:
    """Checkpoint the trained modules and the optimizer's moments, weights before record, both under temporary names."""
    tensors = {f"model.{name}": tensor.contiguous() for name, tensor in _trained_state(student).items()}
    for index, moments in optimizer.state_dict()["state"].items():
        for key, value in moments.items():
            tensors[f"optimizer.{index}.{key}"] = (
                torch.as_tensor(value).reshape(-1) if key == "step" else value.contiguous()
            )
    record = {
        "teacher": teacher.model_id,
        "settings": _settings_json(settings),
        "step": step,
        "seconds": seconds,
        "loss": loss,
    }
    out.mkdir(parents=True, exist_ok=True)
    with atomic_paths(out / STATE_WEIGHTS, out / STATE_JSON) as (weights_file, record_file):
        weights_file.write_bytes(safetensors.torch.save(tensors))
        record_file.write_text(json.dumps(record, indent=2), encoding="utf-8")


def _load_state(out: Path, student: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """Restore a checkpoint written by `_save_state` (safetensors only: nothing is unpickled)."""
    tensors = safetensors.torch.load((out / STATE_WEIGHTS).read_bytes())
    student.load_state_dict(
        {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}, strict=False
    )
    state = optimizer.state_dict()
    moments: dict[int, dict[str, Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            moments.setdefault(int(index), {})[name] = value.reshape(()) if name == "step" else value
    state["state"] = moments
    optimizer.load_state_dict(state)


def _trained_state(student: nn.Module) -> dict[str, Tensor]:
    return {name: tensor for name, tensor in student.state_dict().items() if _is_trained(name)}


def _is_trained(name: str) -> bool:
    """Whether the weight or buffer `name` of a student's state dict belongs to one of `TRAINED_MODULES`."""
    return name.split(".", 1)[0] in TRAINED_MODULES
