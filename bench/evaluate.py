"""Wall time of `dkvae evaluate` on a bank with a cached classifier (target: under 3 minutes for ~1.5k sounds on 2 cores).

A first, untimed run trains the classifier into the report folder when it is not cached yet; then
`--runs` timed runs evaluate with it. The figures are medians: the whole evaluation and each stage.

    python bench/evaluate.py data/hydrogen --model runs/hydrogen-default --runs 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from dkvae.evaluation.evaluate import DEFAULT_COUNT, EVALUATION_THREADS, evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bank", type=Path)
    parser.add_argument("--model", type=Path, default=None, help="model directory (default: the bundled model)")
    parser.add_argument(
        "--out", type=Path, default=Path("bench/results/evaluate-report"), help="report folder (keeps the classifier)"
    )
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT, help="sounds generated per class")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    start = time.perf_counter()
    evaluate(args.bank, args.out, args.model, count=args.count)
    print(f"warm-up (classifier trained when not cached): {time.perf_counter() - start:.1f} s")
    totals: list[float] = []
    stages: dict[str, list[float]] = {}
    for _ in range(args.runs):
        start = time.perf_counter()
        metrics = evaluate(args.bank, args.out, args.model, count=args.count)
        totals.append(time.perf_counter() - start)
        for stage, seconds in metrics["seconds"].items():
            stages.setdefault(stage, []).append(seconds)
        print(f"run {len(totals)}: {totals[-1]:.1f} s")
    print(json.dumps({
        "bank": str(args.bank), "sounds": sum(metrics["bank"]["sounds"].values()), "count": args.count,
        "torch_threads": EVALUATION_THREADS, "runs": args.runs, "median_s": round(statistics.median(totals), 1),
        "stages_median_s": {stage: round(statistics.median(values), 1) for stage, values in stages.items()},
    }))  # fmt: skip


if __name__ == "__main__":
    main()
