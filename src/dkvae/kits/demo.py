"""A two-bar groove played with a kit, as ``demo.wav`` (so a user hears the kit at once) and ``demo.mid``.

The groove is on a sixteenth-note grid: kick, backbeat snare, eighth-note hats with an open hat
that the next closed hat chokes, a crash on the one, and a tom fill at the end of the second bar.
Repeated hits cycle through a pad's round robins, as a sampler does.
"""

from __future__ import annotations

from pathlib import Path

import mido
import numpy as np

from dkvae.core.atomic import atomic_path
from dkvae.kits.kit import Kit
from dkvae.kits.midi import MIDI_TICKS_PER_BEAT, STEPS_PER_BEAT, drum_midi
from dkvae.sound.audio import finish_sound, write_wav
from dkvae.sound.wav import WAV_SUBTYPES

TEMPO_BPM = 100
BARS = 2
#: Seconds over which a choked sound fades out (a hand closing the hats).
CHOKE_FADE_SECONDS = 0.02
#: A hit's gain is ``(velocity / 127) ** VELOCITY_CURVE`` (`velocity_gain`): soft hits fall off faster than linearly.
VELOCITY_CURVE = 1.5
#: (step, pad, velocity 1..127) over two bars of sixteen steps.
GROOVE: tuple[tuple[int, str, int], ...] = (
    (0, "kick", 120), (0, "crash", 110), (6, "kick", 90), (8, "kick", 115), (10, "kick", 80),
    (4, "snare", 115), (12, "snare", 118), (15, "rim", 60),
    (2, "closed_hat", 80), (4, "closed_hat", 95), (6, "closed_hat", 75), (8, "closed_hat", 95),
    (10, "closed_hat", 75), (14, "open_hat", 100),
    (16, "kick", 120), (16, "pedal_hat", 85), (18, "closed_hat", 80), (20, "snare", 115), (20, "clap", 90),
    (20, "closed_hat", 95), (22, "kick", 95), (22, "closed_hat", 75), (23, "perc_high", 70),
    (24, "snare", 95), (25, "snare", 70), (26, "tom_high", 105), (27, "tom_high", 90), (28, "tom_mid", 105),
    (29, "tom_mid", 90), (30, "tom_low", 110), (31, "tom_low", 100), (31, "perc_low", 70),
)  # fmt: skip


def groove_hits(kit: Kit) -> list[tuple[float, str, int]]:
    """The groove's hits on the kit's pads, as (seconds, pad name, velocity) in time order."""
    names = {kit_pad.pad.name for kit_pad in kit.pads}
    step_seconds = 60.0 / TEMPO_BPM / STEPS_PER_BEAT
    return sorted((step * step_seconds, pad, velocity) for step, pad, velocity in GROOVE if pad in names)


def choked(sound: np.ndarray, cut: int, fade: int) -> np.ndarray:
    """`sound` ``(samples,)`` silenced from sample `cut` on, after a linear fade of `fade` samples (a closing hi-hat)."""
    if cut >= len(sound):
        return sound
    envelope = np.zeros(len(sound))
    envelope[:cut] = 1.0
    ramp = min(fade, len(sound) - cut)
    envelope[cut : cut + ramp] = np.linspace(1.0, 0.0, ramp, endpoint=False)
    return sound * envelope


def velocity_gain(velocity: int) -> float:
    """The gain of a hit of MIDI `velocity` (1..127), as a sampler's velocity curve makes it."""
    return (velocity / 127.0) ** VELOCITY_CURVE


def render_demo(kit: Kit) -> np.ndarray:
    """The groove mixed with the kit's samples ``(samples,)`` float32, chokes and round robins applied."""
    rate = kit.sample_rate
    pads = {kit_pad.pad.name: kit_pad for kit_pad in kit.pads}
    hits = [(round(seconds * rate), name, velocity) for seconds, name, velocity in groove_hits(kit)]
    length = round(BARS * 4 * 60.0 / TEMPO_BPM * rate) + rate // 2
    mix = np.zeros(length + max(len(s.audio) for p in kit.pads for s in p.sounds), np.float64)
    fade = max(1, round(CHOKE_FADE_SECONDS * rate))
    played = dict.fromkeys(pads, 0)
    for start, name, velocity in hits:
        sound = pads[name].sounds[played[name] % len(pads[name].sounds)].audio.astype(np.float64)
        played[name] += 1
        chokers = pads[name].pad.choked_by
        choke = next((at - start for at, other, _ in hits if other in chokers and at > start), None)
        if choke is not None:
            sound = choked(sound, choke, fade)
        mix[start : start + len(sound)] += velocity_gain(velocity) * sound
    return finish_sound(mix[:length].astype(np.float32), fade)


def groove_midi(kit: Kit) -> mido.MidiFile:
    """The groove as a type-0 MIDI file on the General MIDI drum channel, at the kit's notes."""
    notes = {kit_pad.pad.name: kit_pad.pad.note for kit_pad in kit.pads}
    ticks_per_step = MIDI_TICKS_PER_BEAT // STEPS_PER_BEAT
    hits = [(step * ticks_per_step, notes[name], velocity) for step, name, velocity in GROOVE if name in notes]
    return drum_midi(hits, kit.name, TEMPO_BPM, BARS * 4 * MIDI_TICKS_PER_BEAT)


def write_demo(kit: Kit, folder: Path, bit_depth: int = 16) -> tuple[Path, Path]:
    """Write ``folder/demo.wav`` and ``folder/demo.mid``; returns both paths."""
    wav, midi = folder / "demo.wav", folder / "demo.mid"
    write_wav(wav, render_demo(kit), kit.sample_rate, WAV_SUBTYPES[bit_depth])
    with atomic_path(midi) as temporary:
        groove_midi(kit).save(temporary)
    return wav, midi
