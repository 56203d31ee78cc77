"""Build a consistent kit from a model: one neighbourhood of the latent space, pads chosen by measurement.

Every sound of a kit starts from one shared noise vector, mixed with its own: ``sqrt(1 - s²) ·
shared + s · own`` for spread ``s``. Each mix is still standard normal, so each sound is as typical
of its class as any generated one, while a small spread keeps the kit's sounds close in the latent
space (one character) and a spread of 1 draws them independently; a temperature other than 1 scales
every mix, as it does a generated sound's draw. Several candidates are drawn per
class and measured: the shortest hats are the closed and pedal hat, the longest the open one; toms
and percussion are ordered by pitch; the noisier cymbal is the crash, the other the ride.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dkvae.core.errors import DkvaeError
from dkvae.inference.generation import Recipe, sidecar_document
from dkvae.inference.machine import DrumMachine, check_temperature, trim_tail
from dkvae.kits.kit import Kit, KitPad, KitSound
from dkvae.kits.layout import PADS
from dkvae.kits.measure import decay_seconds, noisiness, pitch_hz

#: How far a kit's sounds are from their shared point (0: as close as possible, 1: independent).
DEFAULT_SPREAD = 0.5
#: Round robins are this far from their pad's sound, in units of the class's spread: close, not identical.
ROUND_ROBIN_AMOUNT = 0.08
MAX_ROUND_ROBINS = 16


@dataclass(frozen=True)
class Choice:
    """How one class's sounds become pads: how many to draw, the measure to sort them by, which ranks go where."""

    instrument: str
    candidates: int
    measure: Callable[[np.ndarray, int], float]
    #: Pad name -> rank of its sound in ascending order of `measure` (-1: the largest), most wanted pad first.
    ranks: dict[str, int]

    def assign(self, values: list[float]) -> dict[str, int]:
        """Pad name -> index into `values`; with fewer sounds than pads, the most wanted pads get them, in rank order."""
        order = np.argsort(values, kind="stable")
        if len(values) >= len(self.ranks):
            return {pad: int(order[rank]) for pad, rank in self.ranks.items()}
        wanted = list(self.ranks.items())[: len(values)]
        by_rank = sorted(wanted, key=lambda item: item[1] if item[1] >= 0 else len(self.ranks) + item[1])
        return {pad: int(order[position]) for position, (pad, _) in enumerate(by_rank)}


CHOICES: tuple[Choice, ...] = (
    Choice("kick", 1, decay_seconds, {"kick": 0}),
    Choice("snare", 2, decay_seconds, {"snare": 1, "rim": 0}),
    Choice("clap", 1, decay_seconds, {"clap": 0}),
    Choice("hihat", 5, decay_seconds, {"closed_hat": 0, "open_hat": -1, "pedal_hat": 1}),
    Choice("tom", 5, pitch_hz, {"tom_mid": 2, "tom_low": 0, "tom_high": -1}),
    Choice("cymbal", 2, noisiness, {"crash": 1, "ride": 0}),
    Choice("perc", 2, pitch_hz, {"perc_low": 0, "perc_high": 1}),
)


def round_robins(
    machine: DrumMachine, latent: np.ndarray, instrument: str, count: int, seed: int, details: dict[str, Any]
) -> list[KitSound]:
    """`count` close variations of the sound at `latent` (`ROUND_ROBIN_AMOUNT` away), with their sidecars."""
    if count < 1:
        return []
    neighbours = machine.neighbour_latents(latent, instrument, count, ROUND_ROBIN_AMOUNT, seed)
    sounds = []
    for index, (z, audio) in enumerate(zip(neighbours, machine.render(neighbours, instrument)), start=1):
        recipe = Recipe(
            "kit", z.tolist(), instrument, seed=seed, index=index, details={**details, "round_robin": index + 1}
        )
        sounds.append(KitSound(trim_tail(audio), sidecar_document(machine, recipe, 16)))
    return sounds


def build_kit(
    machine: DrumMachine,
    seed: int = 0,
    spread: float = DEFAULT_SPREAD,
    round_robin: int = 1,
    name: str | None = None,
    temperature: float = 1.0,
) -> Kit:
    """A kit of the layout's pads whose class the model knows, each with `round_robin` sounds; same seed, same kit.

    `temperature` scales every draw's distance from its class's mean, as `DrumMachine.sample_latents` does.
    """
    if not 0.0 <= spread <= 1.0:
        raise DkvaeError(f"the spread must be between 0 and 1, got {spread}")
    check_temperature(temperature)
    if not 1 <= round_robin <= MAX_ROUND_ROBINS:
        raise DkvaeError(f"round robins must be between 1 and {MAX_ROUND_ROBINS}, got {round_robin}")
    choices = [choice for choice in CHOICES if choice.instrument in machine.instruments]
    if not choices:
        raise DkvaeError(f"the model knows none of a kit's classes (it has {', '.join(machine.instruments)})")
    noise = machine.noise(1 + sum(choice.candidates for choice in choices), seed)
    mixed = (math.sqrt(1.0 - spread**2) * noise[:1] + spread * noise[1:]) * np.float32(temperature)
    chosen: dict[str, tuple[np.ndarray, np.ndarray, str]] = {}
    measurements: dict[str, float] = {}
    start = 0
    for choice in choices:
        latents = machine.latents_from_noise(mixed[start : start + choice.candidates], choice.instrument)
        start += choice.candidates
        sounds = machine.render(latents, choice.instrument)
        values = [choice.measure(sound, machine.sample_rate) for sound in sounds]
        for pad_name, index in choice.assign(values).items():
            chosen[pad_name] = (latents[index], sounds[index], choice.instrument)
            measurements[pad_name] = round(float(values[index]), 4)
    pads = []
    for pad_index, pad in enumerate(p for p in PADS if p.name in chosen):
        latent, sound, instrument = chosen[pad.name]
        details = {"pad": pad.name, "note": pad.note, "spread": spread, "temperature": temperature}
        main = KitSound(
            trim_tail(sound),
            sidecar_document(machine, Recipe("kit", latent.tolist(), instrument, seed=seed, details=details), 16),
        )
        pads.append(
            KitPad(
                pad,
                [main]
                + round_robins(machine, latent, instrument, round_robin - 1, seed * 100 + pad_index + 1, details),
            )
        )
    info = {
        "seed": seed,
        "spread": spread,
        "temperature": temperature,
        "round_robin": round_robin,
        "model_id": machine.model_id,
        "measured": measurements,
    }
    return Kit(name or f"DKVAE {seed}", machine.sample_rate, pads, info=info)
