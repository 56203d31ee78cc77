"""Tests for the deterministic autoencoder: shapes per architecture, conditioning, loss and training steps."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from dkvae.core.config import SEED_MODEL, ModelConfig
from dkvae.models import Autoencoder, ModelOutput, build_model

from .test_vae import SMALL, TRAINED, tiny_spectrograms, train_steps

SHAPES = [(513, 128), (257, 64), (37, 19)]
CONFIGS = {
    "conv": ModelConfig(kind="ae"),
    "seed": dataclasses.replace(SEED_MODEL, kind="ae"),
    "dense": ModelConfig(kind="ae", architecture="dense", hidden_sizes=(64, 32)),
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("architecture", ["conv", "seed", "dense"])
def test_shapes(architecture: str, shape: tuple[int, int]) -> None:
    torch.manual_seed(0)
    config = CONFIGS[architecture]
    model = build_model(config, shape, num_classes=4).eval()
    assert isinstance(model, Autoencoder)
    x, labels = torch.rand(2, *shape), torch.tensor([1, 2])
    with torch.no_grad():
        output = model(x, labels)
        z = model.encode(x, labels)
    assert isinstance(output, ModelOutput)
    assert output.reconstruction.shape == (2, *shape)
    assert output.logvar is None
    assert torch.equal(output.mean, output.z) and torch.equal(output.z, z) and z.shape == (2, config.latent_dim)


def test_feature_vectors_go_through_the_dense_model() -> None:
    """The dense model's convention for the seed's tabular data: ``(batch, features, 1)``."""
    model = Autoencoder(CONFIGS["dense"], (20, 1), num_classes=1)
    features = torch.rand(5, 20, 1)
    assert model(features).reconstruction.shape == (5, 20, 1)
    with pytest.raises(ValueError, match=r"\(batch, 20, 1\)"):
        model(torch.rand(5, 20))


def test_encode_is_deterministic() -> None:
    model = Autoencoder(SMALL["conv"], (33, 16), num_classes=1).eval()
    x, _ = tiny_spectrograms(3)
    with torch.no_grad():
        assert torch.equal(model.encode(x), model.encode(x))


def test_conditional_autoencoder() -> None:
    torch.manual_seed(0)
    model = Autoencoder(SMALL["conv"], (33, 16), num_classes=3).eval()
    assert model.conditional
    z = torch.randn(1, SMALL["conv"].latent_dim)
    with torch.no_grad():
        assert (model.decode(z, torch.tensor([0])) - model.decode(z, torch.tensor([2]))).abs().max() > 1e-4
    with pytest.raises(ValueError, match="conditional on the drum class"):
        model.decode(z)
    unconditional = Autoencoder(dataclasses.replace(SMALL["conv"], conditional=False), (33, 16), num_classes=3).eval()
    assert not unconditional.conditional
    with torch.no_grad():
        assert torch.equal(unconditional.decode(z), unconditional.decode(z, torch.tensor([2])))


def test_loss_is_the_reconstruction_error() -> None:
    model = Autoencoder(dataclasses.replace(SMALL["conv"], onset_frames=2, onset_weight=3.0), (4, 10), num_classes=1)
    x = torch.zeros(1, 4, 10)
    early = x.clone()
    early[..., :2] = 1.0
    z = torch.zeros(1, 8)
    losses = model.loss(x, ModelOutput(early, z, None, z))
    assert set(losses) == {"loss", "reconstruction", "kl"}
    assert float(losses["loss"]) == float(losses["reconstruction"]) == pytest.approx(0.5)
    assert float(losses["kl"]) == 0.0
    seed_model = Autoencoder(dataclasses.replace(SEED_MODEL, kind="ae"), (4, 10), num_classes=1)
    seed_losses = seed_model.loss(x, ModelOutput(x, z, None, z))
    assert float(seed_losses["loss"]) == pytest.approx(float(seed_losses["l2"])) and float(seed_losses["l2"]) > 0


@pytest.mark.parametrize("architecture, conditional", TRAINED)
def test_a_few_adam_steps_reduce_the_loss(architecture: str, conditional: bool) -> None:
    torch.manual_seed(0)
    config = dataclasses.replace(SMALL[architecture], kind="ae", conditional=conditional)
    model = Autoencoder(config, (33, 16), num_classes=3)
    x, labels = tiny_spectrograms(8)
    before, after = train_steps(model, x, labels, steps=30, learning_rate=3e-3, beta=0.0)
    assert after < 0.5 * before, (before, after)


def test_dense_layers_follow_hidden_sizes() -> None:
    model = Autoencoder(dataclasses.replace(CONFIGS["dense"], latent_dim=5), (37, 19), num_classes=1)

    def widths(module: nn.Module) -> list[tuple[int, int]]:
        return [(layer.in_features, layer.out_features) for layer in module.modules() if isinstance(layer, nn.Linear)]

    assert widths(model.encoder) == [(37 * 19, 64), (64, 32)]
    assert widths(model.to_latent) == [(32, 5)] and widths(model.from_latent) == [(5, 32)]
    assert widths(model.decoder) == [(32, 64), (64, 37 * 19)]
