"""One sound's latency from two or more models (e.g. the VAE and the CGAN): decode + inversion + finishing, 1 thread.

Runs are interleaved so every model sees the same load; the figure is each model's median and its
ratio to the first model's.

    python bench/generators.py src/dkvae/pretrained runs/cgan --runs 50
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from dkvae.machine import DrumMachine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    machines = [DrumMachine.load(model) for model in args.models]
    latents = [machine.sample_latents(args.runs, 0, "snare") for machine in machines]
    for machine, z in zip(machines, latents):
        machine.render(z[:1], "snare")  # warm-up
    times: list[list[float]] = [[] for _ in machines]
    for run in range(args.runs):
        for index, (machine, z) in enumerate(zip(machines, latents)):
            start = time.perf_counter()
            machine.render(z[run : run + 1], "snare")
            times[index].append(1000 * (time.perf_counter() - start))
    medians = [statistics.median(t) for t in times]
    print(json.dumps({
        "runs": args.runs,
        "models": [{"model": m, "kind": machine.config.model.kind, "ms": round(ms, 2), "ratio_to_first": round(ms / medians[0], 3)}
                   for m, machine, ms in zip(args.models, machines, medians)],
    }))  # fmt: skip


if __name__ == "__main__":
    main()
