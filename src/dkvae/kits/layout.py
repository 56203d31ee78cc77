"""The pads of a generated kit, on the General MIDI notes a drummer and every GM drum map expect.

Hats share a choke group: the open hat is silenced by the closed and pedal hats, as on a real
hi-hat stand. Which generated sound goes on which pad is decided by measurement (`dkvae.kits.build`).
"""

from __future__ import annotations

from dkvae.kits.kit import Pad

HAT_CHOKE_GROUP = 1

PADS: tuple[Pad, ...] = (
    Pad("kick", "Kick", 36, "kick"),
    Pad("rim", "Rim", 37, "snare"),
    Pad("snare", "Snare", 38, "snare"),
    Pad("clap", "Clap", 39, "clap"),
    Pad("tom_low", "Low Tom", 41, "tom"),
    Pad("closed_hat", "Closed Hat", 42, "hihat", HAT_CHOKE_GROUP),
    Pad("pedal_hat", "Pedal Hat", 44, "hihat", HAT_CHOKE_GROUP),
    Pad("tom_mid", "Mid Tom", 45, "tom"),
    Pad("open_hat", "Open Hat", 46, "hihat", HAT_CHOKE_GROUP, choked_by=("closed_hat", "pedal_hat")),
    Pad("tom_high", "High Tom", 48, "tom"),
    Pad("crash", "Crash", 49, "cymbal"),
    Pad("ride", "Ride", 51, "cymbal"),
    Pad("perc_low", "Perc Low", 56, "perc"),
    Pad("perc_high", "Perc High", 75, "perc"),
)


def pad_named(name: str) -> Pad:
    """The layout's pad called `name`."""
    return next(pad for pad in PADS if pad.name == name)
