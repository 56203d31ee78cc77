"""Choosing the default inversion: time, spectral convergence and attack kept by each method on real drums.

Sounds: `--limit` WAVs spread over Debian's hydrogen-drumkits (every k-th of the sorted list), or
with `--bank` over a processed bank's `--split` (its original files: the test split is what the
model is judged on, and the train split is over a thousand sounds), each loaded with the `default`
and with the `seed` preset's AudioConfig; their true STFT magnitudes (`log_spectrogram`, back to
linear) are inverted by:
- seed gla 64: the seed's Griffin-Lim as it was written (``torch.stft``/``torch.istft``, new phase by
  ``exp(1j * angle)``), 64 iterations from zero phase: the baseline;
- gla 64: the same algorithm on `dkvae.sound.inversion`'s STFT (what the `seed` preset now runs);
- fgla 8/16/32: fast Griffin-Lim (momentum 0.99) from zero phase;
- pghi + 0/4/8/12/16: PGHI phase, then that many fast Griffin-Lim iterations.

Figures per method and settings, with one torch thread and one sound at a time:
- ms: the median over sounds of each sound's median of `--repeats` runs;
- x seed, x gla: seed gla 64's (gla 64's) time over this method's, both measured in this run;
- x seed+dec: seed gla 64's time over this method's plus the time the preset's model (untrained;
  the time does not depend on the weights) takes to decode one spectrogram: the speed-up of
  decode + inversion of one sound over the seed's inversion alone;
- convergence: spectral convergence ``||S - |STFT(x)|||_F / ||S||_F`` of the rebuilt sound x on the
  same STFT as the target S, mean over sounds (0 is perfect);
- attack: onset preservation, the peak of the rebuilt sound's amplitude envelope (the magnitude of
  its analytic signal, which does not depend on the phase of a steady partial) in its first 10 ms
  over the original's (sounds start at their onset, less 1 ms of pre-roll), geometric mean over
  sounds (1 is perfect; below 1 the attack is smeared or softened, above 1 it overshoots);
- attack error: the mean of ``|20 log10 attack|`` over sounds, dB (0 is perfect).

Prints a table; ``--out FILE`` also writes one entry per preset and method (its figures, and the preset's
decode time) as rows of docs/results/inversion.json (bench/record.py).

    python bench/inversion.py --limit 50 --repeats 3 --out inversion.json
    python bench/inversion.py --bank data/drums --split test --limit 0 --repeats 1   # the bank's test split
"""

from __future__ import annotations

import argparse
import functools
import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import record
import torch
from scipy.signal import hilbert

from dkvae import Bank
from dkvae.core.classes import CLASSES
from dkvae.core.config import AudioConfig, Config, InversionConfig, get_preset
from dkvae.models import build_model
from dkvae.sound.audio import BadAudio, load_sound, log_spectrogram, stft_magnitude
from dkvae.sound.inversion import invert

KITS = Path("/usr/share/hydrogen/data/drumkits")
ATTACK_SECONDS = 0.010
BASELINE = "seed gla 64"
METHODS: dict[str, InversionConfig | None] = {
    BASELINE: None,
    "gla 64": InversionConfig(method="gla", iterations=64),
    **{f"fgla {n}": InversionConfig(method="fgla", iterations=n) for n in (8, 16, 32)},
    **{f"pghi + {n}": InversionConfig(method="pghi", iterations=n) for n in (0, 4, 8, 12, 16)},
}

Inverter = Callable[[torch.Tensor], torch.Tensor]


def seed_griffin_lim(
    magnitude: torch.Tensor, n_fft: int, hop_length: int, num_samples: int, iterations: int
) -> torch.Tensor:
    """The seed's plain Griffin-Lim, as ``dkvae.sound.audio.griffin_lim`` had it before `dkvae.sound.inversion`."""
    window = torch.hann_window(n_fft, periodic=True)
    spectrum = magnitude.to(torch.complex64)
    audio = torch.istft(spectrum, n_fft, hop_length, window=window, center=True, length=num_samples)
    for _ in range(iterations):
        rebuilt = torch.stft(
            audio, n_fft, hop_length, window=window, center=True, pad_mode="constant", return_complex=True
        )
        spectrum = magnitude * torch.exp(1j * torch.angle(rebuilt))
        audio = torch.istft(spectrum, n_fft, hop_length, window=window, center=True, length=num_samples)
    return audio


def inverter(settings: InversionConfig | None, config: AudioConfig) -> Inverter:
    """Magnitudes ``(freq, frames)`` to audio with `settings` (None: the seed's Griffin-Lim, 64 iterations)."""
    size = (config.n_fft, config.hop_length, config.num_samples)
    if settings is None:
        return lambda magnitude: seed_griffin_lim(magnitude, *size, iterations=64)
    return lambda magnitude: invert(magnitude, *size, settings)


def sound_paths(bank: Path | None, split: str) -> list[Path]:
    """The original files of a processed bank's `split`, in the bank's order, or (no bank) the hydrogen kits' WAVs."""
    if bank is None:
        return sorted(KITS.glob("*/*.wav"))
    processed = Bank(bank, process=False)
    rows = processed.data[processed.data["split"] == split]
    if rows.empty:
        raise SystemExit(f"bank {bank} has no {split} sounds (is it processed?)")
    return [processed.original_dir / path for path in rows["original_path"]]


def load_sounds(limit: int, config: AudioConfig, paths: list[Path]) -> list[np.ndarray]:
    """Up to `limit` usable sounds (0: all) spread evenly over `paths`, fitted as `config` says."""
    limit = limit or len(paths)
    stride = max(1, len(paths) // limit)
    sounds = []
    for path in paths[::stride]:
        try:
            sounds.append(load_sound(path, config)[0])
        except BadAudio:
            continue
        if len(sounds) == limit:
            break
    return sounds


def spectral_convergence(target: torch.Tensor, audio: torch.Tensor, config: AudioConfig) -> float:
    """``||S - |STFT(audio)|||_F / ||S||_F`` on the STFT that made `target`."""
    rebuilt = stft_magnitude(log_spectrogram(audio, config.n_fft, config.hop_length), config.n_fft)
    return float(torch.linalg.vector_norm(rebuilt - target) / torch.linalg.vector_norm(target))


def attack_ratio(original: np.ndarray, rebuilt: np.ndarray, sample_rate: int) -> float:
    """Peak amplitude envelope (``|hilbert(x)|``) in the first `ATTACK_SECONDS` of `rebuilt` over that of `original`."""
    span = round(ATTACK_SECONDS * sample_rate)
    peaks = [float(np.max(np.abs(hilbert(sound))[:span])) for sound in (rebuilt, original)]
    return peaks[0] / max(peaks[1], 1e-9)


def median_ms(run: Callable[[], object], repeats: int) -> float:
    """Median wall time of `repeats` calls, in milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


def measure(preset: Config, sounds: list[Path], limit: int, repeats: int) -> list[dict[str, float | str]]:
    """The figures of every method on `limit` of the files `sounds` under `preset`'s audio settings.

    The methods take turns on each sound, so a change in the machine's load touches them all alike.
    """
    config = preset.audio
    runs = {name: inverter(settings, config) for name, settings in METHODS.items()}
    figures: dict[str, dict[str, list[float]]] = {name: {"ms": [], "convergence": [], "attack": []} for name in METHODS}
    loaded = load_sounds(limit, config, sounds)
    for sound in loaded:
        target = stft_magnitude(log_spectrogram(sound, config.n_fft, config.hop_length), config.n_fft)
        for name, run in runs.items():
            rebuilt = run(target)
            figures[name]["ms"].append(median_ms(functools.partial(run, target), repeats))
            figures[name]["convergence"].append(spectral_convergence(target, rebuilt, config))
            figures[name]["attack"].append(attack_ratio(sound, rebuilt.numpy(), config.sample_rate))
    rows = []
    for name, values in figures.items():
        logs = np.log(np.maximum(values["attack"], 1e-9))
        rows.append(
            {
                "preset": preset.preset,
                "method": name,
                "sounds": len(loaded),
                "ms": statistics.median(values["ms"]),
                "convergence": float(np.mean(values["convergence"])),
                "attack": float(np.exp(np.mean(logs))),
                "attack_error_db": float(np.mean(np.abs(logs)) * 20.0 / math.log(10.0)),
            }
        )
    baseline = next(row["ms"] for row in rows if row["method"] == BASELINE)
    plain = next(row["ms"] for row in rows if row["method"] == "gla 64")
    for row in rows:
        row["x_seed"] = baseline / row["ms"]
        row["x_gla"] = plain / row["ms"]
    return rows


def decode_ms(preset: Config, repeats: int) -> float:
    """Median time for `preset`'s model to decode one latent vector to a spectrogram (ms)."""
    model = build_model(preset.model, preset.audio.shape, len(CLASSES)).eval()
    latent = torch.zeros(1, preset.model.latent_dim)
    label = torch.zeros(1, dtype=torch.long)
    with torch.inference_mode():
        model.decode(latent, label)
        return median_ms(lambda: model.decode(latent, label), repeats)


def table_entries(rows: list[dict[str, float | str]], decode: dict[str, float]) -> list[dict]:
    """One row of docs/results/inversion.json per preset and method (`measure`'s rows), with the preset's
    decode time (`decode_ms`)."""
    entries = []
    for row in rows:
        preset, method = str(row["preset"]), str(row["method"])
        figures = {key: value for key, value in row.items() if key not in ("preset", "method")}
        figures["decode_ms"] = decode[preset]
        name = f"{preset}-{method}".replace(" + ", "-").replace(" ", "-")
        entries.append(record.study_entry(name, f"{method}, {preset} settings", figures, row))
    return entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=50, help="number of sounds (0: all)")
    parser.add_argument(
        "--bank", type=Path, default=None, help="a processed bank: its --split's sounds (default: hydrogen)"
    )
    parser.add_argument("--split", default="test", help="with --bank: train, test or val")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per sound and method")
    record.add_out(parser, "inversion")
    args = parser.parse_args()
    torch.set_num_threads(1)

    rows, decode = [], {}
    for name in ("default", "seed"):
        preset = get_preset(name)
        decode[name] = decode_ms(preset, 5 * args.repeats)
        for row in measure(preset, sound_paths(args.bank, args.split), args.limit, args.repeats):
            row["x_seed_with_decode"] = row["x_seed"] * row["ms"] / (row["ms"] + decode[name])
            rows.append(row)
    print(
        f"{'preset':8} {'method':12} {'ms':>8} {'x seed':>7} {'x gla':>6} {'x seed+dec':>10} "
        f"{'convergence':>11} {'attack':>7} {'attack err dB':>13}"
    )
    for row in rows:
        print(
            f"{row['preset']:8} {row['method']:12} {row['ms']:8.2f} {row['x_seed']:7.1f} {row['x_gla']:6.1f} "
            f"{row['x_seed_with_decode']:10.1f} {row['convergence']:11.4f} {row['attack']:7.3f} "
            f"{row['attack_error_db']:13.2f}"
        )
    for name, ms in decode.items():
        print(f"decode one spectrogram, {name} model: {ms:.2f} ms")
    record.write(args.out, *table_entries(rows, decode), table="inversion")


if __name__ == "__main__":
    main()
