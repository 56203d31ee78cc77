"""How often a model's new sounds hit twice: the share per class whose tail rises again, against real test sounds.

A sound hits twice when, after its 10 ms envelope first falls 30 dB under its loudest window, it rises
20 dB or more above the lowest level it reached since (`dkvae.measures.character.second_hit_db`). Each
model (a model directory; several may be given, of the same audio settings) generates ``--count`` sounds
of every class with seed ``--seed`` as `DrumMachine.generate` does; the real sounds are the bank's test
split read as the model reads them. ``--out FILE`` writes one row per model and one for the real sounds
(docs/results/second_hits.json, bench/record.py).

    python bench/second_hits.py src/dkvae/pretrained runs/codec-prior6 --bank data/drums --count 64
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import record

from dkvae.evaluation.character import read_test_sounds
from dkvae.inference.machine import DrumMachine
from dkvae.measures.character import SECOND_HIT_RISE_DB, second_hit_db


def shares(audio: np.ndarray, labels: np.ndarray, sample_rate: int, instruments: list[str]) -> dict[str, float]:
    """The share of sounds that hit twice, overall and per class (classes without sounds left out)."""
    twice = second_hit_db(audio, sample_rate) >= SECOND_HIT_RISE_DB
    out = {"all": round(float(twice.mean()), 3)}
    for code, name in enumerate(instruments):
        if (labels == code).any():
            out[name] = round(float(twice[labels == code].mean()), 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("--bank", type=Path, required=True)
    parser.add_argument("--count", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    record.add_out(parser, "second_hits")
    args = parser.parse_args()
    entries = []
    first = DrumMachine.load(args.models[0])
    audio, labels, _ = read_test_sounds(first.processed_bank(args.bank), first)
    real = shares(audio, labels, first.sample_rate, first.instruments)
    print(json.dumps({"real": real}), flush=True)
    entries.append(record.study_entry("real", "real test sounds", {"second_hit_share": real}, {"sounds": len(audio)}))
    for path in args.models:
        machine = DrumMachine.load(path)
        made = [machine.generate(name, args.count, args.seed) for name in machine.instruments]
        codes = np.repeat(np.arange(len(made)), args.count)
        generated = shares(np.concatenate(made), codes, machine.sample_rate, machine.instruments)
        print(json.dumps({str(path): generated}), flush=True)
        title = f"{path} ({machine.model_id})"
        entries.append(record.study_entry(f"model_{path.name}", title, {"second_hit_share": generated}, generated))
    record.write(args.out, *entries, table="second_hits")


if __name__ == "__main__":
    main()
