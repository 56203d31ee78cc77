"""Import the drum kits of a SoundFont (``.sf2``) into a bank by rendering each GM drum key with FluidSynth.

Backs ``dkvae import soundfont FILE.sf2 --out BANK``. The presets and their key layouts are read by a
small parser of the file's RIFF ``pdta`` chunk (which also rejects files that are not SoundFonts); the
kits are rendered in-process through libfluidsynth (Debian: ``libfluidsynth3``) over ctypes, one
synth for the whole file and one note at a time, each note rendered only until its voices end. Every
render is cut where it has decayed to `DECAY_DB` below its peak; exact duplicates (GM fonts reuse
samples across kits) are kept once.

Which presets are drum kits: every preset in `DRUM_BANK` (128, the GM percussion bank); a preset in
another bank whose name has one of `KIT_WORDS` ("Standard Drums", "Drum Kit"), unless it is one of
the General MIDI melodic percussion programs 112..119 (Steel Drums, Taiko Drum, Synth Drum, ...);
a preset in another bank whose keys are laid out like a kit (below); and, in a font with no preset
of any of these kinds whose file name has one of those words (a drum-only font such as
``MyDrumkits.sf2``), all of its presets.

The key layout is read from the preset -> instrument -> sample zones of the ``pdta`` chunk (each
zone's key range is its preset zone's range cut by its instrument zone's). A kit puts one drum on
each key: its zones map at least `MIN_KIT_SAMPLES` distinct samples to narrow ranges (at most
`KIT_ZONE_KEYS` keys) inside the GM percussion keys 35..81, and those are at least `KIT_SAMPLE_SHARE`
of the samples it plays there and on wider ranges. A melodic instrument stretches a few samples
over wide ranges (a piano's few narrow zones are outnumbered by its wide ones). This finds kits
filed in bank 0 under a player's name, such as the AVL Drumkits' "Black_Pearl_4pc". Where the rule
guesses wrong, ``import_soundfont(..., presets=[...])`` picks the presets by name or (bank, program).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import itertools
import os
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dkvae.core.classes import classify_name, gm_note_class, name_words
from dkvae.core.config import SILENCE_FLOOR_DB
from dkvae.core.errors import DkvaeError
from dkvae.core.names import safe_name, unique_name
from dkvae.core.progress import Progress
from dkvae.data.layout import BankWriter
from dkvae.importers.licenses import UNKNOWN_LICENSE, debian_license, installed_by, write_licenses
from dkvae.importers.report import ImportReport
from dkvae.sound.audio import cut_at_decay
from dkvae.sound.soundfont_format import (
    BAG_RECORD,
    DRUM_BANK,
    GENERATOR_RECORD,
    INSTRUMENT_GENERATOR,
    INSTRUMENT_RECORD,
    KEY_RANGE_GENERATOR,
    PHDR_RECORD,
    SAMPLE_GENERATOR,
    SAMPLE_RECORD,
)

#: Output sample rate of every render (Hz).
RENDER_SAMPLE_RATE = 44100
#: The MIDI velocities each key is rendered at.
DEFAULT_VELOCITIES: tuple[int, ...] = (40, 80, 127)
#: General MIDI percussion keys rendered (those `gm_note_class` maps to no class are skipped).
GM_DRUM_KEYS = range(35, 82)
#: How long a key is held before its note-off (seconds).
HOLD_SECONDS = 0.15
#: The longest render (seconds); a sound still ringing then is cut there and noted.
MAX_RENDER_SECONDS = 4.0
#: Each render is cut after the last sample within this many dB of its peak.
DECAY_DB = -60.0
#: Length of the fade-out at the cut (seconds), so the cut adds no click.
FADE_SECONDS = 0.005
#: FluidSynth's master gain (its default is 0.2); at 0.4 TimGM6mb's loudest key peaks at -1.7 dBFS
#: at velocity 127 (median -12 dBFS). Louder fonts are clipped to full scale.
SYNTH_GAIN = 0.4

#: Characters stripped from the shared start of a key's sample names ("36-Pearl22Kick-1", "-2" ...).
SAMPLE_NAME_SEPARATORS = " -_."
#: A shared start of sample names shorter than this says nothing; the GM key name is used instead.
MIN_SHARED_NAME = 3

#: Words in a preset (or file) name that say it is a drum kit (plurals count too).
KIT_WORDS: frozenset[str] = frozenset({"drum", "drumkit", "kit", "perc", "percussion"})
#: General MIDI melodic programs that are single pitched percussion instruments, not kits.
GM_MELODIC_PERCUSSION = range(112, 120)
#: A zone at most this many keys wide holds one drum; a melodic zone stretches its sample wider.
KIT_ZONE_KEYS = 2
#: A preset outside `DRUM_BANK` is a kit when at least this many distinct samples sit on narrow zones
#: inside `GM_DRUM_KEYS` (the AVL kits have 118, GM kits 30..39; GM pianos have up to 11, see below) ...
MIN_KIT_SAMPLES = 6
#: ... and those are at least this share of its narrow-in-GM and wide samples (kits: 0.97..1; the
#: melodic presets of TimGM6mb and sf_GMbank: at most 0.46, Piano 3's 11 narrow against 13 wide).
KIT_SAMPLE_SHARE = 0.75

#: The `source` recorded for fonts that no Debian package installed.
OTHER_SOURCE = "soundfont"
#: Tried in order: the Debian 12 soname, then whatever `ctypes.util.find_library` finds.
FLUIDSYNTH_LIBRARY_NAMES: tuple[str, ...] = ("libfluidsynth.so.3", "fluidsynth")
FLUIDSYNTH_INSTALL_HINT = "install it with `sudo apt-get install libfluidsynth3`"

#: General MIDI percussion key names (channel 10), used as each render's `instrument`.
GM_DRUM_NAMES: dict[int, str] = {
    35: "Acoustic Bass Drum", 36: "Bass Drum 1", 37: "Side Stick", 38: "Acoustic Snare", 39: "Hand Clap",
    40: "Electric Snare", 41: "Low Floor Tom", 42: "Closed Hi-Hat", 43: "High Floor Tom", 44: "Pedal Hi-Hat",
    45: "Low Tom", 46: "Open Hi-Hat", 47: "Low-Mid Tom", 48: "Hi-Mid Tom", 49: "Crash Cymbal 1",
    50: "High Tom", 51: "Ride Cymbal 1", 52: "Chinese Cymbal", 53: "Ride Bell", 54: "Tambourine",
    55: "Splash Cymbal", 56: "Cowbell", 57: "Crash Cymbal 2", 58: "Vibraslap", 59: "Ride Cymbal 2",
    60: "Hi Bongo", 61: "Low Bongo", 62: "Mute Hi Conga", 63: "Open Hi Conga", 64: "Low Conga",
    65: "High Timbale", 66: "Low Timbale", 67: "High Agogo", 68: "Low Agogo", 69: "Cabasa", 70: "Maracas",
    71: "Short Whistle", 72: "Long Whistle", 73: "Short Guiro", 74: "Long Guiro", 75: "Claves",
    76: "Hi Wood Block", 77: "Low Wood Block", 78: "Mute Cuica", 79: "Open Cuica", 80: "Mute Triangle",
    81: "Open Triangle",
}


@dataclass
class SoundfontReport(ImportReport):
    """An `ImportReport` (kits = presets imported; duplicates are in `skipped`) plus what rendering found."""

    #: Renders that came out silent (the key is not defined in that kit); not written.
    silent: int = 0
    #: Renders still sounding at `MAX_RENDER_SECONDS`, cut there ("font/preset/key_vN").
    cut_at_limit: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Preset:
    """One preset of a SoundFont: its name, bank and program numbers, and how its keys are laid out."""

    name: str
    bank: int
    program: int
    #: Distinct samples its zones put on at most `KIT_ZONE_KEYS` keys inside `GM_DRUM_KEYS`.
    narrow_samples: int = 0
    #: Distinct samples its zones stretch over more than `KIT_ZONE_KEYS` keys.
    wide_samples: int = 0
    #: The names of the samples each key of `GM_DRUM_KEYS` plays (keys it plays nothing on left out).
    key_samples: Mapping[int, frozenset[str]] = field(default_factory=dict, compare=False, repr=False)


# --- reading the preset list ---------------------------------------------------------------------

_ALL_KEYS = (0, 127)

#: A zone: (low key, high key, index of the instrument or sample it plays).
Zone = tuple[int, int, int]


def _chunks(data: bytes, start: int, end: int) -> Iterable[tuple[bytes, int, int]]:
    """(id, data start, data end) of the RIFF chunks in ``data[start:end]``; raises ValueError if cut short."""
    position = start
    while position + 8 <= end:
        chunk_id, size = data[position : position + 4], struct.unpack_from("<I", data, position + 4)[0]
        body = position + 8
        if body + size > end:
            raise ValueError(f"truncated {chunk_id.decode('latin-1')!r} chunk")
        yield chunk_id, body, body + size
        position = body + size + (size & 1)  # chunks are padded to even sizes


def _pdta(data: bytes) -> dict[bytes, memoryview]:
    """The sub-chunks of the ``pdta`` list of SoundFont file contents `data`, by id."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"sfbk":
        raise ValueError("not a SoundFont file (no RIFF 'sfbk' header)")
    riff_end = min(len(data), 8 + struct.unpack_from("<I", data, 4)[0])
    view = memoryview(data)
    for chunk_id, start, end in _chunks(data, 12, riff_end):
        if chunk_id == b"LIST" and data[start : start + 4] == b"pdta":
            return {sub_id: view[sub_start:sub_end] for sub_id, sub_start, sub_end in _chunks(data, start + 4, end)}
    raise ValueError("no preset data (no LIST 'pdta' chunk)")


def _records(chunks: dict[bytes, memoryview], chunk_id: bytes, record: struct.Struct) -> list[tuple]:
    """The records of one hydra chunk, its terminal record included; ValueError if missing or malformed."""
    name = chunk_id.decode("latin-1")
    if chunk_id not in chunks:
        raise ValueError(f"no {name!r} chunk in 'pdta'")
    body = chunks[chunk_id]
    if len(body) % record.size or len(body) < record.size:
        raise ValueError(f"malformed {name!r} chunk of {len(body)} bytes")
    return list(record.iter_unpack(body))


def _check_indices(starts: Sequence[int], count: int, what: str) -> None:
    """Raise ValueError unless the start indices `starts` never decrease and stay within `count` items."""
    if any(later < earlier for earlier, later in itertools.pairwise(starts)) or starts[-1] > count:
        raise ValueError(f"malformed {what} indices")


def _zones(
    bag_starts: Sequence[int], generators: Sequence[tuple[int, int]], first: int, end: int, link: int
) -> list[Zone]:
    """The zones of bags ``first..end-1``: each bag's key range and its `link` generator's amount.

    A first bag without `link` is the global zone: its key range is the default of the others.
    Other bags without `link` are ignored, as the SoundFont 2.04 specification says.
    """
    zones: list[Zone] = []
    default = _ALL_KEYS
    for bag in range(first, end):
        keys, target = None, None
        for operator, amount in generators[bag_starts[bag] : bag_starts[bag + 1]]:
            if operator == KEY_RANGE_GENERATOR:
                keys = (amount & 0xFF, amount >> 8)
            elif operator == link:
                target = amount
        if target is not None:
            zones.append((*(keys or default), target))
        elif bag == first and keys:
            default = keys
    return zones


def _key_layout(
    preset_zones: list[Zone], instrument_zones: Sequence[list[Zone]], sample_names: Sequence[str]
) -> tuple[int, int, dict[int, frozenset[str]]]:
    """One preset's `Preset.narrow_samples`, `Preset.wide_samples` and `Preset.key_samples`.

    Each sample's keys are its instrument zone's range cut by its preset zone's.
    """
    narrow: set[int] = set()
    wide: set[int] = set()
    keys: dict[int, set[str]] = {}
    for low, high, instrument in preset_zones:
        for sample_low, sample_high, sample in instrument_zones[instrument]:
            first, last = max(low, sample_low), min(high, sample_high)
            if last - first + 1 > KIT_ZONE_KEYS:
                wide.add(sample)
            elif first <= last and first in GM_DRUM_KEYS and last in GM_DRUM_KEYS:
                narrow.add(sample)
            for key in range(max(first, GM_DRUM_KEYS.start), min(last + 1, GM_DRUM_KEYS.stop)):
                keys.setdefault(key, set()).add(sample_names[sample])
    return len(narrow), len(wide), {key: frozenset(names) for key, names in keys.items()}


def _record_name(raw: bytes) -> str:
    """A hydra record's name: its 20 bytes up to the first NUL, as text."""
    return raw.split(b"\0", 1)[0].decode("latin-1").strip()


def parse_presets(data: bytes) -> list[Preset]:
    """The presets of the SoundFont file contents `data`, in file order, without the terminal "EOP".

    Each comes with its key layout (`Preset.narrow_samples`, `Preset.wide_samples`). Raises ValueError
    with a one-line reason if `data` is not a SoundFont (RIFF ``sfbk``), or its preset data chunks are
    missing or malformed (wrong sizes, indices out of order or pointing past their chunk).
    """
    chunks = _pdta(data)
    if b"phdr" not in chunks:
        raise ValueError("no preset headers (no 'phdr' chunk in 'pdta')")
    size = len(chunks[b"phdr"])
    if size % PHDR_RECORD.size or size < 2 * PHDR_RECORD.size:
        raise ValueError(f"malformed preset headers (phdr chunk of {size} bytes)")
    headers = list(PHDR_RECORD.iter_unpack(chunks[b"phdr"]))
    pbag, pgen, inst, ibag, igen, shdr = (
        _records(chunks, chunk_id, record)
        for chunk_id, record in [
            (b"pbag", BAG_RECORD),
            (b"pgen", GENERATOR_RECORD),
            (b"inst", INSTRUMENT_RECORD),
            (b"ibag", BAG_RECORD),
            (b"igen", GENERATOR_RECORD),
            (b"shdr", SAMPLE_RECORD),
        ]
    )
    sample_names = [_record_name(record[0]) for record in shdr[:-1]]  # without the terminal "EOS"

    preset_bags = [header[3] for header in headers]
    preset_generators = [bag[0] for bag in pbag]
    instrument_bags = [instrument[1] for instrument in inst]
    instrument_generators = [bag[0] for bag in ibag]
    _check_indices(preset_bags, len(pbag) - 1, "preset bag")
    _check_indices(preset_generators, len(pgen), "preset generator")
    _check_indices(instrument_bags, len(ibag) - 1, "instrument bag")
    _check_indices(instrument_generators, len(igen), "instrument generator")

    instrument_zones = [
        _zones(instrument_generators, igen, start, end, SAMPLE_GENERATOR)
        for start, end in itertools.pairwise(instrument_bags)
    ]
    if any(sample >= len(sample_names) for zones in instrument_zones for *_, sample in zones):
        raise ValueError("an instrument zone plays a sample that does not exist")
    presets = []
    for header, end in zip(headers, preset_bags[1:]):
        raw_name, program, bank, start, *_ = header
        zones = _zones(preset_generators, pgen, start, end, INSTRUMENT_GENERATOR)
        if any(instrument >= len(instrument_zones) for *_, instrument in zones):
            raise ValueError("a preset zone plays an instrument that does not exist")
        layout = _key_layout(zones, instrument_zones, sample_names)
        presets.append(Preset(_record_name(raw_name) or f"preset {bank}:{program}", bank, program, *layout))
    return presets


def read_presets(path: str | os.PathLike[str]) -> list[Preset]:
    """The presets of the SoundFont at `path`; raises DkvaeError (one line) if it is missing or unreadable."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DkvaeError(f"SoundFont file not found: {path}")
    try:
        return parse_presets(path.read_bytes())
    except (OSError, ValueError, struct.error) as error:
        raise DkvaeError(f"Cannot read SoundFont {path}: {error}") from error


def _has_kit_word(name: str) -> bool:
    return any(word in KIT_WORDS or word.removesuffix("s") in KIT_WORDS for word in name_words(name))


def has_kit_layout(preset: Preset) -> bool:
    """Whether the keys of `preset` are laid out like a drum kit's (see the module doc)."""
    narrow = preset.narrow_samples
    return narrow >= MIN_KIT_SAMPLES and narrow >= KIT_SAMPLE_SHARE * (narrow + preset.wide_samples)


def key_class(preset: Preset, key: int) -> str | None:
    """The drum class of `key` in `preset`: its General MIDI percussion class, except outside `DRUM_BANK`.

    A kit in another bank need not follow General MIDI (the AVL kits put a hi-hat swish on key 48,
    GM's Hi-Mid Tom, and crash chokes on 50 and 58), so there the names of the samples on the key
    decide when the ones that name a class all name the same one.
    """
    if preset.bank != DRUM_BANK:
        named = {label for name in preset.key_samples.get(key, ()) if (label := classify_name(name))}
        if len(named) == 1:
            return named.pop()
    return gm_note_class(key)


def key_instrument(preset: Preset, key: int) -> str:
    """What plays `key` in `preset`: the General MIDI key name, or outside `DRUM_BANK` (see `key_class`) the
    start its sample names share ("36-Pearl22Kick" for "36-Pearl22Kick-1", "36-Pearl22Kick-2", ...)."""
    if preset.bank != DRUM_BANK:
        shared = os.path.commonprefix(sorted(preset.key_samples.get(key, ()))).strip(SAMPLE_NAME_SEPARATORS)
        if len(shared) >= MIN_SHARED_NAME:
            return shared
    return GM_DRUM_NAMES.get(key, f"note {key}")


def is_drum_preset(preset: Preset) -> bool:
    """Whether `preset` is a drum kit: in the GM percussion bank, named like a kit, or laid out like one."""
    if preset.bank == DRUM_BANK or has_kit_layout(preset):
        return True
    return _has_kit_word(preset.name) and preset.program not in GM_MELODIC_PERCUSSION


def drum_presets(presets: Sequence[Preset], font_name: str) -> list[Preset]:
    """The drum-kit presets of a font, ordered by bank and program (see the module doc for the rule)."""
    chosen = [preset for preset in presets if is_drum_preset(preset)]
    if not chosen and _has_kit_word(font_name):
        chosen = list(presets)
    return sorted(chosen, key=lambda preset: (preset.bank, preset.program))


# --- rendering -----------------------------------------------------------------------------------


def _load_fluidsynth() -> ctypes.CDLL:
    """libfluidsynth with the signatures used here; raises DkvaeError if it is not installed."""
    for name in FLUIDSYNTH_LIBRARY_NAMES:
        found = name if name.startswith("lib") and ".so" in name else ctypes.util.find_library(name)
        if not found:
            continue
        try:
            library = ctypes.CDLL(found)
            library.new_fluid_settings  # noqa: B018 - fails here if it is not FluidSynth
        except (OSError, AttributeError):
            continue
        break
    else:
        raise DkvaeError(f"FluidSynth (libfluidsynth) is not installed: {FLUIDSYNTH_INSTALL_HINT}")
    pointer, integer, text = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p
    signatures = {
        "new_fluid_settings": ([], pointer),
        "delete_fluid_settings": ([pointer], None),
        "fluid_settings_setnum": ([pointer, text, ctypes.c_double], integer),
        "fluid_settings_setint": ([pointer, text, integer], integer),
        "new_fluid_synth": ([pointer], pointer),
        "delete_fluid_synth": ([pointer], None),
        "fluid_synth_sfload": ([pointer, text, integer], integer),
        "fluid_synth_program_select": ([pointer, integer, integer, integer, integer], integer),
        "fluid_synth_noteon": ([pointer, integer, integer, integer], integer),
        "fluid_synth_noteoff": ([pointer, integer, integer], integer),
        "fluid_synth_all_sounds_off": ([pointer, integer], integer),
        "fluid_synth_get_active_voice_count": ([pointer], integer),
        "fluid_synth_write_float": ([pointer, integer, pointer, integer, integer, pointer, integer, integer], integer),
        "fluid_set_log_function": ([integer, pointer, pointer], pointer),
    }
    for function_name, (arguments, result) in signatures.items():
        function = getattr(library, function_name)
        function.argtypes, function.restype = arguments, result
    return library


#: FluidSynth renders in blocks of this many frames; asking for whole blocks keeps every note's start
#: at the same place in its render, so equal sounds render to equal bytes.
_BLOCK = 64
_CHUNK_BLOCKS = 64
_DRUM_CHANNEL = 9
_LOG_LEVELS = range(5)  # FLUID_PANIC .. FLUID_DBG


class _Synth:
    """One FluidSynth instance with one SoundFont loaded, rendering single notes into arrays."""

    def __init__(self, font: Path, sample_rate: int) -> None:
        self._library = library = _load_fluidsynth()
        for level in _LOG_LEVELS:  # quiet: failures are reported through return codes instead
            library.fluid_set_log_function(level, None, None)
        self._settings = library.new_fluid_settings()
        library.fluid_settings_setnum(self._settings, b"synth.sample-rate", float(sample_rate))
        library.fluid_settings_setnum(self._settings, b"synth.gain", SYNTH_GAIN)
        library.fluid_settings_setint(self._settings, b"synth.reverb.active", 0)
        library.fluid_settings_setint(self._settings, b"synth.chorus.active", 0)
        library.fluid_settings_setint(self._settings, b"synth.cpu-cores", 1)
        self._synth = library.new_fluid_synth(self._settings)
        if not self._synth:
            library.delete_fluid_settings(self._settings)
            raise DkvaeError("FluidSynth could not start a synthesizer")
        self._font_id = library.fluid_synth_sfload(self._synth, os.fsencode(font), 1)
        if self._font_id < 0:
            self.close()
            raise DkvaeError(f"Cannot read SoundFont {font}: FluidSynth could not load it")
        self.sample_rate = sample_rate

    def select(self, preset: Preset) -> bool:
        """Play `preset` on the drum channel; False if FluidSynth has no such preset."""
        status = self._library.fluid_synth_program_select(
            self._synth, _DRUM_CHANNEL, self._font_id, preset.bank, preset.program
        )
        return status == 0

    def _write(self, frames: int) -> np.ndarray:
        buffer = np.zeros((frames, 2), dtype=np.float32)
        address = buffer.ctypes.data
        self._library.fluid_synth_write_float(self._synth, frames, address, 0, 2, address, 1, 2)
        return buffer

    def render_note(self, key: int, velocity: int, hold_seconds: float, max_seconds: float) -> tuple[np.ndarray, bool]:
        """Render one note: ``((samples, 2) float32 stereo, whether it still sounded at max_seconds)``.

        FluidSynth reuses voices, and a reused voice's first block (64 frames) ramps from what its
        previous note left behind. So the note is played twice and the second take kept: its first
        block then depends only on this note, and equal sounds render to equal bytes.
        """
        first = self._take(key, velocity, hold_seconds, max_seconds)
        if not first[0].any():
            return first  # silent: the key is not in this kit, and a second take would be silent too
        return self._take(key, velocity, hold_seconds, max_seconds)

    def _take(self, key: int, velocity: int, hold_seconds: float, max_seconds: float) -> tuple[np.ndarray, bool]:
        library = self._library
        hold = max(1, round(hold_seconds * self.sample_rate / _BLOCK)) * _BLOCK
        limit = max(hold, round(max_seconds * self.sample_rate / _BLOCK) * _BLOCK)
        library.fluid_synth_noteon(self._synth, _DRUM_CHANNEL, key, velocity)
        parts, frames = [self._write(hold)], hold
        library.fluid_synth_noteoff(self._synth, _DRUM_CHANNEL, key)
        while frames < limit and library.fluid_synth_get_active_voice_count(self._synth) > 0:
            count = min(_CHUNK_BLOCKS * _BLOCK, limit - frames)
            parts.append(self._write(count))
            frames += count
        sounding = library.fluid_synth_get_active_voice_count(self._synth) > 0
        library.fluid_synth_all_sounds_off(self._synth, _DRUM_CHANNEL)
        self._write(_BLOCK)  # let the killed voices finish so the next note starts clean
        return np.concatenate(parts), sounding

    def close(self) -> None:
        if self._synth:
            self._library.delete_fluid_synth(self._synth)
            self._synth = None
        if self._settings:
            self._library.delete_fluid_settings(self._settings)
            self._settings = None


def _pcm16(audio: np.ndarray) -> np.ndarray:
    """What a 16-bit WAV of `audio` (in [-1, 1]) holds: libsndfile scales by 32767 and rounds."""
    return np.rint(audio * 32767.0).astype("<i2")


# --- importing -----------------------------------------------------------------------------------


def import_soundfont(
    out: str | os.PathLike[str],
    source: str | os.PathLike[str],
    progress: Progress | None = None,
    *,
    presets: Iterable[str | tuple[int, int]] | None = None,
    keys: Iterable[int] | None = None,
    velocities: Sequence[int] = DEFAULT_VELOCITIES,
) -> SoundfontReport:
    """Render the drum kits of the SoundFont `source` into the bank at `out`; return what was done.

    Every drum-kit preset (see the module doc) plays each General MIDI percussion key 35..81 that maps
    to a drum class at each of `velocities`, at 44.1 kHz stereo (mono where both channels are equal),
    held `HOLD_SECONDS`, rendered until its voices end or `MAX_RENDER_SECONDS`, then cut where it
    decayed to `DECAY_DB` below its peak. Each render becomes
    ``out/<class>/<font>__<preset>__<key>_v<velocity>.wav`` with a manifest row (source: the Debian
    package that installed the font, else "soundfont"; kit: the preset name; instrument: the GM key
    name, or in a kit outside bank 128 its sample names, see `key_instrument`; note; velocity 1..127;
    license; group ``font/preset/key`` so a key's velocities share a split; bank and program). The
    class is the key's (`key_class`). Silent renders (keys the kit lacks) are counted in
    ``report.silent``; exact duplicates of an earlier render are skipped as "duplicate of ...".
    `out/LICENSES.md` is rewritten. `presets` (names or ``(bank, program)`` pairs) overrides the
    detection (any preset can be rendered as a kit, and a kit the rule misses can be named); `keys`
    narrows the import, mainly for tests. `progress(done, total)` is called after each render.

    Raises DkvaeError if `source` is missing, not a SoundFont, has no drum-kit preset (or none of
    `presets`), or if FluidSynth is not installed.
    """
    font = Path(source).expanduser()
    all_presets = read_presets(font)
    if presets is None:
        chosen = drum_presets(all_presets, font.stem)
        if not chosen:
            raise DkvaeError(
                f"No drum-kit presets (bank {DRUM_BANK}, named or laid out like a kit) in SoundFont {font}"
            )
    else:
        wanted = list(presets)
        chosen = sorted(
            (p for p in all_presets if p.name in wanted or (p.bank, p.program) in wanted),
            key=lambda preset: (preset.bank, preset.program),
        )
        if not chosen:
            raise DkvaeError(f"None of the presets {wanted} is in SoundFont {font}")
    key_list = [key for key in (GM_DRUM_KEYS if keys is None else keys) if gm_note_class(key)]
    velocity_list = [int(velocity) for velocity in velocities]
    if any(not 1 <= velocity <= 127 for velocity in velocity_list):
        raise DkvaeError(f"MIDI velocities must be 1..127, got {velocity_list}")

    installed = installed_by([font]).get(font)
    source_name = installed[0] if installed else OTHER_SOURCE
    license = (debian_license(installed[0], installed[1]) if installed else None) or UNKNOWN_LICENSE
    font_stem = safe_name(font.stem)
    report = SoundfontReport()
    total = len(chosen) * len(key_list) * len(velocity_list)
    done = 0
    seen: dict[str, str] = {}  # hash of the 16-bit audio -> the render that first had it
    taken_stems: set[str] = set()
    fade = round(FADE_SECONDS * RENDER_SAMPLE_RATE)
    synth = _Synth(font, RENDER_SAMPLE_RATE)
    try:
        with BankWriter(out) as writer:
            for preset in chosen:
                preset_stem = unique_name(safe_name(preset.name), taken_stems)
                if not synth.select(preset):
                    report.skipped.append((f"{font.name}/{preset.name}", "FluidSynth cannot select this preset"))
                    done += len(key_list) * len(velocity_list)
                    continue
                written = 0
                for key in key_list:
                    label = key_class(preset, key)
                    assert label is not None
                    group = f"{font_stem}/{preset_stem}/{key}"
                    for velocity in velocity_list:
                        item = f"{group}_v{velocity}"
                        audio, sounding = synth.render_note(key, velocity, HOLD_SECONDS, MAX_RENDER_SECONDS)
                        done += 1
                        if np.abs(audio).max(initial=0.0) <= 10.0 ** (SILENCE_FLOOR_DB / 20.0):
                            report.silent += 1
                        else:
                            rendered = len(audio)
                            audio = np.clip(cut_at_decay(audio, DECAY_DB, fade), -1.0, 1.0)
                            # still above the decay level when the render stopped: cut at the limit
                            sounding = sounding and len(audio) > rendered - _BLOCK * _CHUNK_BLOCKS
                            if np.array_equal(audio[:, 0], audio[:, 1]):
                                audio = audio[:, 0]
                            digest = hashlib.sha256(_pcm16(audio).tobytes() + bytes([audio.ndim])).hexdigest()
                            if digest in seen:
                                report.skipped.append((item, f"duplicate of {seen[digest]}"))
                            else:
                                seen[digest] = item
                                if sounding:
                                    report.cut_at_limit.append(item)
                                writer.write_audio(
                                    label,
                                    f"{font_stem}__{preset_stem}__{key}_v{velocity}.wav",
                                    audio,
                                    RENDER_SAMPLE_RATE,
                                    source=source_name,
                                    kit=preset.name,
                                    instrument=key_instrument(preset, key),
                                    license=license,
                                    note=key,
                                    velocity=velocity,
                                    group=group,
                                    bank=preset.bank,
                                    program=preset.program,
                                )
                                report.counts[label] += 1
                                written += 1
                        if progress:
                            progress(done, total)
                if written:
                    report.kits += 1
    finally:
        synth.close()
    write_licenses(Path(out))
    return report
