"""`DrumMachine`: generate drum sounds from a trained model directory."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from .audio import spectrogram_to_audio
from .checkpoint import ModelDirectory, load_model_dir
from .errors import DkvaeError


class DrumMachine:
    """A trained generator: latent vectors in, drum sounds out.

    >>> machine = DrumMachine.load("runs/vae")  # doctest: +SKIP
    >>> snares = machine.generate("snare", n=8, seed=7)  # (8, samples) at machine.sample_rate
    """

    def __init__(self, directory: ModelDirectory) -> None:
        if directory.config.model.kind not in ("vae", "ae"):
            raise DkvaeError(f"a {directory.config.model.kind} model cannot generate sounds; use a vae or ae model")
        self.directory = directory
        self.model = directory.model
        self.config = directory.config
        self.instruments = list(directory.class_names)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DrumMachine:
        """Load the model directory at `path` (weights as safetensors, settings as JSON; nothing is unpickled)."""
        return cls(load_model_dir(Path(path)))

    @property
    def sample_rate(self) -> int:
        """Sample rate of the generated audio, in Hz."""
        return self.config.audio.sample_rate

    @property
    def latent_dim(self) -> int:
        """Size of the latent vectors."""
        return self.config.model.latent_dim

    def class_index(self, instrument: str) -> int:
        """The model's index for `instrument`; an unknown name lists the known ones."""
        try:
            return self.instruments.index(instrument)
        except ValueError:
            raise DkvaeError(f"unknown instrument {instrument!r}; this model knows: {', '.join(self.instruments)}") from None

    def sample_latents(self, n: int, seed: int) -> np.ndarray:
        """`n` latent vectors ``(n, latent_dim)`` from the standard normal prior, fixed by `seed`."""
        if n < 1:
            raise DkvaeError("the number of sounds must be at least 1")
        generator = torch.Generator().manual_seed(seed)
        return torch.randn(n, self.latent_dim, generator=generator).numpy()

    @torch.inference_mode()
    def decode_spectrograms(self, latents: np.ndarray, instrument: str) -> np.ndarray:
        """Normalized spectrograms ``(n, freq, frames)`` for latent vectors ``(n, latent_dim)`` of one class."""
        z = torch.as_tensor(latents, dtype=torch.float32)
        labels = torch.full((len(z),), self.class_index(instrument), dtype=torch.long)
        conditional = bool(getattr(self.model, "conditional", False))
        return self.model.decode(z, labels if conditional else None).clamp(0, 1).numpy()

    def render(self, latents: np.ndarray, instrument: str) -> np.ndarray:
        """Sounds ``(n, samples)`` float32 at `sample_rate` from latent vectors ``(n, latent_dim)`` of one class."""
        if len(latents) < 1:
            raise DkvaeError("the number of sounds must be at least 1")
        spectrograms = self.decode_spectrograms(latents, instrument)
        normalization = self.directory.normalization
        low = normalization.get("min_value") if self.config.audio.normalization == "minmax" else None
        high = normalization.get("max_value") if self.config.audio.normalization == "minmax" else None
        return spectrogram_to_audio(spectrograms, self.config.audio, low, high).astype(np.float32)

    def generate(self, instrument: str, n: int = 1, seed: int = 0) -> np.ndarray:
        """`n` new sounds of `instrument`, ``(n, samples)`` float32 at `sample_rate`; the same seed gives the same sounds."""
        return self.render(self.sample_latents(n, seed), instrument)
