"""The flow prior: it learns where latents lie per class, samples reproducibly, varies a start partway, and inverts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dkvae.models.flow_prior import FlowConfig, LatentFlow, load_flow_prior, save_flow_prior

SMALL = FlowConfig(width=32, blocks=2, position_channels=4, steps=8, guidance=1.0)


def two_class_latents(count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Class 0 near +2, class 1 near -2, every channel and frame (standardized units)."""
    labels = torch.arange(count) % 2
    centres = torch.where(labels == 0, 2.0, -2.0)[:, None, None]
    return centres + 0.1 * torch.randn(count, 3, 6), labels


def test_the_flow_learns_each_class_s_place_and_samples_it() -> None:
    torch.manual_seed(0)
    flow = LatentFlow(SMALL, latent_channels=3, num_classes=2)
    optimizer = torch.optim.Adam(flow.parameters(), lr=3e-3)
    for _ in range(300):
        latents, labels = two_class_latents(64)
        loss = flow.loss(latents, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    noise = torch.randn(32, 3, 6, generator=torch.Generator().manual_seed(1))
    kicks = flow.sample(noise, torch.tensor([[1.0, 0.0]]).expand(32, -1))
    snares = flow.sample(noise, torch.tensor([[0.0, 1.0]]).expand(32, -1))
    assert float(kicks.mean()) == pytest.approx(2.0, abs=0.4)
    assert float(snares.mean()) == pytest.approx(-2.0, abs=0.4)
    blend = flow.sample(noise, torch.tensor([[0.5, 0.5]]).expand(32, -1))
    assert float(snares.mean()) < float(blend.mean()) < float(kicks.mean())


def test_sampling_is_the_same_bit_for_bit_from_the_same_noise_and_guidance_doubles_the_batch() -> None:
    flow = LatentFlow(FlowConfig(width=32, blocks=2, position_channels=4, steps=4, guidance=2.0), 3, 2).eval()
    noise = torch.randn(2, 3, 5, generator=torch.Generator().manual_seed(3))
    weights = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert torch.equal(flow.sample(noise, weights), flow.sample(noise.clone(), weights))
    calls = []
    flow.register_forward_hook(lambda module, inputs, output: calls.append(inputs[0].shape[0]))
    flow.sample(noise, weights)
    assert calls == [4] * 4


def test_a_variation_from_its_end_time_is_the_start_itself() -> None:
    flow = LatentFlow(SMALL, 3, 2).eval()
    start = torch.randn(1, 3, 5)
    noise = torch.randn(1, 3, 5)
    torch.testing.assert_close(flow.sample(noise, torch.tensor([[1.0, 0.0]]), start=start, start_time=1.0), start)


def random_flow(steps: int) -> LatentFlow:
    """An untrained flow with a velocity that is not zero (a new flow's last layer is) and latents off unit scale."""
    torch.manual_seed(0)
    flow = LatentFlow(FlowConfig(width=32, blocks=2, position_channels=4, steps=steps, guidance=2.0), 3, 2)
    nn.init.normal_(flow.output.weight, std=0.2)
    flow.latent_mean.normal_()
    flow.latent_std.uniform_(0.5, 2.0)
    return flow.eval()


def round_trip_error(flow: LatentFlow) -> float:
    """Relative error, in the flow's units, of sampling again from the inverted noise of latents the flow sampled."""
    noise = torch.randn(16, 3, 6, generator=torch.Generator().manual_seed(1))
    weights = torch.tensor([[1.0, 0.0], [0.3, 0.7]]).repeat(8, 1)
    latents = flow.sample(noise, weights)
    again = flow.sample(flow.invert(latents, weights), weights)
    return float((flow.standardize(again) - flow.standardize(latents)).norm() / flow.standardize(latents).norm())


def test_inverting_then_sampling_gives_back_the_flow_s_own_latents_up_to_euler_s_error() -> None:
    # Measured: 0.019 at 8 steps, 0.0096 at 16 (first order: an Euler step backwards takes the velocity at
    # its other end, so it undoes a forward step only up to O(dt**2), O(dt) over the path).
    coarse, fine = round_trip_error(random_flow(8)), round_trip_error(random_flow(16))
    assert 0 < coarse < 0.04
    assert fine < 0.6 * coarse


def test_inverting_walks_sampling_s_time_grid_backwards_with_its_guidance_and_repeats_bit_for_bit() -> None:
    flow = random_flow(4)
    latents = torch.randn(2, 3, 6, generator=torch.Generator().manual_seed(2))
    weights = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    times, batches = [], []

    def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        times.append(float(inputs[1][0]))
        batches.append(inputs[0].shape[0])

    handle = flow.register_forward_hook(record)
    noise = flow.invert(latents, weights)
    handle.remove()
    assert times == pytest.approx([1.0, 0.75, 0.5, 0.25]) and batches == [4] * 4
    assert torch.equal(noise, flow.invert(latents.clone(), weights))


def test_a_saved_prior_loads_for_its_own_codec_only(tmp_path) -> None:
    flow = LatentFlow(SMALL, 3, 2)
    flow.latent_std.fill_(2.5)
    save_flow_prior(flow, tmp_path, model_id="abc")
    loaded = load_flow_prior(tmp_path, "abc")
    assert loaded is not None and loaded.config == SMALL and float(loaded.latent_std[0]) == 2.5
    for name, value in flow.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], value)
    with pytest.raises(ValueError, match="trained on model 'abc', not on other"):
        load_flow_prior(tmp_path, "other")
    assert load_flow_prior(tmp_path / "missing", "abc") is None


def test_a_damaged_or_odd_prior_file_is_refused_with_a_reason(tmp_path) -> None:
    import json
    import os

    import safetensors.torch

    from dkvae.models.flow_prior import FLOW_PRIOR_NAME

    save_flow_prior(LatentFlow(SMALL, 3, 2), tmp_path, model_id="abc")
    path = tmp_path / FLOW_PRIOR_NAME
    whole = path.read_bytes()
    path.write_bytes(whole[:100])
    with pytest.raises(ValueError, match=f"{FLOW_PRIOR_NAME} is damaged"):
        load_flow_prior(tmp_path, "abc")
    tensors = safetensors.torch.load(whole)
    metadata = {"model_id": "abc", "config": json.dumps({"width": 32, "colour": "red"}), "latent_channels": "3", "num_classes": "2"}
    path.write_bytes(safetensors.torch.save(tensors, metadata=metadata))
    with pytest.raises(ValueError, match="recorded flow config cannot be read"):
        load_flow_prior(tmp_path, "abc")
    path.unlink()
    path.mkdir()
    with pytest.raises(ValueError, match="is not a regular file"):
        load_flow_prior(tmp_path, "abc")
    path.rmdir()
    os.mkfifo(path)
    with pytest.raises(ValueError, match="is not a regular file"):  # a read would block
        load_flow_prior(tmp_path, "abc")


@pytest.mark.parametrize(("cycle", "sees_the_attack"), [(4, False), (6, True)])
def test_the_last_latent_frame_sees_the_first_only_with_the_wider_dilation_cycle(cycle: int, sees_the_attack: bool) -> None:
    torch.manual_seed(0)
    flow = LatentFlow(FlowConfig(width=16, blocks=8, position_channels=4, dilation_cycle=cycle), 3, 2)
    nn.init.normal_(flow.output.weight, std=0.2)  # a new flow's last layer is zero: no velocity at all
    for block in flow.blocks:  # the norm's statistics span every frame; the convolutions are what must reach
        block.norm = nn.Identity()
    x, t, weights = torch.randn(1, 3, 65), torch.full((1,), 0.5), flow.one_hot(torch.tensor([0]))
    moved = x.clone()
    moved[..., 0] += 3.0  # another attack
    with torch.no_grad():
        change = (flow(moved, t, weights) - flow(x, t, weights))[..., -1].abs().max()
    assert (float(change) > 0) == sees_the_attack


def test_a_prior_saved_before_the_dilation_cycle_was_recorded_loads_with_the_old_one(tmp_path) -> None:
    import json

    import safetensors
    import safetensors.torch

    from dkvae.models.flow_prior import FLOW_PRIOR_NAME, LEGACY_DILATION_CYCLE

    old = FlowConfig(width=32, blocks=2, position_channels=4, steps=8, guidance=1.0, dilation_cycle=LEGACY_DILATION_CYCLE)
    save_flow_prior(LatentFlow(old, 3, 2), tmp_path, model_id="abc")
    path = tmp_path / FLOW_PRIOR_NAME
    with safetensors.safe_open(str(path), "pt") as handle:
        metadata, tensors = handle.metadata(), {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
    recorded = json.loads(metadata["config"])
    del recorded["dilation_cycle"]
    path.write_bytes(safetensors.torch.save(tensors, metadata={**metadata, "config": json.dumps(recorded)}))
    loaded = load_flow_prior(tmp_path, "abc")
    assert loaded is not None and loaded.config == old and FlowConfig().dilation_cycle != LEGACY_DILATION_CYCLE
