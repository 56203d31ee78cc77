"""Everything a request works with: the machine, its sounds, directions, library and map planes; checks on recipes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dkvae.core.errors import DkvaeError
from dkvae.inference.generation import Recipe
from dkvae.inference.machine import DrumMachine
from dkvae.kits.kit import Pad
from dkvae.kits.layout import PADS
from dkvae.web.directions import DirectionCatalogue
from dkvae.web.library import Library
from dkvae.web.maps import PlaneStore
from dkvae.web.schemas import PadInfo, SoundOut, SoundRef
from dkvae.web.sounds import Sound, SoundService

#: Keys that play the pads, in layout order: four rows of a computer keyboard, like a 4 x 4 pad grid.
PAD_KEYS = "1234qwerasdfzxcv"


@dataclass
class Studio:
    """The server's one machine and what it serves, shared by every request."""

    machine: DrumMachine
    sounds: SoundService
    directions: DirectionCatalogue
    library: Library
    planes: PlaneStore = field(default_factory=PlaneStore)

    @property
    def pads(self) -> list[Pad]:
        """The kit layout's pads whose class the model knows."""
        return [pad for pad in PADS if pad.instrument in self.machine.instruments]

    def pad_infos(self) -> list[PadInfo]:
        """The pads with their keys, for the page."""
        return [
            PadInfo(
                name=pad.name,
                label=pad.label,
                note=pad.note,
                instrument=pad.instrument,
                key=key,
                choked_by=list(pad.choked_by),
            )
            for pad, key in zip(self.pads, PAD_KEYS)
        ]

    def pad(self, name: str) -> Pad:
        """The pad called `name`; an unknown one lists the known ones."""
        for pad in self.pads:
            if pad.name == name:
                return pad
        raise DkvaeError(f"unknown pad {name!r}; the pads are: {', '.join(pad.name for pad in self.pads)}")

    def check_instrument(self, instrument: str) -> str:
        """`instrument`, checked to be one of the model's classes."""
        self.machine.class_index(instrument)
        return instrument

    def latent(self, ref: SoundRef) -> np.ndarray:
        """The latent of a sound reference ``(latent_dim,)`` float32, checked against the model's size."""
        if len(ref.latent) != self.machine.latent_dim:
            raise DkvaeError(f"a latent has {self.machine.latent_dim} values for this model, got {len(ref.latent)}")
        return np.asarray(ref.latent, np.float32)

    def weights(self, ref: SoundRef) -> np.ndarray:
        """The class weights ``(num_classes,)`` of a sound reference (one-hot for a single class).

        An unconditional model's sound may have no class (""): its analysis of a user's sound gives none.
        """
        if ref.instrument or self.machine.conditional:
            self.check_instrument(ref.instrument)
        if ref.class_weights is None:
            return self.machine.class_weights(ref.instrument, 1)[0]
        if len(ref.class_weights) != len(self.machine.instruments):
            raise DkvaeError(
                f"class weights need one value per class ({len(self.machine.instruments)}), got {len(ref.class_weights)}"
            )
        return self.machine.class_weights(np.asarray(ref.class_weights, np.float32), 1)[0]

    def recipe(self, ref: SoundRef, operation: str, **fields: object) -> Recipe:
        """The recipe of a sound reference, checked: latent size, class, class weights."""
        latent = self.latent(ref)
        self.weights(ref)
        return Recipe(operation, latent.tolist(), ref.instrument, class_weights=ref.class_weights, **fields)  # type: ignore[arg-type]

    def out(self, sound: Sound) -> SoundOut:
        """How a sound is described to the page."""
        recipe = sound.recipe
        return SoundOut(
            id=sound.id,
            url=f"/api/sounds/{sound.id}.wav",
            sidecar=f"/api/sounds/{sound.id}",
            operation=recipe.operation,
            instrument=recipe.instrument,
            class_weights=recipe.class_weights,
            seed=recipe.seed,
            latent=[float(value) for value in recipe.latent],
            samples=self.sounds.samples(sound),
            sample_rate=self.machine.sample_rate,
        )
