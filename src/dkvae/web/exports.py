"""What the page downloads: the pads as a kit (any export format, zipped), the pattern as a loop WAV and as MIDI.

Everything is built in a private temporary folder named by the server and sent as bytes; nothing a
request says becomes a path.
"""

from __future__ import annotations

import io
import re
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
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
    """

    steps: int
    tempo: float
    swing: float
    cells: dict[str, list[int]]

    @property
    def step_seconds(self) -> float:
        """Length of one sixteenth-note step in seconds."""
        return 60.0 / self.tempo / STEPS_PER_BEAT

    def step_time(self, step: int) -> float:
        """When `step` sounds, in seconds from the loop's start (swing applied)."""
        return (step + (self.swing if step % 2 else 0.0)) * self.step_seconds

    def hits(self) -> list[tuple[int, str, int]]:
        """(step, pad, velocity) of every hit, in step order."""
        return sorted(
            (step, pad, ACCENT_VELOCITY if value == 2 else HIT_VELOCITY)
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


def web_kit(name: str, sample_rate: int, sounds: list[tuple[Pad, KitSound]]) -> Kit:
    """A kit of the page's pads, one sound each, in note order."""
    pads = [KitPad(pad, [sound]) for pad, sound in sorted(sounds, key=lambda item: item[0].note)]
    return Kit(name, sample_rate, pads, info={"made_with": "dkvae serve"})


def render_loop(
    pattern: Pattern, sounds: dict[str, np.ndarray], choked_by: dict[str, tuple[str, ...]], rate: int
) -> np.ndarray:
    """One pass of the pattern ``(samples,)`` float32: tails wrap to the start, so the file loops seamlessly.

    `sounds` maps pad names to their audio ``(samples,)``; a pad's hit is cut short (faded) by the next
    hit of a pad in its `choked_by` (the open hat by the closed and pedal hats).
    """
    length = round(pattern.steps * pattern.step_seconds * rate)
    mix = np.zeros(length, np.float64)
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
        np.add.at(mix, positions, velocity_gain(velocity) * sound)
    return finish_sound(mix.astype(np.float32), 0)


def loop_wav(
    pattern: Pattern, sounds: dict[str, np.ndarray], choked_by: dict[str, tuple[str, ...]], rate: int
) -> bytes:
    """`render_loop` as the bytes of a 16-bit WAV file."""
    buffer = io.BytesIO()
    sf.write(buffer, render_loop(pattern, sounds, choked_by, rate), rate, subtype=WAV_SUBTYPES[16], format="WAV")
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
