"""Tests for the VAE: shapes per architecture, class conditioning, loss values, training steps and the seed's layout."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn

from dkvae.core.config import SEED_MODEL, ModelConfig
from dkvae.models import SEED_DEVIATIONS, ModelOutput, VariationalAutoencoder, build_model
from dkvae.models.vae import gaussian_kl, reconstruction_error

SHAPES = [(513, 128), (257, 64), (37, 19)]
#: Small layouts per architecture, for the training tests; the shape tests use the presets.
SMALL = {
    "conv": ModelConfig(channels=(8, 16, 32), kernel_sizes=(3, 3, 3), strides=((2, 2), (2, 2), (2, 2)), latent_dim=8),
    "seed": SEED_MODEL,
    "dense": ModelConfig(architecture="dense", hidden_sizes=(64, 32), latent_dim=8),
}
#: (architecture, conditional) pairs the training tests run; the seed was unconditional.
TRAINED = [("conv", False), ("conv", True), ("seed", False), ("dense", False), ("dense", True)]
PRESETS = {"conv": ModelConfig(), "seed": SEED_MODEL, "dense": ModelConfig(architecture="dense", hidden_sizes=(64, 32))}


def tiny_spectrograms(count: int = 8, shape: tuple[int, int] = (33, 16), seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` spectrogram-like images ``(count, freq, time)`` in [0, 1] (a band that decays) and labels from 3 classes."""
    generator = torch.Generator().manual_seed(seed)
    freq = torch.arange(shape[0]).float()[:, None]
    time = torch.arange(shape[1]).float()[None, :]
    labels = torch.arange(count) % 3
    images = []
    for label in labels.tolist():
        centre = (label + 1) * shape[0] / 4 + 2 * torch.rand((), generator=generator)
        decay = 2.0 + 4.0 * torch.rand((), generator=generator)
        images.append(torch.exp(-((freq - centre) ** 2) / 20.0) * torch.exp(-time / decay))
    return torch.stack(images), labels


def train_steps(
    model: nn.Module, x: torch.Tensor, labels: torch.Tensor, steps: int, learning_rate: float, beta: float
) -> tuple[float, float]:
    """The loss before and after `steps` Adam steps on one batch."""
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    losses = []
    for _ in range(steps + 1):
        loss = model.loss(x, model(x, labels), beta=beta)["loss"]
        losses.append(float(loss.detach()))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return losses[0], losses[-1]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("architecture", ["conv", "seed", "dense"])
def test_shapes(architecture: str, shape: tuple[int, int]) -> None:
    torch.manual_seed(0)
    model = build_model(PRESETS[architecture], shape, num_classes=4).eval()
    latent = PRESETS[architecture].latent_dim
    x, labels = torch.rand(2, *shape), torch.tensor([0, 3])
    with torch.no_grad():
        output = model(x, labels)
        assert isinstance(output, ModelOutput)
        assert output.reconstruction.shape == (2, *shape)
        assert output.mean.shape == output.logvar.shape == output.z.shape == (2, latent)
        assert 0 <= output.reconstruction.min() and output.reconstruction.max() <= 1
        assert model.decode(torch.randn(3, latent), torch.tensor([0, 1, 2])).shape == (3, *shape)


def test_wrong_input_shape_is_a_clear_error() -> None:
    model = VariationalAutoencoder(SMALL["conv"], (33, 16), num_classes=1)
    with pytest.raises(ValueError, match=r"\(batch, 33, 16\)"):
        model(torch.rand(2, 32, 16))


def test_conditional_decode_depends_on_the_label() -> None:
    torch.manual_seed(0)
    model = VariationalAutoencoder(SMALL["conv"], (33, 16), num_classes=3).eval()
    assert model.conditional
    z = torch.randn(1, 8)
    with torch.no_grad():
        kick, snare = model.decode(z, torch.tensor([0])), model.decode(z, torch.tensor([1]))
    assert (kick - snare).abs().max() > 1e-4


def test_conditional_model_needs_labels() -> None:
    model = VariationalAutoencoder(SMALL["conv"], (33, 16), num_classes=3)
    x, _ = tiny_spectrograms(2)
    with pytest.raises(ValueError, match="conditional on the drum class"):
        model(x)
    with pytest.raises(ValueError, match="conditional on the drum class"):
        model.decode(torch.randn(2, 8))


@pytest.mark.parametrize("config, num_classes", [(dataclasses.replace(SMALL["conv"], conditional=False), 3), (SMALL["conv"], 1)])
def test_unconditional_model_ignores_labels(config: ModelConfig, num_classes: int) -> None:
    torch.manual_seed(0)
    model = VariationalAutoencoder(config, (33, 16), num_classes).eval()
    assert not model.conditional
    assert not any(isinstance(module, nn.Embedding) for module in model.modules())
    z = torch.randn(2, 8)
    with torch.no_grad():
        assert torch.equal(model.decode(z), model.decode(z, torch.tensor([0, 0])))


def test_reparameterize_samples_in_eval_mode_and_decode_is_deterministic() -> None:
    torch.manual_seed(0)
    model = VariationalAutoencoder(SMALL["conv"], (33, 16), num_classes=3).eval()
    mean, logvar = torch.zeros(4, 8), torch.zeros(4, 8)
    assert not torch.equal(model.reparameterize(mean, logvar), model.reparameterize(mean, logvar))
    assert torch.equal(model.reparameterize(mean, torch.full((4, 8), -math.inf)), mean)
    z, labels = torch.randn(4, 8), torch.tensor([0, 1, 2, 0])
    with torch.no_grad():
        assert torch.equal(model.decode(z, labels), model.decode(z, labels))


def test_kl_is_zero_at_the_prior() -> None:
    zeros = torch.zeros(3, 5)
    assert torch.equal(gaussian_kl(zeros, zeros), zeros)
    model = VariationalAutoencoder(SMALL["conv"], (33, 16), num_classes=1)
    x = torch.rand(3, 33, 16)
    losses = model.loss(x, ModelOutput(x, zeros, zeros, zeros), beta=1.0)
    assert float(losses["kl"]) == 0.0 and float(losses["loss"]) == 0.0


def test_kl_matches_the_analytic_formula() -> None:
    mean = torch.tensor([[1.0, 2.0], [0.0, -1.0]])
    logvar = torch.tensor([[0.0, math.log(2.0)], [math.log(0.5), 0.0]])
    # 0.5 * (mean^2 + var - 1 - log var) per dimension
    expected = torch.tensor([[0.5, 0.5 * (4 + 2 - 1 - math.log(2))], [0.5 * (0.5 - 1 - math.log(0.5)), 0.5]])
    assert torch.allclose(gaussian_kl(mean, logvar), expected)
    reference = torch.distributions.kl_divergence(
        torch.distributions.Normal(mean, (0.5 * logvar).exp()), torch.distributions.Normal(0.0, 1.0)
    )
    assert torch.allclose(gaussian_kl(mean, logvar), reference)
    model = VariationalAutoencoder(SMALL["conv"], (33, 16), num_classes=1)
    x = torch.zeros(2, 33, 16)
    losses = model.loss(x, ModelOutput(x, mean, logvar, mean), beta=0.5)
    assert float(losses["kl"]) == pytest.approx(float(expected.sum(dim=1).mean()))
    assert float(losses["loss"]) == pytest.approx(0.5 * float(expected.sum(dim=1).mean()))
    assert torch.allclose(model.kl_per_dimension(mean, logvar), expected.mean(dim=0))


def test_reconstruction_is_plain_mse_without_onset_weight() -> None:
    torch.manual_seed(0)
    x, reconstruction = torch.rand(2, 6, 10), torch.rand(2, 6, 10)
    assert float(reconstruction_error(x, reconstruction, onset_frames=3, onset_weight=0.0)) == pytest.approx(
        float(nn.functional.mse_loss(reconstruction, x))
    )


def test_onset_weight_weights_the_first_frames() -> None:
    x = torch.zeros(1, 4, 10)
    early, late = x.clone(), x.clone()
    early[..., :2] = 1.0  # error only in the first 2 frames: plain MSE 0.2
    late[..., 2:] = 1.0  # error only after them: plain MSE 0.8
    weight = 3.0
    mean_weight = (2 * (1 + weight) + 8) / 10
    assert float(reconstruction_error(x, early, 2, weight)) == pytest.approx(0.2 * (1 + weight) / mean_weight)
    assert float(reconstruction_error(x, late, 2, weight)) == pytest.approx(0.8 / mean_weight)
    model = VariationalAutoencoder(dataclasses.replace(SMALL["dense"], onset_frames=2, onset_weight=weight), (4, 10), 1)
    zeros = torch.zeros(1, 8)
    assert float(model.loss(x, ModelOutput(early, zeros, zeros, zeros), beta=1.0)["reconstruction"]) == pytest.approx(0.5)


@pytest.mark.parametrize("architecture, conditional", TRAINED)
def test_a_few_adam_steps_reduce_the_loss(architecture: str, conditional: bool) -> None:
    torch.manual_seed(0)
    config = dataclasses.replace(SMALL[architecture], conditional=conditional)
    model = VariationalAutoencoder(config, (33, 16), num_classes=3)
    x, labels = tiny_spectrograms(8)
    before, after = train_steps(model, x, labels, steps=30, learning_rate=3e-3, beta=1e-3)
    assert after < 0.5 * before, (before, after)


def test_seed_layout() -> None:
    model = build_model(SEED_MODEL, (257, 64), num_classes=7)
    assert isinstance(model, VariationalAutoencoder) and not model.conditional
    convs = [module for module in model.encoder.modules() if isinstance(module, nn.Conv2d)]
    assert [conv.out_channels for conv in convs] == [512, 256, 128, 64]
    assert [conv.stride for conv in convs] == [(2, 2), (2, 2), (2, 2), (2, 1)]
    assert all(conv.kernel_size == (3, 3) for conv in convs)
    stage = list(model.encoder.stages[0])  # conv -> ReLU -> BatchNorm, as in Keras
    assert [type(layer) for layer in stage] == [nn.Conv2d, nn.ReLU, nn.BatchNorm2d]
    assert stage[2].eps == 1e-3 and stage[2].momentum == pytest.approx(0.01)
    assert model.to_mean.out_features == model.to_logvar.out_features == 8
    assert model.encoder.feature_shape == (64, 17, 8)  # 257 padded to 272, / 16; 64 / 8
    transposed = [module for module in model.decoder.modules() if isinstance(module, nn.ConvTranspose2d)]
    assert [conv.out_channels for conv in transposed] == [64, 128, 256, 1]
    assert [conv.stride for conv in transposed] == [(2, 1), (2, 2), (2, 2), (2, 2)]
    weights = torch.cat([conv.weight.flatten() for conv in transposed])
    assert float(weights.std()) == pytest.approx(0.01, rel=0.05)
    assert all(float(conv.bias.abs().max()) == 0.0 for conv in transposed)
    assert isinstance(model.decoder.output_activation, nn.Sigmoid)


def test_seed_loss_has_the_l2_term() -> None:
    torch.manual_seed(0)
    model = VariationalAutoencoder(SEED_MODEL, (33, 16), num_classes=1)
    x, _ = tiny_spectrograms(2)
    losses = model.loss(x, model(x), beta=1e-4)
    kernels = [module.weight for module in model.encoder.modules() if isinstance(module, nn.Conv2d)]
    assert float(losses["l2"]) == pytest.approx(1e-4 * sum(float((kernel**2).sum()) for kernel in kernels), rel=1e-5)
    expected = losses["reconstruction"] + 1e-4 * losses["kl"] + losses["l2"]
    assert float(losses["loss"]) == pytest.approx(float(expected))
    assert "l2" not in VariationalAutoencoder(SMALL["conv"], (33, 16), 1).loss(x, model(x), beta=1.0)


def test_seed_deviations_are_one_line_each() -> None:
    assert len(SEED_DEVIATIONS) >= 3
    assert all(line and "\n" not in line for line in SEED_DEVIATIONS)


def test_build_model_rejects_unknown_kinds() -> None:
    with pytest.raises(ValueError, match="unknown model kind"):
        build_model(dataclasses.replace(ModelConfig(), kind="gan"), (33, 16), 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model(dataclasses.replace(ModelConfig(), architecture="rnn"), (33, 16), 3)  # type: ignore[arg-type]
