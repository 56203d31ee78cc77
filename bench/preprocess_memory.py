"""Peak memory of preprocessing a large synthetic bank, against the memory of merely importing dkvae.

Runs ``Bank(BANK)`` with the `default` preset in a child process and samples the memory of that
process and its workers every 20 ms: their proportional set sizes (PSS, from /proc) summed, so pages
the forked workers share with their parent (torch's libraries) count once, not three times. The baseline, sampled the same way in
the same run, is a child that only imports dkvae. The bank is made with ``dkvae synth-bank`` first
when it does not exist.

    python bench/preprocess_memory.py data/synth100k --per-class 14286
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from dkvae.bank import processed_dir_for

SAMPLE_SECONDS = 0.02
PROCESS = "import sys; from dkvae import Bank; Bank(sys.argv[1], workers=int(sys.argv[2]))"
IMPORT_ONLY = "import dkvae, time; time.sleep(1)"


def tree_pss_bytes(pid: int) -> int:
    """Proportional set size of `pid` and all its descendants, in bytes (0 once it has exited)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            rollup = Path(f"/proc/{current}/smaps_rollup").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for line in rollup.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1]) * 1024
        pending += [int(child) for child in children]
    return total


def peak_pss(code: str, *args: str) -> tuple[int, float]:
    """Run ``python -c code args`` and return (peak tree PSS in bytes, seconds)."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", code, *args])
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_pss_bytes(process.pid))
        time.sleep(SAMPLE_SECONDS)
    if process.returncode != 0:
        raise SystemExit(f"child failed with exit code {process.returncode}")
    return peak, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bank", type=Path)
    parser.add_argument("--per-class", type=int, default=14286, help="sounds per class when making the bank")
    parser.add_argument("--workers", type=int, default=2)
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


if __name__ == "__main__":
    main()
