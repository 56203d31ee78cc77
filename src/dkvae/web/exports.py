"""What the page downloads: the pads as a kit (any export format, zipped), the pattern as a loop WAV and as MIDI.

Everything is built in a private temporary folder named by the server and sent as bytes; nothing a
request says becomes a path. Each pad's mix (volume, tune, decay, pan) and each step's velocity are
applied as the page's audio engine applies them (static/engine.js), so an export sounds as the page.
"""

from __future__ import annotations

import io
import re
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

import numpy as np
import soundfile as sf

from dkvae.kits.demo import CHOKE_FADE_SECONDS, choked, velocity_gain
from dkvae.kits.export import export_kit
from dkvae.kits.kit import Kit, KitPad, KitSound, Pad
from dkvae.kits.midi import MIDI_TICKS_PER_BEAT, STEPS_PER_BEAT, drum_midi
from dkvae.sound.audio import finish_sound
from dkvae.sound.wav import WAV_SUBTYPES

#: Velocities of a step's hit and accent (MIDI 1..127); loudness and chokes follow the kit demo's.
HIT_VELOCITY = 100
ACCENT_VELOCITY = 127
#: A sound shortened by its pad's decay holds for this share of its new length, then fades out linearly.
DECAY_HOLD = 0.5


class Mix(Protocol):
    """A pad's mix (`dkvae.web.schemas.PadSettings`): linear volume, tune in semitones, decay 0..1, pan -1..1."""

    volume: float
    tune: float
    decay: float
    pan: float


def mixed(sound: np.ndarray, mix: Mix) -> np.ndarray:
    """`sound` ``(samples,)`` tuned (by playback rate, linear interpolation), shortened by `decay` and scaled by `volume`.

    As a WebAudio buffer source plays it: at rate ``2 ** (tune / 12)`` the sound lasts ``1 / rate`` as
    long; below decay 1 it is held for `DECAY_HOLD` of ``decay`` times that length, then faded to silence.
    """
    out = np.asarray(sound, np.float64)
    rate = 2.0 ** (mix.tune / 12.0)
    if rate != 1.0 and len(out) > 1:
        positions = np.arange(int(np.ceil(len(out) / rate))) * rate
        out = np.interp(positions, np.arange(len(out)), out, right=0.0)
    if mix.decay < 1.0:
        end = max(1, round(mix.decay * len(out)))
        hold = round(DECAY_HOLD * end)
        envelope = np.concatenate([np.ones(hold), np.linspace(1.0, 0.0, end - hold, endpoint=False)])
        out = out[:end] * envelope[: len(out[:end])]
    return (mix.volume * out).astype(np.float32)


def pan_gains(pan: float) -> tuple[float, float]:
    """Left and right gains of a mono sound at `pan` (-1..1), equal power as WebAudio's StereoPannerNode."""
    angle = (pan + 1.0) * np.pi / 4.0
    return float(np.cos(angle)), float(np.sin(angle))


#: A download's ASCII name when nothing of its own name is ASCII (``鼓.zip`` -> ``download.zip``).
FALLBACK_STEM = "download"


def attachment(filename: str) -> str:
    """A Content-Disposition value that downloads as `filename` (RFC 6266), whatever its script.

    A header carries latin-1 at most, so the name goes twice: as a quoted ASCII fallback (accents
    dropped, anything else ``_``) and as RFC 5987's percent-encoded UTF-8 ``filename*``, which browsers prefer.
    """
    name = Path(filename)
    ascii_stem = unicodedata.normalize("NFKD", name.stem).encode("ascii", "ignore").decode("ascii")
    fallback = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_stem).strip("._") or FALLBACK_STEM
    return f"attachment; filename=\"{fallback}{name.suffix}\"; filename*=UTF-8''{quote(filename, safe='')}"


@dataclass(frozen=True)
class Pattern:
    """A step pattern: per pad, one value per step (0 rest, 1 hit, 2 accent), at `tempo` BPM with `swing`.

    `swing` delays every second sixteenth by that fraction of a step (0 straight, 0.33 a triplet feel).
    `velocities` gives, per pad, a step's own MIDI velocity (a 0 or a missing one keeps 100 or 127).
    """

    steps: int
    tempo: float
    swing: float
    cells: dict[str, list[int]]
    velocities: dict[str, list[int]] = field(default_factory=dict)

    @property
    def step_seconds(self) -> float:
        """Length of one sixteenth-note step in seconds."""
        return 60.0 / self.tempo / STEPS_PER_BEAT

    def step_time(self, step: int) -> float:
        """When `step` sounds, in seconds from the loop's start (swing applied)."""
        return (step + (self.swing if step % 2 else 0.0)) * self.step_seconds

    def velocity(self, pad: str, step: int, value: int) -> int:
        """The velocity of `pad`'s hit at `step` whose cell holds `value` (1 hit, 2 accent)."""
        own = self.velocities.get(pad, [])
        if step < len(own) and own[step] > 0:
            return own[step]
        return ACCENT_VELOCITY if value == 2 else HIT_VELOCITY

    def hits(self) -> list[tuple[int, str, int]]:
        """(step, pad, velocity) of every hit, in step order."""
        return sorted(
            (step, pad, self.velocity(pad, step, value))
            for pad, values in self.cells.items()
            for step, value in enumerate(values[: self.steps])
            if value
        )


def kit_zip(kit: Kit, fmt: str, demo: bool) -> bytes:
    """`kit` exported in `fmt` (see `dkvae.kits.export.FORMATS`) into a temporary folder, as the bytes of a zip of it."""
    with tempfile.TemporaryDirectory(prefix="dkvae-web-") as scratch:
        folder = Path(scratch) / "kit"
        export_kit(kit, folder, fmt, bit_depth=16, demo=demo)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, Path("kit") / path.relative_to(folder))
        return buffer.getvalue()


def web_kit(
    name: str, sample_rate: int, sounds: list[tuple[Pad, KitSound]], settings: dict[str, Mix] | None = None
) -> Kit:
    """A kit of the page's pads, one sound each, in note order.

    A pad in `settings` has its volume, tune and decay written into its sample (`mixed`); a mono
    sample cannot hold its pan, so the sidecar keeps the whole mix under ``"playback"``.
    """
    settings = settings or {}

    def kept(pad: Pad, sound: KitSound) -> KitSound:
        mix = settings.get(pad.name)
        if mix is None:
            return sound
        playback = {"volume": mix.volume, "tune": mix.tune, "decay": mix.decay, "pan": mix.pan}
        return replace(sound, audio=mixed(sound.audio, mix), sidecar={**sound.sidecar, "playback": playback})

    pads = [KitPad(pad, [kept(pad, sound)]) for pad, sound in sorted(sounds, key=lambda item: item[0].note)]
    return Kit(name, sample_rate, pads, info={"made_with": "dkvae serve"})


def render_loop(
    pattern: Pattern,
    sounds: dict[str, np.ndarray],
    choked_by: dict[str, tuple[str, ...]],
    rate: int,
    settings: dict[str, Mix] | None = None,
) -> np.ndarray:
    """One pass of the pattern, float32: tails wrap to the start, so the file loops seamlessly.

    `sounds` maps pad names to their audio ``(samples,)``; a pad's hit is cut short (faded) by the next
    hit of a pad in its `choked_by` (the open hat by the closed and pedal hats). A pad in `settings`
    plays `mixed`; the loop is ``(samples,)`` mono unless a pad is panned, then ``(samples, 2)``.
    """
    settings = settings or {}
    sounds = {pad: mixed(sound, settings[pad]) if pad in settings else sound for pad, sound in sounds.items()}
    stereo = any(pad_mix.pan != 0.0 for pad, pad_mix in settings.items() if pad in sounds)
    length = round(pattern.steps * pattern.step_seconds * rate)
    mix = np.zeros((length, 2) if stereo else length, np.float64)
    hits = [
        (round(pattern.step_time(step) * rate), pad, velocity)
        for step, pad, velocity in pattern.hits()
        if pad in sounds
    ]
    fade = max(1, round(CHOKE_FADE_SECONDS * rate))
    for start, pad, velocity in hits:
        sound = sounds[pad].astype(np.float64)
        chokers = choked_by.get(pad, ())
        later = [(at - start) % length or length for at, other, _ in hits if other in chokers]
        cut = min(later, default=None)
        if cut is not None:
            sound = choked(sound, cut, fade)
        positions = (start + np.arange(len(sound))) % length
        hit = velocity_gain(velocity) * sound
        if stereo:
            hit = hit[:, None] * np.array(pan_gains(settings[pad].pan if pad in settings else 0.0))
        np.add.at(mix, positions, hit)
    return finish_sound(mix.astype(np.float32), 0)


def loop_wav(
    pattern: Pattern,
    sounds: dict[str, np.ndarray],
    choked_by: dict[str, tuple[str, ...]],
    rate: int,
    settings: dict[str, Mix] | None = None,
) -> bytes:
    """`render_loop` as the bytes of a 16-bit WAV file."""
    buffer = io.BytesIO()
    audio = render_loop(pattern, sounds, choked_by, rate, settings)
    sf.write(buffer, audio, rate, subtype=WAV_SUBTYPES[16], format="WAV")
    return buffer.getvalue()


def pattern_midi(pattern: Pattern, notes: dict[str, int]) -> bytes:
    """The pattern as a type-0 MIDI file on the General MIDI drum channel (swing kept), as bytes."""
    ticks_per_step = MIDI_TICKS_PER_BEAT / STEPS_PER_BEAT
    hits = [
        (round((step + (pattern.swing if step % 2 else 0.0)) * ticks_per_step), notes[pad], velocity)
        for step, pad, velocity in pattern.hits()
        if pad in notes
    ]
    buffer = io.BytesIO()
    drum_midi(hits, "dkvae pattern", pattern.tempo, round(pattern.steps * ticks_per_step)).save(file=buffer)
    return buffer.getvalue()
