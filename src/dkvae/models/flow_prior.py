"""The latent prior: a class-conditional flow-matching model over the codec's latent sequences.

New sounds are drawn by carrying Gaussian noise ``(channels, frames)`` to a latent sequence along
the velocity field this network learns (rectified flow: straight paths from noise at ``t = 0`` to
data at ``t = 1``), then decoding it with the codec. It is a small 1-D residual network over latent
frames, told the time ``t`` and the class through FiLM, and the frame's position through fixed
sinusoidal channels (the attack is at the start). Classes are dropped from a share of the training
examples so that one network gives both the conditional and the unconditional velocity, and
classifier-free guidance mixes them: ``v = v_free + guidance * (v_class - v_free)``.

Latents are standardized per channel (`LatentFlow.latent_mean` / `latent_std`, buffers saved with
the weights) before the flow sees them, so one noise scale fits every channel.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from dkvae.core.atomic import atomic_path
from dkvae.core.files import regular_file_present

#: The prior's file in its codec's model directory: weights, with its config and the codec's id as metadata.
FLOW_PRIOR_NAME = "flow_prior.safetensors"
#: The dilation cycle of priors saved before `FlowConfig.dilation_cycle` was recorded.
LEGACY_DILATION_CYCLE = 4


@dataclass(frozen=True)
class FlowConfig:
    """The prior's network and its sampling."""

    width: int = 128
    blocks: int = 8
    #: The blocks' dilations run 1, 2, 4, ... ``2 ** (dilation_cycle - 1)``, then again. With 8 blocks and a
    #: cycle of 6 the convolutions reach 68 latent frames either side, a whole 1.5 s sequence. The first
    #: prior's cycle of 4 reached 32: frames further past the attack knew of it only through the norms'
    #: statistics, and its sounds hit twice far more often than real ones (bench/second_hits.py; docs/results.md,
    #: "Second hits: a wider flow"). Priors saved before this field had 4.
    dilation_cycle: int = 6
    #: Sinusoidal channels telling each latent frame its position.
    position_channels: int = 16
    #: Share of training examples whose class is dropped (the unconditional velocity, for guidance).
    class_dropout: float = 0.15
    #: Euler steps and guidance of sampling: ``steps`` network evaluations, twice that with guidance.
    steps: int = 8
    guidance: float = 2.0


def recorded_flow_config(fields: dict[str, Any]) -> FlowConfig:
    """The `FlowConfig` of recorded `fields` (a saved prior's, a training run's); fields recorded before
    `FlowConfig.dilation_cycle` existed mean `LEGACY_DILATION_CYCLE`. TypeError for an unknown field."""
    return FlowConfig(**{"dilation_cycle": LEGACY_DILATION_CYCLE, **fields})


def sinusoids(values: Tensor, channels: int, max_period: float = 10_000.0) -> Tensor:
    """Sinusoidal features ``(*values.shape, channels)`` of `values` (times in [0, 1] scaled by 1000, or positions)."""
    half = channels // 2
    frequencies = torch.exp(-math.log(max_period) * torch.arange(half, device=values.device) / half)
    angles = values[..., None].float() * frequencies
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


class FlowBlock(nn.Module):
    """``x + conv(gelu(film(norm(x))))``: a dilated 1-D convolution over frames, modulated by the conditioning."""

    def __init__(self, width: int, dilation: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(1, width, affine=False)
        self.film = nn.Linear(width, 2 * width)
        self.conv = nn.Conv1d(width, width, 3, padding=dilation, dilation=dilation)
        self.out = nn.Conv1d(width, width, 1)

    def forward(self, x: Tensor, conditioning: Tensor) -> Tensor:
        scale, shift = self.film(conditioning)[..., None].chunk(2, dim=1)
        hidden = self.norm(x) * (1 + scale) + shift
        return x + self.out(F.gelu(self.conv(F.gelu(hidden))))


class LatentFlow(nn.Module):
    """Velocity ``(batch, channels, frames)`` of standardized latents at time ``t``, given class weights."""

    def __init__(self, config: FlowConfig, latent_channels: int, num_classes: int) -> None:
        super().__init__()
        self.config = config
        self.latent_channels = latent_channels
        self.num_classes = num_classes
        width = config.width
        self.input = nn.Conv1d(latent_channels + config.position_channels, width, 3, padding=1)
        self.time = nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Linear(width, width))
        #: One embedding per class, and a last one for "no class" (the unconditional velocity).
        self.classes = nn.Parameter(torch.randn(num_classes + 1, width) * 0.02)
        self.blocks = nn.ModuleList(
            FlowBlock(width, 2 ** (index % config.dilation_cycle)) for index in range(config.blocks)
        )
        self.output = nn.Conv1d(width, latent_channels, 3, padding=1)
        nn.init.zeros_(self.output.weight)
        nn.init.zeros_(self.output.bias)
        self.register_buffer("latent_mean", torch.zeros(latent_channels))
        self.register_buffer("latent_std", torch.ones(latent_channels))

    def forward(self, x: Tensor, t: Tensor, class_weights: Tensor) -> Tensor:
        """The velocity at `x` ``(batch, channels, frames)``, times `t` ``(batch,)`` in [0, 1], and
        `class_weights` ``(batch, num_classes + 1)`` (one-hot, a blend, or the last entry for no class)."""
        positions = sinusoids(torch.arange(x.shape[-1], device=x.device), self.config.position_channels)
        positions = positions.T.unsqueeze(0).expand(x.shape[0], -1, -1)
        hidden = self.input(torch.cat([x, positions], dim=1))
        conditioning = self.time(sinusoids(t * 1000.0, self.config.width)) + class_weights @ self.classes
        for block in self.blocks:
            hidden = block(hidden, conditioning)
        return self.output(F.gelu(hidden))

    def standardize(self, latents: Tensor) -> Tensor:
        """Codec latents ``(batch, channels, frames)`` in the flow's units."""
        return (latents - self.latent_mean[:, None]) / self.latent_std[:, None]

    def destandardize(self, standardized: Tensor) -> Tensor:
        """Inverse of `standardize`."""
        return standardized * self.latent_std[:, None] + self.latent_mean[:, None]

    def one_hot(self, labels: Tensor) -> Tensor:
        """Class weights ``(batch, num_classes + 1)`` of class indices ``(batch,)``; index `num_classes` is no class."""
        return F.one_hot(labels, self.num_classes + 1).float()

    def loss(self, latents: Tensor, labels: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """The flow-matching loss on standardized `latents` ``(batch, channels, frames)`` of classes `labels`.

        Times are drawn logit-normal (more weight mid-path, as in Stable Diffusion 3); a `class_dropout`
        share of the labels becomes "no class".
        """
        batch = latents.shape[0]
        device = latents.device
        noise = torch.randn(latents.shape, generator=generator, device=device)
        t = torch.sigmoid(torch.randn(batch, generator=generator, device=device))
        dropped = torch.rand(batch, generator=generator, device=device) < self.config.class_dropout
        labels = torch.where(dropped, torch.full_like(labels, self.num_classes), labels)
        path = (1 - t[:, None, None]) * noise + t[:, None, None] * latents
        velocity = self(path, t, self.one_hot(labels))
        return F.mse_loss(velocity, latents - noise)

    def guided_velocity(self, x: Tensor, t: Tensor, class_weights: Tensor, guidance: float) -> Tensor:
        """Classifier-free guided velocity; ``guidance = 1`` is the conditional velocity alone (one evaluation)."""
        if guidance == 1.0:
            return self(x, t, class_weights)
        free = torch.zeros_like(class_weights)
        free[:, -1] = 1.0
        both = self(torch.cat([x, x]), torch.cat([t, t]), torch.cat([class_weights, free]))
        conditional, unconditional = both.chunk(2)
        return unconditional + guidance * (conditional - unconditional)

    @torch.no_grad()
    def sample(
        self,
        noise: Tensor,
        class_weights: Tensor,
        steps: int | None = None,
        guidance: float | None = None,
        start: Tensor | None = None,
        start_time: float = 0.0,
    ) -> Tensor:
        """Codec latents ``(batch, channels, frames)`` carried from `noise` by Euler steps to ``t = 1``.

        `class_weights` ``(batch, num_classes)`` picks or blends classes (``(batch, num_classes + 1)`` may also
        weigh "no class", the last entry). With `start` (codec latents)
        the path begins at ``start_time`` between `noise` and `start` (SDEdit: a variation that keeps
        ``start_time`` of the sound), taking the steps that remain.
        """
        steps = self.config.steps if steps is None else steps
        guidance = self.config.guidance if guidance is None else guidance
        weights = self.with_no_class(class_weights)
        x = noise
        if start is not None:
            x = (1 - start_time) * noise + start_time * self.standardize(start)
        remaining = max(1, round(steps * (1 - start_time))) if start_time < 1 else 0
        times = torch.linspace(start_time, 1.0, remaining + 1, device=noise.device)
        for index in range(remaining):
            t = times[index].expand(noise.shape[0])
            x = x + (times[index + 1] - times[index]) * self.guided_velocity(x, t, weights, guidance)
        return self.destandardize(x)

    @torch.no_grad()
    def invert(
        self, latents: Tensor, class_weights: Tensor, steps: int | None = None, guidance: float | None = None
    ) -> Tensor:
        """The noise ``(batch, channels, frames)`` that `sample` carries (approximately) to codec `latents`.

        The same guided ODE run backwards, from ``t = 1`` to ``t = 0`` by Euler steps on `sample`'s time grid
        reversed; `class_weights` as in `sample`. Not exact: a backward step takes the velocity where it starts
        (``t + dt``), the forward step where it starts (``t``), so each step is off by ``O(dt**2)``.
        """
        steps = self.config.steps if steps is None else steps
        guidance = self.config.guidance if guidance is None else guidance
        weights = self.with_no_class(class_weights)
        x = self.standardize(latents)
        times = torch.linspace(0.0, 1.0, steps + 1, device=latents.device)
        for index in reversed(range(steps)):
            t = times[index + 1].expand(latents.shape[0])
            x = x - (times[index + 1] - times[index]) * self.guided_velocity(x, t, weights, guidance)
        return x

    def with_no_class(self, class_weights: Tensor) -> Tensor:
        """Class weights ``(batch, num_classes + 1)``: given so, or ``(batch, num_classes)`` with "no class" at 0."""
        if class_weights.shape[1] == self.num_classes:
            return torch.cat([class_weights, torch.zeros_like(class_weights[:, :1])], dim=1)
        return class_weights


def save_flow_prior(flow: LatentFlow, directory: Path, model_id: str, training: dict[str, Any] | None = None) -> Path:
    """Write `flow` into the model directory of codec `model_id` atomically, with how it was trained
    (`training`: steps, seconds, last loss; `flow_prior_training` reads it); returns the file."""
    path = Path(directory) / FLOW_PRIOR_NAME
    metadata = {
        "model_id": model_id,
        "config": json.dumps(dataclasses.asdict(flow.config)),
        "latent_channels": str(flow.latent_channels),
        "num_classes": str(flow.num_classes),
        "training": json.dumps(training or {}),
    }
    tensors = {name: value.detach().contiguous() for name, value in flow.state_dict().items()}
    with atomic_path(path) as temporary:
        temporary.write_bytes(safetensors.torch.save(tensors, metadata=metadata))
    return path


def flow_prior_training(directory: Path) -> dict[str, Any]:
    """How the flow prior in a model directory was trained, as `save_flow_prior` recorded it ({} when not)."""
    with safetensors.safe_open(str(Path(directory) / FLOW_PRIOR_NAME), "pt") as handle:
        recorded = json.loads((handle.metadata() or {}).get("training", "{}"))
    return recorded if isinstance(recorded, dict) else {}


def load_flow_prior(directory: Path, model_id: str) -> LatentFlow | None:
    """The flow prior in a model directory (None when it has none), refused (ValueError) when it is not a
    regular file, is damaged, was trained on another codec's latents or its weights do not fit its config.
    Never unpickles."""
    path = Path(directory) / FLOW_PRIOR_NAME
    if not regular_file_present(path):
        return None
    try:
        with safetensors.safe_open(str(path), "pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118 (a safe_open handle is not iterable)
    except safetensors.SafetensorError as error:
        raise ValueError(f"{FLOW_PRIOR_NAME} is damaged: {error}") from None
    if metadata.get("model_id") != model_id:
        raise ValueError(f"{path}: its prior was trained on model {metadata.get('model_id')!r}, not on {model_id}")
    try:
        config = recorded_flow_config(json.loads(metadata["config"]))
    except (TypeError, KeyError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: its recorded flow config cannot be read: {error}") from None
    flow = LatentFlow(config, int(metadata["latent_channels"]), int(metadata["num_classes"]))
    flow.load_state_dict(tensors, strict=True)
    if not all(torch.isfinite(value).all() for value in tensors.values()):
        raise ValueError(f"{path}: its weights hold NaN or infinite values")
    return flow.eval()
