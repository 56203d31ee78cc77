"""How much of a model's evaluation comes from the faint haze its decoder leaves over the spectrogram.

Evaluates the model as `dkvae evaluate` does, once as it renders and once per `--gates` value with
every decoded coefficient more than that many dB under its spectrogram's peak set to silence before
inversion (an experiment: the model's renders do not do it), at each of `--seeds` with one judge
(judge seed 0; a classifier cached in `--classifier` is copied into each report folder, else each
trains the same one anew). Prints one JSON line per report: the generation figures, the per-class
accuracy, and the reconstruction figures before and after inversion.

    python bench/haze.py data/drums --gates 60 70 --seeds 0 1 2 --classifier reports/bundled/classifier
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bank", type=Path)
    parser.add_argument("--model", type=Path, default=None, help="model directory (default: the bundled model)")
    parser.add_argument("--gates", type=float, nargs="+", default=[60.0, 70.0], help="dB under the peak")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--classifier", type=Path, default=None, help="a cached judge (seed 0) to copy in")
    parser.add_argument("--out", type=Path, default=Path("bench/results/haze"))
    args = parser.parse_args()
    decode = DrumMachine.decode_spectrograms
    for gate_db in [None, *args.gates]:
        DrumMachine.decode_spectrograms = decode if gate_db is None else gated(decode, gate_db)  # type: ignore[method-assign]
        for seed in args.seeds:
            out = args.out / f"gate-{'none' if gate_db is None else int(gate_db)}-seed{seed}"
            if args.classifier is not None and not (out / "classifier").exists():
                shutil.copytree(args.classifier, out / "classifier")
            metrics = evaluate(args.bank, out, args.model, seed=seed)
            print(json.dumps({"gate_db": gate_db, "seed": seed, **summary(metrics)}), flush=True)


if __name__ == "__main__":
    main()
