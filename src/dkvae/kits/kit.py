"""What a kit is: pads on General MIDI notes, each holding one or more finished sounds (round robins).

Every format writer takes a `Kit` and writes the same samples (`write_samples`): WAV files named
by note and pad, each with the JSON sidecar that lets `dkvae render` rebuild it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dkvae.core.atomic import write_text
from dkvae.sound.audio import write_wav
from dkvae.sound.wav import WAV_SUBTYPES, check_bit_depth

#: Where the samples go inside every exported kit.
SAMPLES_DIR = "samples"


@dataclass(frozen=True)
class Pad:
    """One slot of a kit: a General MIDI note, the model class it is drawn from, and its choke group."""

    name: str
    label: str
    note: int
    instrument: str
    #: Pads that share a group cut each other off; 0 is none.
    choke_group: int = 0
    #: Names of the pads whose hits silence this one (the open hat is choked by the closed and pedal hats).
    choked_by: tuple[str, ...] = ()


@dataclass
class KitSound:
    """One finished sound of a pad: mono float32 audio at the kit's rate and its sidecar document."""

    audio: np.ndarray
    sidecar: dict[str, Any]


@dataclass
class KitPad:
    """A pad and its sounds: the first is the main one, all of them are the round robins."""

    pad: Pad
    sounds: list[KitSound]

    def sample_names(self) -> list[str]:
        """File names of the pad's samples: ``<note>_<pad>.wav``, ``<note>_<pad>_rr2.wav``, ..."""
        stem = f"{self.pad.note}_{self.pad.name}"
        return [f"{stem}.wav" if index == 0 else f"{stem}_rr{index + 1}.wav" for index in range(len(self.sounds))]


@dataclass
class Kit:
    """A named kit of pads, ordered by note."""

    name: str
    sample_rate: int
    pads: list[KitPad]
    author: str = "dkvae"
    license: str = "CC0-1.0"
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def round_robins(self) -> int:
        """The most sounds any pad has."""
        return max(len(pad.sounds) for pad in self.pads)

    def pad(self, name: str) -> KitPad:
        """The pad called `name`."""
        return next(pad for pad in self.pads if pad.pad.name == name)


def write_samples(kit: Kit, folder: Path, bit_depth: int = 16) -> dict[str, list[str]]:
    """Write every sound of `kit` into ``folder/samples/`` with its sidecar.

    Returns ``{pad name: [paths relative to folder, one per round robin]}`` for the format writers.
    """
    check_bit_depth(bit_depth)
    written: dict[str, list[str]] = {}
    for kit_pad in kit.pads:
        paths = []
        for sound, name in zip(kit_pad.sounds, kit_pad.sample_names()):
            relative = f"{SAMPLES_DIR}/{name}"
            write_wav(folder / relative, sound.audio, kit.sample_rate, WAV_SUBTYPES[bit_depth])
            sidecar = {**sound.sidecar, "bit_depth": bit_depth}
            write_text((folder / relative).with_suffix(".json"), json.dumps(sidecar, indent=2))
            paths.append(relative)
        written[kit_pad.pad.name] = paths
    return written
