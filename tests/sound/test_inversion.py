from __future__ import annotations

import math
from pathlib import Path

import librosa
import numpy as np
import pytest
import torch

from dkvae.core.config import ITERATION_CUT_DB, PGHI_TOLERANCE_DB, InversionConfig, get_preset
from dkvae.sound import inversion
from dkvae.sound.audio import BadAudio, load_sound, log_spectrogram, stft_magnitude

RATE, N_FFT, HOP, SAMPLES = 16000, 512, 128, 8192
STFT = {"n_fft": N_FFT, "hop_length": HOP, "center": True, "pad_mode": "constant"}
ITERATIONS = 16
#: Momentum of the librosa call each method is compared with (fast Griffin-Lim follows PGHI).
MOMENTUM = {"gla": 0.0, "fgla": 0.99, "pghi": 0.99}


@pytest.fixture(autouse=True)
def one_thread():
    """Small transforms run fastest on one thread, and on a busy machine far more steadily."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def signal(kind: str) -> np.ndarray:
    """A test sound of `SAMPLES` samples at `RATE` Hz, float32."""
    t = np.arange(SAMPLES) / RATE
    rng = np.random.default_rng(1)
    if kind == "sine burst":
        return (np.exp(-t * 12.0) * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    if kind == "click":
        click = np.zeros(SAMPLES, dtype=np.float32)
        click[1000] = 1.0
        return click
    if kind == "noise burst":
        return (0.3 * np.exp(-t * 30.0) * rng.standard_normal(SAMPLES)).astype(np.float32)
    # A kick: a sine swept down from 200 to 60 Hz with a short noise burst on top.
    body = np.sin(2 * np.pi * np.cumsum(60.0 + 140.0 * np.exp(-t * 40.0)) / RATE)
    return (0.8 * np.exp(-t * 8.0) * body + 0.3 * np.exp(-t * 60.0) * rng.standard_normal(SAMPLES)).astype(np.float32)


SIGNALS = ("sine burst", "click", "noise burst", "drum hit")


def magnitude(audio: np.ndarray) -> np.ndarray:
    """``|STFT|`` with the settings of `dkvae.sound.audio.log_spectrogram` (centred, zero-padded, periodic Hann)."""
    return np.abs(librosa.stft(audio, **STFT))


def convergence(target: np.ndarray, audio: np.ndarray | torch.Tensor) -> float:
    """Spectral convergence ``||S - |STFT(audio)|||_F / ||S||_F``."""
    return float(np.linalg.norm(magnitude(np.asarray(audio)) - target) / np.linalg.norm(target))


def invert(target: np.ndarray, method: str, iterations: int, samples: int = SAMPLES) -> torch.Tensor:
    return inversion.invert(torch.from_numpy(target), N_FFT, HOP, samples, InversionConfig(method, iterations))


@pytest.mark.parametrize("method", ["gla", "fgla", "pghi"])
@pytest.mark.parametrize("kind", SIGNALS)
def test_every_method_converges_at_least_as_well_as_librosa(kind, method) -> None:
    target = magnitude(signal(kind))
    ours = convergence(target, invert(target, method, ITERATIONS))
    reference = librosa.griffinlim(
        target, n_iter=ITERATIONS, momentum=MOMENTUM[method], init=None, length=SAMPLES, **STFT
    )
    if method == "pghi":
        assert ours < 0.6 * convergence(target, reference)
    else:
        # The same algorithm as librosa's: equal up to float32 rounding, which the momentum amplifies.
        assert ours <= 1.03 * convergence(target, reference) + 1e-4


@pytest.mark.parametrize("kind", SIGNALS)
def test_pghi_alone_is_much_better_than_zero_phase(kind) -> None:
    target = magnitude(signal(kind))
    assert convergence(target, invert(target, "pghi", 0)) < 0.4 * convergence(target, invert(target, "gla", 0))


@pytest.mark.parametrize("frequency", [97.0, 440.0, 1000.3, 3333.3])
def test_pghi_phase_turns_at_a_stationary_sines_frequency(frequency) -> None:
    sine = np.sin(2 * np.pi * frequency * np.arange(SAMPLES) / RATE).astype(np.float32)
    phase = inversion.pghi_phase(torch.from_numpy(magnitude(sine)), N_FFT, HOP)
    peak = round(frequency / RATE * N_FFT)
    per_frame = 2 * math.pi * frequency * HOP / RATE
    # Frames whose window lies wholly inside the sound; the peak bin and its neighbours.
    turn = phase[peak - 1 : peak + 2, 5:-5].diff(dim=-1) - per_frame
    assert torch.remainder(turn + math.pi, 2 * math.pi).sub(math.pi).abs().max() < 0.05


@pytest.mark.parametrize("method", ["gla", "fgla", "pghi"])
def test_a_batch_gives_what_each_spectrogram_gives_alone(method) -> None:
    targets = np.stack([magnitude(signal(kind)) for kind in SIGNALS]).reshape(2, 2, N_FFT // 2 + 1, -1)
    together = invert(targets, method, 4)
    assert together.shape == (2, 2, SAMPLES)
    for index in np.ndindex(2, 2):
        torch.testing.assert_close(together[index], invert(targets[index], method, 4), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("method", ["gla", "fgla", "pghi"])
@pytest.mark.parametrize("samples", [SAMPLES, SAMPLES - 77, N_FFT + 3])
def test_output_has_the_requested_length_and_is_deterministic(method, samples) -> None:
    target = magnitude(signal("drum hit")[:samples])
    first = invert(target, method, 3, samples)
    assert first.shape == (samples,) and first.dtype == torch.float32
    assert torch.equal(first, invert(target, method, 3, samples))


def test_silence_inverts_to_silence() -> None:
    silent = np.zeros((N_FFT // 2 + 1, 1 + SAMPLES // HOP), dtype=np.float32)
    for method in ("gla", "fgla", "pghi"):
        assert not invert(silent, method, 2).any()


@pytest.mark.parametrize(
    "changes",
    [
        {"method": "istft"},
        {"iterations": -1},
        {"iterations": 2.5},
        {"iterations": True},
        {"momentum": -0.1},
        {"momentum": 1.5},
    ],
)
def test_bad_settings_are_refused(changes) -> None:
    with pytest.raises(ValueError):
        InversionConfig(**changes)


def test_bad_shapes_and_tolerances_are_refused() -> None:
    target = torch.from_numpy(magnitude(signal("click")))
    with pytest.raises(ValueError, match="freq, frames"):
        inversion.invert(target, N_FFT, HOP, SAMPLES + HOP, InversionConfig())
    with pytest.raises(ValueError, match="freq, frames"):
        inversion.invert(target[:-1], N_FFT, HOP, SAMPLES, InversionConfig())
    with pytest.raises(ValueError, match="tolerance"):
        inversion.pghi_phase(target, N_FFT, HOP, tolerance_db=0.0)


def test_pghi_leaves_no_clicks_in_a_quiet_tail() -> None:
    """Coefficients under PGHI's tolerance get random phase; zero phase lined them up into a click at
    every frame's start, which shows as a high crest factor in a decoder's quiet floor (18 dB, against 10.6)."""
    hit = signal("noise burst")
    hit[2000:] = 0.0
    target = magnitude(hit)
    target = target + target.max() * 10 ** (-75 / 20)  # a decoder's floor, far under the tolerance
    tail = invert(target, "pghi", 8).numpy()[4000:]
    crest_db = 20 * np.log10(np.abs(tail).max() / tail.std())
    assert crest_db < 14


def mean_magnitude(count: int) -> np.ndarray:
    """The mean ``|STFT|`` of `count` noise bursts alike but for their noise: a decoder's smooth magnitude in small."""
    t = np.arange(SAMPLES) / RATE
    rng = np.random.default_rng(5)
    bursts = [0.3 * np.exp(-t * 30.0) * rng.standard_normal(SAMPLES) for _ in range(count)]
    return np.mean([magnitude(burst.astype(np.float32)) for burst in bursts], axis=0)


def curvature_ratio(target: np.ndarray | torch.Tensor, n_fft: int = N_FFT, hop: int = HOP) -> float:
    """`inversion._curvature_ratio` of one grid of magnitudes ``(freq, frames)``, on the logs PGHI takes."""
    logs = torch.log(torch.as_tensor(target, dtype=torch.float32).clamp_min(torch.finfo(torch.float32).tiny))[None]
    depth = -PGHI_TOLERANCE_DB * math.log(10.0) / 20.0
    logs = torch.maximum(logs, logs.amax() - depth)
    return float(inversion._curvature_ratio(logs, logs > logs.amax() - depth / 2, n_fft, hop)[0])


def test_an_stfts_magnitude_is_curved_as_the_window_and_a_mean_of_many_is_flat() -> None:
    for kind in SIGNALS:
        assert curvature_ratio(magnitude(signal(kind))) > 2 * inversion.SMOOTH_CURVATURE, kind
    assert curvature_ratio(mean_magnitude(16)) < inversion.SMOOTH_CURVATURE / 2


@pytest.mark.hydrogen
@pytest.mark.parametrize("preset", ["default", "seed", "codec"])
def test_real_drums_read_as_stfts(preset) -> None:
    """Debian's hydrogen-drumkits, every 20th sound, as `preset` reads and analyses them, above its smooth guard's line."""
    kits = Path("/usr/share/hydrogen/data/drumkits")
    paths = sorted(path for path in kits.glob("*/*") if path.suffix in {".wav", ".flac"})
    if not paths:
        pytest.skip("hydrogen-drumkits is not installed")
    audio = get_preset(preset).audio
    ratios = {}
    for path in paths[::20]:
        try:
            sound, _ = load_sound(path, audio)
        except BadAudio:
            continue
        target = stft_magnitude(log_spectrogram(sound, audio.n_fft, audio.hop_length), audio.n_fft)
        ratios[path.name] = curvature_ratio(target, audio.n_fft, audio.hop_length)
    assert len(ratios) > 40
    flattest = min(ratios, key=ratios.__getitem__)
    line = get_preset(preset).inversion.smooth_curvature
    assert ratios[flattest] > 1.2 * line, (flattest, ratios[flattest])


def test_pghi_puts_no_click_in_a_mean_magnitude() -> None:
    """A smooth magnitude once got one phase slope in every bin of its loudest frame: a click one hop in."""
    audio = invert(mean_magnitude(64), "pghi", 12).numpy().astype(np.float64)
    peak, half = int(np.argmax(np.abs(audio))), RATE // 200  # the samples within 5 ms, but the peak's own
    around = np.delete(audio[max(peak - half, 0) : peak + half + 1], min(peak, half))
    assert abs(audio[peak]) < 5 * np.sqrt(np.mean(around**2))


def test_active_frames_end_one_margin_after_the_last_frame_within_the_tolerance() -> None:
    grid = torch.zeros(2, 9, 20)
    grid[0, 3, 0], grid[0, 5, 6], grid[0, 2, 9] = 1.0, 2e-3, 5e-4  # peak; -54 dB (heard); -66 dB (not)
    grid[1, 1, 18] = 1.0
    assert inversion.active_frames(grid, -60.0, 4) == [11, 20]  # 7 frames + 4; 19 + 4, at most all 20
    assert inversion.active_frames(grid, -70.0, 0) == [10, 19]
    assert inversion.active_frames(torch.zeros(9, 20), -60.0, 4) == [4]


@pytest.mark.parametrize("kind", ["click", "noise burst", "sine burst"])
def test_pghi_iterations_leave_out_the_frames_under_the_tolerance_and_lose_nothing(kind) -> None:
    target = torch.from_numpy(magnitude(signal(kind)))
    heard = inversion.active_frames(target, ITERATION_CUT_DB, N_FFT // HOP)[0]
    phase = inversion.pghi_phase(target, N_FFT, HOP)
    every_frame = inversion.fast_griffin_lim(target, N_FFT, HOP, SAMPLES, ITERATIONS, 0.99, phase)
    ours = invert(target.numpy(), "pghi", ITERATIONS)
    if kind == "sine burst":  # within 70 dB of its peak to the end: every frame is iterated
        assert heard == target.shape[-1] and torch.equal(ours, every_frame)
        return
    assert heard <= 0.7 * target.shape[-1]  # click 14 of 65 frames, noise burst 40
    assert torch.equal(inversion.pghi_phase(target[:, :heard], N_FFT, HOP), phase[:, :heard])
    assert convergence(target.numpy(), ours) <= convergence(target.numpy(), every_frame) + 1e-3
    assert (ours - every_frame).abs().max() <= 0.01 * every_frame.abs().max()


@pytest.mark.parametrize(("n_fft", "hop"), [(512, 128), (1024, 256), (512, 200), (256, 128)])
def test_stft_pair_is_torchs_stft_and_istft(n_fft: int, hop: int) -> None:
    samples = 4000 + hop // 3
    transform = inversion._Stft.make(n_fft, hop, samples, torch.device("cpu"))
    audio = torch.randn(2, samples, generator=torch.Generator().manual_seed(n_fft + hop))
    window = torch.hann_window(n_fft)
    spectrum = transform.analyse(audio)
    expected = torch.stft(audio, n_fft, hop, window=window, center=True, pad_mode="constant", return_complex=True)
    torch.testing.assert_close(spectrum, expected.transpose(-1, -2), rtol=1e-4, atol=1e-4)
    noise = torch.randn(spectrum.shape, dtype=torch.complex64, generator=torch.Generator().manual_seed(1))
    inverse = torch.istft(noise.transpose(-1, -2), n_fft, hop, window=window, center=True, length=samples)
    torch.testing.assert_close(transform.synthesise(noise), inverse, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(transform.synthesise(spectrum), audio, rtol=1e-4, atol=1e-4)


def test_with_magnitude_is_the_complex_sign_times_the_magnitude() -> None:
    generator = torch.Generator().manual_seed(0)
    spectrum = torch.randn(3, 40, 33, dtype=torch.complex64, generator=generator) * 10.0 ** torch.linspace(-15, 3, 33)
    spectrum[0, :4] = 0
    magnitude = torch.rand(3, 40, 33, generator=generator)
    got = inversion._with_magnitude(spectrum, magnitude)
    torch.testing.assert_close(got, torch.sgn(spectrum) * magnitude, rtol=1e-6, atol=1e-7)
    assert bool((got[0, :4] == 0).all())


def maximum_spanning_edges(levels: np.ndarray) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Kruskal's maximum spanning forest of each grid ``(batch, freq, frames)``, written plainly: edges join
    neighbouring used coefficients, the best edge has the strongest weaker end (smallest level)."""
    _, bins, frames = levels.shape
    used = levels != inversion._UNUSED
    edges = []
    for b, f, t in zip(*np.nonzero(used)):
        for neighbour in ((b, f, t + 1), (b, f + 1, t)):
            if neighbour[1] < bins and neighbour[2] < frames and used[neighbour]:
                first, second = int(levels[b, f, t]), int(levels[neighbour])
                edges.append(((max(first, second), min(first, second)), (b, f, t), neighbour))
    root = {}

    def find(node):
        while root.get(node, node) != node:
            node = root[node]
        return node

    tree = []
    for _, source, target in sorted(edges):
        if find(source) != find(target):
            root[find(source)] = find(target)
            tree.append((source, target))
    return tree


@pytest.mark.parametrize("used_fraction", [1.0, 0.6, 0.15])
def test_pghi_integrates_along_the_maximum_spanning_forest(used_fraction: float) -> None:
    """Every edge of the maximum spanning forest (found here by plain Kruskal) carries its phase step exactly:
    the vectorised rounds build the same forest as the textbook algorithm."""
    generator = torch.Generator().manual_seed(int(used_fraction * 100))
    shape = (2, 13, 11)
    levels = torch.randperm(math.prod(shape), generator=generator).reshape(shape).to(torch.int16)
    levels[torch.rand(shape, generator=generator) >= used_fraction] = inversion._UNUSED
    step_time, step_freq = torch.randn(2, *shape, generator=generator).unbind(0)
    phase = inversion._spanning_forest(levels, step_time, step_freq)
    tree = maximum_spanning_edges(levels.numpy())
    assert len(tree) > 0
    for source, target in tree:
        step = step_time[source] if target[2] == source[2] + 1 else step_freq[source]
        assert float(phase[target] - phase[source]) == pytest.approx(float(step), abs=1e-4)
