"""Scale: synthetic banks of growing size through import, preprocessing and one training epoch.

For each size (default 1,000, 10,000 and 100,000 files): ``dkvae synth-bank`` writes the bank (the
import step: files/s), ``Bank`` preprocesses it with the `default` preset on 2 workers (files/s and
the peak PSS of the process and its workers), and the `default` model trains for one full epoch over
the packed bank (peak PSS, seconds). Each step runs in its own child process, sampled every 20 ms,
and is timed from inside it after its imports (start-up is the same at every size).
The figures that must hold: preprocessing peak under 1 GiB, preprocessing throughput flat (largest
over smallest near 1), training memory flat as the bank grows. The banks are written under `--banks`.
Prints a JSON line per size and one summary; ``--out FILE`` also writes the figures as
docs/results/performance.json's entry ``scale`` (bench/record.py).

    python bench/scale.py --sizes 1000 10000 100000 --banks data/scale --out bench/results/scale.json
    python bench/scale.py --sizes 1000 10000 --train-sizes 1000 10000     # a quicker look
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import record
from memory import peak_pss_timed

from dkvae.data.bank import processed_dir_for

CLASSES = 7
IMPORT = """
import sys, time
from dkvae.importers.synth import write_synth_bank
start = time.perf_counter()
write_synth_bank(sys.argv[1], per_class=int(sys.argv[2]), seed=0)
open(sys.argv[-1], "w").write(str(time.perf_counter() - start))
"""
PREPROCESS = """
import sys, time
from dkvae import Bank
start = time.perf_counter()
Bank(sys.argv[1], workers=int(sys.argv[2]))
open(sys.argv[-1], "w").write(str(time.perf_counter() - start))
"""
TRAIN = """
import sys, time, dataclasses
from dkvae.core.config import get_preset
from dkvae.training.train import train
config = get_preset("default")
config = dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=1, early_stopping_patience=0))
start = time.perf_counter()
train(sys.argv[1], sys.argv[2], config, progress_bar=False)
open(sys.argv[-1], "w").write(str(time.perf_counter() - start))
"""


def measure(bank: Path, size: int, workers: int, train: bool) -> dict[str, float]:
    """Import, preprocess and (when `train`) one epoch for a bank of about `size` files."""
    per_class = max(1, size // CLASSES)
    shutil.rmtree(bank, ignore_errors=True)
    shutil.rmtree(processed_dir_for(bank.resolve()), ignore_errors=True)
    _, import_seconds = peak_pss_timed(IMPORT, str(bank), str(per_class))
    files = sum(1 for _ in bank.glob("*/*.wav"))
    preprocess_peak, preprocess_seconds = peak_pss_timed(PREPROCESS, str(bank), str(workers))
    result = {
        "files": files,
        "import_files_per_s": round(files / import_seconds, 1),
        "preprocess_files_per_s": round(files / preprocess_seconds, 1),
        "preprocess_peak_mib": round(preprocess_peak / 2**20, 1),
    }
    if train:
        with tempfile.TemporaryDirectory() as run:
            train_peak, train_seconds = peak_pss_timed(TRAIN, str(bank), str(Path(run) / "run"))
        result |= {"train_epoch_seconds": round(train_seconds, 1), "train_peak_mib": round(train_peak / 2**20, 1)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument(
        "--train-sizes", type=int, nargs="*", default=None, help="sizes to train an epoch on (default: all)"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--banks", type=Path, default=Path("data/scale"), help="folder for the synthetic banks")
    record.add_out(parser)
    args = parser.parse_args()
    train_sizes = set(args.sizes if args.train_sizes is None else args.train_sizes)
    rows = {}
    for size in args.sizes:
        rows[size] = measure(args.banks / f"synth{size}", size, args.workers, size in train_sizes)
        print(json.dumps({"size": size, **rows[size]}), flush=True)
    smallest, largest = rows[min(rows)], rows[max(rows)]
    summary = {
        "preprocess_peak_mib_max": max(row["preprocess_peak_mib"] for row in rows.values()),
        "preprocess_throughput_largest_over_smallest": round(
            largest["preprocess_files_per_s"] / smallest["preprocess_files_per_s"], 3
        ),
    }
    trained = [rows[size] for size in sorted(rows) if "train_peak_mib" in rows[size]]
    if len(trained) > 1:
        summary["train_peak_largest_over_smallest"] = round(
            trained[-1]["train_peak_mib"] / trained[0]["train_peak_mib"], 3
        )
    print(json.dumps(summary))
    sizes = sorted(rows)

    def each(key: str, unit: str) -> str:
        return " / ".join(f"{rows[size][key]:.0f}" for size in sizes if key in rows[size]) + f" {unit}"

    figure = {"preprocessing": summary["preprocess_peak_mib_max"]}
    note = (
        f"peak PSS at the largest bank; import {each('import_files_per_s', 'files/s')}; preprocessing "
        f"{each('preprocess_files_per_s', 'files/s')} ({summary['preprocess_throughput_largest_over_smallest']}× "
        f"at the largest over the smallest) at peak PSS {each('preprocess_peak_mib', 'MiB')}"
    )
    if trained:
        figure["training"] = max(row["train_peak_mib"] for row in trained)
        note += f"; one epoch {each('train_epoch_seconds', 's')} at peak PSS {each('train_peak_mib', 'MiB')}"
        if "train_peak_largest_over_smallest" in summary:
            note += f" ({summary['train_peak_largest_over_smallest']}×)"
    files = " / ".join(f"{rows[size]['files']:,}" for size in sizes)
    title = (
        f"scale: {files} synthetic files through import (`synth-bank`), preprocessing (`default`, {args.workers} "
        "workers) and one training epoch, each step timed after its imports"
    )
    target = "preprocessing peak < 1 GiB; preprocessing throughput and training memory flat"
    measured = {"sizes": {str(size): rows[size] for size in sizes}, **summary}
    record.write(args.out, record.entry("scale", title, figure, "MiB", note, measured, target))


if __name__ == "__main__":
    main()
