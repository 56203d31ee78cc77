"""The adversarial loop: Lightning modules that train a conditional GAN, or sharpen a trained VAE's decoder.

Each step trains the discriminator (hinge or BCE loss, R1 on real data every few steps, both sides
seen through the same random time shift and gain), then the generator. The GAN's generator weights
are averaged (EMA) for inference. Every epoch a fixed noise batch is generated and measured against
the validation split with the evaluation code's classifier-free features: Fréchet distance (logged
as the validation loss, so the best model by FD is the one kept) and diversity against real, which
stops a collapsed run with a clear message.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback
from torch import Tensor

from dkvae.core.atomic import atomic_path
from dkvae.core.config import AdversarialConfig, AudioConfig, Config
from dkvae.core.errors import TrainingCollapsed, TrainingDiverged
from dkvae.measures.features import log_mel, mel_filterbank, mel_statistics, pool_frames, standardizer
from dkvae.measures.metrics import frechet_distance, mean_pairwise_distance
from dkvae.models import build_model
from dkvae.models.cgan import Discriminator
from dkvae.models.latent_prior import LatentPrior
from dkvae.training.log import training_seconds

#: Largest random delay, in frames, and gain, in dB, of the discriminator's augmentation.
AUGMENT_SHIFT_FRAMES = 4
AUGMENT_GAIN_DB = 6.0
DIAGNOSTICS_PLOT_NAME = "diagnostics.png"
#: Seed of the fixed noise batch the diagnostics are measured on.
DIAGNOSTIC_SEED = 1234


def augment_pair(real: Tensor, fake: Tensor, audio: AudioConfig) -> tuple[Tensor, Tensor]:
    """Real and generated spectrograms ``(batch, freq, time)``, each delayed and amplified at random (differentiably).

    Without it a discriminator memorizes a small bank (DiffAugment, Zhao et al. 2020); both sides see
    the same kind of change, so the generator is not pushed to imitate it.
    """
    return _augment(real, audio), _augment(fake, audio)


def _augment(x: Tensor, audio: AudioConfig) -> Tensor:
    batch, _, frames = x.shape
    shifts = torch.randint(0, AUGMENT_SHIFT_FRAMES + 1, (batch,), device=x.device)
    index = torch.arange(frames, device=x.device)[None, :] - shifts[:, None]
    shifted = torch.gather(x, 2, index.clamp_min(0)[:, None, :].expand_as(x)) * (index >= 0)[:, None, :]
    if audio.normalization != "global":
        return shifted
    gain = (torch.rand(batch, 1, 1, device=x.device) * 2 - 1) * AUGMENT_GAIN_DB / (audio.max_db - audio.min_db)
    return (shifted + gain * (shifted > 0)).clamp(0.0, 1.0)  # silence (the floor, 0) stays silence


def ema_decay(decay: float, step: int) -> float:
    """The weight average's decay at optimizer step `step`: `decay`, lowered early on as ``(1 + step) / (10 + step)``
    so the average follows a young generator instead of keeping its random start (a small bank makes few steps)."""
    return min(decay, (1.0 + step) / (10.0 + step))


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor, loss: str) -> Tensor:
    """Hinge: ``relu(1 - D(real)) + relu(1 + D(fake))``; BCE: real labelled 1, fake 0. Means over the batch."""
    if loss == "hinge":
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()
    return F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits)) + F.binary_cross_entropy_with_logits(
        fake_logits, torch.zeros_like(fake_logits)
    )


def generator_loss(fake_logits: Tensor, loss: str) -> Tensor:
    """Hinge: ``-D(fake)``; BCE: the non-saturating ``-log sigmoid(D(fake))``."""
    if loss == "hinge":
        return -fake_logits.mean()
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def r1_penalty(discriminator: Discriminator, real: Tensor, labels: Tensor | None) -> Tensor:
    """``E ||∇_x D(x)||²`` over real spectrograms (Mescheder et al. 2018), differentiable for the discriminator's step."""
    real = real.detach().requires_grad_(True)
    (gradient,) = torch.autograd.grad(discriminator(real, labels).sum(), real, create_graph=True)
    return gradient.square().flatten(1).sum(dim=1).mean()


class Diagnostics:
    """FD and diversity of generated against real validation spectrograms, on classifier-free mel features."""

    def __init__(self, audio: AudioConfig) -> None:
        self.audio = audio
        self.filterbank = mel_filterbank(audio.sample_rate, audio.n_fft)

    def features(self, spectrograms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """MFCC statistics (what FD compares) and time-pooled log-mel vectors (what diversity measures)."""
        mel = log_mel(spectrograms, self.audio, self.filterbank)
        pooled = pool_frames((mel - self.audio.min_db) / (self.audio.max_db - self.audio.min_db))
        return mel_statistics(mel), pooled.reshape(len(spectrograms), -1)

    def measure(self, real: np.ndarray, generated: np.ndarray) -> dict[str, float]:
        """``fd`` and ``diversity`` (generated mean pairwise distance over real's) of two spectrogram sets.

        The MFCC statistics are standardized by the real set's mean and deviation, as `dkvae evaluate`
        standardizes them by the training split's, so FD is on the same scale as its "FD (MFCC statistics)".
        """
        real_statistics, real_vectors = self.features(real)
        generated_statistics, generated_vectors = self.features(generated)
        mean, scale = standardizer(real_statistics)
        return {
            "fd": frechet_distance((generated_statistics - mean) / scale, (real_statistics - mean) / scale),
            "diversity": mean_pairwise_distance(generated_vectors) / max(mean_pairwise_distance(real_vectors), 1e-12),
        }


class AdversarialModule(L.LightningModule):
    """What the GAN and the VAE's sharpening share: two optimizers, the alternating steps, logging, diagnostics."""

    def __init__(self, config: dict[str, Any], num_classes: int) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.config = Config.from_dict(config)
        self.adversarial: AdversarialConfig = self.config.adversarial
        self.num_classes = num_classes
        self.diagnostics = Diagnostics(self.config.audio)
        self.validation_real: list[np.ndarray] = []
        self.collapsed_epochs = 0

    # The two sides; subclasses say what is generated and how the generator is scored.
    def generator_parameters(self) -> list[Tensor]:
        raise NotImplementedError

    def discriminator(self) -> Discriminator:
        raise NotImplementedError

    def fake(self, real: Tensor, labels: Tensor) -> Tensor:
        """Generated spectrograms for this batch."""
        raise NotImplementedError

    def generator_objective(self, real: Tensor, fake: Tensor, labels: Tensor) -> dict[str, Tensor]:
        """The generator's loss terms, ``loss`` their sum."""
        raise NotImplementedError

    def diagnostic_batch(self) -> np.ndarray:
        """The generated spectrograms the diagnostics measure, the same noise every epoch."""
        raise NotImplementedError

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        settings = self.adversarial
        generator = torch.optim.Adam(self.generator_parameters(), lr=settings.generator_lr, betas=settings.betas)
        discriminator = torch.optim.Adam(self.discriminator().parameters(), lr=settings.discriminator_lr, betas=settings.betas)
        return [generator, discriminator]

    def labels_for(self, labels: Tensor) -> Tensor | None:
        return labels if self.discriminator().conditional else None

    def seen(self, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
        """What the discriminator sees of both: augmented when the config says so."""
        return augment_pair(real, fake, self.config.audio) if self.adversarial.augment else (real, fake)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_index: int) -> None:
        real, labels = batch
        generator_optimizer, discriminator_optimizer = self.optimizers()
        discriminator = self.discriminator()
        conditioning = self.labels_for(labels)

        fake = self.fake(real, labels)
        seen_real, seen_fake = self.seen(real, fake.detach())
        real_logits, fake_logits = discriminator(seen_real, conditioning), discriminator(seen_fake, conditioning)
        d_loss = discriminator_loss(real_logits, fake_logits, self.adversarial.loss)
        r1 = torch.zeros((), device=real.device)
        if self.adversarial.r1_gamma > 0 and batch_index % self.adversarial.r1_interval == 0:
            r1 = r1_penalty(discriminator, seen_real, conditioning)
            d_loss = d_loss + 0.5 * self.adversarial.r1_gamma * self.adversarial.r1_interval * r1
        self._check_finite(d_loss, "discriminator")
        discriminator_optimizer.zero_grad(set_to_none=True)
        self.manual_backward(d_loss)
        discriminator_optimizer.step()

        generator_terms = self.generator_objective(real, fake, labels)
        self._check_finite(generator_terms["loss"], "generator")
        generator_optimizer.zero_grad(set_to_none=True)
        self.manual_backward(generator_terms["loss"])
        self.clip_gradients(generator_optimizer, gradient_clip_val=self.config.train.gradient_clip or None)
        generator_optimizer.step()
        self.after_generator_step()

        logged = {
            "train/d_loss": d_loss.detach(),
            "train/r1": r1.detach(),
            "train/d_real_accuracy": (real_logits > 0).float().mean(),
            "train/d_fake_accuracy": (fake_logits < 0).float().mean(),
            **{f"train/g_{name}": value.detach() for name, value in generator_terms.items()},
        }
        self.log_dict(logged, on_step=False, on_epoch=True)

    def after_generator_step(self) -> None:
        """Hook after each generator update (the GAN updates its weight average)."""

    def _check_finite(self, loss: Tensor, side: str) -> None:
        if not torch.isfinite(loss):
            raise TrainingDiverged(
                f"training diverged: the {side}'s loss became {loss.item()} at epoch {self.current_epoch}; "
                "the best model so far is kept (try lower learning rates)"
            )

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_index: int) -> None:
        self.validation_real.append(batch[0].float().cpu().numpy())

    def on_validation_epoch_end(self) -> None:
        real = np.concatenate(self.validation_real) if self.validation_real else np.zeros((0,))
        self.validation_real = []
        if len(real) < 2:
            return
        measured = self.diagnostics.measure(real, self.diagnostic_batch())
        self.log_dict({"val/fd": measured["fd"], "val/diversity": measured["diversity"], "val/loss": measured["fd"]})
        self.log("elapsed_s", training_seconds(self.trainer))
        if self.trainer.sanity_checking or self.current_epoch < self.adversarial.collapse_after:
            return
        self.collapsed_epochs = self.collapsed_epochs + 1 if measured["diversity"] < self.adversarial.collapse_ratio else 0
        if self.collapsed_epochs >= self.adversarial.collapse_epochs:
            raise TrainingCollapsed(
                f"mode collapse: generated sounds have {measured['diversity']:.0%} of real sounds' diversity for "
                f"{self.collapsed_epochs} epochs (epoch {self.current_epoch}); the best model by FD is kept"
            )

    def noise(self, count: int) -> Tensor:
        generator = torch.Generator().manual_seed(DIAGNOSTIC_SEED)
        return torch.randn(count, self.config.model.latent_dim, generator=generator)

    def diagnostic_labels(self) -> Tensor:
        return torch.arange(self.num_classes).repeat_interleave(self.adversarial.diagnostic_per_class)


class GanModule(AdversarialModule):
    """A conditional GAN: the generator maps noise and a class to a spectrogram."""

    def __init__(self, config: dict[str, Any], num_classes: int) -> None:
        super().__init__(config, num_classes)
        self.model = build_model(self.config.model, self.config.audio.shape, num_classes, self.adversarial)

    def generator_parameters(self) -> list[Tensor]:
        return list(self.model.generator.parameters())

    def discriminator(self) -> Discriminator:
        return self.model.discriminator

    def fake(self, real: Tensor, labels: Tensor) -> Tensor:
        z = torch.randn(len(real), self.config.model.latent_dim, device=real.device)
        return self.model.generator(z, labels if self.model.conditional else None)

    def generator_objective(self, real: Tensor, fake: Tensor, labels: Tensor) -> dict[str, Tensor]:
        seen_fake = _augment(fake, self.config.audio) if self.adversarial.augment else fake
        return {"loss": generator_loss(self.model.discriminator(seen_fake, self.labels_for(labels)), self.adversarial.loss)}

    def after_generator_step(self) -> None:
        self.model.update_ema(ema_decay(self.adversarial.ema_decay, self.global_step))

    @torch.no_grad()
    def diagnostic_batch(self) -> np.ndarray:
        labels = self.diagnostic_labels()
        z = self.noise(len(labels)).to(self.device)
        return self.model.decode(z, labels.to(self.device) if self.model.conditional else None).float().cpu().numpy()


class SharpenModule(AdversarialModule):
    """A trained VAE's decoder fine-tuned against a discriminator (RAVE's second phase), its encoder frozen.

    The generator's objective keeps the VAE's own loss and adds the adversarial term and feature
    matching (L1 between the discriminator's activations on real and reconstructed spectrograms).
    """

    def __init__(self, config: dict[str, Any], num_classes: int) -> None:
        super().__init__(config, num_classes)
        self.model = build_model(self.config.model, self.config.audio.shape, num_classes)
        self.critic = Discriminator(self.adversarial, self.config.audio.shape, num_classes, self.model.conditional)
        #: Where the VAE's sounds are drawn from (`dkvae.models.latent_prior`); the diagnostics use it when set.
        self.latent_prior: LatentPrior | None = None

    def generator_parameters(self) -> list[Tensor]:
        encoder = {id(p) for p in self.model.encoder.parameters()}
        encoder |= {id(p) for name in ("to_mean", "to_logvar") for p in getattr(self.model, name).parameters()}
        return [p for p in self.model.parameters() if id(p) not in encoder]

    def discriminator(self) -> Discriminator:
        return self.critic

    def on_train_epoch_start(self) -> None:
        self.model.encoder.eval()

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_index: int) -> None:
        """Also the VAE's own validation losses, so a sharpening that costs reconstruction shows."""
        super().validation_step(batch, batch_index)
        real, labels = batch
        output = self.model(real, labels if self.model.conditional else None)
        losses = self.model.loss(real, output, beta=self.config.model.beta)
        self.log_dict({f"val/vae_{name}": value for name, value in losses.items()}, on_epoch=True)

    def fake(self, real: Tensor, labels: Tensor) -> Tensor:
        conditioning = labels if self.model.conditional else None
        with torch.no_grad():
            mean, logvar = self.model.encode(real, conditioning)
            z = self.model.reparameterize(mean, logvar)
        self._posterior = (mean, logvar)
        return self.model.decode(z, conditioning)

    def generator_objective(self, real: Tensor, fake: Tensor, labels: Tensor) -> dict[str, Tensor]:
        from dkvae.models.vae import ModelOutput

        mean, logvar = self._posterior
        terms = self.model.loss(real, ModelOutput(fake, mean, logvar, mean), beta=self.config.model.beta)
        conditioning = self.labels_for(labels)
        seen_real, seen_fake = self.seen(real, fake)
        real_features = [f.detach() for f in self.critic.features(seen_real)]
        fake_features = self.critic.features(seen_fake)
        adversarial = generator_loss(self.critic.score(fake_features[-1], conditioning), self.adversarial.loss)
        matching = sum(F.l1_loss(f, r) for f, r in zip(fake_features, real_features)) / len(real_features)
        terms["adversarial"] = adversarial
        terms["feature_matching"] = matching
        terms["loss"] = (
            terms["loss"] + self.adversarial.adversarial_weight * adversarial + self.adversarial.feature_matching_weight * matching
        )
        return terms

    @torch.no_grad()
    def diagnostic_batch(self) -> np.ndarray:
        labels = self.diagnostic_labels()
        z = self.noise(len(labels))
        if self.latent_prior is not None:
            z = torch.cat([torch.from_numpy(self.latent_prior.sample(c, z[labels == c].numpy())) for c in range(self.num_classes)])
        conditioning = labels.to(self.device) if self.model.conditional else None
        return self.model.decode(z.to(self.device), conditioning).float().cpu().numpy()


class DiagnosticsPlot(Callback):
    """Draws ``diagnostics.png`` after every epoch: both sides' losses, the discriminator's accuracies, FD and diversity."""

    PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
        ("loss", ("train/d_loss", "train/g_loss")),
        ("discriminator accuracy", ("train/d_real_accuracy", "train/d_fake_accuracy")),
        ("FD (mel statistics)", ("val/fd",)),
        ("diversity / real", ("val/diversity",)),
    )

    def __init__(self, run: Path) -> None:
        self.run = run
        self.history: dict[str, list[tuple[int, float]]] = {key: [] for _, keys in self.PANELS for key in keys}

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        for key, points in self.history.items():
            value = trainer.callback_metrics.get(key)
            if value is not None and math.isfinite(float(value)):
                points.append((trainer.current_epoch, float(value)))
        plot_diagnostics(self.history, self.PANELS, self.run / DIAGNOSTICS_PLOT_NAME)

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = {k: [tuple(p) for p in v] for k, v in state_dict["history"].items()}


def plot_diagnostics(
    history: dict[str, list[tuple[int, float]]], panels: tuple[tuple[str, tuple[str, ...]], ...], path: Path
) -> None:
    """One panel per diagnostic, per epoch, saved as a PNG atomically."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2), dpi=100)
    for axis, (title, keys) in zip(axes, panels):
        for key in keys:
            if history.get(key):
                epochs, values = zip(*history[key])
                axis.plot(epochs, values, label=key.split("/")[-1])
        axis.set_title(title)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    plt.close(figure)
