"""Tests for the procedural drum synthesizer and the synthetic bank writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from dkvae.core.classes import CLASSES
from dkvae.importers.synth import LENGTH_RANGES, synthesize, synthesize_sound, write_synth_bank

SAMPLE_RATE = 44100
#: Fixed generator seeds for the statistical checks, so they are deterministic.
SEEDS = range(20)


def sounds(instrument: str) -> list[np.ndarray]:
    """The sounds of `instrument` for `SEEDS`, as float64 arrays."""
    return [synthesize(instrument, np.random.default_rng([7, seed])).astype(np.float64) for seed in SEEDS]


def power_spectrum(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (Hz) and power of `audio`'s whole-length spectrum."""
    return np.fft.rfftfreq(len(audio), 1.0 / SAMPLE_RATE), np.abs(np.fft.rfft(audio)) ** 2


def spectral_centroid(audio: np.ndarray) -> float:
    """Power-weighted mean frequency, in Hz."""
    frequencies, power = power_spectrum(audio)
    return float((frequencies * power).sum() / power.sum())


def energy_below(audio: np.ndarray, hz: float) -> float:
    """Fraction of `audio`'s energy below `hz`."""
    frequencies, power = power_spectrum(audio)
    return float(power[frequencies < hz].sum() / power.sum())


def count_onsets(audio: np.ndarray, seconds: float = 0.04, rise_db: float = 10.0) -> int:
    """How many times the 3 ms energy envelope of the first `seconds` rises `rise_db` above its last trough."""
    window = round(0.003 * SAMPLE_RATE)
    padded = np.concatenate([np.zeros(2 * window), audio[: round(seconds * SAMPLE_RATE)]])
    level = 10.0 * np.log10(np.convolve(padded**2, np.ones(window) / window, mode="valid") + 1e-10)
    count, trough, peak, rising = 0, np.inf, -np.inf, True
    for value in level:
        if rising:
            trough = min(trough, value)
            if value > trough + rise_db:
                count, peak, rising = count + 1, value, False
        else:
            peak = max(peak, value)
            if value < peak - rise_db:
                trough, rising = value, True
    return count


@settings(max_examples=50, deadline=None)
@given(
    instrument=st.sampled_from(CLASSES),
    seed=st.integers(0, 2**32 - 1),
    sample_rate=st.sampled_from([22050, 44100, 48000]),
)
def test_every_class_gives_finite_levelled_audio_of_its_length(instrument: str, seed: int, sample_rate: int) -> None:
    audio = synthesize(instrument, np.random.default_rng(seed), sample_rate)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert np.isfinite(audio).all()
    low, high = LENGTH_RANGES[instrument]
    assert low - 1 / sample_rate <= len(audio) / sample_rate <= high + 1 / sample_rate
    peak_db = 20 * np.log10(np.max(np.abs(audio)))
    assert -3.01 <= peak_db <= -0.99
    assert abs(audio[-1]) < 1e-6, "sounds end with a fade"


@pytest.mark.parametrize("instrument", CLASSES)
def test_same_seed_same_sound_and_new_seed_new_sound(instrument: str) -> None:
    first = synthesize(instrument, np.random.default_rng([1, 2, 3]))
    again = synthesize(instrument, np.random.default_rng([1, 2, 3]))
    other = synthesize(instrument, np.random.default_rng([1, 2, 4]))
    np.testing.assert_array_equal(first, again)
    assert len(first) != len(other) or not np.array_equal(first, other)


def test_unknown_class_is_a_value_error_naming_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="kick, snare, hihat"):
        synthesize("cowbell", np.random.default_rng(0))


def test_kick_energy_is_below_200_hz() -> None:
    for audio in sounds("kick"):
        assert energy_below(audio, 200.0) > 0.6
        assert spectral_centroid(audio) < 250.0


def test_hihat_and_cymbal_are_far_brighter_than_kick_and_tom() -> None:
    brightest_low_drum = max(spectral_centroid(audio) for name in ("kick", "tom") for audio in sounds(name))
    for name in ("hihat", "cymbal"):
        assert min(spectral_centroid(audio) for audio in sounds(name)) > max(5000.0, 10 * brightest_low_drum)


def test_cymbals_ring_longer_than_hihats() -> None:
    assert min(map(len, sounds("cymbal"))) > max(map(len, sounds("hihat")))


def test_tom_pitch_is_in_its_range() -> None:
    for seed in SEEDS:
        sound = synthesize_sound("tom", np.random.default_rng(seed))
        frequencies, power = power_spectrum(sound.audio.astype(np.float64))
        assert 80.0 <= sound.pitch_hz <= 300.0
        assert 70.0 <= frequencies[np.argmax(power)] <= 1.5 * 300.0


def test_snare_has_a_tonal_body_and_bright_noise() -> None:
    for audio in sounds("snare"):
        frequencies, power = power_spectrum(audio)
        assert 150.0 <= frequencies[np.argmax(power)] <= 250.0
        assert 1.0 - energy_below(audio, 1000.0) > 0.03


def test_clap_has_several_onsets_in_its_first_40_ms() -> None:
    claps = [count_onsets(audio) for audio in sounds("clap")]
    assert min(claps) >= 3 and max(claps) <= 4
    assert all(count_onsets(audio) == 1 for name in ("kick", "hihat", "cymbal") for audio in sounds(name))


def test_variants_are_named_and_varied() -> None:
    variants = {synthesize_sound("perc", np.random.default_rng(seed)).variant for seed in range(60)}
    assert variants == {"cowbell", "clave", "woodblock", "shaker", "conga", "bongo"}
    hats = {synthesize_sound("hihat", np.random.default_rng(seed)).variant for seed in SEEDS}
    assert hats == {"closed hihat", "open hihat"}


def bank_files(root: Path) -> dict[str, bytes]:
    """Every file in the bank at `root` (relative path -> bytes)."""
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def test_bank_has_readable_wavs_and_a_labelled_manifest(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    def progress(done: int, total: int) -> None:
        calls.append((done, total))

    root = write_synth_bank(tmp_path / "bank", per_class=3, seed=5, workers=1, progress=progress)
    wavs = sorted(root.glob("*/*.wav"))
    assert len(wavs) == 21
    for path in wavs:
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype, info.format) == (SAMPLE_RATE, 1, "PCM_16", "WAV")
        assert path.parent.name in CLASSES and path.name.startswith(f"synth_{path.parent.name}_")
    manifest = pd.read_csv(root / "manifest.csv")
    assert len(manifest) == 21
    assert sorted(manifest["original_path"]) == [f"{path.parent.name}/{path.name}" for path in wavs]
    assert (manifest["label"] == manifest["original_path"].str.split("/").str[0]).all()
    assert manifest["label"].value_counts().to_dict() == {name: 3 for name in CLASSES}
    assert (manifest["source"] == "dkvae-synth").all() and (manifest["seed"] == 5).all()
    assert calls[-1] == (21, 21) and [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert "synth_kick_000002.wav" in {path.name for path in wavs}


def test_bank_is_the_same_for_any_worker_count_and_on_rerun(tmp_path: Path) -> None:
    serial = write_synth_bank(tmp_path / "serial", per_class=3, seed=9, workers=1)
    parallel = write_synth_bank(tmp_path / "parallel", per_class=3, seed=9, workers=2)
    expected = bank_files(serial)
    assert bank_files(parallel) == expected
    write_synth_bank(serial, per_class=3, seed=9, workers=2)
    assert bank_files(serial) == expected


def test_bank_sound_depends_on_class_and_index(tmp_path: Path) -> None:
    root = write_synth_bank(tmp_path / "bank", per_class=2, seed=0, workers=1)
    kick = sf.read(root / "kick" / "synth_kick_000001.wav")[0]
    np.testing.assert_allclose(kick, synthesize("kick", np.random.default_rng([0, 0, 1])), atol=1 / 2**15)
    assert bank_files(root)["kick/synth_kick_000000.wav"] != bank_files(root)["kick/synth_kick_000001.wav"]
