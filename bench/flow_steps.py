"""How a codec's new sounds change with its flow prior's sampling: fewer Euler steps, or another guidance scale.

For each ``--steps`` value (at the prior's guidance) and each ``--guidance`` value (at its steps) the model
directory is copied with its flow prior's sampling changed (the weights untouched) and judged by `dkvae evaluate` on the bank's test split, every report with one judge (the
classifier of ``--judge``, a report folder of this model and judge seed, copied into each). Seed 0's noise is
the same for every run, so the figures differ only by the sampling. Each step costs two network
evaluations (classifier-free guidance). ``--out FILE`` writes one row per step count of docs/results/flow_steps.json
(bench/record.py); ``python scripts/render_docs.py --merge FILE`` puts them in.

    python bench/flow_steps.py src/dkvae/pretrained data/drums --judge reports/bundled --steps 8 4 2
    python bench/flow_steps.py src/dkvae/pretrained data/drums --judge reports/bundled --steps --guidance 1 3
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import tempfile
from pathlib import Path

import record

from dkvae.evaluation.classifier import CLASSIFIER_DIR
from dkvae.evaluation.evaluate import evaluate
from dkvae.models.checkpoint import load_model_dir
from dkvae.models.flow_prior import load_flow_prior, save_flow_prior

#: The generation figures kept per step count.
FIGURES = ("accuracy", "frechet_distance_mel", "frechet_distance_classifier", "kid_classifier", "ndb_fraction",
           "diversity_ratio", "novelty_ratio")  # fmt: skip


def with_sampling(model: Path, into: Path, **sampling: float) -> Path:
    """A copy of the model directory `model` in `into` whose flow prior samples with `sampling` (steps, guidance)."""
    shutil.copytree(model, into)
    model_id = load_model_dir(model).model_id
    flow = load_flow_prior(model, model_id)
    if flow is None:
        raise SystemExit(f"{model} has no flow prior")
    flow.config = dataclasses.replace(flow.config, **sampling)
    save_flow_prior(flow, into, model_id)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("bank", type=Path)
    parser.add_argument("--judge", type=Path, required=True, help="a report folder whose classifier judges every run")
    parser.add_argument("--steps", type=int, nargs="*", default=[8, 4, 2])
    parser.add_argument("--guidance", type=float, nargs="*", default=[])
    record.add_out(parser, "flow_steps")
    args = parser.parse_args()
    runs = [("steps", value) for value in args.steps] + [("guidance", value) for value in args.guidance]
    entries = []
    with tempfile.TemporaryDirectory() as scratch:
        for name, value in runs:
            report = Path(scratch) / f"report-{name}-{value}"
            shutil.copytree(args.judge / CLASSIFIER_DIR, report / CLASSIFIER_DIR)
            model = with_sampling(args.model, Path(scratch) / f"model-{name}-{value}", **{name: value})
            overall = evaluate(args.bank, report, model)["generation"]["overall"]
            figures = {metric: round(overall[metric]["model"], 3) for metric in FIGURES}
            measured = {name: value, **figures}
            print(json.dumps(measured), flush=True)
            title = f"{value:g} steps ({2 * value:g} evaluations)" if name == "steps" else f"guidance {value:g}"
            entries.append(record.study_entry(f"{name}_{value:g}", title, {"generation": figures}, measured))
    record.write(args.out, *entries, table="flow_steps")


if __name__ == "__main__":
    main()
