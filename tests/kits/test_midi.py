"""The shared drum MIDI writer, read back by mido."""

import io

import mido

from dkvae.kits.midi import MIDI_DRUM_CHANNEL, MIDI_NOTE_TICKS, MIDI_TICKS_PER_BEAT, drum_midi


def read_back(midi: mido.MidiFile) -> mido.MidiFile:
    buffer = io.BytesIO()
    midi.save(file=buffer)
    buffer.seek(0)
    return mido.MidiFile(file=buffer)


def test_hits_become_held_notes_on_the_drum_channel_at_their_ticks():
    midi = read_back(drum_midi([(480, 38, 90), (0, 36, 120)], "groove", 100, 4 * MIDI_TICKS_PER_BEAT))
    assert midi.type == 0 and midi.ticks_per_beat == MIDI_TICKS_PER_BEAT
    tick, timeline = 0, []
    for message in midi.tracks[0]:
        tick += message.time
        timeline.append((tick, message.type, getattr(message, "note", None), getattr(message, "velocity", None)))
    notes = [event for event in timeline if event[1] in ("note_on", "note_off")]
    assert notes == [
        (0, "note_on", 36, 120),
        (MIDI_NOTE_TICKS, "note_off", 36, 0),
        (480, "note_on", 38, 90),
        (480 + MIDI_NOTE_TICKS, "note_off", 38, 0),
    ]
    assert all(m.channel == MIDI_DRUM_CHANNEL for m in midi.tracks[0] if m.type.startswith("note"))
    assert timeline[-1][:2] == (4 * MIDI_TICKS_PER_BEAT, "end_of_track")
    tempo = next(m.tempo for m in midi.tracks[0] if m.type == "set_tempo")
    assert round(mido.tempo2bpm(tempo)) == 100


def test_a_repeated_hit_ends_its_previous_note_before_starting_again():
    midi = drum_midi([(0, 42, 80), (MIDI_NOTE_TICKS, 42, 70)], "hats", 120, 2 * MIDI_NOTE_TICKS)
    kinds = [m.type for m in midi.tracks[0] if m.type.startswith("note")]
    assert kinds == ["note_on", "note_off", "note_on", "note_off"]


def test_hits_past_the_length_keep_the_end_after_the_last_event():
    midi = read_back(drum_midi([(100, 36, 100)], "short", 90, 50))
    assert sum(m.time for m in midi.tracks[0]) == 100 + MIDI_NOTE_TICKS
