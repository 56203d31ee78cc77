"""Drum hits as a type-0 General MIDI file: one writer for a kit's demo groove and the web page's pattern."""

from __future__ import annotations

from collections.abc import Iterable

import mido

MIDI_TICKS_PER_BEAT = 480
MIDI_DRUM_CHANNEL = 9
#: How long each hit's note is held; drum samplers play one-shots to their end whatever its length.
MIDI_NOTE_TICKS = 60
#: Both grids are sixteenth notes.
STEPS_PER_BEAT = 4


def drum_midi(hits: Iterable[tuple[int, int, int]], name: str, tempo_bpm: float, length_ticks: int) -> mido.MidiFile:
    """Hits ``(tick, note, velocity 1..127)`` as one track on the GM drum channel, lasting `length_ticks`.

    At equal ticks a note's end comes before the next note's start, so a repeated hit is never cut.
    """
    events = []
    for tick, note, velocity in hits:
        events.append((tick, 1, mido.Message("note_on", channel=MIDI_DRUM_CHANNEL, note=note, velocity=velocity)))
        off = mido.Message("note_off", channel=MIDI_DRUM_CHANNEL, note=note, velocity=0)
        events.append((tick + MIDI_NOTE_TICKS, 0, off))
    track = mido.MidiTrack(
        [mido.MetaMessage("track_name", name=name), mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm))]
    )
    now = 0
    for tick, _, message in sorted(events, key=lambda event: (event[0], event[1])):
        track.append(message.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=max(0, length_ticks - now)))
    return mido.MidiFile(type=0, ticks_per_beat=MIDI_TICKS_PER_BEAT, tracks=[track])
