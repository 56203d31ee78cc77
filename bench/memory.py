"""Peak memory of a child Python process and its workers, for the memory benchmarks."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLE_SECONDS = 0.02


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


def peak_pss_timed(code: str, *args: str) -> tuple[int, float]:
    """`peak_pss` for code that writes its own working seconds (imports left out) to the path in its last argument.

    Returns (peak tree PSS in bytes, the seconds the code reported), so interpreter and library start-up,
    the same for every size, does not count as work.
    """
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "seconds"
        peak, _ = peak_pss(code, *args, str(report))
        return peak, float(report.read_text())
