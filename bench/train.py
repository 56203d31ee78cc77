"""Training throughput of the `default` and `seed` presets on the same bank, in one run.

Each preset trains for `--epochs` epochs from scratch (no early stopping) `--runs` times, in turn;
the figures are medians: training samples per second (train split size x epochs / seconds of
fitting, validation included) and seconds per epoch. The ratio default/seed says what the bigger
representation and model cost.

Prints one JSON line; ``--out FILE`` also writes the figure as docs/results/performance.json's entry
``train_<bank folder name>`` (bench/record.py).

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

import record
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
    record.add_out(parser)
    args = parser.parse_args()
    results: dict[str, dict[str, list[float]]] = {p: {"samples_per_s": [], "seconds_per_epoch": []} for p in ("default", "seed")}
    sounds: dict[str, int] = {}
    for _ in range(args.runs):
        for preset in results:
            seconds, sounds[preset] = time_training(args.bank, preset, args.epochs)
            results[preset]["samples_per_s"].append(sounds[preset] * args.epochs / seconds)
            results[preset]["seconds_per_epoch"].append(seconds / args.epochs)
            print(f"{preset:8s} {sounds[preset] * args.epochs / seconds:8.1f} samples/s  {seconds / args.epochs:6.1f} s/epoch")
    summary = {
        preset: {name: round(statistics.median(values), 2) for name, values in figures.items()}
        for preset, figures in results.items()
    }
    ratio = summary["default"]["samples_per_s"] / summary["seed"]["samples_per_s"]
    result = {"bank": str(args.bank), "threads": torch.get_num_threads(), "epochs": args.epochs,
              "runs": args.runs, **summary, "default_over_seed_speed": round(ratio, 2)}  # fmt: skip
    print(json.dumps(result))
    default, seed = summary["default"], summary["seed"]
    note = (
        f"faster than the seed's VAE: `default` {default['samples_per_s']} samples/s ({default['seconds_per_epoch']} "
        f"s/epoch), `seed` {seed['samples_per_s']} samples/s ({seed['seconds_per_epoch']} s/epoch); medians of "
        f"{args.runs} runs of {args.epochs} epochs"
    )
    threads = torch.get_num_threads()
    title = f"training, {args.bank} ({sounds['default']} training sounds), {threads} threads, `default` against `seed`"
    record.write(args.out, record.entry(f"train_{args.bank.name}", title, result["default_over_seed_speed"], "×",
                                        note, result))  # fmt: skip


if __name__ == "__main__":
    main()
