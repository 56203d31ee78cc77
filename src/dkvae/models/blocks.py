"""Building blocks shared by the models: conv stacks, padding to the stride, class conditioning, dense stacks.

Spectrograms enter every model as ``(batch, freq, time)``. The conv stacks work on
``(batch, channels, freq, time)``; an input is zero-padded at its high-frequency and late-time ends
to a multiple of the total stride, so any size works (513 x 128, 257 x 64, 37 x 19), and the decoder's
output is cropped back to the exact input shape.
"""

from __future__ import annotations

import itertools
import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dkvae.core.config import ModelConfig

#: Negative slope of the LeakyReLU in our conv and dense stages (DCGAN's choice).
LEAKY_RELU_SLOPE = 0.2
#: Groups of the GroupNorm in our conv stages (fewer when the channel count does not divide).
NORM_GROUPS = 8

# The seed's layers were Keras layers; these reproduce Keras's defaults and the seed's settings.
#: Keras BatchNormalization's epsilon.
KERAS_BATCH_NORM_EPSILON = 1e-3
#: Keras BatchNormalization's momentum 0.99, written the PyTorch way (weight of the new batch).
KERAS_BATCH_NORM_MOMENTUM = 0.01
#: The seed's L2 kernel regularizer on its encoder convolutions.
SEED_L2_WEIGHT = 1e-4
#: Standard deviation of the seed's RandomNormal initializer on its decoder's transposed convolutions.
SEED_DECODER_INIT_STD = 0.01

Stride = tuple[int, int]
OutputActivation = Literal["sigmoid", "linear"]


# ----------------------------------------------------------------------------- shapes


def total_stride(strides: tuple[Stride, ...]) -> Stride:
    """The product of the stage strides along each axis, ``(freq, time)``."""
    return math.prod(stride[0] for stride in strides), math.prod(stride[1] for stride in strides)


def padded_shape(shape: tuple[int, int], strides: tuple[Stride, ...]) -> tuple[int, int]:
    """`shape` ``(freq, time)`` rounded up to a multiple of the total stride on each axis."""
    freq_stride, time_stride = total_stride(strides)
    return math.ceil(shape[0] / freq_stride) * freq_stride, math.ceil(shape[1] / time_stride) * time_stride


def pad_to_stride(x: Tensor, strides: tuple[Stride, ...]) -> Tensor:
    """Zero-pad ``(batch, freq, time)`` at the high-frequency and late-time ends to a multiple of the total stride."""
    freq, time = padded_shape((x.shape[-2], x.shape[-1]), strides)
    return F.pad(x, (0, time - x.shape[-1], 0, freq - x.shape[-2]))


def crop_to_shape(x: Tensor, shape: tuple[int, int]) -> Tensor:
    """The first ``shape = (freq, time)`` rows and frames of ``(..., freq', time')``, the inverse of `pad_to_stride`."""
    return x[..., : shape[0], : shape[1]]


def check_input_shape(x: Tensor, input_shape: tuple[int, int]) -> None:
    """Raise a ValueError unless `x` is ``(batch, *input_shape)``."""
    if x.dim() != 3 or tuple(x.shape[1:]) != tuple(input_shape):
        expected = ", ".join(str(size) for size in input_shape)
        raise ValueError(f"this model takes inputs of shape (batch, {expected}); got {tuple(x.shape)}")


def same_padding(kernel_size: int, stride: Stride) -> tuple[int, tuple[int, int]]:
    """Padding and transposed-conv output padding so a stage maps size ``n * s`` to ``n`` and back exactly.

    Returns ``(padding, (output_padding_freq, output_padding_time))``. An even kernel needs a stride
    of at least 2 on both axes (with stride 1 it cannot keep the size).
    """
    padding = (kernel_size - 1) // 2
    output_padding = tuple(axis_stride + 2 * padding - kernel_size for axis_stride in stride)
    if any(not 0 <= extra < axis_stride for extra, axis_stride in zip(output_padding, stride)):
        raise ValueError(f"kernel size {kernel_size} with stride {stride} cannot keep sizes exact; use an odd kernel")
    return padding, (output_padding[0], output_padding[1])


# ----------------------------------------------------------------------------- conv stages


def conv_stage(in_channels: int, out_channels: int, kernel_size: int, stride: Stride, transposed: bool = False) -> nn.Sequential:
    """Our stage: (transposed) conv -> GroupNorm -> LeakyReLU; ``(batch, in, f, t) -> (batch, out, f / s, t / s)`` or ``* s``."""
    return nn.Sequential(
        _conv(in_channels, out_channels, kernel_size, stride, transposed),
        nn.GroupNorm(math.gcd(NORM_GROUPS, out_channels), out_channels),
        nn.LeakyReLU(LEAKY_RELU_SLOPE, inplace=True),
    )


def seed_stage(in_channels: int, out_channels: int, kernel_size: int, stride: Stride, transposed: bool = False) -> nn.Sequential:
    """The seed's stage: (transposed) conv -> ReLU -> BatchNorm with Keras's epsilon and momentum."""
    return nn.Sequential(
        _conv(in_channels, out_channels, kernel_size, stride, transposed),
        nn.ReLU(inplace=True),
        nn.BatchNorm2d(out_channels, eps=KERAS_BATCH_NORM_EPSILON, momentum=KERAS_BATCH_NORM_MOMENTUM),
    )


def _conv(in_channels: int, out_channels: int, kernel_size: int, stride: Stride, transposed: bool) -> nn.Module:
    """A 'same' conv (size / stride) or transposed conv (size * stride)."""
    padding, output_padding = same_padding(kernel_size, stride)
    if transposed:
        layer = OneChannelConvTranspose2d if out_channels == 1 else nn.ConvTranspose2d
        return layer(in_channels, out_channels, kernel_size, stride, padding, output_padding)
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding)


class OneChannelConvTranspose2d(nn.ConvTranspose2d):
    """`nn.ConvTranspose2d` to one channel that infers as one matrix product and a col2im (``F.fold``).

    On CPU the library's transposed conv to a single channel runs far under its usual rate: the
    bundled decoder's last layer takes a fraction of its time by this route (same values to float
    rounding; `tests/models/test_blocks.py`; docs/performance.md, "Latency of one sound", and
    bench/generation.py, which times the whole render). Under autograd the library's own is faster, so
    training keeps it, and so do TorchScript and ONNX exports. Same parameters and state dict as its parent.
    """

    def forward(self, x: Tensor, output_size: list[int] | None = None) -> Tensor:
        library = torch.is_grad_enabled() or torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()
        if library or output_size is not None or self.groups != 1:
            return super().forward(x, output_size)
        size = tuple(
            (length - 1) * stride - 2 * padding + dilation * (kernel - 1) + extra + 1
            for length, stride, padding, dilation, kernel, extra in zip(
                x.shape[-2:], self.stride, self.padding, self.dilation, self.kernel_size, self.output_padding
            )
        )
        # (batch, out * kernel area, height * width); detached, as a weight that requires grad slows the product
        columns = self.weight.detach().flatten(1).T @ x.flatten(2)
        y = F.fold(columns, size, self.kernel_size, self.dilation, self.padding, self.stride)
        return y if self.bias is None else y + self.bias.detach().view(1, -1, 1, 1)


def conv_stack(
    in_channels: int,
    channels: tuple[int, ...],
    kernel_sizes: tuple[int, ...],
    strides: tuple[Stride, ...],
    seed: bool = False,
) -> nn.Sequential:
    """Strided conv stages: ``(batch, in_channels, freq, time) -> (batch, channels[-1], freq / S_f, time / S_t)``.

    ``S`` is `total_stride`; freq and time must be multiples of it for the division to be exact.
    """
    stage = seed_stage if seed else conv_stage
    widths = (in_channels, *channels)
    return nn.Sequential(*(stage(widths[i], widths[i + 1], kernel_sizes[i], strides[i]) for i in range(len(channels))))


class ConvEncoder(nn.Module):
    """Spectrograms ``(batch, freq, time)`` -> flat features ``(batch, num_features)`` through strided conv stages."""

    def __init__(
        self,
        input_shape: tuple[int, int],
        channels: tuple[int, ...],
        kernel_sizes: tuple[int, ...],
        strides: tuple[Stride, ...],
        seed: bool = False,
    ) -> None:
        super().__init__()
        self.strides = strides
        # Channels-last weights and activations cut the CPU step time (bench/train.py times training);
        # no values change.
        self.stages = conv_stack(1, channels, kernel_sizes, strides, seed).to(memory_format=torch.channels_last)
        freq, time = padded_shape(input_shape, strides)
        freq_stride, time_stride = total_stride(strides)
        #: Shape of the last stage's output, ``(channels, freq, time)``.
        self.feature_shape = (channels[-1], freq // freq_stride, time // time_stride)
        self.num_features = math.prod(self.feature_shape)

    def forward(self, x: Tensor) -> Tensor:
        """``(batch, freq, time) -> (batch, num_features)``."""
        x = pad_to_stride(x, self.strides).unsqueeze(1).contiguous(memory_format=torch.channels_last)
        return self.stages(x).flatten(1)


class ConvDecoder(nn.Module):
    """Flat features ``(batch, num_features)`` -> spectrograms ``(batch, freq, time)``, mirroring `ConvEncoder`.

    Transposed conv stages undo the encoder's strides in reverse order; a last transposed conv to one
    channel (the mirror of the encoder's first conv) and the output activation follow. Our stages
    narrow ``channels[-1] -> ... -> channels[0]``; the seed's stage ``i`` had ``channels[i]`` filters
    (64 -> 64 -> 128 -> 256 for the seed's layout).
    """

    def __init__(
        self,
        input_shape: tuple[int, int],
        channels: tuple[int, ...],
        kernel_sizes: tuple[int, ...],
        strides: tuple[Stride, ...],
        output_activation: OutputActivation = "sigmoid",
        seed: bool = False,
    ) -> None:
        super().__init__()
        self.input_shape = input_shape
        freq, time = padded_shape(input_shape, strides)
        freq_stride, time_stride = total_stride(strides)
        self.feature_shape = (channels[-1], freq // freq_stride, time // time_stride)
        self.num_features = math.prod(self.feature_shape)
        stage = seed_stage if seed else conv_stage
        stages = []
        width = channels[-1]
        for i in reversed(range(1, len(channels))):
            out_channels = channels[i] if seed else channels[i - 1]
            stages.append(stage(width, out_channels, kernel_sizes[i], strides[i], transposed=True))
            width = out_channels
        stages.append(_conv(width, 1, kernel_sizes[0], strides[0], transposed=True))
        self.stages = nn.Sequential(*stages)
        self.output_activation = nn.Sigmoid() if output_activation == "sigmoid" else nn.Identity()
        if seed:
            for module in self.stages.modules():
                if isinstance(module, nn.ConvTranspose2d):
                    nn.init.normal_(module.weight, std=SEED_DECODER_INIT_STD)
                    nn.init.zeros_(module.bias)
        self.stages.to(memory_format=torch.channels_last)  # as in `ConvEncoder`

    def forward(self, features: Tensor) -> Tensor:
        """``(batch, num_features) -> (batch, freq, time)``."""
        x = features.view(-1, *self.feature_shape).contiguous(memory_format=torch.channels_last)
        x = crop_to_shape(self.stages(x).squeeze(1), self.input_shape)
        return self.output_activation(x)


def seed_l2_penalty(encoder: nn.Module) -> Tensor:
    """The seed's L2(1e-4) kernel regularizer: ``SEED_L2_WEIGHT *`` the sum of squared conv kernels of `encoder`."""
    kernels = [module.weight for module in encoder.modules() if isinstance(module, nn.Conv2d)]
    return SEED_L2_WEIGHT * sum(kernel.square().sum() for kernel in kernels)


# ----------------------------------------------------------------------------- dense stages


def dense_stack(sizes: tuple[int, ...]) -> nn.Sequential:
    """Linear -> LeakyReLU between consecutive `sizes`: ``(batch, sizes[0]) -> (batch, sizes[-1])``."""
    layers: list[nn.Module] = []
    for in_features, out_features in itertools.pairwise(sizes):
        layers += [nn.Linear(in_features, out_features), nn.LeakyReLU(LEAKY_RELU_SLOPE)]
    return nn.Sequential(*layers)


class DenseEncoder(nn.Module):
    """Inputs ``(batch, freq, time)``, flattened, -> features ``(batch, hidden_sizes[-1])`` through an MLP.

    Feature vectors (the seed's "tabular data") enter as ``(batch, features, 1)`` with
    ``input_shape = (features, 1)``.
    """

    def __init__(self, input_shape: tuple[int, int], hidden_sizes: tuple[int, ...]) -> None:
        super().__init__()
        self.stages = dense_stack((math.prod(input_shape), *hidden_sizes))
        self.num_features = hidden_sizes[-1]

    def forward(self, x: Tensor) -> Tensor:
        """``(batch, freq, time) -> (batch, num_features)``."""
        return self.stages(x.flatten(1))


class DenseDecoder(nn.Module):
    """Features ``(batch, hidden_sizes[-1])`` -> outputs ``(batch, freq, time)``, mirroring `DenseEncoder`."""

    def __init__(
        self, input_shape: tuple[int, int], hidden_sizes: tuple[int, ...], output_activation: OutputActivation = "sigmoid"
    ) -> None:
        super().__init__()
        self.input_shape = input_shape
        self.num_features = hidden_sizes[-1]
        self.stages = nn.Sequential(
            nn.LeakyReLU(LEAKY_RELU_SLOPE),  # the features come from a linear layer
            dense_stack(tuple(reversed(hidden_sizes))),
            nn.Linear(hidden_sizes[0], math.prod(input_shape)),
        )
        self.output_activation = nn.Sigmoid() if output_activation == "sigmoid" else nn.Identity()

    def forward(self, features: Tensor) -> Tensor:
        """``(batch, num_features) -> (batch, freq, time)``."""
        return self.output_activation(self.stages(features).view(-1, *self.input_shape))


def decoder_channels(config: ModelConfig) -> tuple[int, ...]:
    """The decoder's stage widths, listed like the encoder's: `config.decoder_channels`, or `config.channels` mirrored."""
    return config.channels if config.decoder_channels is None else config.decoder_channels


def encoder_decoder(config: ModelConfig, input_shape: tuple[int, int]) -> tuple[nn.Module, nn.Module]:
    """The encoder and decoder bodies for `config.architecture`; each has ``num_features``, the width of the flat features."""
    if config.architecture in ("conv", "seed"):
        seed = config.architecture == "seed"
        shape = (config.kernel_sizes, config.strides)
        return (
            ConvEncoder(input_shape, config.channels, *shape, seed=seed),
            ConvDecoder(
                input_shape, decoder_channels(config), *shape, output_activation=config.output_activation, seed=seed
            ),
        )
    if config.architecture == "dense":
        return (
            DenseEncoder(input_shape, config.hidden_sizes),
            DenseDecoder(input_shape, config.hidden_sizes, config.output_activation),
        )
    raise ValueError(f"unknown architecture {config.architecture!r}; choose conv, seed or dense")


# ----------------------------------------------------------------------------- conditioning


class ClassConditioning(nn.Module):
    """A learned embedding of the drum class appended to a feature vector; a no-op when disabled.

    ``(batch, features), (batch,) -> (batch, features + output_dim)``. Labels may also be class
    weights ``(batch, num_classes)`` (rows summing to 1): the embedding is then the weighted mean of
    the class embeddings, which blends classes (a kick-to-snare morph).
    """

    def __init__(self, num_classes: int, embedding_dim: int, enabled: bool) -> None:
        super().__init__()
        self.embedding = nn.Embedding(num_classes, embedding_dim) if enabled else None
        #: Width this module adds to a feature vector.
        self.output_dim = embedding_dim if enabled else 0

    def forward(self, features: Tensor, labels: Tensor | None) -> Tensor:
        """`features` with the embedding of `labels` (class indices, long; or class weights, float) appended.

        Labels are ignored when disabled.
        """
        if self.embedding is None:
            return features
        if labels is None:
            raise ValueError("this model is conditional on the drum class: pass labels, a (batch,) tensor of class indices")
        batch = features.shape[0]
        if labels.is_floating_point():
            if labels.shape != (batch, self.embedding.num_embeddings):
                raise ValueError(
                    f"class weights must have shape ({batch}, {self.embedding.num_embeddings}); got {tuple(labels.shape)}"
                )
            return torch.cat([features, labels.to(features.dtype) @ self.embedding.weight], dim=1)
        if labels.shape != (batch,):
            raise ValueError(f"labels must have shape ({batch},), one class index per item; got {tuple(labels.shape)}")
        return torch.cat([features, self.embedding(labels)], dim=1)
