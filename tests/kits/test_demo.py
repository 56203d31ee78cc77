"""Tests for the demo groove: the MIDI file read back by mido, and the rendered WAV's chokes and round robins."""

from __future__ import annotations

import mido
import numpy as np
import pytest
import soundfile as sf

from dkvae.kits.demo import GROOVE, STEPS_PER_BEAT, TEMPO_BPM, groove_midi, render_demo, write_demo
from dkvae.kits.kit import Kit, KitPad, KitSound
from dkvae.kits.layout import PADS

RATE = 44100
STEP = 60.0 / TEMPO_BPM / STEPS_PER_BEAT


def tone(frequency: float, seconds: float) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


@pytest.fixture
def kit() -> Kit:
    """Each pad a steady sine of its own frequency; the kick has two round robins of different frequencies."""
    pads = []
    for index, pad in enumerate(PADS):
        sounds = [KitSound(tone(200.0 + 150.0 * index, 0.1), {})]
        if pad.name == "open_hat":
            sounds = [KitSound(tone(5000.0, 3.0), {})]
        if pad.name == "kick":
            sounds = [KitSound(tone(60.0, 0.3), {}), KitSound(tone(90.0, 0.3), {})]
        pads.append(KitPad(pad, sounds))
    return Kit("Test Kit", RATE, pads)


def level(audio: np.ndarray, start: float, seconds: float, frequency: float) -> float:
    """Amplitude of `frequency` in a window of `audio`."""
    segment = audio[round(start * RATE) : round((start + seconds) * RATE)].astype(np.float64)
    t = np.arange(len(segment)) / RATE
    return 2 * abs(np.mean(segment * np.exp(-2j * np.pi * frequency * t)))


def test_the_midi_file_plays_the_groove_on_the_kits_gm_notes(kit, tmp_path) -> None:
    groove_midi(kit).save(tmp_path / "demo.mid")
    midi = mido.MidiFile(tmp_path / "demo.mid")
    assert midi.type == 0 and midi.length == pytest.approx(2 * 4 * 60 / TEMPO_BPM)
    ons = [m for m in midi if m.type == "note_on" and m.velocity > 0]
    assert {m.channel for m in ons} == {9}
    notes = {pad.name: pad.note for pad in PADS}
    assert sorted(m.note for m in ons) == sorted(notes[name] for _, name, _ in GROOVE)
    tempo = next(m for m in midi.tracks[0] if m.type == "set_tempo").tempo
    assert mido.tempo2bpm(tempo) == pytest.approx(TEMPO_BPM)


def test_pads_a_kit_lacks_are_left_out_of_both_files(kit) -> None:
    kit.pads = [p for p in kit.pads if p.pad.name in ("kick", "snare")]
    assert {m.note for m in groove_midi(kit) if m.type == "note_on"} == {36, 38}
    assert np.abs(render_demo(kit)).max() > 0.5


def test_the_open_hat_rings_until_the_pedal_hat_chokes_it(kit) -> None:
    audio = render_demo(kit)
    open_at = next(step for step, name, _ in GROOVE if name == "open_hat") * STEP
    pedal_at = next(step for step, name, _ in GROOVE if name == "pedal_hat") * STEP
    assert level(audio, open_at + 0.05, 0.1, 5000.0) > 0.1
    assert level(audio, pedal_at - 0.1, 0.08, 5000.0) > 0.1
    assert level(audio, pedal_at + 0.03, 0.1, 5000.0) < 1e-3


def test_repeated_hits_take_turns_through_the_round_robins(kit) -> None:
    audio = render_demo(kit)
    kicks = [step * STEP for step, name, _ in GROOVE if name == "kick"]
    first, second = kicks[0], kicks[1]
    assert level(audio, first + 0.01, 0.1, 60.0) > 3 * level(audio, first + 0.01, 0.1, 90.0)
    assert level(audio, second + 0.01, 0.1, 90.0) > 3 * level(audio, second + 0.01, 0.1, 60.0)


def test_write_demo_writes_a_normalized_wav_and_a_midi_file(kit, tmp_path) -> None:
    wav, midi = write_demo(kit, tmp_path, bit_depth=24)
    audio, rate = sf.read(wav)
    assert rate == RATE and sf.info(wav).subtype == "PCM_24"
    assert 0.85 < np.abs(audio).max() <= 0.9
    assert len(audio) == pytest.approx((2 * 4 * 60 / TEMPO_BPM + 0.5) * RATE, abs=2)
    assert mido.MidiFile(midi).length > 4
