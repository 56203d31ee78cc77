"""One sound's latency from two or more models (e.g. the VAE and the CGAN): decode + inversion + finishing, 1 thread.

Every run renders one sound of each instrument (all the first model's classes by default) with each
model in turn, so every model sees the same load; latents come from each model's own latent prior.
The figures are each model's median over all its sounds and per instrument, and their ratios to
the first model's. Prints one JSON line; ``--out FILE`` also writes the other models' ratios as
docs/results/performance.json's entry ``generators`` (bench/record.py).

    python bench/generators.py src/dkvae/pretrained runs/cgan --runs 50
    python bench/generators.py src/dkvae/pretrained runs/cgan --runs 50 --instruments snare
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import record
import torch

from dkvae.inference.machine import DrumMachine


def entry(result: dict) -> dict:
    """The bench table's row: each later model's time for one finished sound over the first's (`result`, as printed)."""
    first, others = result["models"][0], result["models"][1:]
    ratios = [model["ratio_to_first"] for model in others]
    times = ", ".join(f"{model['ms']} ms" for model in others)
    kinds = " and ".join(dict.fromkeys(model["kind"] for model in others))
    title = f"one finished sound of each class in turn, {kinds} against the {first['kind']}, 1 thread"
    note = (
        f"the first model's time ({times} against {first['ms']} ms, median of {result['runs']} interleaved rounds;"
        f" {', '.join(model['model'] for model in result['models'])})"
    )
    return record.entry("generators", title, ratios if len(ratios) > 1 else ratios[0], "×", note, result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--instruments", nargs="+", default=None, help="default: every class of the first model")
    record.add_out(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    machines = [DrumMachine.load(model) for model in args.models]
    instruments = args.instruments or machines[0].instruments
    latents = {
        (index, name): machine.sample_latents(args.runs, 0, name)
        for index, machine in enumerate(machines)
        for name in instruments
    }
    for (index, name), z in latents.items():
        machines[index].render(z[:1], name)  # warm-up
    times: dict[tuple[int, str], list[float]] = {key: [] for key in latents}
    for run in range(args.runs):
        for name in instruments:
            for index, machine in enumerate(machines):
                start = time.perf_counter()
                machine.render(latents[index, name][run : run + 1], name)
                times[index, name].append(1000 * (time.perf_counter() - start))
    overall = [statistics.median(t for name in instruments for t in times[index, name]) for index in range(len(machines))]
    per_instrument = {
        name: [statistics.median(times[index, name]) for index in range(len(machines))] for name in instruments
    }
    result = {
        "runs": args.runs,
        "models": [
            {
                "model": model,
                "kind": machine.config.model.kind,
                "ms": round(overall[index], 2),
                "ratio_to_first": round(overall[index] / overall[0], 3),
                "per_instrument_ms": {name: round(ms[index], 2) for name, ms in per_instrument.items()},
                "per_instrument_ratio": {name: round(ms[index] / ms[0], 3) for name, ms in per_instrument.items()},
            }
            for index, (model, machine) in enumerate(zip(args.models, machines))
        ],
    }
    print(json.dumps(result))
    if len(machines) > 1:
        record.write(args.out, entry(result))


if __name__ == "__main__":
    main()
