"""What the temperature does to new sounds: the evaluation's generation figures at each of `--temperatures`.

Evaluates the model as `dkvae evaluate` does, with every new sound drawn at one temperature
(`DrumMachine.sample_latents`: the spread of the draws around their class's mean, 1 as the training
sounds spread), at each of `--seeds` with one judge (judge seed 0; a classifier cached in
`--classifier` is copied into each report folder, else each trains the same one anew). Prints one
JSON line per report: the generation figures and the per-class accuracy (`haze.summary`).

    python bench/temperature.py data/drums --temperatures 0.5 0.75 1 1.25 1.5 --seeds 0 1 2 --classifier reports/bundled/classifier
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
from haze import summary

from dkvae.evaluation.evaluate import evaluate
from dkvae.inference.machine import DrumMachine


def at_temperature(sample: Callable[..., np.ndarray], temperature: float) -> Callable[..., np.ndarray]:
    """`sample` (DrumMachine.sample_latents) drawing at `temperature` whatever its caller asks."""

    def sample_at(machine: DrumMachine, n: int, seed: int, instrument: str | None = None, *_: object) -> np.ndarray:
        return sample(machine, n, seed, instrument, temperature)

    return sample_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bank", type=Path)
    parser.add_argument("--model", type=Path, default=None, help="model directory (default: the bundled model)")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.5, 0.75, 1.0, 1.25, 1.5])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--classifier", type=Path, default=None, help="a cached judge (seed 0) to copy in")
    parser.add_argument("--out", type=Path, default=Path("bench/results/temperature"))
    args = parser.parse_args()
    sample = DrumMachine.sample_latents
    for temperature in args.temperatures:
        DrumMachine.sample_latents = at_temperature(sample, temperature)  # type: ignore[method-assign]
        for seed in args.seeds:
            out = args.out / f"t{temperature:g}-seed{seed}"
            if args.classifier is not None and not (out / "classifier").exists():
                shutil.copytree(args.classifier, out / "classifier")
            metrics = evaluate(args.bank, out, args.model, seed=seed)
            figures = summary(metrics)
            del figures["reconstruction"]  # the same at every temperature: it encodes real sounds
            print(json.dumps({"temperature": temperature, "seed": seed, **figures}), flush=True)


if __name__ == "__main__":
    main()
