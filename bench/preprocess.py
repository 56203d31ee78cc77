"""Preprocessing throughput: the seed's pipeline against `Bank`, on the same bank with the same settings.

The seed's pipeline as its README describes it: librosa.load at 22050 Hz, trim leading zeros, pad or
cut to 0.74 s, librosa STFT (n_fft 512, hop 256), amplitude_to_db, per-sample min-max, one np.save per
file, sequential. `Bank` runs the `seed` preset from scratch with `--workers` processes, on a
mirror of the bank made of links in a temporary folder (the bank's own processed data is left
alone). Both run in turn, `--runs` times, after one warm-up pass that brings the files into the page cache; the figure is
the median of the per-run ratios (the machines are shared and noisy).

Prints one JSON line; ``--out FILE`` also writes the figure as docs/results/performance.json's entry
``preprocess_<bank folder name>`` (bench/record.py).

    python bench/preprocess.py data/hydrogen --runs 5
    python bench/preprocess.py data/synth10k --runs 3 --out bench/results/preprocess_synth10k.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import librosa
import numpy as np
import record

from dkvae import Bank
from dkvae.core.config import AUDIO_EXTENSIONS, get_preset
from dkvae.data.bank import processed_dir_for

SEED = get_preset("seed").audio
#: The speed-up each bank must reach over the seed's pipeline, by the bank folder's name.
TARGETS = {"hydrogen": "≥ 4×", "drums": "≥ 4×", "synth10k": "≥ 6×"}


def seed_pipeline(files: list[Path], out_dir: Path) -> int:
    """The seed's preprocessing, file by file; returns how many files it saved."""
    saved = 0
    for index, path in enumerate(files):
        try:
            signal, _ = librosa.load(path, sr=SEED.sample_rate, mono=True)
        except Exception:  # noqa: BLE001, S112  (the seed had no handling of bad files; count them as not saved)
            continue
        signal = np.trim_zeros(signal, "f")
        if len(signal) < SEED.num_samples:
            signal = np.pad(signal, (0, SEED.num_samples - len(signal)))
        signal = signal[: SEED.num_samples]
        stft = librosa.stft(signal, n_fft=SEED.n_fft, hop_length=SEED.hop_length)[:-1]
        spectrogram = librosa.amplitude_to_db(np.abs(stft))
        low, high = spectrogram.min(), spectrogram.max()
        normalized = (spectrogram - low) / (high - low) if high > low else np.zeros_like(spectrogram)
        np.save(out_dir / f"{index}.npy", normalized)
        saved += 1
    return saved


def audio_files(bank: Path) -> list[Path]:
    """The bank's audio files in class folders."""
    return sorted(p for p in bank.glob("*/**/*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())


def time_seed(files: list[Path]) -> float:
    """Seconds the seed's pipeline takes over `files`."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        seed_pipeline(files, Path(out))
        return time.perf_counter() - start


def mirror(bank: Path, files: list[Path], folder: Path) -> Path:
    """A bank in `folder` of links to `files`, so timing never touches the real bank's processed data.

    Hard links where the filesystem allows, so `Bank` opens regular files as the seed's pipeline (which
    reads the originals) does; through symbolic links it would pay a link resolution per file the
    seed does not (about 4 µs a file here, in scanning alone).
    """
    root = folder / bank.name
    for file in files:
        link = root / file.relative_to(bank)
        link.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(file, link)
        except OSError:  # another filesystem, or one without hard links
            link.symlink_to(file.resolve())
    return root


def time_bank(bank: Path, workers: int) -> float:
    """Seconds `Bank` takes to process `bank` from scratch with the seed preset."""
    shutil.rmtree(processed_dir_for(bank.resolve()), ignore_errors=True)
    start = time.perf_counter()
    Bank(bank, preset="seed", workers=workers)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bank", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    record.add_out(parser)
    args = parser.parse_args()

    files = audio_files(args.bank)
    time_seed(files)  # warm-up: page cache and librosa's lazy imports
    ratios, seed_rates, bank_rates = [], [], []
    scratch = tempfile.TemporaryDirectory()
    linked = mirror(args.bank, files, Path(scratch.name))
    for _ in range(args.runs):
        seed_seconds = time_seed(files)
        bank_seconds = time_bank(linked, args.workers)
        seed_rates.append(len(files) / seed_seconds)
        bank_rates.append(len(files) / bank_seconds)
        ratios.append(seed_seconds / bank_seconds)
        print(f"seed {seed_rates[-1]:8.1f} files/s   bank {bank_rates[-1]:8.1f} files/s   ratio {ratios[-1]:5.2f}x")
    result = {
        "bank": str(args.bank),
        "files": len(files),
        "workers": args.workers,
        "runs": args.runs,
        "seed_files_per_s": round(statistics.median(seed_rates), 1),
        "bank_files_per_s": round(statistics.median(bank_rates), 1),
        "median_ratio": round(statistics.median(ratios), 2),
    }
    print(json.dumps(result))
    scratch.cleanup()
    note = (
        f"the seed's pipeline ({result['bank_files_per_s']:.0f} vs {result['seed_files_per_s']:.0f} files/s, "
        f"median of {args.runs} runs of {min(ratios):.1f}–{max(ratios):.1f}×)"
    )
    title = f"preprocessing, {args.bank} ({len(files)} files), `seed` settings, {args.workers} workers"
    record.write(args.out, record.entry(
        f"preprocess_{args.bank.name}", title, result["median_ratio"], "×", note,
        {**result, "ratios": [round(r, 2) for r in ratios]}, TARGETS.get(args.bank.name),
    ))  # fmt: skip


if __name__ == "__main__":
    main()
