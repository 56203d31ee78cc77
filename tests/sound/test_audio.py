from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dkvae.core.config import AudioConfig, InversionConfig, get_preset
from dkvae.sound import audio
from dkvae.sound.audio import BadAudio, load_sound

from ..conftest import drum_hit

CONFIG = AudioConfig()
finite_audio = arrays(np.float32, st.integers(1, 3000), elements=st.floats(-1, 1, width=32))


@given(finite_audio, st.integers(1, 4000), st.integers(0, 200))
def test_match_length_always_gives_the_length_and_keeps_the_start(signal, length, fade) -> None:
    out = audio.match_length(signal, length, fade)
    assert out.shape == (length,)
    if length >= signal.size:
        np.testing.assert_array_equal(out[: signal.size], signal)
        assert not out[signal.size :].any()
    else:
        keep = length - min(fade, length)
        np.testing.assert_array_equal(out[:keep], signal[:keep])


def test_match_length_cut_fades_to_zero_without_a_click() -> None:
    signal = np.ones(1000, np.float32)
    out = audio.match_length(signal, 500, fade_samples=100)
    assert out[-1] == pytest.approx(0.0, abs=1e-6)
    assert np.all(np.diff(out[400:]) <= 0)
    assert np.max(np.abs(np.diff(out))) < 0.05


@given(finite_audio, st.floats(-80, -1), st.integers(0, 50))
def test_find_onset_never_skips_sound_above_the_threshold(signal, threshold_db, pre_roll) -> None:
    onset = audio.find_onset(signal, threshold_db, pre_roll)
    peak = np.max(np.abs(signal))
    if peak == 0:
        assert onset == signal.size
    else:
        level = peak * 10 ** (threshold_db / 20)
        assert np.all(np.abs(signal[:onset]) < level)
        assert onset <= np.flatnonzero(np.abs(signal) >= level)[0]


def test_log_spectrogram_matches_librosa_and_reads_0_db_for_a_full_scale_sine() -> None:
    n_fft, hop = 1024, 256
    frequency_bin = 40
    t = np.arange(16384) / 44100
    sine = np.sin(2 * np.pi * frequency_bin * 44100 / n_fft * t).astype(np.float32)
    ours = audio.log_spectrogram(sine, n_fft, hop).numpy()
    reference = np.abs(librosa.stft(sine, n_fft=n_fft, hop_length=hop, window="hann", center=True, pad_mode="constant"))
    reference_db = 20 * np.log10(np.maximum(reference / (n_fft / 4), 1e-10))
    assert ours.shape == reference.shape == (n_fft // 2 + 1, 1 + sine.size // hop)
    audible = reference_db > -100  # below that both are float32 rounding noise
    np.testing.assert_allclose(ours[audible], reference_db[audible], atol=0.01)
    assert ours[frequency_bin, 10:-10].mean() == pytest.approx(0.0, abs=0.01)


def test_log_spectrogram_batches() -> None:
    batch = np.stack([drum_hit("tone", 0.2, seed=s) for s in range(3)])
    together = audio.log_spectrogram(batch, 512, 128)
    alone = audio.log_spectrogram(batch[1], 512, 128)
    torch.testing.assert_close(together[1], alone)


def test_global_normalization_keeps_absolute_level_and_minmax_does_not() -> None:
    sound = drum_hit("tone", 0.3)
    loud = audio.log_spectrogram(sound, 1024, 256).numpy()
    quiet = audio.log_spectrogram(sound * 0.5, 1024, 256).numpy()
    assert np.median((loud - quiet)[loud > -60]) == pytest.approx(20 * np.log10(2), abs=1e-3)
    global_loud, _, _ = audio.normalize(loud, CONFIG)
    global_quiet, _, _ = audio.normalize(quiet, CONFIG)
    assert global_loud.max() > global_quiet.max()
    seed = get_preset("seed").audio
    minmax_loud, _, _ = audio.normalize(loud, seed)
    minmax_quiet, _, _ = audio.normalize(quiet, seed)
    np.testing.assert_allclose(minmax_loud, minmax_quiet, atol=1e-5)


@given(arrays(np.float32, (9, 7), elements=st.floats(-150, 40, width=32)), st.sampled_from(["default", "seed"]))
def test_normalize_maps_into_unit_range_and_denormalize_undoes_it(spectrogram, preset) -> None:
    config = get_preset(preset).audio
    normalized, low, high = audio.normalize(spectrogram, config)
    assert normalized.min() >= 0 and normalized.max() <= 1
    inside = (spectrogram >= low) & (spectrogram <= high)
    restored = audio.denormalize(normalized, low, high)
    np.testing.assert_allclose(restored[inside], spectrogram[inside], atol=1e-3)


@given(arrays(np.float32, (4, 9, 7), elements=st.floats(-150, 40, width=32)), st.sampled_from(["default", "seed"]))
def test_normalizing_a_batch_equals_normalizing_each_spectrogram_and_leaves_the_input_alone(batch, preset) -> None:
    config = get_preset(preset).audio
    batch[0] = -30.0  # a flat spectrogram: all zeros under minmax
    original = batch.copy()
    many, lows, highs = audio.normalize_many(torch.tensor(batch), config)
    for row, spectrogram in enumerate(batch):
        normalized, low, high = audio.normalize(spectrogram, config)
        np.testing.assert_array_equal(many[row].numpy(), normalized)
        assert (lows[row], highs[row]) == (low, high)
    np.testing.assert_array_equal(batch, original)
    if preset == "seed":
        assert not many[0].any()


def test_spectrogram_to_audio_is_plain_griffin_lim_as_librosa_computes_it() -> None:
    sound = audio.match_length(drum_hit("tone", 0.6), CONFIG.num_samples)
    stft = {"n_fft": 1024, "hop_length": 256, "center": True, "pad_mode": "constant"}
    target = np.abs(librosa.stft(sound, **stft))
    normalized, low, high = audio.normalize(audio.log_spectrogram(sound, 1024, 256).numpy(), CONFIG)

    def convergence(estimate: np.ndarray) -> float:
        return float(np.linalg.norm(np.abs(librosa.stft(estimate, **stft)) - target) / np.linalg.norm(target))

    plain = {n: InversionConfig(method="gla", iterations=n) for n in (0, 32)}
    ours = {n: convergence(audio.spectrogram_to_audio(normalized, CONFIG, low, high, plain[n])) for n in (0, 32)}
    reference = librosa.griffinlim(target, n_iter=32, momentum=0, init=None, length=CONFIG.num_samples, **stft)
    assert ours[32] == pytest.approx(convergence(reference), abs=1e-3)
    assert ours[32] < 0.25 < ours[0]


def write(path: Path, data: np.ndarray, rate: int, **kwargs) -> Path:
    sf.write(path, data, rate, **kwargs)
    return path


@pytest.mark.parametrize(
    "name, rate, subtype, channels",
    [
        ("u8.wav", 22050, "PCM_U8", 1),
        ("s16.wav", 44100, "PCM_16", 2),
        ("s24.flac", 96000, "PCM_24", 2),
        ("s32.aiff", 48000, "PCM_32", 1),
        ("float.wav", 8000, "FLOAT", 6),
        ("vorbis.ogg", 32000, "VORBIS", 2),
        ("layer3.mp3", 44100, "MPEG_LAYER_III", 1),
    ],
)
def test_load_sound_reads_odd_formats_to_mono_at_the_configured_rate(tmp_path, name, rate, subtype, channels) -> None:
    hit = drum_hit("tone", 0.4, sample_rate=rate)
    data = np.stack([hit * (c + 1) / channels for c in range(channels)], axis=1)
    sound, info = load_sound(write(tmp_path / name, data, rate, subtype=subtype), CONFIG)
    assert sound.shape == (CONFIG.num_samples,) and sound.dtype == np.float32
    assert np.max(np.abs(sound)) == pytest.approx(1.0, abs=1e-3)
    assert (info.source_sample_rate, info.channels) == (rate, channels)
    # The sweep's energy lands in the same low bins whatever the source rate.
    spectrum = np.abs(np.fft.rfft(sound))
    assert np.argmax(spectrum) * CONFIG.sample_rate / CONFIG.num_samples < 200


@pytest.mark.parametrize(
    ("name", "subtype", "bits"),
    [("s16.wav", "PCM_16", 16), ("s16.aiff", "PCM_16", 16), ("s16.flac", "PCM_16", 16), ("s32.wav", "PCM_32", 32)],
)
def test_integer_files_load_exactly_as_libsndfiles_float_read_gives_them(tmp_path, name, subtype, bits) -> None:
    # dkvae reads these subtypes as integers and scales them itself; the values must be libsndfile's own.
    rng = np.random.default_rng(3)
    steps = 2.0 ** (bits - 1)
    data = np.round(rng.uniform(-1, 1, (30000, 2)) * drum_hit("noise", 30000 / 44100)[:, None] * steps) / steps
    integer = write(tmp_path / name, data, 44100, subtype=subtype)
    as_float = write(tmp_path / f"float_{name.split('.')[0]}.wav", sf.read(integer, dtype="float32")[0], 44100, subtype="FLOAT")
    np.testing.assert_array_equal(sf.read(as_float, dtype="float32")[0], sf.read(integer, dtype="float32")[0])
    for preset in ("default", "seed"):
        config = get_preset(preset).audio
        (sound, info), (expected, expected_info) = load_sound(integer, config), load_sound(as_float, config)
        np.testing.assert_array_equal(sound, expected)
        assert info == expected_info


def test_load_sound_trims_near_silence_but_keeps_the_attack(tmp_path) -> None:
    rate = 44100
    lead = (np.random.default_rng(1).standard_normal(int(0.3 * rate)) * 1e-4).astype(np.float32)
    hit = drum_hit("tone", 0.3)
    sound, info = load_sound(write(tmp_path / "late.wav", np.concatenate([lead, hit]), rate), CONFIG)
    assert info.lead_in == pytest.approx(0.3 - CONFIG.pre_roll, abs=0.002)
    pre_roll = round(CONFIG.pre_roll * rate)
    # The attack starts right after the pre-roll, at full level.
    assert np.max(np.abs(sound[: pre_roll - 5])) < 0.01
    assert np.max(np.abs(sound[pre_roll : pre_roll + 200])) > 0.05


def test_load_sound_reads_only_the_needed_prefix_of_a_long_file(tmp_path, monkeypatch) -> None:
    rate = 44100
    long = np.concatenate([drum_hit("tone", 0.5), np.full(rate * 120, 0.01, np.float32)])
    path = write(tmp_path / "long.flac", long, rate)
    frames_read = []
    original = sf.SoundFile.read

    def counting_read(self, frames=-1, *args, **kwargs):
        data = original(self, frames, *args, **kwargs)
        frames_read.append(len(data))
        return data

    monkeypatch.setattr(sf.SoundFile, "read", counting_read)
    _, info = load_sound(path, CONFIG)
    assert info.source_frames == long.size
    assert sum(frames_read) <= 3 * CONFIG.num_samples


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda p: p.write_bytes(b""), "cannot decode"),
        (lambda p: p.write_text("this is not audio"), "cannot decode"),
        (lambda p: write(p, np.zeros(44100, np.float32), 44100), "silent"),
        (lambda p: write(p, np.full(4410, 1e-6, np.float32), 44100), "silent"),
        (lambda p: write(p, np.array([0.0, np.nan, 0.5] * 1000, np.float32), 44100, subtype="FLOAT"), "invalid"),
        (lambda p: write(p, np.array([0.0, np.inf, 0.5] * 1000, np.float32), 44100, subtype="FLOAT"), "invalid"),
        (lambda p: write(p, np.r_[np.ones(200), np.zeros(8000)].astype(np.float32), 44100), "too short"),
    ],
    ids=["empty", "text", "zeros", "below-floor", "nan", "inf", "5ms-click"],
)
def test_bad_files_raise_badaudio_with_a_reason(tmp_path, make, reason) -> None:
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(BadAudio, match=reason):
        load_sound(path, CONFIG)


def test_truncated_files_are_refused(tmp_path) -> None:
    good = write(tmp_path / "good.wav", drum_hit("tone", 0.5), 44100)
    data = good.read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) // 3])
    (tmp_path / "cut.flac").write_bytes(write(tmp_path / "g.flac", drum_hit("noise", 1.0), 44100).read_bytes()[:3000])
    with pytest.raises(BadAudio, match="truncated"):
        load_sound(tmp_path / "cut.wav", CONFIG)
    with pytest.raises(BadAudio):
        load_sound(tmp_path / "cut.flac", CONFIG)


def test_sound_after_a_long_silence_is_refused_rather_than_searched_forever(tmp_path) -> None:
    rate = 8000
    data = np.concatenate([np.zeros(rate * 12, np.float32), drum_hit("tone", 0.3, sample_rate=rate)])
    with pytest.raises(BadAudio, match="no sound in the first"):
        load_sound(write(tmp_path / "late.wav", data, rate), CONFIG)


def test_write_wav_round_trip(tmp_path) -> None:
    sound = drum_hit("noise", 0.1)
    audio.write_wav(tmp_path / "x.wav", sound, 44100, subtype="FLOAT")
    back, rate = sf.read(tmp_path / "x.wav", dtype="float32")
    assert rate == 44100
    np.testing.assert_array_equal(back, sound)


def test_cut_at_decay_ends_mono_audio_at_minus_60_db_with_a_fade() -> None:
    rate = 44100
    sound = (np.exp(-np.arange(rate) / (rate * 0.01)) * np.cos(np.arange(rate) * 0.3)).astype(np.float32)
    cut = audio.cut_at_decay(sound, -60.0, 220)
    # exp(-t / 0.01 s) falls to -60 dB (1e-3) after 0.01 * ln(1000) s.
    assert abs(len(cut) - 0.01 * np.log(1000) * rate) < 50
    np.testing.assert_array_equal(cut[:-220], sound[: len(cut) - 220])
    assert abs(cut[-1]) < 1e-6
    assert audio.cut_at_decay(np.zeros(100, np.float32), -60.0, 64).size == 0


def test_cut_at_decay_cuts_every_channel_at_the_same_sample() -> None:
    rate = 44100
    time = np.arange(rate) / rate
    mono = (np.exp(-time * 100.0) * np.sin(2 * np.pi * 200.0 * time)).astype(np.float32)[:, None]
    cut = audio.cut_at_decay(np.repeat(mono, 2, axis=1), -60.0, 64)
    # exp(-100 t) reaches -60 dB at t = ln(1000) / 100 = 0.069 s
    assert abs(len(cut) / rate - np.log(1000.0) / 100.0) < 0.002
    assert np.abs(cut[-1]).max() < 1e-6 and cut.shape[1] == 2
    assert len(audio.cut_at_decay(np.zeros((100, 2), np.float32), -60.0, 64)) == 0
