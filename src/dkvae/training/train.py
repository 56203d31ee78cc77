"""Training with Lightning: a data module over a processed `Bank`, the LightningModule, and `train`.

A run folder is a model directory (``model.safetensors`` + ``config.json``, rewritten whenever the
validation loss improves) next to ``checkpoints/last.ckpt`` (Lightning's, for ``--resume`` only),
``logs/`` (CSV and TensorBoard) and ``loss.png``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.fabric.utilities.distributed import DistributedSamplerWrapper
from lightning.pytorch.callbacks import Callback, EarlyStopping, RichProgressBar, Timer
from lightning.pytorch.loggers import TensorBoardLogger
from torch.utils.data import DataLoader, Dataset, RandomSampler, Sampler, WeightedRandomSampler

from dkvae.core.atomic import atomic_path, write_text
from dkvae.core.config import VECTOR_LATENT_KINDS, AudioConfig, Config, TrainConfig
from dkvae.core.errors import DkvaeError, TrainingDiverged
from dkvae.data.augmentation import augment_spectrogram, random_pitch
from dkvae.data.bank import Bank
from dkvae.data.packed import PackedArray, PackedRows
from dkvae.inference.machine import DrumMachine
from dkvae.models import build_model
from dkvae.models.checkpoint import load_model_dir, save_model_dir
from dkvae.models.codec import SpectralLoss, TimeLocalAutoencoder
from dkvae.models.latent_prior import LatentPrior
from dkvae.models.vae import VariationalAutoencoder
from dkvae.sound.mel import mel_filterbank
from dkvae.training.adversarial import AdversarialModule, DiagnosticsPlot, GanModule, SharpenModule
from dkvae.training.log import ResumableCSVLogger, TrimResumedLog, training_seconds
from dkvae.training.options import GAN_FROM_SCRATCH

CHECKPOINTS_NAME = "checkpoints"
LAST_CHECKPOINT = "last.ckpt"
LOGS_NAME = "logs"
RUN_CONFIG_NAME = "run.json"
LOSS_PLOT_NAME = "loss.png"
#: The VAE's training noise is drawn from its own generator, seeded with the run's seed plus this, so it follows
#: from the seed alone (not from what else drew from the global one: launchers reseed it) and shares no
#: stream with the sampler's generator, which the seed itself seeds.
LATENT_NOISE_SEED_OFFSET = 1


class SpectrogramDataset(Dataset):
    """Spectrograms ``(freq, frames)`` as float32 tensors with their class index.

    Rows are read from the bank's packed array by offset (`PackedRows`), not through a memory map,
    so the training process stays the same size however large the bank.
    """

    def __init__(
        self,
        path: Path,
        rows: np.ndarray,
        labels: np.ndarray,
        augment: AudioConfig | None = None,
        pitch_shift: float = 0.0,
    ) -> None:
        self.path = path
        self.rows = rows
        self.labels = labels
        self.augment = augment
        self.pitch_shift = pitch_shift
        self.reader = PackedRows(max_open=1)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        row = self.reader.read(self.path, int(self.rows[index]))
        spectrogram = torch.from_numpy(row.astype(np.float32))
        if self.augment is not None:
            spectrogram = augment_spectrogram(spectrogram, self.augment)
        if self.pitch_shift > 0:
            spectrogram = random_pitch(spectrogram, self.pitch_shift)
        return spectrogram, torch.tensor(int(self.labels[index]))


def training_rows(bank: Bank, split: str, holdout_sources: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """`Bank.split_rows` of `split` without the sounds of `holdout_sources` (kept for `dkvae evaluate`)."""
    rows, labels = bank.split_rows(split)
    if not holdout_sources or "source" not in bank.data:
        return rows, labels
    held = set(bank.data.loc[bank.data["source"].isin(holdout_sources), "index"].to_numpy(np.int64))
    kept = np.array([row not in held for row in rows], dtype=bool)
    return rows[kept], labels[kept]


class BankDataModule(L.LightningDataModule):
    """Train and validation loaders over a processed bank's memory-mapped spectrograms.

    The training order comes from a generator seeded with the run's seed, whose state the checkpoint keeps, so a
    resumed run goes on with the orders an unbroken one draws (a fresh generator would repeat the first epochs'
    orders; `GlobalRandomState` does the same for the augmentation's draws). On several processes (DDP, one or
    more nodes) every process draws that same order and takes every world-size-th sample of it from its rank
    on, so that step for step the processes together train on the batches one process with the global batch
    (``batch_size`` times the world size) trains on. Validation uses Lightning's sampler, which repeats a few
    sounds when the validation split does not divide by the world size.
    """

    def __init__(self, bank: Bank, train: TrainConfig) -> None:
        super().__init__()
        self.bank = bank
        self.train_config = train
        augment = bank.audio_config if train.augment else None
        train_rows = training_rows(bank, "train", train.holdout_sources)
        self.train_set = SpectrogramDataset(bank.array_path, *train_rows, augment, train.pitch_shift)
        self.val_set = SpectrogramDataset(bank.array_path, *training_rows(bank, "val", train.holdout_sources))
        self.order_generator = torch.Generator().manual_seed(train.seed)

    def train_dataloader(self) -> DataLoader:
        sampler: Sampler[int] = self.train_sampler()
        world_size, rank = world_position(self.trainer)
        if world_size > 1:
            # Lightning's own wrapper would shuffle the order again, per epoch, with a seed of its own.
            sampler = DistributedSamplerWrapper(
                sampler, num_replicas=world_size, rank=rank, shuffle=False, drop_last=True
            )
        batch_size = self.train_config.batch_size
        return DataLoader(self.train_set, batch_size=batch_size, sampler=sampler, drop_last=len(sampler) > batch_size)

    def train_sampler(self) -> Sampler[int]:
        """The order of the training set, a new one each epoch: classes drawn evenly, or a shuffle."""
        generator = self.order_generator
        if not self.train_config.balance_classes:
            return RandomSampler(self.train_set, generator=generator)
        counts = np.bincount(self.train_set.labels, minlength=len(self.bank.instruments))
        weights = 1.0 / counts[self.train_set.labels]
        return WeightedRandomSampler(weights.tolist(), len(weights), replacement=True, generator=generator)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=self.train_config.batch_size)

    def state_dict(self) -> dict[str, Any]:
        return {"order": self.order_generator.get_state()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.order_generator.set_state(state_dict["order"])


class DrumModule(L.LightningModule):
    """Trains any dkvae model: a VAE or autoencoder on reconstruction (+ KL), a classifier on its labels."""

    def __init__(self, config: dict[str, Any], num_classes: int) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.config = Config.from_dict(config)
        self.model = build_model(self.config.model, self.config.audio.shape, num_classes, self.config.adversarial)
        self.noise_generator: torch.Generator | None = None
        #: The noise generator's state from the checkpoint a run resumes from, until the generator is made.
        self.resumed_noise: dict[str, Any] | None = None
        if isinstance(self.model, TimeLocalAutoencoder):
            self.spectral_loss = codec_spectral_loss(self.config)

    @property
    def conditional(self) -> bool:
        """True when the model takes the class labels."""
        return bool(getattr(self.model, "conditional", False))

    def beta(self) -> float:
        """The KL weight now: rising linearly over the warm-up epochs to `ModelConfig.beta`."""
        warmup = self.config.train.kl_warmup_epochs
        fraction = 1.0 if warmup <= 0 else min(1.0, (self.current_epoch + 1) / warmup)
        return self.config.model.beta * fraction

    def losses(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The model's loss terms on one batch."""
        spectrograms, labels = batch
        if self.config.model.kind == "classifier":
            return self.model.loss(spectrograms, labels)
        conditioning = labels if self.conditional else None
        if isinstance(self.model, TimeLocalAutoencoder):
            latent_shape = (self.config.model.latent_channels, self.model.latent_frames(spectrograms.shape[-1]))
            output = self.model(spectrograms, noise=self.latent_noise(len(spectrograms), latent_shape))
            return self.model.loss(spectrograms, output, beta=self.beta(), banks=self.spectral_loss)
        if isinstance(self.model, VariationalAutoencoder):
            output = self.model(spectrograms, conditioning, noise=self.latent_noise(len(spectrograms)))
        else:
            output = self.model(spectrograms, conditioning)
        return self.model.loss(spectrograms, output, beta=self.beta())

    def latent_noise(self, rows: int, shape: tuple[int, ...] | None = None) -> torch.Tensor:
        """The reparameterization noise ``(rows, *shape)`` for this process's part of the global batch; `shape` is
        the latent's, ``(latent_dim,)`` by default.

        Every process draws the noise of the whole global batch from a generator seeded alike everywhere (see
        `LATENT_NOISE_SEED_OFFSET`) and keeps the rows of the samples `BankDataModule` deals it (its rank, then
        every world-size-th), so several processes sample what one process does with the global batch. A resumed
        run goes on from the generator's state in its checkpoint (`on_save_checkpoint`), unless it resumes on
        another kind of device, whose generator's state is another kind.
        """
        if self.noise_generator is None or self.noise_generator.device != self.device:
            seed = self.config.train.seed + LATENT_NOISE_SEED_OFFSET
            self.noise_generator = torch.Generator(self.device).manual_seed(seed)
            if self.resumed_noise is not None and self.resumed_noise["device"] == self.device.type:
                self.noise_generator.set_state(self.resumed_noise["state"])
            self.resumed_noise = None
        world_size, rank = world_position(self._trainer)
        latent_shape = (self.config.model.latent_dim,) if shape is None else shape
        noise = torch.randn((rows * world_size, *latent_shape), generator=self.noise_generator, device=self.device)
        return noise[rank::world_size]

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.noise_generator is not None:
            state = self.noise_generator.get_state()
            checkpoint["latent_noise"] = {"device": self.noise_generator.device.type, "state": state}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.resumed_noise = checkpoint.get("latent_noise")

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_index: int) -> torch.Tensor:
        losses = self.losses(batch)
        if not torch.isfinite(losses["loss"]):
            raise TrainingDiverged(
                f"training diverged: the loss became {losses['loss'].item()} at epoch {self.current_epoch}; "
                "the best model so far is kept (try a lower --lr)"
            )
        self.log_dict({f"train/{k}": v for k, v in losses.items()}, on_step=False, on_epoch=True, sync_dist=True)
        self.log("beta", self.beta(), on_step=False, on_epoch=True)
        self.log("lr", self.optimizers().param_groups[0]["lr"], on_step=False, on_epoch=True)
        return losses["loss"]

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_index: int) -> None:
        losses = self.losses(batch)
        self.log_dict({f"val/{k}": v for k, v in losses.items()}, on_epoch=True, sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        self.log("elapsed_s", training_seconds(self.trainer))

    def configure_optimizers(self) -> torch.optim.Optimizer | dict[str, Any]:
        train = self.config.train
        optimizer = torch.optim.Adam(self.parameters(), lr=train.learning_rate, weight_decay=train.weight_decay)
        if train.lr_schedule == "constant":
            return optimizer
        decay = CosineDecay(max(1, int(self.trainer.estimated_stepping_batches)), train.final_lr_fraction)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, decay)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


class CosineDecay:
    """The learning rate's factor at a step: a half cosine from 1 to `final_fraction` over `total_steps`, then flat.

    A callable object rather than a function, so `LambdaLR` saves its fields in the checkpoint: a resumed run
    keeps the schedule it started with, and one extended past its end trains on at the final rate.
    """

    def __init__(self, total_steps: int, final_fraction: float) -> None:
        self.total_steps = total_steps
        self.final_fraction = final_fraction

    def __call__(self, step: int) -> float:
        progress = min(step / self.total_steps, 1.0)
        return self.final_fraction + (1.0 - self.final_fraction) * 0.5 * (1.0 + math.cos(math.pi * progress))


def codec_spectral_loss(config: Config) -> SpectralLoss:
    """The codec's mel band-power loss at the model's mel resolutions, for spectrograms of `config.audio`."""
    audio = config.audio
    filterbanks = [torch.from_numpy(mel_filterbank(audio.sample_rate, audio.n_fft, bands)) for bands in config.model.mel_bands]
    return SpectralLoss(filterbanks, db_span=audio.max_db - audio.min_db)


class LastCheckpoint(Callback):
    """Saves ``checkpoints/last.ckpt`` after every validation, under a temporary name and then renamed."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / LAST_CHECKPOINT

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        try:
            trainer.save_checkpoint(temporary, weights_only=False)
        except OSError as error:
            temporary.unlink(missing_ok=True)
            raise OSError(error.errno, error.strerror, str(self.path)) from error
        if trainer.is_global_zero:
            os.replace(temporary, self.path)


class GlobalRandomState(Callback):
    """Keeps torch's global generator in the checkpoint, so a resumed run draws what an unbroken one would.

    The augmentation (`dkvae.data.augmentation`), dropout on the CPU and the loaders' worker seeds draw from it. It is
    restored as the first epoch after the resume starts, not on loading: Lightning makes a loader iterator
    in between (drawing its seed) that an unbroken run made before its first epoch.
    """

    def __init__(self) -> None:
        self.resumed: torch.Tensor | None = None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.resumed is not None:
            torch.set_rng_state(self.resumed)
            self.resumed = None

    def state_dict(self) -> dict[str, Any]:
        return {"torch": torch.get_rng_state()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.resumed = state_dict["torch"]


class ExportBest(Callback):
    """Rewrites the model directory (safetensors + JSON) whenever the validation loss improves."""

    def __init__(self, run: Path, config: Config, bank: Bank) -> None:
        self.run = run
        self.config = config
        self.bank = bank
        self.best = math.inf
        self.best_epoch = -1

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        metric = trainer.callback_metrics.get("val/loss")
        if trainer.sanity_checking or metric is None or not trainer.is_global_zero:
            return
        value = float(metric)
        if math.isfinite(value) and value < self.best:
            self.best, self.best_epoch = value, trainer.current_epoch
            self.export(trainer, pl_module)

    def export(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Write the model directory with the current weights and metadata."""
        metrics = {k: round(float(v), 6) for k, v in trainer.callback_metrics.items()}
        save_model_dir(
            self.run,
            pl_module.model,
            self.config,
            self.bank.instruments,
            normalization=normalization_stats(self.bank),
            training={
                "bank": self.bank.id,
                "bank_path": str(self.bank.original_dir),
                "sounds": self.bank.data["split"].value_counts().to_dict(),
                "best_epoch": self.best_epoch,
                "best_val_loss": round(self.best, 6),
                "metrics": metrics,
                "seconds": round(training_seconds(trainer), 1),
                "torch": torch.__version__,
            },
        )

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best = float(state_dict["best"])
        self.best_epoch = int(state_dict["best_epoch"])


class LossPlot(Callback):
    """Draws ``loss.png`` (train and validation loss per epoch) after every epoch."""

    def __init__(self, run: Path) -> None:
        self.run = run
        self.history: dict[str, list[tuple[int, float]]] = {"train/loss": [], "val/loss": []}

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        for key, points in self.history.items():
            if key in trainer.callback_metrics:
                points.append((trainer.current_epoch, float(trainer.callback_metrics[key])))
        plot_losses(self.history, self.run / LOSS_PLOT_NAME)

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = {k: [tuple(p) for p in v] for k, v in state_dict["history"].items()}


def plot_losses(history: dict[str, list[tuple[int, float]]], path: Path) -> None:
    """Save a PNG of the loss curves (log scale), atomically."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4), dpi=100)
    for key, points in history.items():
        if points:
            epochs, values = zip(*points)
            axes.plot(epochs, values, label=key)
    axes.set_xlabel("epoch")
    axes.set_ylabel("loss")
    if any(v > 0 for points in history.values() for _, v in points):
        axes.set_yscale("log")
    axes.legend()
    axes.grid(alpha=0.3)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", bbox_inches="tight")
    plt.close(figure)


def normalization_stats(bank: Bank) -> dict[str, float]:
    """Mean dB range of the training spectrograms (what per-sample min-max output is denormalized with)."""
    train = bank.data[bank.data["split"] == "train"]
    return {"min_value": float(train["min_value"].mean()), "max_value": float(train["max_value"].mean())}


@dataclass
class TrainResult:
    """Where a run ended."""

    run: Path
    best_val_loss: float
    best_epoch: int
    epochs: int
    #: Global rank of this process: in a distributed run only rank 0 tracks the best model and exports it.
    rank: int = 0


def check_bank(bank: Bank, config: Config) -> None:
    """Refuse banks a model cannot learn from, with a message saying why."""
    sources = set(bank.data["source"].dropna()) if "source" in bank.data else set()
    unknown = sorted(set(config.train.holdout_sources) - sources)
    if unknown:
        raise DkvaeError(
            f"no sounds in bank {bank.id} come from {', '.join(unknown)}; its sources: {', '.join(sorted(sources)) or 'none'}"
        )
    counts = bank.data.groupby("split")["label"].value_counts().unstack(fill_value=0)
    for split in ("train", "val"):
        if split not in counts.index or counts.loc[split].sum() == 0:
            raise DkvaeError(
                f"bank {bank.id} has no {split} sounds ({len(bank.data)} sounds in all); "
                "add sounds so every split gets some"
            )
    if config.model.kind == "classifier" or config.model.conditional:
        empty = [label for label in bank.instruments if counts.loc["train"].get(label, 0) == 0]
        if empty:
            raise DkvaeError(
                f"class {', '.join(empty)} has no training sounds in bank {bank.id}; add some or remove the folder"
            )


def train(
    bank_path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    config: Config,
    resume: bool = False,
    accelerator: str = "cpu",
    devices: int | str = 1,
    num_nodes: int = 1,
    strategy: str = "auto",
    progress_bar: bool = True,
    workers: int | None = None,
    init: str | os.PathLike[str] | None = None,
) -> TrainResult:
    """Train a model on a bank into the run folder `out`; `resume` continues from ``checkpoints/last.ckpt``.

    A ``cgan`` trains adversarially; ``config.train.adversarial`` sharpens the VAE in the model
    directory `init`. A plain VAE or autoencoder starts from `init`'s weights when given (the config must
    describe the same network, trained on the same classes).
    """
    run = Path(out)
    last = run / CHECKPOINTS_NAME / LAST_CHECKPOINT
    launched_by_lightning = _is_secondary_process()
    if not launched_by_lightning:
        _check_run_folder(run, config, resume)
    bank = Bank(bank_path, preset=config, workers=workers)
    check_bank(bank, config)
    if resume and init is None:
        init = run_init(run)
    if not launched_by_lightning:
        document = {"config": config.to_dict(), "bank": str(bank.original_dir), "init": str(init) if init else None}
        write_text(run / RUN_CONFIG_NAME, json.dumps(document, indent=2))

    L.seed_everything(config.train.seed, workers=True, verbose=False)
    module = build_module(config, bank, init)
    data = BankDataModule(bank, config.train)
    export = ExportBest(run, config, bank)
    budget = {"minutes": config.train.max_minutes} if config.train.max_minutes > 0 else None
    callbacks: list[Callback] = [
        Timer(budget, interval="epoch"), TrimResumedLog(run / LOGS_NAME / "metrics.csv"), GlobalRandomState(),
        LastCheckpoint(run / CHECKPOINTS_NAME), export, LossPlot(run),
    ]  # fmt: skip
    if isinstance(module, AdversarialModule):
        callbacks.append(DiagnosticsPlot(run))
    if config.train.early_stopping_patience > 0:
        # Checked when validation ends: a run resumed from `LastCheckpoint` (saved there) ends its restored
        # epoch without validating again, and a check at the epoch's end would find no validation loss.
        stopping = EarlyStopping(
            "val/loss", patience=config.train.early_stopping_patience, mode="min", check_on_train_epoch_end=False
        )
        callbacks.append(stopping)
    if progress_bar:
        callbacks.append(RichProgressBar())
    trainer = L.Trainer(
        max_epochs=config.train.epochs,
        accelerator=accelerator,
        devices=devices,
        num_nodes=num_nodes,
        strategy=strategy,
        gradient_clip_val=None if isinstance(module, AdversarialModule) else config.train.gradient_clip or None,
        callbacks=callbacks,
        logger=[
            ResumableCSVLogger(run, name=LOGS_NAME, version=""),
            TensorBoardLogger(run, name=LOGS_NAME, version=""),
        ],
        enable_checkpointing=False,
        enable_progress_bar=progress_bar,
        enable_model_summary=False,
        log_every_n_steps=1,
        num_sanity_val_steps=0,
    )
    trainer.fit(module, datamodule=data, ckpt_path=str(last) if resume and last.exists() else None)
    if config.model.kind in VECTOR_LATENT_KINDS and trainer.is_global_zero and math.isfinite(export.best):
        fit_run_latent_prior(run, bank)
    return TrainResult(run, export.best, export.best_epoch, trainer.current_epoch, trainer.global_rank)


def build_module(config: Config, bank: Bank, init: str | os.PathLike[str] | None = None) -> L.LightningModule:
    """The Lightning module for `config`: plain, a GAN, or a VAE to sharpen; plain and sharpened ones start
    from the weights of the model in `init` when given (training it further), a GAN only from scratch."""
    classes = len(bank.instruments)
    if config.model.kind == "cgan":
        if init is not None:
            raise DkvaeError(GAN_FROM_SCRATCH)
        return GanModule(config.to_dict(), classes)
    if config.train.adversarial and (config.model.kind != "vae" or init is None):
        raise DkvaeError("--adversarial sharpens a trained VAE: pass --model vae and --init RUN")
    module = SharpenModule(config.to_dict(), classes) if config.train.adversarial else DrumModule(config.to_dict(), classes)
    if init is not None:
        start = load_model_dir(init)
        if not start.config.model.same_network(config.model) or start.class_names != bank.instruments:
            raise DkvaeError(f"{init} is another model or was trained on other classes than this run")
        module.model.load_state_dict(start.model.state_dict())
        if isinstance(module, SharpenModule):
            module.latent_prior = start.latent_prior
    return module


def fit_run_latent_prior(run: Path, bank: Bank) -> LatentPrior:
    """Fit the run's best model's per-class latent prior to the bank's training split, save it in the run, return it."""
    machine = DrumMachine.load(run)
    rows, labels = bank.split_rows("train")
    # Read by offset, not through `load_spectrograms`' memory map: a pass over a large bank would map all of it.
    prior = machine.fit_latent_prior(PackedArray(bank.array_path, rows), labels, bank.instruments)
    prior.save(Path(run), machine.model_id)
    return prior


def world_position(trainer: L.Trainer | None) -> tuple[int, int]:
    """``(world_size, global_rank)`` of this process in `trainer`'s run; ``(1, 0)`` outside one."""
    return (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)


#: Environment variables that give a process's rank: Lightning's own launcher and a manual launch (LOCAL_RANK,
#: NODE_RANK), torchrun (RANK, GROUP_RANK) and SLURM's srun (SLURM_PROCID).
RANK_VARIABLES = ("LOCAL_RANK", "NODE_RANK", "RANK", "GROUP_RANK", "SLURM_PROCID")


def _is_secondary_process() -> bool:
    """True in every process of a distributed run but the first (global rank 0), which alone prepares the run folder.

    Lightning's DDP launcher reruns the same command in its extra processes; torchrun, srun or a user start
    one such command per process on every node.
    """
    return any(int(os.environ.get(name) or "0") > 0 for name in RANK_VARIABLES)


def run_init(run: Path) -> str | None:
    """The model directory whose weights the run in folder `run` began from (``--init``), or None: new weights,
    or no run there."""
    saved = run / RUN_CONFIG_NAME
    return json.loads(saved.read_text(encoding="utf-8")).get("init") if saved.exists() else None


def _check_run_folder(run: Path, config: Config, resume: bool) -> None:
    """A new run needs an empty folder; a resumed one needs the same config as before."""
    saved = run / RUN_CONFIG_NAME
    if not saved.exists():
        if resume:
            raise DkvaeError(f"nothing to resume in {run}: it holds no run")
        return
    if not resume:
        raise DkvaeError(f"{run} already holds a run; pass --resume to continue it, or choose another --out")
    previous = Config.from_dict(json.loads(saved.read_text(encoding="utf-8"))["config"])
    if previous.audio != config.audio or previous.model != config.model or previous.split != config.split:
        raise DkvaeError(f"{run} was started with other settings; resume it with the same options or use another --out")
