"""Kit export time: ``dkvae kit --format all --round-robin 4`` with the bundled model, as a user runs it.

Each run is the whole command in a new process (Python and torch start-up included), writing WAVs,
SFZ, Hydrogen, Decent Sampler and SoundFont formats of 14 pads x 4 round robins; also the same command building
the kit in Python alone, so start-up and writing can be told apart. Median of `--runs`.

Prints one JSON line; ``--out FILE`` also writes the figure as docs/results/performance.json's entry
``kit`` (bench/record.py).

    python bench/kit.py --runs 5
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import record

from dkvae.inference.machine import DrumMachine
from dkvae.kits.build import build_kit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--round-robin", type=int, default=4)
    record.add_out(parser)
    args = parser.parse_args()
    command_seconds, build_seconds = [], []
    machine = DrumMachine.load()
    with tempfile.TemporaryDirectory() as scratch:
        for run in range(args.runs):
            out = Path(scratch) / f"kit{run}"
            start = time.perf_counter()
            subprocess.run(
                [shutil.which("dkvae") or "dkvae", "kit", "--seed", str(run), "--format", "all",
                 "--round-robin", str(args.round_robin), "--out", str(out)],
                check=True, capture_output=True,
            )  # fmt: skip
            command_seconds.append(time.perf_counter() - start)
            start = time.perf_counter()
            build_kit(machine, seed=run, round_robin=args.round_robin)
            build_seconds.append(time.perf_counter() - start)
            print(f"command {command_seconds[-1]:6.2f} s   building the kit in Python {build_seconds[-1]:6.2f} s")
    result = {
        "runs": args.runs,
        "round_robin": args.round_robin,
        "command_seconds": round(statistics.median(command_seconds), 2),
        "build_seconds": round(statistics.median(build_seconds), 2),
    }
    print(json.dumps(result))
    title = (
        f"`dkvae kit --format all --round-robin {args.round_robin}` (14 pads × {args.round_robin} sounds, WAV + SFZ + "
        "Hydrogen + Decent Sampler + SoundFont), bundled model, whole command"
    )
    note = f"median of {args.runs} (building the kit itself {result['build_seconds']} s; the rest is start-up and writing)"
    record.write(args.out, record.entry("kit", title, result["command_seconds"], "s", note, result, "< 10 s"))


if __name__ == "__main__":
    main()
