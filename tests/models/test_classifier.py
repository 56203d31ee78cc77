"""Tests for the drum classifier: shapes, the embedding, the loss, and that it can learn a tiny set."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from dkvae.core.config import ModelConfig
from dkvae.models import DrumClassifier, build_model

from .test_vae import tiny_spectrograms

CONFIG = ModelConfig(kind="classifier")


@pytest.mark.parametrize("shape", [(513, 128), (257, 64), (37, 19)])
def test_shapes(shape: tuple[int, int]) -> None:
    model = build_model(CONFIG, shape, num_classes=7).eval()
    assert isinstance(model, DrumClassifier)
    x = torch.rand(2, *shape)
    with torch.no_grad():
        assert model(x).shape == (2, 7)
        assert model.embed(x).shape == (2, model.embedding_dim) == (2, 128)


def test_loss_and_accuracy() -> None:
    torch.manual_seed(0)
    model = DrumClassifier(CONFIG, (33, 16), num_classes=3)
    x, labels = tiny_spectrograms(6)
    losses = model.loss(x, labels)
    logits = model(x)
    assert float(losses["loss"]) == pytest.approx(float(torch.nn.functional.cross_entropy(logits, labels)), rel=1e-5)
    assert float(losses["accuracy"]) == pytest.approx(float((logits.argmax(1) == labels).float().mean()))
    assert not losses["accuracy"].requires_grad


def test_dropout_only_acts_in_training() -> None:
    torch.manual_seed(0)
    model = DrumClassifier(dataclasses.replace(CONFIG, dropout=0.5), (33, 16), num_classes=3)
    x, _ = tiny_spectrograms(4)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


def test_dense_architecture_is_refused() -> None:
    with pytest.raises(ValueError, match="convolutional"):
        build_model(dataclasses.replace(CONFIG, architecture="dense"), (33, 16), 3)


def test_overfits_a_tiny_three_class_set() -> None:
    torch.manual_seed(0)
    config = dataclasses.replace(CONFIG, channels=(8, 16, 32), kernel_sizes=(3, 3, 3), strides=((2, 2),) * 3)
    model = DrumClassifier(config, (33, 16), num_classes=3)
    x, labels = tiny_spectrograms(12)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(40):
        loss = model.loss(x, labels)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        assert float(model.loss(x, labels)["accuracy"]) == 1.0
