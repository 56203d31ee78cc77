"""Class character and tail figures on constructed sounds whose answers are known: tones in noise, slaps, partials, jingles, decays."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dkvae.core.classes import CLASSES
from dkvae.measures.character import (
    CLASS_FIGURES,
    FIGURES,
    TAIL_FIGURES,
    band_energy_share,
    class_figures,
    dominant_frequency,
    end_level_db,
    envelope_peaks,
    jingle_modulation,
    partial_count,
    pitch_drop_semitones,
    ring_seconds,
    second_hit_db,
    tonal_share,
)
from dkvae.sound.audio import fade_out_curve

RATE = 44100


def times(seconds: float, rate: int = RATE) -> np.ndarray:
    return np.arange(round(seconds * rate)) / rate


def noise(seconds: float, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(round(seconds * RATE))


def band_noise(seconds: float, low_hz: float, high_hz: float, seed: int = 0) -> np.ndarray:
    """White noise with its spectrum outside ``[low_hz, high_hz)`` zeroed, scaled to unit RMS."""
    spectrum = np.fft.rfft(noise(seconds, seed))
    frequencies = np.fft.rfftfreq(round(seconds * RATE), 1.0 / RATE)
    spectrum[(frequencies < low_hz) | (frequencies >= high_hz)] = 0.0
    signal = np.fft.irfft(spectrum, round(seconds * RATE))
    return signal / np.sqrt(np.mean(signal**2))


def decay(seconds: float, db_per_second: float) -> np.ndarray:
    """An amplitude envelope falling `db_per_second` dB each second from 1."""
    return 10.0 ** (-db_per_second * times(seconds) / 20.0)


def sine(frequency: float, seconds: float) -> np.ndarray:
    return np.sin(2 * np.pi * frequency * times(seconds))


# ----------------------------------------------------------------------------- band energy share


def test_a_200_hz_tone_in_noise_holds_its_power_share_of_the_snare_band_and_noise_alone_its_bandwidth() -> None:
    t = times(0.1)
    tone = np.sqrt(2.0) * np.sin(2 * np.pi * 200.0 * t)  # power 1, beside noise of power 1
    shares = band_energy_share(np.stack([tone + noise(0.1), noise(0.1)]), RATE, 150.0, 250.0, seconds=0.1)
    bandwidth = 100.0 / (RATE / 2)
    assert shares[0] == pytest.approx(0.5 * (1.0 + bandwidth), abs=0.03)
    assert shares[1] == pytest.approx(bandwidth, abs=0.003)


def test_band_shares_of_adjacent_bands_sum_to_one_and_ignore_gain() -> None:
    sound = decay(0.3, 40.0) * noise(0.3, seed=1)
    low = band_energy_share(sound, RATE, 0.0, 1000.0)
    high = band_energy_share(sound, RATE, 1000.0, None)
    assert low.shape == (1,)
    assert low[0] + high[0] == pytest.approx(1.0, abs=1e-12)
    assert band_energy_share(1e-3 * sound, RATE, 0.0, 1000.0)[0] == pytest.approx(low[0], rel=1e-12)


def test_band_share_reads_only_its_stretch_of_the_sound() -> None:
    tone_then_noise = np.concatenate([sine(200.0, 0.1), 0.1 * noise(0.2)])
    assert band_energy_share(tone_then_noise, RATE, 150.0, 250.0, seconds=0.1)[0] > 0.99
    assert band_energy_share(tone_then_noise, RATE, 150.0, 250.0, seconds=0.1, start_seconds=0.1)[0] < 0.02


def test_band_share_of_silence_is_nan() -> None:
    assert np.isnan(band_energy_share(np.zeros(4410), RATE, 150.0, 250.0)[0])


# ----------------------------------------------------------------------------- pitch


def test_dominant_frequency_finds_a_tone_between_bins() -> None:
    assert dominant_frequency(sine(173.3, 0.2), RATE, 0.0, 0.2)[0] == pytest.approx(173.3, abs=0.2)


def test_a_tone_that_falls_an_octave_drops_twelve_semitones_and_a_steady_one_none() -> None:
    t = times(0.3)
    frequency = np.where(t < 0.05, 120.0, 60.0)
    falling = np.sin(2 * np.pi * np.cumsum(frequency) / RATE)
    drops = pitch_drop_semitones(np.stack([falling, sine(80.0, 0.3)]), RATE)
    assert drops[0] == pytest.approx(12.0, abs=0.3)
    assert drops[1] == pytest.approx(0.0, abs=0.1)


# ----------------------------------------------------------------------------- clap slaps


def slaps(count: int, gap_seconds: float, seed: int = 0) -> np.ndarray:
    """A clap: `count` bursts of 1-3 kHz noise `gap_seconds` apart, each decaying 3 ms, then a 40 ms tail from the last."""
    carrier = band_noise(0.3, 1000.0, 3000.0, seed)
    t = times(0.3)
    envelope = np.zeros_like(t)
    for k in range(count):
        since = t - k * gap_seconds
        time_constant = 0.040 if k == count - 1 else 0.003
        envelope = np.maximum(envelope, np.where(since >= 0, np.exp(-np.maximum(since, 0) / time_constant), 0.0))
    return envelope * carrier


def test_four_slaps_15_ms_apart_count_four_and_one_noise_burst_counts_one() -> None:
    burst = decay(0.3, 60.0) * band_noise(0.3, 1000.0, 3000.0, seed=3)
    counts = envelope_peaks(np.stack([slaps(4, 0.015), slaps(3, 0.025, seed=1), burst]), RATE)
    np.testing.assert_array_equal(counts, [4, 3, 1])


def test_a_hit_at_the_very_start_counts_though_nothing_precedes_it() -> None:
    onset_at_zero = np.exp(-times(0.1) / 0.010) * band_noise(0.1, 1000.0, 3000.0)
    assert envelope_peaks(onset_at_zero, RATE)[0] == 1


def test_slaps_closer_than_the_gap_or_past_the_stretch_do_not_count() -> None:
    assert envelope_peaks(slaps(4, 0.015), RATE, min_gap_seconds=0.020)[0] < 4
    assert envelope_peaks(slaps(4, 0.015), RATE, seconds=0.035)[0] == 3  # the fourth slap starts at 45 ms
    assert envelope_peaks(np.zeros(4410), RATE)[0] == 0


# ----------------------------------------------------------------------------- partials


def test_a_two_partial_cowbell_has_two_partials_and_noise_none() -> None:
    envelope = decay(0.3, 30.0)
    cowbell = envelope * (sine(540.0, 0.3) + 0.7 * sine(800.0, 0.3)) + 0.01 * noise(0.3)
    three = sine(300.0, 0.3) + sine(1200.0, 0.3) + sine(5000.0, 0.3)
    broad = band_noise(0.3, 1000.0, 3000.0)
    counts = partial_count(np.stack([cowbell, three, noise(0.3, seed=2), broad]), RATE)
    np.testing.assert_array_equal(counts, [2, 3, 0, 0])


def test_tonal_share_is_the_tones_share_of_the_power() -> None:
    tone_in_noise = np.sqrt(2.0) * sine(1000.0, 0.3) + noise(0.3, seed=4)  # tone and noise of power 1 each
    shares = tonal_share(np.stack([sine(1000.0, 0.3), tone_in_noise, noise(0.3, seed=5)]), RATE)
    assert shares[0] == pytest.approx(1.0, abs=1e-3)
    assert shares[1] == pytest.approx(0.5, abs=0.03)
    assert shares[2] == 0.0
    assert np.isnan(tonal_share(np.zeros(RATE), RATE)[0])


# ----------------------------------------------------------------------------- jingles


def test_an_amplitude_modulated_tone_reads_the_rms_of_its_modulation_in_db() -> None:
    depth, rate_hz = 0.5, 25.0  # the 40 ms trend spans one period exactly
    tone = (1.0 + depth * np.sin(2 * np.pi * rate_hz * times(0.5))) * sine(8000.0, 0.5)
    phase = np.linspace(0.0, 2 * np.pi, 10000, endpoint=False)
    level = 20.0 * np.log10(1.0 + depth * np.sin(phase))
    expected = float(np.sqrt(np.mean((level - level.mean()) ** 2)))
    assert jingle_modulation(tone, RATE)[0] == pytest.approx(expected, rel=0.05)


def test_jingles_flutter_and_a_smooth_noise_decay_does_not() -> None:
    smooth = decay(0.5, 40.0) * band_noise(0.5, 4000.0, 12000.0)
    t = times(0.5)
    clashes = np.zeros_like(t)
    for start in np.cumsum(np.random.default_rng(6).uniform(0.008, 0.025, 40)):  # irregular jingle strikes
        since = t - start
        clashes += np.where(since >= 0, np.exp(-np.maximum(since, 0) / 0.002), 0.0)
    jingling = decay(0.5, 40.0) * clashes * band_noise(0.5, 4000.0, 12000.0, seed=7)
    flutter = jingle_modulation(np.stack([smooth, jingling]), RATE)
    assert flutter[0] < 2.0
    assert flutter[1] > 5.0


def test_jingle_modulation_of_a_sound_without_the_band_is_nan() -> None:
    assert np.isnan(jingle_modulation(np.zeros(RATE), RATE)[0])


# ----------------------------------------------------------------------------- tails

#: The decays below fall 60 dB each second on a 1 kHz carrier (ten whole cycles in each 10 ms window).
DECAY_DB_PER_SECOND = 60.0


def decaying_tone(seconds: float) -> np.ndarray:
    return decay(seconds, DECAY_DB_PER_SECOND) * sine(1000.0, seconds)


@pytest.mark.parametrize("cut_seconds", [0.1, 0.3, 0.55])
def test_a_decay_cut_while_sounding_ends_at_its_level_at_the_cut(cut_seconds) -> None:
    # the last 10 ms window's mean square over the first window's is the envelope's over 0.01 .. cut - 0.01 s
    expected = -DECAY_DB_PER_SECOND * (cut_seconds - 0.010)
    assert end_level_db(decaying_tone(cut_seconds), RATE)[0] == pytest.approx(expected, abs=0.1)


def test_trailing_zeros_do_not_move_the_end_and_a_decay_that_rings_out_ends_far_down() -> None:
    cut = decaying_tone(0.3)
    padded = np.concatenate([cut, np.zeros(RATE)])
    assert end_level_db(padded, RATE)[0] == pytest.approx(end_level_db(cut, RATE)[0], abs=1e-9)
    assert end_level_db(decaying_tone(2.0), RATE)[0] < -100.0


def test_floor_db_ends_a_sound_where_a_saved_file_is_cut_not_in_the_haze_after_it() -> None:
    haze = 1e-4 * noise(0.4, seed=8)  # -80 dB under the peak sample
    hazy = np.concatenate([decaying_tone(0.3), haze])
    assert end_level_db(hazy, RATE)[0] < -70.0
    assert end_level_db(hazy, RATE, floor_db=-60.0)[0] == pytest.approx(-DECAY_DB_PER_SECOND * 0.29, abs=0.2)


def test_a_fade_over_the_last_window_lowers_the_end_level_by_a_half_cosines_mean_square() -> None:
    steady = sine(1000.0, 0.3)
    steady[-441:] *= fade_out_curve(441)
    assert end_level_db(steady, RATE)[0] == pytest.approx(10.0 * math.log10(3.0 / 8.0), abs=0.1)


def test_ring_seconds_is_the_end_of_the_last_window_above_the_threshold() -> None:
    # window k (from k * 10 ms) is 0.6 k dB under the first; the last at or above -33 dB is k = 55
    assert ring_seconds(decaying_tone(1.0), RATE, threshold_db=-33.0)[0] == pytest.approx(0.56, abs=1e-9)
    assert ring_seconds(decaying_tone(1.5), RATE, threshold_db=-45.3)[0] == pytest.approx(0.76, abs=1e-9)


def test_a_sound_cut_before_it_rings_out_reads_its_full_length() -> None:
    assert ring_seconds(decaying_tone(0.3), RATE)[0] == pytest.approx(0.3)
    assert np.isnan(ring_seconds(np.zeros(RATE), RATE)[0])
    assert np.isnan(end_level_db(np.zeros(RATE), RATE)[0])


# ----------------------------------------------------------------------------- figures by class


def test_every_class_has_character_figures_that_are_all_known() -> None:
    assert set(CLASS_FIGURES) == set(CLASSES)
    named = {name for names in CLASS_FIGURES.values() for name in names} | set(TAIL_FIGURES)
    assert named <= set(FIGURES)


@pytest.mark.parametrize("instrument", CLASSES)
def test_class_figures_give_one_value_per_sound(instrument) -> None:
    audio = np.stack([decay(0.5, 30.0) * noise(0.5, seed) for seed in range(3)]).astype(np.float32)
    figures = class_figures(audio, RATE, instrument)
    assert list(figures) == [*CLASS_FIGURES[instrument], *TAIL_FIGURES]
    for name, values in figures.items():
        assert values.shape == (3,), name
        assert np.isfinite(values).all(), name


def test_audio_of_more_than_two_dimensions_is_refused() -> None:
    with pytest.raises(ValueError, match="samples"):
        band_energy_share(np.zeros((2, 2, 100)), RATE, 0.0, 100.0)


# ----------------------------------------------------------------------------- second hits


def test_a_clean_decay_has_no_second_hit_and_a_ghost_late_in_its_tail_reads_its_rise() -> None:
    clean = noise(1.5) * decay(1.5, 80.0)  # 30 dB under its start by 0.375 s, 60 dB by 0.75 s
    ghost = clean.copy()
    start = round(1.0 * RATE)
    ghost[start : start + 2205] += 0.1 * noise(0.05, seed=1)  # 20 dB under the attack, 1 s in
    gain = 0.37  # levels are relative
    clean_rise, ghost_rise = second_hit_db(np.stack([clean, ghost]) * gain, RATE)
    assert clean_rise < 3.0
    assert ghost_rise == pytest.approx(40.0, abs=3.0)  # from the 60 dB floor to 20 dB under the loudest


def test_a_sound_that_never_falls_far_reads_zero_and_silence_nan() -> None:
    steady = noise(0.5)
    assert second_hit_db(steady, RATE)[0] == 0.0
    assert math.isnan(second_hit_db(np.zeros(RATE // 2), RATE)[0])
