"""Tests for the conditional GAN's networks: shapes, the projection discriminator's class dependence, spectral norm, EMA."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from dkvae.core.config import AdversarialConfig, ModelConfig
from dkvae.models import build_model
from dkvae.models.cgan import ConditionalGAN, Discriminator

SHAPE = (65, 32)
MODEL = ModelConfig(kind="cgan", channels=(8, 16), kernel_sizes=(3, 3), strides=((2, 2), (2, 2)), latent_dim=6)
CRITIC = AdversarialConfig(discriminator_channels=(8, 16), discriminator_hidden=16)


def test_the_generator_makes_spectrograms_of_the_banks_shape_for_each_class() -> None:
    gan = build_model(MODEL, SHAPE, 4, CRITIC)
    assert isinstance(gan, ConditionalGAN) and gan.conditional
    z = torch.randn(4, 6)
    out = gan.generator(z, torch.arange(4))
    assert out.shape == (4, *SHAPE) and 0 <= out.min() and out.max() <= 1
    assert not torch.allclose(out[0], gan.generator(z[:1], torch.tensor([1]))[0])
    blend = gan.decode(z[:1], torch.tensor([[0.5, 0.5, 0.0, 0.0]]))
    assert blend.shape == (1, *SHAPE)


def test_the_projection_discriminator_depends_on_the_class_and_an_unconditional_one_does_not() -> None:
    torch.manual_seed(0)
    x = torch.rand(3, *SHAPE)
    projection = Discriminator(CRITIC, SHAPE, 4, conditional=True).eval()
    scores = [projection(x, torch.full((3,), c)) for c in range(4)]
    assert not torch.allclose(scores[0], scores[1])
    hidden = projection.features(x)[-1]
    expected = projection.head(hidden).squeeze(1) + (projection.embedding(torch.full((3,), 2)) * hidden).sum(1)
    torch.testing.assert_close(scores[2], expected)
    plain = Discriminator(CRITIC, SHAPE, 4, conditional=False)
    assert plain(x, None).shape == (3,)
    concatenated = Discriminator(dataclasses.replace(CRITIC, projection=False), SHAPE, 4, conditional=True).eval()
    assert not torch.allclose(concatenated(x, torch.zeros(3, dtype=torch.long)), concatenated(x, torch.ones(3, dtype=torch.long)))
    with pytest.raises(ValueError, match="pass labels"):
        projection(x, None)


def test_spectral_norm_keeps_each_layers_largest_singular_value_near_one() -> None:
    critic = Discriminator(CRITIC, SHAPE, 4, conditional=True)
    critic.train()
    for _ in range(30):
        critic(torch.rand(2, *SHAPE), torch.zeros(2, dtype=torch.long))
    linear = critic.to_hidden[0]
    assert torch.linalg.matrix_norm(linear.weight, ord=2).item() == pytest.approx(1.0, abs=0.05)
    plain = Discriminator(dataclasses.replace(CRITIC, spectral_norm=False), SHAPE, 4, conditional=True)
    assert not hasattr(plain.to_hidden[0], "parametrizations")


def test_the_weight_average_follows_the_generator_at_its_decay() -> None:
    gan = build_model(MODEL, SHAPE, 4, CRITIC)
    with torch.no_grad():
        for parameter in gan.generator.parameters():
            parameter.add_(1.0)
    before = [p.clone() for p in gan.generator_ema.parameters()]
    gan.update_ema(0.9)
    for average, old, new in zip(gan.generator_ema.parameters(), before, gan.generator.parameters()):
        torch.testing.assert_close(average, 0.9 * old + 0.1 * new)
    gan.update_ema(0.0)
    for average, new in zip(gan.generator_ema.parameters(), gan.generator.parameters()):
        torch.testing.assert_close(average, new)
    assert not any(p.requires_grad for p in gan.generator_ema.parameters())
