"""What the temperature does to new sounds: the evaluation's generation figures at each of `--temperatures`.

Evaluates the model as `dkvae evaluate` does, with every new sound drawn at one temperature
(`DrumMachine.sample_latents`: the spread of the draws around their class's mean, 1 as the training
sounds spread), at each of `--seeds` with one judge (judge seed 0; a classifier cached in
`--classifier` is copied into each report folder, else each trains the same one anew; the reports go
under `--reports`). Prints one JSON line per report: the generation figures and the per-class accuracy
(`haze.summary`); ``--out FILE`` also writes one entry per temperature (its medians over the seeds, and
each seed's figures) as rows of docs/results/temperature.json, the table in docs/results.md's
"Temperature" (bench/record.py).

    python bench/temperature.py data/drums --temperatures 0.5 0.75 1 1.25 1.5 --seeds 0 1 2 --classifier reports/bundled/classifier
"""

from __future__ import annotations

import argparse
import inspect
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import record
from haze import median_figures, summary

from dkvae.evaluation.evaluate import evaluate
from dkvae.inference.machine import DrumMachine

#: The temperature the drum machine draws at unless told otherwise.
DEFAULT_TEMPERATURE = inspect.signature(DrumMachine.sample_latents).parameters["temperature"].default


def at_temperature(sample: Callable[..., np.ndarray], temperature: float) -> Callable[..., np.ndarray]:
    """`sample` (DrumMachine.sample_latents) drawing at `temperature` whatever its caller asks."""

    def sample_at(machine: DrumMachine, n: int, seed: int, instrument: str | None = None, *_: object) -> np.ndarray:
        return sample(machine, n, seed, instrument, temperature)

    return sample_at


def table_entries(reports: dict[float, list[dict]]) -> list[dict]:
    """One row of docs/results/temperature.json per temperature: the medians over its seeds' reports
    (``{"seed": S, **summary}``) and every report; the drum machine's default temperature says so."""
    return [
        record.study_entry(
            f"t{temperature:g}",
            f"{temperature:g}" + (" (default)" if temperature == DEFAULT_TEMPERATURE else ""),
            median_figures([{k: v for k, v in report.items() if k != "seed"} for report in runs]),
            runs,
        )
        for temperature, runs in reports.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bank", type=Path)
    parser.add_argument("--model", type=Path, default=None, help="model directory (default: the bundled model)")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.5, 0.75, 1.0, 1.25, 1.5])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--classifier", type=Path, default=None, help="a cached judge (seed 0) to copy in")
    parser.add_argument("--reports", type=Path, default=Path("bench/results/temperature"), help="where the reports go")
    record.add_out(parser, "temperature")
    args = parser.parse_args()
    sample = DrumMachine.sample_latents
    reports: dict[float, list[dict]] = {}
    for temperature in args.temperatures:
        DrumMachine.sample_latents = at_temperature(sample, temperature)  # type: ignore[method-assign]
        for seed in args.seeds:
            out = args.reports / f"t{temperature:g}-seed{seed}"
            if args.classifier is not None and not (out / "classifier").exists():
                shutil.copytree(args.classifier, out / "classifier")
            figures = summary(evaluate(args.bank, out, args.model, seed=seed))
            del figures["reconstruction"]  # the same at every temperature: it encodes real sounds
            reports.setdefault(temperature, []).append({"seed": seed, **figures})
            print(json.dumps({"temperature": temperature, "seed": seed, **figures}), flush=True)
    record.write(args.out, *table_entries(reports), table="temperature")


if __name__ == "__main__":
    main()
