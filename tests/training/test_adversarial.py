"""Tests for adversarial training: losses and R1 by hand, augmentation, real GAN steps, collapse, resume, sharpening."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import dkvae.training.adversarial
from dkvae.core.config import AdversarialConfig, AudioConfig
from dkvae.core.errors import DkvaeError, TrainingCollapsed
from dkvae.inference.machine import DrumMachine
from dkvae.models.checkpoint import load_model_dir
from dkvae.training.adversarial import Diagnostics, augment_pair, discriminator_loss, generator_loss, r1_penalty
from dkvae.training.train import train

from ..conftest import TINY_TRAIN, tiny_config

CRITIC = AdversarialConfig(discriminator_channels=(8, 16), discriminator_hidden=16, diagnostic_per_class=3)


def gan_config(**train_changes):
    config = tiny_config(kind="cgan")
    return dataclasses.replace(config, adversarial=CRITIC, train=dataclasses.replace(TINY_TRAIN, **train_changes))


def test_hinge_and_bce_losses_match_their_formulas() -> None:
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-2.0, 0.0, 1.5])
    hinge = np.mean([0, 0.5, 2.0]) + np.mean([0, 1.0, 2.5])
    assert discriminator_loss(real, fake, "hinge").item() == pytest.approx(hinge)
    assert generator_loss(fake, "hinge").item() == pytest.approx(-np.mean([-2.0, 0.0, 1.5]))
    sigmoid = lambda v: 1 / (1 + np.exp(-np.asarray(v)))
    bce = -np.mean(np.log(sigmoid([2.0, 0.5, -1.0]))) - np.mean(np.log(1 - sigmoid([-2.0, 0.0, 1.5])))
    assert discriminator_loss(real, fake, "bce").item() == pytest.approx(bce, rel=1e-6)
    assert generator_loss(fake, "bce").item() == pytest.approx(-np.mean(np.log(sigmoid([-2.0, 0.0, 1.5]))), rel=1e-6)


class Quadratic(nn.Module):
    """D(x) = sum(w * x²): its gradient is 2 w x, so R1 = mean over items of sum((2 w x)²)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor([[1.0, -2.0], [0.5, 3.0]]))

    def forward(self, x, labels):
        return (self.w * x.square()).sum(dim=(1, 2))


def test_r1_is_the_mean_squared_gradient_norm_on_real_data() -> None:
    x = torch.tensor([[[1.0, 2.0], [0.0, -1.0]], [[0.5, 0.5], [2.0, 1.0]]])
    critic = Quadratic()
    expected = np.mean([((2 * critic.w.detach() * item) ** 2).sum().item() for item in x])
    value = r1_penalty(critic, x, None)
    assert value.item() == pytest.approx(expected)
    value.backward()
    assert critic.w.grad is not None and torch.count_nonzero(critic.w.grad) == 4


def test_augmentation_delays_and_amplifies_within_bounds_and_lets_gradients_through() -> None:
    audio = AudioConfig(sample_rate=8000, num_samples=2048, n_fft=128, hop_length=64)
    torch.manual_seed(0)
    real = torch.rand(16, audio.shape[0], audio.shape[1]) * 0.5 + 0.25
    fake = real.clone().requires_grad_(True)
    seen_real, seen_fake = augment_pair(real, fake, audio)
    assert seen_real.shape == real.shape and 0 <= seen_fake.min() and seen_fake.max() <= 1
    step = dkvae.training.adversarial.AUGMENT_GAIN_DB / (audio.max_db - audio.min_db)
    for item, original in zip(seen_real, real):
        delay = int((item.abs().sum(0) == 0).sum())
        assert 0 <= delay <= dkvae.training.adversarial.AUGMENT_SHIFT_FRAMES
        difference = item[:, delay:] - original[:, : original.shape[1] - delay]
        assert difference.std() < 1e-5 and difference.mean().abs() <= step + 1e-6
    seen_fake.sum().backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0


def test_diagnostics_give_zero_fd_for_a_set_against_itself_and_see_a_collapse() -> None:
    audio = AudioConfig(sample_rate=8000, num_samples=2048, n_fft=128, hop_length=64)
    rng = np.random.default_rng(0)
    real = rng.random((40, *audio.shape)).astype(np.float32)
    diagnostics = Diagnostics(audio)
    same = diagnostics.measure(real, real)
    assert same["fd"] == pytest.approx(0.0, abs=1e-6) and same["diversity"] == pytest.approx(1.0)
    collapsed = diagnostics.measure(real, np.repeat(real[:1], 40, axis=0) + 1e-4 * real)
    assert collapsed["diversity"] < 0.05 and collapsed["fd"] > 1.0


def test_real_adversarial_steps_change_both_networks_and_the_average_lags(tiny_bank, tmp_path, no_pickle) -> None:
    from dkvae.models import build_model

    config = gan_config()
    torch.manual_seed(0)
    initial = build_model(config.model, config.audio.shape, 7, config.adversarial)
    result = train(tiny_bank, tmp_path / "gan", config, progress_bar=False)
    assert np.isfinite(result.best_val_loss)
    metrics = pd.read_csv(tmp_path / "gan" / "logs" / "metrics.csv")
    for key in ("train/d_loss", "train/g_loss", "train/d_real_accuracy", "train/d_fake_accuracy", "val/fd", "val/diversity"):
        assert np.isfinite(metrics[key].dropna()).all() and metrics[key].notna().sum() == 2, key
    assert (tmp_path / "gan" / "diagnostics.png").stat().st_size > 10_000
    trained = load_model_dir(tmp_path / "gan").model
    generator = dict(trained.generator.named_parameters())
    assert any(not torch.equal(p, generator[name]) for name, p in initial.generator.named_parameters())
    average = dict(trained.generator_ema.named_parameters())
    assert any(not torch.equal(p, average[name]) for name, p in generator.items())
    machine = DrumMachine.load(tmp_path / "gan")
    for instrument in machine.instruments:
        assert machine.generate(instrument, 2, seed=1).shape == (2, machine.generate("kick", 1, 0).shape[1])
    with pytest.raises(DkvaeError, match="no encoder"):
        machine.vary(machine.generate("kick", 1, 0)[0], machine.sample_rate)
    from dkvae.kits.build import build_kit

    kit = build_kit(machine, seed=2, round_robin=2)
    assert len(kit.pads) == 14 and all(len(pad.sounds) == 2 for pad in kit.pads)
    assert kit.pads[0].sounds[0].sidecar["model_id"] == machine.model_id


def test_a_gan_run_resumes_and_keeps_its_history(tiny_bank, tmp_path) -> None:
    train(tiny_bank, tmp_path / "gan", gan_config(), progress_bar=False)
    result = train(tiny_bank, tmp_path / "gan", gan_config(epochs=3), resume=True, progress_bar=False)
    assert result.epochs == 3
    fd = pd.read_csv(tmp_path / "gan" / "logs" / "metrics.csv").dropna(subset=["val/fd"])
    assert list(fd["epoch"]) == [0, 1, 2]


def test_mode_collapse_stops_the_run_with_a_clear_message_keeping_the_best_model(tiny_bank, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(Diagnostics, "measure", lambda self, real, generated: {"fd": 1.0, "diversity": 0.01})
    config = dataclasses.replace(
        gan_config(epochs=10), adversarial=dataclasses.replace(CRITIC, collapse_epochs=2, collapse_after=2)
    )
    with pytest.raises(TrainingCollapsed, match="mode collapse: generated sounds have 1% of real.*epoch 3"):
        train(tiny_bank, tmp_path / "gan", config, progress_bar=False)
    assert load_model_dir(tmp_path / "gan").training["best_epoch"] == 0


def test_sharpening_fine_tunes_the_decoder_of_a_trained_vae_and_leaves_its_encoder(trained_run, tiny_bank, tmp_path) -> None:
    config = dataclasses.replace(
        tiny_config(), adversarial=CRITIC, train=dataclasses.replace(TINY_TRAIN, adversarial=True)
    )
    train(tiny_bank, tmp_path / "sharp", config, progress_bar=False, init=trained_run)
    before, after = load_model_dir(trained_run).model, load_model_dir(tmp_path / "sharp").model
    for name, parameter in before.encoder.named_parameters():
        assert torch.equal(parameter, dict(after.encoder.named_parameters())[name]), name
    assert not torch.equal(before.from_latent.weight, after.from_latent.weight)
    metrics = pd.read_csv(tmp_path / "sharp" / "logs" / "metrics.csv")
    assert {"train/g_reconstruction", "train/g_adversarial", "train/g_feature_matching"} <= set(metrics.columns)
    assert metrics["val/vae_reconstruction"].notna().sum() == 2
    assert json.loads((tmp_path / "sharp" / "run.json").read_text())["init"] == str(trained_run)
    with pytest.raises(DkvaeError, match="sharpens a trained VAE"):
        train(tiny_bank, tmp_path / "no init", config, progress_bar=False)


def test_the_weight_average_follows_closely_at_first_and_slowly_later() -> None:
    from dkvae.training.adversarial import ema_decay

    assert ema_decay(0.999, 0) == pytest.approx(0.1)
    assert ema_decay(0.999, 90) == pytest.approx(0.91)
    assert ema_decay(0.999, 100_000) == 0.999
    assert ema_decay(0.0, 50) == 0.0


def test_the_seeds_plain_bce_cgan_trains_and_generates(tiny_bank, tmp_path) -> None:
    from dkvae.core.config import SEED_ADVERSARIAL
    from dkvae.training.options import build_config

    assert build_config(tmp_path / "x", False, preset="seed", kind="cgan").adversarial == SEED_ADVERSARIAL
    plain = dataclasses.replace(SEED_ADVERSARIAL, discriminator_channels=(8, 16), discriminator_hidden=16, diagnostic_per_class=3)
    config = dataclasses.replace(gan_config(), adversarial=plain)
    assert train(tiny_bank, tmp_path / "seed-gan", config, progress_bar=False).epochs == 2
    model = load_model_dir(tmp_path / "seed-gan").model
    assert not model.discriminator.projection and not hasattr(model.discriminator.to_hidden[0], "parametrizations")
    metrics = pd.read_csv(tmp_path / "seed-gan" / "logs" / "metrics.csv")
    assert (metrics["train/r1"].dropna() == 0).all()
    machine = DrumMachine.load(tmp_path / "seed-gan")
    assert machine.generate("snare", 1, 0).shape[0] == 1
    assert build_config(tmp_path / "y", False, preset="seed", kind="cgan").model.conditional
