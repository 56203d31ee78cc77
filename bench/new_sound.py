"""One new sound from start to finish, a model against a baseline model in the same run, and batch throughput.

Latency (1 CPU thread, median of `--runs`, the two models interleaved so both see the same load):
``DrumMachine.generate`` of one sound of every class: drawing its latent (for a codec, the flow prior's
Euler steps with guidance), decoding, inversion and finishing. The ratio is the model's median over
the classes against the baseline's (default: the bundled model), so the figure is the cost of a new
sound as a user gets it, whatever each model's length and prior.

Throughput (2 threads): sounds per second of ``dkvae generate --count N`` (WAVs and sidecars written) for
the model, median of `--batch-runs`.

    python bench/new_sound.py runs/codec-cosine --runs 15 --count 256 --out docs/results/new_sound.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import record
import torch

from dkvae.inference.generation import write_generated
from dkvae.inference.machine import DrumMachine


def median_ms(times: list[float]) -> float:
    return round(statistics.median(times) * 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="the model directory measured")
    parser.add_argument(
        "--baseline", type=Path, default=None, help="the model it is measured against (default: the bundled model)"
    )
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--count", type=int, default=256)
    parser.add_argument("--batch-runs", type=int, default=3)
    record.add_out(parser)
    args = parser.parse_args()
    machines = {"model": DrumMachine.load(args.model), "baseline": DrumMachine.load(args.baseline)}
    torch.set_num_threads(1)
    times: dict[tuple[str, str], list[float]] = {}
    for role, machine in machines.items():
        for instrument in machine.instruments:
            machine.generate(instrument, 1, seed=0)  # warm-up
            times[role, instrument] = []
    for run in range(args.runs):
        for (role, instrument), measured in times.items():
            start = time.perf_counter()
            machines[role].generate(instrument, 1, seed=run)
            measured.append(time.perf_counter() - start)
    latency = {
        role: {instrument: median_ms(t) for (r, instrument), t in times.items() if r == role} for role in machines
    }
    medians = {role: statistics.median(by_class.values()) for role, by_class in latency.items()}
    ratio = round(medians["model"] / medians["baseline"], 2)

    torch.set_num_threads(2)
    model = machines["model"]
    rates = []
    for _ in range(args.batch_runs):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            write_generated(model, model.instruments[0], args.count, 1, out)
            rates.append(args.count / (time.perf_counter() - start))
    result = {
        "model": {
            "path": str(args.model),
            "id": model.model_id,
            "kind": model.config.model.kind,
            "seconds": model.config.audio.duration,
        },
        "baseline": {
            "path": str(machines["baseline"].directory.path),
            "id": machines["baseline"].model_id,
            "kind": machines["baseline"].config.model.kind,
            "seconds": machines["baseline"].config.audio.duration,
        },
        "latency_ms": latency,
        "median_over_classes_ms": {role: round(value, 2) for role, value in medians.items()},
        "ratio_to_baseline": ratio,
        "generate_sounds_per_s": round(statistics.median(rates), 1),
        "generate_sounds_per_s_runs": [round(rate, 1) for rate in rates],
        "count": args.count,
    }
    print(json.dumps(result))
    kinds = f"{result['model']['kind']} ({result['model']['seconds']:.2f} s sounds) against {result['baseline']['kind']} ({result['baseline']['seconds']:.2f} s)"
    record.write(
        args.out,
        record.entry(
            "new_sound_latency",
            f"one new sound, 1 thread: prior, decode, inversion, finishing; {kinds}",
            ratio, "× the baseline's", f"median over classes {medians['model']:.1f} ms against {medians['baseline']:.1f} ms",
            result, "≤ 1.5×",
        ),
        record.entry(
            "new_sound_throughput",
            f"batch throughput of the {result['model']['kind']}, `generate --count {args.count}` (WAVs and sidecars written), 2 threads",
            result["generate_sounds_per_s"], "sounds/s", f"median of {args.batch_runs} runs ({min(rates):.0f}–{max(rates):.0f})",
            result, "≥ 100",
        ),
    )  # fmt: skip


if __name__ == "__main__":
    main()
