"""The SoundFont 2.04 file format's records and numbers, shared by the SoundFont importer and the kit writer.

Record layouts of the ``pdta`` chunk (little-endian, as `struct` formats) and the generator numbers
dkvae reads or writes (specification section 8.1.2).
"""

from __future__ import annotations

import struct

PHDR_RECORD = struct.Struct("<20sHHHIII")  # name, preset, bank, bag index, library, genre, morphology
BAG_RECORD = struct.Struct("<HH")  # generator index, modulator index
GENERATOR_RECORD = struct.Struct("<HH")  # operator, amount (a key range: low key byte, high key byte)
INSTRUMENT_RECORD = struct.Struct("<20sH")  # name, bag index
SAMPLE_RECORD = struct.Struct("<20sIIIIIBbHH")  # name, start, end, loops, rate, pitch, correction, link, type
MODULATOR_RECORD_SIZE = 10

#: Generator numbers: a zone's key range, what it plays (instrument or sample), and the settings the kit writer uses.
KEY_RANGE_GENERATOR = 43
INSTRUMENT_GENERATOR = 41
SAMPLE_GENERATOR = 53
RELEASE_VOL_ENV_GENERATOR = 38
EXCLUSIVE_CLASS_GENERATOR = 57
ROOT_KEY_GENERATOR = 58

#: The SoundFont bank that holds General MIDI percussion kits.
DRUM_BANK = 128
