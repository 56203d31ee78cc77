"""Wall time of `dkvae evaluate` on a bank with a cached classifier (target: under 3 minutes for ~1.5k sounds on 2 cores).

A first, untimed run trains the classifier into the report folder (`--report`) when it is not cached
yet; then `--runs` timed runs evaluate with it. The figures are medians: the whole evaluation and each
stage. Prints one JSON line; ``--out FILE`` also writes the figure as docs/results/performance.json's
entry ``evaluate_<bank folder name>`` (bench/record.py).

    python bench/evaluate.py data/hydrogen --model runs/hydrogen-default --runs 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import record

from dkvae.evaluation.evaluate import DEFAULT_COUNT, EVALUATION_THREADS, evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bank", type=Path)
    parser.add_argument("--model", type=Path, default=None, help="model directory (default: the bundled model)")
    parser.add_argument(
        "--report", type=Path, default=Path("bench/results/evaluate-report"), help="report folder (keeps the classifier)"
    )
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT, help="sounds generated per class")
    parser.add_argument("--runs", type=int, default=3)
    record.add_out(parser)
    args = parser.parse_args()
    start = time.perf_counter()
    evaluate(args.bank, args.report, args.model, count=args.count)
    warmup = time.perf_counter() - start
    print(f"warm-up (classifier trained when not cached): {warmup:.1f} s")
    totals: list[float] = []
    stages: dict[str, list[float]] = {}
    for _ in range(args.runs):
        start = time.perf_counter()
        metrics = evaluate(args.bank, args.report, args.model, count=args.count)
        totals.append(time.perf_counter() - start)
        for stage, seconds in metrics["seconds"].items():
            stages.setdefault(stage, []).append(seconds)
        print(f"run {len(totals)}: {totals[-1]:.1f} s")
    result = {
        "bank": str(args.bank), "sounds": sum(metrics["bank"]["sounds"].values()), "count": args.count,
        "torch_threads": EVALUATION_THREADS, "runs": args.runs, "median_s": round(statistics.median(totals), 1),
        "stages_median_s": {stage: round(statistics.median(values), 1) for stage, values in stages.items()},
        "warmup_s": round(warmup, 1),
    }  # fmt: skip
    print(json.dumps(result))
    title = f"`dkvae evaluate` on {args.bank} ({result['sounds']} sounds), cached classifier"
    note = f"median of {args.runs} ({args.count} sounds generated per class; the untimed first run: {warmup:.0f} s)"
    record.write(
        args.out, record.entry(f"evaluate_{args.bank.name}", title, result["median_s"], "s", note, result, "< 3 min")
    )


if __name__ == "__main__":
    main()
