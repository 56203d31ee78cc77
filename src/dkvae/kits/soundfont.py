"""Write a `Kit` as a SoundFont 2 (``.sf2``) drum kit: one file for FluidSynth, sf2 players and GM synths.

One preset on bank 128, program 0 (where General MIDI looks for its standard drum kit), playing one
instrument whose zones put each pad's first sound on the pad's key: SoundFont has no round robins.
Every zone plays its sample at its recorded pitch (the key is the sample's root key) and, since a
SoundFont voice stops on note-off after its release, with a 20-second release, so a short note still
plays the whole one-shot. Pads in a choke group share an exclusive class: a closed or pedal hat cuts
an open hat off. Samples are 16-bit (format 2.01), or 24-bit through the ``sm24`` chunk (2.04) when
`bit_depth` is 24. The layout follows the SoundFont 2.04 specification (E-mu/Creative, 2006).
"""

from __future__ import annotations

import os
import struct
import unicodedata
from pathlib import Path

import numpy as np

from dkvae.core.atomic import atomic_path
from dkvae.kits.kit import Kit
from dkvae.sound.soundfont_format import (
    BAG_RECORD,
    DRUM_BANK,
    EXCLUSIVE_CLASS_GENERATOR,
    GENERATOR_RECORD,
    INSTRUMENT_GENERATOR,
    INSTRUMENT_RECORD,
    KEY_RANGE_GENERATOR,
    MODULATOR_RECORD_SIZE,
    PHDR_RECORD,
    RELEASE_VOL_ENV_GENERATOR,
    ROOT_KEY_GENERATOR,
    SAMPLE_GENERATOR,
    SAMPLE_RECORD,
)
from dkvae.sound.wav import check_bit_depth

#: The program General MIDI plays its standard drum kit on, in `DRUM_BANK`.
DRUM_PROGRAM = 0
#: Zero sample points the specification asks for after every sample (interpolators read past the end).
SAMPLE_GAP = 46
#: Release time of every zone: long enough that a note-off never cuts a one-shot short.
RELEASE_SECONDS = 20.0
#: sfSampleType of a mono sample.
MONO_SAMPLE = 1
NAME_BYTES = 20


def _ascii(text: str) -> bytes:
    """`text` in the ASCII a SoundFont holds: accents dropped (ö -> o), other characters as "?", one line."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(plain.split()).encode("ascii", "replace")


def _name(text: str) -> bytes:
    """A 20-byte, NUL-padded record name: at most 19 characters."""
    return _ascii(text)[: NAME_BYTES - 1].ljust(NAME_BYTES, b"\0")


def _chunk(chunk_id: bytes, data: bytes) -> bytes:
    """A RIFF chunk, padded to an even length."""
    return chunk_id + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")


def _list(list_type: bytes, *chunks: bytes) -> bytes:
    return _chunk(b"LIST", list_type + b"".join(chunks))


def _text(chunk_id: bytes, text: str, limit: int = 255) -> bytes:
    """An INFO text chunk: at most `limit` bytes of ASCII, NUL-terminated and padded to an even length."""
    data = _ascii(text)[: limit - 1] + b"\0"
    return _chunk(chunk_id, data + (b"\0" if len(data) % 2 else b""))


def _generator(operator: int, amount: int) -> bytes:
    return GENERATOR_RECORD.pack(operator, amount)


def _key_range(key: int) -> bytes:
    """A zone on the one key `key` (the range's low key in the amount's low byte, its high key in the high byte)."""
    return _generator(KEY_RANGE_GENERATOR, key | key << 8)


def _sample_data(kit: Kit, bit_depth: int) -> tuple[np.ndarray, np.ndarray | None, list[tuple[int, int]]]:
    """The ``smpl`` points (int16), the ``sm24`` bytes for 24 bits (else None), and each pad's (start, end)."""
    full_scale = 2 ** (bit_depth - 1) - 1
    parts, spans, position = [], [], 0
    for kit_pad in kit.pads:
        audio = np.clip(np.asarray(kit_pad.sounds[0].audio, np.float64), -1.0, 1.0)
        points = np.rint(audio * full_scale).astype(np.int32)
        parts += [points, np.zeros(SAMPLE_GAP, np.int32)]
        spans.append((position, position + len(points)))
        position += len(points) + SAMPLE_GAP
    every = np.concatenate(parts + [np.zeros(position % 2, np.int32)])  # an even count: sm24 has no pad byte
    if bit_depth == 24:
        return (every >> 8).astype("<i2"), (every & 0xFF).astype(np.uint8), spans
    return every.astype("<i2"), None, spans


def _instrument_zones(kit: Kit) -> list[bytes]:
    """Each pad's zone generators, in the order the specification requires (key range first, sample last)."""
    release = round(1200 * np.log2(RELEASE_SECONDS))
    zones = []
    for index, kit_pad in enumerate(kit.pads):
        pad = kit_pad.pad
        generators = [
            _key_range(pad.note),
            _generator(RELEASE_VOL_ENV_GENERATOR, release),
            _generator(ROOT_KEY_GENERATOR, pad.note),
        ]
        if pad.choke_group:
            generators.append(_generator(EXCLUSIVE_CLASS_GENERATOR, pad.choke_group))
        generators.append(_generator(SAMPLE_GENERATOR, index))
        zones.append(b"".join(generators))
    return zones


def _hydra(kit: Kit, spans: list[tuple[int, int]]) -> bytes:
    """The ``pdta`` list: one preset, one instrument with a zone per pad, one sample header per pad."""
    zones = _instrument_zones(kit)
    preset_headers = PHDR_RECORD.pack(_name(kit.name), DRUM_PROGRAM, DRUM_BANK, 0, 0, 0, 0)
    preset_headers += PHDR_RECORD.pack(_name("EOP"), 0, 0, 1, 0, 0, 0)
    instrument_bags = b"".join(
        BAG_RECORD.pack(sum(len(zone) for zone in zones[:index]) // GENERATOR_RECORD.size, 0)
        for index in range(len(zones) + 1)
    )
    sample_headers = b"".join(
        SAMPLE_RECORD.pack(_name(kit_pad.pad.name), start, end, start, end, kit.sample_rate,
                           kit_pad.pad.note, 0, 0, MONO_SAMPLE)
        for kit_pad, (start, end) in zip(kit.pads, spans)
    )  # fmt: skip
    sample_headers += SAMPLE_RECORD.pack(_name("EOS"), 0, 0, 0, 0, 0, 0, 0, 0, 0)
    instruments = INSTRUMENT_RECORD.pack(_name(kit.name), 0) + INSTRUMENT_RECORD.pack(_name("EOI"), len(zones))
    no_modulators = bytes(MODULATOR_RECORD_SIZE)
    return _list(
        b"pdta",
        _chunk(b"phdr", preset_headers),
        _chunk(b"pbag", BAG_RECORD.pack(0, 0) + BAG_RECORD.pack(1, 0)),
        _chunk(b"pmod", no_modulators),
        _chunk(b"pgen", _generator(INSTRUMENT_GENERATOR, 0) + bytes(GENERATOR_RECORD.size)),
        _chunk(b"inst", instruments),
        _chunk(b"ibag", instrument_bags),
        _chunk(b"imod", no_modulators),
        _chunk(b"igen", b"".join(zones) + bytes(GENERATOR_RECORD.size)),
        _chunk(b"shdr", sample_headers),
    )


def soundfont_bytes(kit: Kit, bit_depth: int = 16) -> bytes:
    """The whole ``.sf2`` file of `kit` (16- or 24-bit samples)."""
    check_bit_depth(bit_depth)
    points, low_bytes, spans = _sample_data(kit, bit_depth)
    minor = 4 if low_bytes is not None else 1
    info = _list(
        b"INFO",
        _chunk(b"ifil", struct.pack("<HH", 2, minor)),
        _text(b"isng", "EMU8000"),
        _text(b"INAM", kit.name),
        _text(b"IENG", kit.author),
        _text(b"ICOP", kit.license),
        _text(b"ICMT", f"made by dkvae; {len(kit.pads)} pads on General MIDI notes; {kit.sample_rate} Hz", 65535),
        _text(b"ISFT", "dkvae"),
    )
    sample_chunks = [_chunk(b"smpl", points.tobytes())]
    if low_bytes is not None:
        sample_chunks.append(_chunk(b"sm24", low_bytes.tobytes()))
    body = b"sfbk" + info + _list(b"sdta", *sample_chunks) + _hydra(kit, spans)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def write_soundfont(kit: Kit, path: str | os.PathLike[str], bit_depth: int = 16) -> Path:
    """Write `kit` as the SoundFont `path` (``.sf2``), atomically: an interrupted write leaves `path` as it was."""
    data = soundfont_bytes(kit, bit_depth)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)
    return Path(path)
