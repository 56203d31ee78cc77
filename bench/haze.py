"""How much of a model's evaluation comes from the faint haze its decoder leaves over the spectrogram.

Evaluates the model as `dkvae evaluate` does, once as it renders and once per `--gates` value with
every decoded coefficient more than that many dB under its spectrogram's peak set to silence before
inversion (an experiment: the model's renders do not do it), at each of `--seeds` with one judge
(judge seed 0; a classifier cached in `--classifier` is copied into each report folder, else each
trains the same one anew; the reports go under `--reports`). Prints one JSON line per report: the
generation figures, the per-class accuracy, and the reconstruction figures before and after inversion;
``--out FILE`` also writes one entry per gate (its medians over the seeds, and each seed's figures) as
rows of docs/results/haze.json (bench/record.py).

    python bench/haze.py data/drums --gates 60 70 --seeds 0 1 2 --classifier reports/bundled/classifier
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import record

from dkvae.evaluation.evaluate import evaluate
from dkvae.inference.machine import DrumMachine


def gated(decode: Callable[..., np.ndarray], gate_db: float) -> Callable[..., np.ndarray]:
    """`decode` (DrumMachine.decode_spectrograms) with coefficients more than `gate_db` under their spectrogram's peak silenced."""

    def decode_gated(machine: DrumMachine, latents: np.ndarray, classes: object) -> np.ndarray:
        spectrograms = decode(machine, latents, classes)
        low, high = machine.db_range()  # [0, 1] spans this many dB
        floor = spectrograms.max(axis=(-2, -1), keepdims=True) - gate_db / (high - low)
        return np.where(spectrograms < floor, 0.0, spectrograms).astype(spectrograms.dtype)

    return decode_gated


def summary(metrics: dict) -> dict:
    """The figures the comparison reads: generation overall and per-class accuracy, reconstruction before and after."""
    generation = metrics["generation"]
    return {
        "generation": {name: round(values["model"], 4) for name, values in generation["overall"].items()},
        "accuracy_per_class": {name: round(v["accuracy"]["model"], 3) for name, v in generation["per_class"].items()},
        "reconstruction": None  # a GAN has no encoder
        if metrics["reconstruction"] is None
        else {
            stage: {name: round(value, 4) for name, value in metrics["reconstruction"][stage]["overall"].items()}
            for stage in ("spectrogram", "audio")
        },
    }


def median_figures(reports: list[Any]) -> Any:
    """The median of each figure over `reports` (``summary`` dicts of one shape, e.g. one per seed), nested as
    they are; None where no report has the figure."""
    if isinstance(reports[0], dict):
        return {key: median_figures([report[key] for report in reports]) for key in reports[0]}
    values = [value for value in reports if value is not None]
    return round(statistics.median(values), 4) if values else None


def table_entries(reports: dict[float | None, list[dict]]) -> list[dict]:
    """One row of docs/results/haze.json per gate (None: as the model renders): the medians over its seeds'
    reports (``{"seed": S, **summary}``) and every report."""
    return [
        record.study_entry(
            "gate-none" if gate is None else f"gate-{gate:g}",
            "as it renders" if gate is None else f"gated {gate:g} dB under the peak",
            median_figures([{k: v for k, v in report.items() if k != "seed"} for report in runs]),
            runs,
        )
        for gate, runs in reports.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bank", type=Path)
    parser.add_argument("--model", type=Path, default=None, help="model directory (default: the bundled model)")
    parser.add_argument("--gates", type=float, nargs="+", default=[60.0, 70.0], help="dB under the peak")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--classifier", type=Path, default=None, help="a cached judge (seed 0) to copy in")
    parser.add_argument("--reports", type=Path, default=Path("bench/results/haze"), help="where the reports go")
    record.add_out(parser, "haze")
    args = parser.parse_args()
    decode = DrumMachine.decode_spectrograms
    reports: dict[float | None, list[dict]] = {}
    for gate_db in [None, *args.gates]:
        DrumMachine.decode_spectrograms = decode if gate_db is None else gated(decode, gate_db)  # type: ignore[method-assign]
        for seed in args.seeds:
            out = args.reports / f"gate-{'none' if gate_db is None else int(gate_db)}-seed{seed}"
            if args.classifier is not None and not (out / "classifier").exists():
                shutil.copytree(args.classifier, out / "classifier")
            figures = {"seed": seed, **summary(evaluate(args.bank, out, args.model, seed=seed))}
            reports.setdefault(gate_db, []).append(figures)
            print(json.dumps({"gate_db": gate_db, **figures}), flush=True)
    record.write(args.out, *table_entries(reports), table="haze")


if __name__ == "__main__":
    main()
