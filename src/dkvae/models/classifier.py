"""A CNN that tells drum classes apart; its penultimate features are the embedding the evaluation measures distances in.

Conv stages from the config (GroupNorm, LeakyReLU), global average pooling over frequency and time,
a linear embedding layer, dropout and a linear layer to the class logits. It works on any input size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dkvae.core.config import ModelConfig
from dkvae.models.blocks import LEAKY_RELU_SLOPE, check_input_shape, conv_stack

#: Width of the penultimate layer, the embedding used for Fréchet distances.
EMBEDDING_DIM = 128


class DrumClassifier(nn.Module):
    """Spectrograms ``(batch, freq, time)`` -> class logits ``(batch, num_classes)``."""

    def __init__(self, config: ModelConfig, input_shape: tuple[int, int], num_classes: int) -> None:
        super().__init__()
        if config.architecture == "dense":
            raise ValueError("the classifier is convolutional; use architecture 'conv'")
        self.input_shape = tuple(input_shape)
        self.embedding_dim = EMBEDDING_DIM
        # Channels-last runs the CPU convolutions faster; no values change.
        self.features = conv_stack(1, config.channels, config.kernel_sizes, config.strides).to(memory_format=torch.channels_last)
        self.embedding = nn.Sequential(nn.Linear(config.channels[-1], EMBEDDING_DIM), nn.LeakyReLU(LEAKY_RELU_SLOPE))
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(EMBEDDING_DIM, num_classes)

    def embed(self, x: Tensor) -> Tensor:
        """Penultimate features ``(batch, embedding_dim)`` of ``x (batch, freq, time)``."""
        check_input_shape(x, self.input_shape)
        features = self.features(x.unsqueeze(1).contiguous(memory_format=torch.channels_last))
        return self.embedding(features.mean(dim=(2, 3)))

    def forward(self, x: Tensor) -> Tensor:
        """Class logits ``(batch, num_classes)`` of ``x (batch, freq, time)``."""
        return self.head(self.dropout(self.embed(x)))

    def loss(self, x: Tensor, labels: Tensor) -> dict[str, Tensor]:
        """Cross-entropy ``loss`` and ``accuracy`` (fraction correct, no gradient) on ``x`` and ``labels (batch,)``."""
        logits = self(x)
        accuracy = (logits.argmax(dim=1) == labels).float().mean().detach()
        return {"loss": F.cross_entropy(logits, labels), "accuracy": accuracy}
