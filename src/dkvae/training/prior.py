"""Training the flow prior of a trained codec: its latents of a bank cached once, then the flow fitted to them.

The codec stays frozen. Its posterior (mean and log-variance) of every training sound is computed
once and kept in the run as ``latents.safetensors``, tagged with the codec's id; each step then
draws fresh latents from those posteriors, so the flow sees the spread the codec allows around each
sound rather than one point per sound. The flow's weights go into the codec's model directory
(`dkvae.models.flow_prior.FLOW_PRIOR_NAME`); ``prior_checkpoints/last.ckpt`` lets `resume` continue.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import safetensors.numpy
import safetensors.torch
import torch
import yaml
from lightning.pytorch.callbacks import Timer
from torch.utils.data import DataLoader, RandomSampler, TensorDataset

from dkvae.core.atomic import atomic_path
from dkvae.core.errors import DkvaeError
from dkvae.data.bank import Bank
from dkvae.data.packed import PackedArray
from dkvae.models.checkpoint import load_model_dir
from dkvae.models.codec import TimeLocalAutoencoder
from dkvae.models.flow_prior import FlowConfig, LatentFlow, recorded_flow_config, save_flow_prior
from dkvae.training.log import ResumableCSVLogger, TrimResumedLog
from dkvae.training.train import LastCheckpoint, training_rows

LATENTS_NAME = "latents.safetensors"
PRIOR_CHECKPOINTS = "prior_checkpoints"
PRIOR_LOGS = "prior_logs"
#: Sounds the codec encodes at a time when the latents are cached.
ENCODE_BATCH = 32


def cache_latents(run: Path, bank: Bank, holdout_sources: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The codec's posterior ``mean``/``logvar`` ``(n, channels, frames)`` and ``labels`` ``(n,)`` of the bank's
    training sounds, read from ``run/latents.safetensors`` when it holds this codec's, else computed and saved."""
    directory = load_model_dir(run)
    path = run / LATENTS_NAME
    if path.is_file():
        with safetensors.safe_open(str(path), "np") as handle:
            if (handle.metadata() or {}).get("model_id") == directory.model_id:
                return {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
    codec = directory.model.eval()
    rows, labels = training_rows(bank, "train", holdout_sources)
    spectrograms = PackedArray(bank.array_path, rows)
    means, logvars = [], []
    with torch.no_grad():
        for start in range(0, len(rows), ENCODE_BATCH):
            batch = torch.from_numpy(spectrograms[np.arange(start, min(start + ENCODE_BATCH, len(rows)))].astype(np.float32))
            mean, logvar = codec.encode(batch)
            means.append(mean.numpy())
            logvars.append(logvar.numpy())
    latents = {"mean": np.concatenate(means), "logvar": np.concatenate(logvars), "labels": labels.astype(np.int64)}
    with atomic_path(path) as temporary:
        temporary.write_bytes(safetensors.numpy.save(latents, metadata={"model_id": directory.model_id}))
    return latents


class EpochCheckpoint(LastCheckpoint):
    """`LastCheckpoint` after every training epoch (the prior has no validation pass to save after)."""

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.on_validation_end(trainer, pl_module)


def resumed_flow_config(run: Path) -> FlowConfig:
    """The flow config a run's prior training began with (its ``hparams.yaml``, read without executing anything):
    a resumed prior goes on with its own network, whatever the defaults are now."""
    path = run / PRIOR_LOGS / "hparams.yaml"
    try:
        recorded = yaml.safe_load(path.read_text(encoding="utf-8"))["flow"]
        return recorded_flow_config(recorded)
    except (OSError, yaml.YAMLError, KeyError, TypeError) as error:
        raise DkvaeError(f"cannot resume the prior in {run}: its recorded settings ({path}) are unreadable: {error}") from None


class PriorModule(L.LightningModule):
    """Fits a `LatentFlow` to latents drawn from cached codec posteriors."""

    def __init__(self, flow: dict[str, Any], latent_channels: int, num_classes: int, learning_rate: float, seed: int) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.flow = LatentFlow(FlowConfig(**flow), latent_channels, num_classes)
        self.learning_rate = learning_rate
        self.generator = torch.Generator().manual_seed(seed)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor], batch_index: int) -> torch.Tensor:
        mean, logvar, labels = batch
        latents = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=self.generator)
        loss = self.flow.loss(self.flow.standardize(latents), labels, self.generator)
        self.log("train/loss", loss, on_step=False, on_epoch=True)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=self.learning_rate, weight_decay=1e-4)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["noise_generator"] = self.generator.get_state()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.generator.set_state(checkpoint["noise_generator"])


def train_prior(
    run: str | os.PathLike[str],
    bank_path: str | os.PathLike[str],
    flow: FlowConfig | None = None,
    steps: int = 20_000,
    batch_size: int = 64,
    learning_rate: float = 5e-4,
    seed: int = 0,
    resume: bool = False,
    progress_bar: bool = True,
) -> Path:
    """Train the flow prior of the codec in `run` on `bank_path`'s training sounds; returns the prior's file.

    With `resume` and a checkpoint, the prior goes on with the network it began with (`resumed_flow_config`),
    not `flow`."""
    run = Path(run)
    directory = load_model_dir(run)
    if not isinstance(directory.model, TimeLocalAutoencoder):
        raise DkvaeError(f"{run} holds a {directory.config.model.kind} model; a flow prior needs a codec (--preset codec)")
    config = directory.config
    bank = Bank(bank_path, preset=config)
    if bank.instruments != directory.class_names:
        raise DkvaeError(f"{bank_path} has other classes than the codec in {run} was trained on")
    latents = cache_latents(run, bank, config.train.holdout_sources)
    last = run / PRIOR_CHECKPOINTS / "last.ckpt"
    resuming = resume and last.exists()
    flow = resumed_flow_config(run) if resuming else flow or FlowConfig()
    module = PriorModule(dataclasses.asdict(flow), config.model.latent_channels, len(bank.instruments), learning_rate, seed)
    means = torch.from_numpy(latents["mean"])
    module.flow.latent_mean.copy_(means.mean(dim=(0, 2)))
    module.flow.latent_std.copy_(means.std(dim=(0, 2)).clamp_min(1e-3))
    data = TensorDataset(means, torch.from_numpy(latents["logvar"]), torch.from_numpy(latents["labels"]))
    sampler = RandomSampler(data, replacement=True, num_samples=batch_size * 100, generator=torch.Generator().manual_seed(seed))
    timer = Timer()  # counts across resumes: its state is saved in the checkpoint
    trainer = L.Trainer(
        max_steps=steps, accelerator="cpu",
        callbacks=[EpochCheckpoint(run / PRIOR_CHECKPOINTS), timer, TrimResumedLog(run / PRIOR_LOGS / "metrics.csv")],
        logger=ResumableCSVLogger(run, name=PRIOR_LOGS, version=""), enable_checkpointing=False,
        enable_progress_bar=progress_bar, enable_model_summary=False, limit_val_batches=0, gradient_clip_val=1.0,
    )  # fmt: skip
    trainer.fit(module, DataLoader(data, batch_size=batch_size, sampler=sampler), ckpt_path=str(last) if resuming else None)
    loss = trainer.callback_metrics.get("train/loss")
    training = {
        "steps": trainer.global_step,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "seconds": round(timer.time_elapsed("train"), 3),
        "final_loss": None if loss is None else round(float(loss), 6),
    }
    return save_flow_prior(module.flow.eval(), run, directory.model_id, training)
