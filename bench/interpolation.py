"""Spherical, linear or prior interpolation: which walks the latent space more smoothly, on one model and bank.

For `--pairs` random pairs of test sounds of one class, the morph of `--steps` steps is decoded to
spectrograms with each method (no inversion: this measures the model's path, not the vocoder); a
codec with a flow prior is also walked along the prior's noise (``prior``,
`DrumMachine.interpolation_latents`). Each is scored two ways, medians over the pairs:

- evenness: the largest step between neighbouring spectrograms over the mean step (mean absolute
  difference of normalized spectrograms); 1.0 means every step changes the sound equally, a big value
  means the morph jumps somewhere;
- norm dip: the smallest latent norm along the path over the endpoints' mean norm (1 = the path
  stays as far from the origin as the real sounds' codes; a straight line between two codes dips
  toward the origin, where few training codes lie).

Prints one JSON line; ``--out FILE`` also writes the figure as docs/results/performance.json's entry
``interpolation`` (bench/record.py).

    python bench/interpolation.py runs/drums-default data/drums --pairs 64 --steps 9
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np
import record

from dkvae import Bank
from dkvae.inference.machine import DrumMachine


def score(machine: DrumMachine, start: np.ndarray, end: np.ndarray, instrument: str, steps: int, method: str) -> tuple[float, float]:
    latents = machine.interpolation_latents(start, end, steps, method, (instrument, instrument))  # type: ignore[arg-type]
    spectrograms = machine.decode_spectrograms(latents, instrument)
    distances = np.abs(np.diff(spectrograms, axis=0)).mean(axis=(1, 2))
    evenness = float(distances.max() / max(distances.mean(), 1e-12))
    norms = np.linalg.norm(latents.astype(np.float64), axis=1)
    return evenness, float(norms.min() / norms[[0, -1]].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("bank", type=Path)
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--steps", type=int, default=9)
    parser.add_argument("--seed", type=int, default=0)
    record.add_out(parser)
    args = parser.parse_args()
    machine = DrumMachine.load(args.model)
    bank = Bank(args.bank, preset=machine.config, process=False)
    _, _, x_test, y_test, _, _ = bank.load_spectrograms()
    rng = np.random.default_rng(args.seed)
    methods = ("slerp", "linear", "prior") if machine.flow is not None else ("slerp", "linear")
    results: dict[str, dict[str, list[float]]] = {m: {"evenness": [], "norm_dip": []} for m in methods}
    for _ in range(args.pairs):
        label = int(rng.choice(np.unique(y_test)))
        first, second = rng.choice(np.flatnonzero(y_test == label), 2, replace=False)
        instrument = bank.instruments[label]
        mean = machine.encode_spectrograms(x_test[[first, second]], instrument)
        for method in results:
            evenness, norm_dip = score(machine, mean[0], mean[1], instrument, args.steps, method)
            results[method]["evenness"].append(evenness)
            results[method]["norm_dip"].append(norm_dip)
    summary = {
        method: {name: round(statistics.median(values), 4) for name, values in figures.items()}
        for method, figures in results.items()
    }
    result = {"model": str(args.model), "bank": str(args.bank), "pairs": args.pairs, "steps": args.steps, **summary}
    print(json.dumps(result))
    evenness = {method: summary[method]["evenness"] for method in methods}
    evener = min(evenness, key=evenness.__getitem__)
    default = machine.default_interpolation
    others = ", ".join(f"{method} {value:.2f}" for method, value in evenness.items() if method != default)
    note = f", {others} (medians over {args.pairs} pairs of {args.steps} steps): {evener} is the evener, {default} the default"
    title = f"morph evenness (largest step over mean step, 1 is even), model {machine.model_id}"
    figure = round(evenness[default], 2)
    record.write(args.out, record.entry("interpolation", title, figure, None, note, result, label=default))


if __name__ == "__main__":
    main()
