"""Peak memory of training on a small and a ten-times larger synthetic bank: it should stay flat.

Training reads spectrogram rows by offset rather than through a memory map, so the process does not
grow with the bank. Each bank (made with ``dkvae synth-bank`` and preprocessed first, outside the
measurement) trains the `default` model for one full epoch, every training sound read once, in a
child process whose memory (PSS of the process tree, sampled every 20 ms) is recorded; the figure is
large over small.

Prints one JSON line; ``--out FILE`` also writes the figure as docs/results/performance.json's entry
``train_memory`` (bench/record.py).

    python bench/train_memory.py data/synth2k data/synth20k
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import record
from memory import peak_pss

from dkvae import Bank

TRAIN = """
import sys, dataclasses
from dkvae.core.config import get_preset
from dkvae.training.train import train
config = get_preset("default")
config = dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=1, early_stopping_patience=0))
train(sys.argv[1], sys.argv[2], config, progress_bar=False)
"""


def ensure_bank(path: Path, files: int) -> int:
    """Make and preprocess a synthetic bank of about `files` sounds if needed; returns its sound count."""
    if not path.exists():
        subprocess.run(["dkvae", "synth-bank", "--out", str(path), "--per-class", str(files // 7)], check=True)
    return len(Bank(path).data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("small", type=Path)
    parser.add_argument("large", type=Path)
    parser.add_argument("--small-files", type=int, default=2000)
    parser.add_argument("--large-files", type=int, default=20000)
    record.add_out(parser)
    args = parser.parse_args()
    result = {}
    for name, bank, files in (("small", args.small, args.small_files), ("large", args.large, args.large_files)):
        sounds = ensure_bank(bank, files)
        with tempfile.TemporaryDirectory() as run:
            peak, seconds = peak_pss(TRAIN, str(bank), str(Path(run) / "run"))
        result[name] = {"sounds": sounds, "peak_mib": round(peak / 2**20, 1), "seconds": round(seconds, 1)}
    result["large_over_small"] = round(result["large"]["peak_mib"] / result["small"]["peak_mib"], 3)
    print(json.dumps(result))
    small, large = result["small"], result["large"]
    note = (
        f"for {large['sounds'] / small['sounds']:.0f}× the data: {small['peak_mib']:.0f} MiB on {small['sounds']:,} "
        f"sounds, {large['peak_mib']:.0f} MiB on {large['sounds']:,}"
    )
    title = "training memory as the bank grows (one full epoch, `default`)"
    record.write(args.out, record.entry("train_memory", title, result["large_over_small"], "×", note, result))


if __name__ == "__main__":
    main()
