"""Peak memory of preprocessing a large synthetic bank, against the memory of merely importing dkvae.

Runs ``Bank(BANK)`` with the `default` preset in a child process and samples the memory of that
process and its workers every 20 ms: their proportional set sizes (PSS, from /proc) summed, so pages
the forked workers share with their parent (torch's libraries) count once, not three times. The baseline, sampled the same way in
the same run, is a child that only imports dkvae. The bank is made with ``dkvae synth-bank`` first
when it does not exist.

Prints one JSON line; ``--out FILE`` also writes the figure as docs/results/performance.json's entry
``preprocess_memory`` (bench/record.py).

    python bench/preprocess_memory.py data/synth100k --per-class 14286
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from pathlib import Path

import record
from memory import peak_pss

from dkvae.data.bank import processed_dir_for

PROCESS = "import sys; from dkvae import Bank; Bank(sys.argv[1], workers=int(sys.argv[2]))"
IMPORT_ONLY = "import dkvae, time; time.sleep(1)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bank", type=Path)
    parser.add_argument("--per-class", type=int, default=14286, help="sounds per class when making the bank")
    parser.add_argument("--workers", type=int, default=2)
    record.add_out(parser)
    args = parser.parse_args()
    if not args.bank.exists():
        subprocess.run(["dkvae", "synth-bank", "--out", str(args.bank), "--per-class", str(args.per_class)], check=True)
    shutil.rmtree(processed_dir_for(args.bank.resolve()), ignore_errors=True)
    baseline, _ = peak_pss(IMPORT_ONLY)
    peak, seconds = peak_pss(PROCESS, str(args.bank), str(args.workers))
    files = sum(1 for _ in args.bank.glob("*/*.wav"))
    result = {
        "bank": str(args.bank),
        "files": files,
        "workers": args.workers,
        "seconds": round(seconds, 1),
        "files_per_s": round(files / seconds, 1),
        "import_only_peak_mib": round(baseline / 2**20, 1),
        "preprocess_peak_mib": round(peak / 2**20, 1),
        "ratio_to_import_only": round(peak / baseline, 2),
    }
    print(json.dumps(result))
    title = f"peak memory (PSS of the process and its workers), {files:,} synthetic files, `default` preset"
    note = f"in {result['seconds']} s (importing dkvae alone: {result['import_only_peak_mib']:.0f} MiB)"
    record.write(args.out, record.entry(
        "preprocess_memory", title, result["preprocess_peak_mib"], "MiB", note, result, "< 1 GiB"
    ))  # fmt: skip


if __name__ == "__main__":
    main()
