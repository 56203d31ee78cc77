"""Generation speed: one sound's latency against the seed's 64-iteration Griffin-Lim, and batch throughput.

Latency (1 CPU thread, median of `--runs`, interleaved with the baselines so all see the same load):
``DrumMachine.render`` of one latent — decode, inversion (the model's configured method), resampling
to 44.1 kHz and finishing — against the seed's inversion alone at the seed's settings (22.05 kHz,
n_fft 512, hop 256) on the spectrogram of the same sound: the seed's own call, librosa's
``griffinlim`` with 64 iterations (the speed-up is against it), the same call with the seed's
dropped Nyquist bin, and our torch Griffin-Lim with 64 iterations for reference.

The same render is timed for the first latent (seed 0) of every class, since the inversion's cost
depends on the sound: PGHI follows how many coefficients are within 60 dB of the peak (a cymbal's
most, a kick's few), and the iterations how many frames are (a kick dies away early, a cymbal not).

Throughput (2 threads): sounds per second of ``dkvae generate --count N`` (WAVs and sidecars
written), median of `--batch-runs`.

Prints one JSON line; ``--out FILE`` also writes the figures as docs/results/performance.json's entries
``generation_latency`` and ``generation_throughput`` (bench/record.py).

    python bench/generation.py --runs 15 --count 256
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import record
import torch

from dkvae.core.config import get_preset
from dkvae.inference.generation import write_generated
from dkvae.inference.machine import DrumMachine
from dkvae.sound.audio import denormalize, prepare_sound, spectrogram_to_audio


def seconds(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def librosa_baselines(normalized: np.ndarray) -> dict[str, Callable[[], object]]:
    """The seed's inversion by librosa.griffinlim, 64 iterations, on the same magnitude (empty without librosa).

    ``seed_gl64_librosa`` is the call made right (all 257 bins, n_fft 512): the baseline the speed-up is
    against. ``seed_gl64_librosa_as_written`` drops the Nyquist bin as the seed did, so librosa infers
    n_fft 510 (a slower FFT size); it shows where the issue's larger figure for the seed comes from.
    """
    try:
        import librosa
    except ImportError:
        return {}
    seed = get_preset("seed")
    magnitude = 10.0 ** (denormalize(normalized, seed.audio.min_db, seed.audio.max_db) / 20.0)
    hop = seed.audio.hop_length
    return {
        "seed_gl64_librosa": lambda: librosa.griffinlim(magnitude, n_iter=64, hop_length=hop, n_fft=seed.audio.n_fft),
        "seed_gl64_librosa_as_written": lambda: librosa.griffinlim(magnitude[:-1], n_iter=64, hop_length=hop),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="model directory (default: the bundled model)")
    parser.add_argument("--instrument", default="snare")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--count", type=int, default=256)
    parser.add_argument("--batch-runs", type=int, default=3)
    record.add_out(parser)
    args = parser.parse_args()
    machine = DrumMachine.load(args.model)
    seed = get_preset("seed")
    latent = machine.sample_latents(1, 0, args.instrument)
    sound = machine.render(latent, args.instrument)[0]
    seed_spectrogram = prepare_sound(sound, machine.sample_rate, seed.audio)[None]

    torch.set_num_threads(1)
    candidates: dict[str, Callable[[], object]] = {
        "dkvae_render": lambda: machine.render(latent, args.instrument),
        "seed_gl64": lambda: spectrogram_to_audio(seed_spectrogram, seed.audio, inversion=seed.inversion),
    }
    for instrument in machine.instruments:
        first = machine.sample_latents(1, 0, instrument)
        candidates[f"render_{instrument}"] = functools.partial(machine.render, first, instrument)
    baselines = librosa_baselines(seed_spectrogram[0])
    if not baselines:
        raise SystemExit("this benchmark needs librosa (pip install -e .[dev]): the seed's Griffin-Lim is librosa's")
    candidates |= baselines
    for work in candidates.values():
        work()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(args.runs):
        for name, work in candidates.items():
            times[name].append(seconds(work))
    latency = {name: round(statistics.median(values) * 1000, 2) for name, values in times.items()}
    by_class = {
        instrument: round(latency["seed_gl64_librosa"] / latency[f"render_{instrument}"], 2)
        for instrument in machine.instruments
    }

    torch.set_num_threads(2)
    rates = []
    for _ in range(args.batch_runs):
        with tempfile.TemporaryDirectory() as out:
            rates.append(args.count / seconds(lambda: write_generated(machine, args.instrument, args.count, 1, out)))
    result = {
        "model": str(machine.directory.path),
        "inversion": vars(machine.config.inversion),
        "latency_ms": latency,
        "speedup_over_seed_gl64_librosa": round(latency["seed_gl64_librosa"] / latency["dkvae_render"], 2),
        "speedup_over_seed_gl64_librosa_as_written": round(
            latency["seed_gl64_librosa_as_written"] / latency["dkvae_render"], 2
        ),
        "speedup_over_torch_gl64": round(latency["seed_gl64"] / latency["dkvae_render"], 2),
        "speedup_by_class": by_class,
        "speedup_median_over_classes": round(statistics.median(by_class.values()), 2),
        "generate_sounds_per_s": round(statistics.median(rates), 1),
        "generate_sounds_per_s_runs": [round(rate, 1) for rate in rates],
        "count": args.count,
    }
    print(json.dumps(result))
    model = "bundled model" if args.model is None else f"model {machine.model_id}"
    inversion = machine.config.inversion
    classes = ", ".join(f"{name} {ratio}×" for name, ratio in by_class.items())
    latency_note = (
        f"the seed's inversion alone: the bench's {args.instrument} {latency['dkvae_render']} ms against "
        f"{latency['seed_gl64_librosa']} ms for librosa's 64-iteration Griffin-Lim at the seed's settings; one sound "
        f"of each class, median over the classes, {result['speedup_median_over_classes']}× ({classes}); "
        f"{result['speedup_over_seed_gl64_librosa_as_written']}× against the seed's call as written, with its "
        "dropped Nyquist bin"
    )
    throughput_note = f"median of {args.batch_runs} runs ({min(rates):.0f}–{max(rates):.0f}), {model}"
    record.write(
        args.out,
        record.entry(
            "generation_latency",
            f"latency of one sound, {model}, 1 thread (decode + {inversion.method.upper()} + {inversion.iterations} "
            "iterations + finishing)",
            result["speedup_over_seed_gl64_librosa"], "×", latency_note, result, "10×",
        ),
        record.entry(
            "generation_throughput",
            f"batch throughput, `generate --count {args.count}` (WAVs and sidecars written), 2 threads",
            result["generate_sounds_per_s"], "sounds/s", throughput_note, result,
        ),
    )  # fmt: skip


if __name__ == "__main__":
    main()
