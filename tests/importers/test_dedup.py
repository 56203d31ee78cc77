"""Tests for duplicate removal: the fingerprint's invariances, exact and near copies, and the bank update."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from dkvae.data.layout import BankWriter
from dkvae.importers.dedup import (
    DUPLICATES_NAME,
    NEAR_DUPLICATE_DB,
    audio_digest,
    find_duplicates,
    fingerprint,
    remove_duplicates,
)
from dkvae.sound.audio import resample
from tests.conftest import drum_hit

RATE = 44100


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


@pytest.fixture
def hit() -> np.ndarray:
    return drum_hit("tone", 0.6, RATE, seed=3)


def test_fingerprint_ignores_gain_silence_channels_and_rate(hit):
    reference = fingerprint(hit, RATE)
    quieter = fingerprint(hit * 0.1, RATE)
    delayed = fingerprint(np.concatenate([np.zeros(3000, np.float32), hit]), RATE)
    stereo = fingerprint(np.stack([hit, hit], axis=1), RATE)
    other_rate = fingerprint(resample(hit, RATE, 48000), 48000)
    for variant in (quieter, delayed, stereo, other_rate):
        assert distance(reference, variant) < NEAR_DUPLICATE_DB / 3


def test_fingerprint_separates_different_drums(hit):
    reference = fingerprint(hit, RATE)
    assert distance(reference, fingerprint(drum_hit("noise", 0.6, RATE, seed=3), RATE)) > 10 * NEAR_DUPLICATE_DB
    # the same kind of drum, tuned differently (another seed moves the pitch by 5 Hz per step)
    assert distance(reference, fingerprint(drum_hit("tone", 0.6, RATE, seed=9), RATE)) > NEAR_DUPLICATE_DB


def test_fingerprint_of_silence_is_finite():
    assert np.isfinite(fingerprint(np.zeros(1000, np.float32), RATE)).all()


def pcm16(audio: np.ndarray) -> np.ndarray:
    """16-bit samples: writing them is lossless in WAV and FLAC alike (floats are scaled per container)."""
    return np.round(audio * 32767).astype(np.int16)


def test_audio_digest_equal_across_containers(tmp_path, hit):
    sf.write(tmp_path / "a.wav", pcm16(hit), RATE)
    sf.write(tmp_path / "a.flac", pcm16(hit), RATE)
    wav, _ = sf.read(tmp_path / "a.wav", dtype="int16")
    flac, _ = sf.read(tmp_path / "a.flac", dtype="int16")
    assert audio_digest(wav) == audio_digest(flac)
    assert audio_digest(wav) != audio_digest(wav // 2)


def test_find_duplicates_exact_near_and_distinct(tmp_path, hit):
    files = {
        "a.wav": hit,
        "b.flac": hit,  # the same recording in another container
        "c.wav": hit * 0.3,  # a gain-only velocity layer
        "d.wav": drum_hit("noise", 0.6, RATE, seed=1),
        "e.wav": drum_hit("tone", 0.6, RATE, seed=8),
    }
    for name, audio in files.items():
        sf.write(tmp_path / name, pcm16(audio), RATE)
    (tmp_path / "f.wav").write_bytes(b"RIFF not really")
    names = list(files) + ["f.wav"]
    duplicates, unreadable = find_duplicates([tmp_path / name for name in names], names)
    assert [(d.file, d.duplicate_of, d.kind) for d in duplicates] == [("b.flac", "a.wav", "exact"), ("c.wav", "a.wav", "near")]
    assert duplicates[1].distance_db < NEAR_DUPLICATE_DB
    assert [name for name, _ in unreadable] == ["f.wav"]
    assert "cannot decode" in unreadable[0][1]


def test_remove_duplicates_updates_the_bank_and_keeps_link_targets(tmp_path, hit):
    library = tmp_path / "library"
    library.mkdir()
    sf.write(library / "original.wav", hit, RATE)
    bank = tmp_path / "bank"
    with BankWriter(bank) as writer:
        writer.write_audio("kick", "a.wav", hit, RATE, source="test", group="a")
        writer.write_audio("kick", "b.wav", hit * 0.5, RATE, source="test", group="b")
        writer.write_audio("snare", "c.wav", drum_hit("noise", 0.6, RATE), RATE, source="test", group="c")
        link = bank / "kick" / "d.wav"
        os.symlink(library / "original.wav", link)
        writer.record("kick", "d.wav", source="test", group="d")

    dropped = remove_duplicates(bank)
    assert sorted(d.file for d in dropped) == ["kick/b.wav", "kick/d.wav"]
    assert not (bank / "kick" / "b.wav").exists() and not link.is_symlink()
    assert (library / "original.wav").exists()
    manifest = pd.read_csv(bank / "manifest.csv")
    assert sorted(manifest["original_path"]) == ["kick/a.wav", "snare/c.wav"]
    listing = pd.read_csv(bank / DUPLICATES_NAME)
    assert sorted(listing["file"]) == ["kick/b.wav", "kick/d.wav"]

    assert remove_duplicates(bank) == []  # a second run finds nothing more and keeps the listing
    assert sorted(pd.read_csv(bank / DUPLICATES_NAME)["file"]) == ["kick/b.wav", "kick/d.wav"]
