"""Tests for the shared model blocks: padding and cropping to the stride, conv and dense stacks, class conditioning."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dkvae.models.blocks import (
    ClassConditioning,
    ConvDecoder,
    ConvEncoder,
    DenseDecoder,
    DenseEncoder,
    OneChannelConvTranspose2d,
    conv_stack,
    conv_stage,
    crop_to_shape,
    dense_stack,
    pad_to_stride,
    padded_shape,
    same_padding,
    seed_l2_penalty,
    total_stride,
)

STRIDES = ((2, 2), (2, 2), (2, 2), (2, 1))
CHANNELS = (4, 8, 8, 16)
KERNELS = (3, 3, 5, 3)


def test_total_stride_and_padded_shape() -> None:
    assert total_stride(STRIDES) == (16, 8)
    assert padded_shape((257, 64), STRIDES) == (272, 64)
    assert padded_shape((513, 128), ((2, 2),) * 4) == (528, 128)
    assert padded_shape((37, 19), STRIDES) == (48, 24)
    assert padded_shape((32, 16), STRIDES) == (32, 16)


def test_pad_then_crop_round_trips_with_zeros_at_the_ends() -> None:
    x = torch.rand(2, 37, 19)
    padded = pad_to_stride(x, STRIDES)
    assert padded.shape == (2, 48, 24)
    assert torch.equal(padded[:, :37, :19], x)
    assert padded[:, 37:, :].abs().sum() == 0 and padded[:, :, 19:].abs().sum() == 0
    assert torch.equal(crop_to_shape(padded, (37, 19)), x)


@pytest.mark.parametrize("kernel_size", [1, 3, 4, 5])
@pytest.mark.parametrize("stride", [(2, 2), (2, 1), (4, 2)])
def test_stage_and_transposed_stage_keep_sizes_exact(kernel_size: int, stride: tuple[int, int]) -> None:
    if kernel_size % 2 == 0 and min(stride) == 1:
        with pytest.raises(ValueError, match="odd kernel"):
            same_padding(kernel_size, stride)
        return
    x = torch.rand(2, 3, 8 * stride[0], 8 * stride[1])
    down = conv_stage(3, 5, kernel_size, stride)(x)
    assert down.shape == (2, 5, 8, 8)
    up = conv_stage(5, 3, kernel_size, stride, transposed=True)(down)
    assert up.shape == x.shape


def test_conv_stack_divides_by_the_total_stride() -> None:
    stack = conv_stack(1, CHANNELS, KERNELS, STRIDES)
    assert stack(torch.rand(2, 1, 48, 24)).shape == (2, 16, 3, 3)
    assert sum(isinstance(module, nn.Conv2d) for module in stack.modules()) == len(CHANNELS)


@pytest.mark.parametrize("shape", [(513, 128), (257, 64), (37, 19), (16, 8)])
@pytest.mark.parametrize("seed", [False, True])
def test_conv_encoder_and_decoder_give_exact_shapes(shape: tuple[int, int], seed: bool) -> None:
    encoder = ConvEncoder(shape, CHANNELS, KERNELS, STRIDES, seed=seed)
    decoder = ConvDecoder(shape, CHANNELS, KERNELS, STRIDES, seed=seed)
    freq, time = padded_shape(shape, STRIDES)
    assert encoder.feature_shape == decoder.feature_shape == (16, freq // 16, time // 8)
    with torch.no_grad():
        features = encoder(torch.rand(2, *shape))
        assert features.shape == (2, encoder.num_features)
        output = decoder(features)
    assert output.shape == (2, *shape)
    assert 0 <= output.min() and output.max() <= 1  # sigmoid


def test_decoder_channels_mirror_the_encoder() -> None:
    def transposed_widths(decoder: nn.Module) -> list[int]:
        return [module.out_channels for module in decoder.modules() if isinstance(module, nn.ConvTranspose2d)]

    assert transposed_widths(ConvDecoder((32, 16), CHANNELS, KERNELS, STRIDES)) == [8, 8, 4, 1]
    assert transposed_widths(ConvDecoder((32, 16), CHANNELS, KERNELS, STRIDES, seed=True)) == [16, 8, 8, 1]


def test_linear_output_activation_is_unbounded() -> None:
    torch.manual_seed(0)
    decoder = ConvDecoder((16, 8), (4,), (3,), ((2, 2),), output_activation="linear")
    output = decoder(100 * torch.randn(3, decoder.num_features))
    assert output.shape == (3, 16, 8) and (output.max() > 1 or output.min() < 0)


def test_seed_l2_penalty_sums_squared_conv_kernels() -> None:
    encoder = ConvEncoder((16, 8), (2, 3), (3, 3), ((2, 2), (2, 2)), seed=True)
    convs = [module for module in encoder.modules() if isinstance(module, nn.Conv2d)]
    expected = 1e-4 * sum(float((conv.weight**2).sum()) for conv in convs)
    assert float(seed_l2_penalty(encoder)) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("shape", [(513, 128), (20, 1)])
def test_dense_encoder_and_decoder(shape: tuple[int, int]) -> None:
    encoder, decoder = DenseEncoder(shape, (32, 8)), DenseDecoder(shape, (32, 8))
    features = encoder(torch.rand(4, *shape))
    assert features.shape == (4, 8) and decoder.num_features == 8
    assert decoder(features).shape == (4, *shape)


def test_dense_stack() -> None:
    stack = dense_stack((10, 6, 3))
    assert [module.out_features for module in stack if isinstance(module, nn.Linear)] == [6, 3]
    assert stack(torch.rand(5, 10)).shape == (5, 3)


def test_class_conditioning_appends_an_embedding() -> None:
    conditioning = ClassConditioning(num_classes=3, embedding_dim=4, enabled=True)
    features = torch.zeros(2, 5)
    labels = torch.tensor([0, 2])
    conditioned = conditioning(features, labels)
    assert conditioned.shape == (2, 9) and conditioning.output_dim == 4
    assert torch.equal(conditioned[:, 5:], conditioning.embedding.weight[labels])
    with pytest.raises(ValueError, match="conditional on the drum class"):
        conditioning(features, None)
    with pytest.raises(ValueError, match="one class index per item"):
        conditioning(features, torch.tensor([0, 1, 2]))


def test_disabled_conditioning_is_a_no_op() -> None:
    conditioning = ClassConditioning(num_classes=3, embedding_dim=4, enabled=False)
    features = torch.rand(2, 5)
    assert conditioning.output_dim == 0 and conditioning.embedding is None
    assert conditioning(features, None) is features
    assert conditioning(features, torch.tensor([0, 1])) is features


@pytest.mark.parametrize(
    ("kernel", "stride", "dilation", "shape"),
    [(3, (2, 2), 1, (17, 9)), (5, (2, 2), 1, (8, 8)), (3, (1, 2), 1, (12, 5)), (3, (1, 1), 2, (6, 7)), (4, (2, 2), 1, (5, 3))],
)
def test_one_channel_transposed_conv_infers_what_the_library_computes(kernel, stride, dilation, shape, monkeypatch) -> None:
    folds = []
    fold = torch.nn.functional.fold
    monkeypatch.setattr(torch.nn.functional, "fold", lambda *args, **kwargs: folds.append(1) or fold(*args, **kwargs))
    torch.manual_seed(0)
    padding = (kernel - 1) // 2
    output_padding = tuple(s + 2 * padding - kernel for s in stride) if dilation == 1 else (0, 0)
    arguments = (6, 1, kernel, stride, padding, output_padding, 1, True, dilation)
    library, ours = nn.ConvTranspose2d(*arguments), OneChannelConvTranspose2d(*arguments)
    ours.load_state_dict(library.state_dict())
    x = torch.randn(3, 6, *shape).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        expected, got = library(x), ours(x)
    assert got.shape == expected.shape and folds == [1]
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_one_channel_transposed_conv_trains_through_the_library(monkeypatch) -> None:
    layer = OneChannelConvTranspose2d(4, 1, 3, 2, 1, 1)
    monkeypatch.setattr(torch.nn.functional, "fold", lambda *args, **kwargs: pytest.fail("fold used under autograd"))
    layer(torch.randn(2, 4, 5, 5)).sum().backward()
    assert layer.weight.grad is not None


def test_decoders_end_in_the_one_channel_layer() -> None:
    for seed in (False, True):
        assert isinstance(ConvDecoder((32, 16), CHANNELS, KERNELS, STRIDES, seed=seed).stages[-1], OneChannelConvTranspose2d)
