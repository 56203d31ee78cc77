"""Training throughput of the `default` and `seed` presets on the same bank, in one run.

Each preset trains for `--epochs` epochs from scratch (no early stopping) `--runs` times, in turn;
the figures are medians: training samples per second (train split size x epochs / seconds of
fitting, validation included) and seconds per epoch. The ratio default/seed says what the bigger
representation and model cost.

    python bench/train.py data/hydrogen --epochs 3 --runs 3
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from dkvae import Bank
from dkvae.core.config import get_preset
from dkvae.training.train import train


def time_training(bank: Path, preset: str, epochs: int) -> tuple[float, int]:
    """Seconds to train `preset` for `epochs` epochs, and the number of training sounds."""
    config = get_preset(preset)
    config = dataclasses.replace(
        config, train=dataclasses.replace(config.train, epochs=epochs, early_stopping_patience=0)
    )
    sounds = int((Bank(bank, preset=config).data["split"] == "train").sum())
    with tempfile.TemporaryDirectory() as run:
        start = time.perf_counter()
        train(bank, Path(run) / "run", config, progress_bar=False)
        return time.perf_counter() - start, sounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bank", type=Path)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, dict[str, list[float]]] = {p: {"samples_per_s": [], "seconds_per_epoch": []} for p in ("default", "seed")}
    for _ in range(args.runs):
        for preset in results:
            seconds, sounds = time_training(args.bank, preset, args.epochs)
            results[preset]["samples_per_s"].append(sounds * args.epochs / seconds)
            results[preset]["seconds_per_epoch"].append(seconds / args.epochs)
            print(f"{preset:8s} {sounds * args.epochs / seconds:8.1f} samples/s  {seconds / args.epochs:6.1f} s/epoch")
    summary = {
        preset: {name: round(statistics.median(values), 2) for name, values in figures.items()}
        for preset, figures in results.items()
    }
    ratio = summary["default"]["samples_per_s"] / summary["seed"]["samples_per_s"]
    print(json.dumps({"bank": str(args.bank), "threads": torch.get_num_threads(), "epochs": args.epochs,
                      "runs": args.runs, **summary, "default_over_seed_speed": round(ratio, 2)}))


if __name__ == "__main__":
    main()
