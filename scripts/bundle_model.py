"""Make a trained run the bundled default model: weights as float16 safetensors, config, latent prior, MODEL.md.

    python scripts/bundle_model.py runs/drums-default data/drums --report reports/bundled

Writes src/dkvae/pretrained/ (model.safetensors, config.json, latent_prior.safetensors, MODEL.md). The
data table comes from the bank's processed manifest; training figures from the run; evaluation
figures from a `dkvae evaluate` report when given. The retraining commands in MODEL.md are the ones
that made the run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import torch

from dkvae import Bank
from dkvae.checkpoint import load_model_dir, save_model_dir
from dkvae.config import Config
from dkvae.machine import bundled_model_dir
from dkvae.training import fit_run_latent_prior

RETRAIN = """```
dkvae import debian --out data/drums
dkvae train data/drums --model vae --epochs 300 --out runs/drums-default
python scripts/bundle_model.py runs/drums-default data/drums              # bundle the weights
dkvae evaluate data/drums --out reports/bundled                           # evaluate the bundled model
python scripts/bundle_model.py runs/drums-default data/drums --report reports/bundled   # and this file
```"""


def data_section(bank: Bank) -> list[str]:
    """Tables of the training data: sounds per source and class, splits, and each kit with its license."""
    data = bank.data
    counts = pd.crosstab(data["source"], data["label"], margins=True, margins_name="total")
    lines = [
        "## Data",
        "",
        f"The bank `{bank.id}`: {len(data)} sounds ({', '.join(f'{k} {v}' for k, v in data['split'].value_counts().items())}).",
        "",
    ]
    lines += ["| source | " + " | ".join(counts.columns) + " |", "|---" * (len(counts.columns) + 1) + "|"]
    lines += [f"| {source} | " + " | ".join(str(int(v)) for v in row) + " |" for source, row in counts.iterrows()]
    lines += ["", "### Kits and licenses", "", "| source | kit | sounds | license |", "|---|---|---|---|"]
    for (source, kit), rows in data.groupby(["source", "kit"], sort=True):
        licenses = "; ".join(sorted({value for value in rows["license"] if value})) or "unknown"
        lines.append(f"| {source} | {kit} | {len(rows)} | {licenses.replace('|', '/')} |")
    return lines + [""]


def evaluation_section(report: Path | None) -> list[str]:
    """The evaluation report's summary table, if a report is given."""
    if report is None:
        return ["## Evaluation", "", "Not evaluated yet.", ""]
    lines = [
        "## Evaluation",
        "",
        f"`dkvae evaluate data/drums --out {report}` (the plots stay in the report folder):",
        "",
    ]
    for line in (report / "report.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("!["):
            continue
        lines.append("##" + line if line.startswith("#") else line)
    return lines + [""]


def sharpening_sentence(config: Config) -> str:
    """Whether the bundled VAE was sharpened against a discriminator, as the GAN issue asks MODEL.md to say."""
    if config.train.adversarial:
        return "Its decoder was then sharpened against a discriminator (`--adversarial`)."
    return (
        "It is the plain VAE, not sharpened: adversarial sharpening (`--adversarial`) improved the generation "
        "figures but softened attacks (see the README's Results)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("bank", type=Path)
    parser.add_argument("--report", type=Path, default=None)
    parser.add_argument("--note", default="", help="a sentence on how the run went (added to Training)")
    args = parser.parse_args()
    source = load_model_dir(args.run)
    bank = Bank(args.bank, preset=source.config, process=False)
    prior = source.latent_prior or fit_run_latent_prior(args.run, bank)
    target = bundled_model_dir()
    target.mkdir(parents=True, exist_ok=True)
    training = dict(source.training, source_model_id=source.model_id, weights="float16")
    model_id = save_model_dir(
        target, source.model, source.config, source.class_names, source.normalization, training, torch.float16
    )
    prior.save(target, model_id)  # the same Gaussians, now of the float16 copy
    minutes = float(source.training.get("seconds", 0)) / 60
    lines = [
        "# The bundled dkvae model",
        "",
        (
            f"Model id `{model_id}` (float16 copy of run model `{source.model_id}`): a conditional VAE, preset "
            f"`{source.config.preset}`, {source.config.audio.sample_rate} Hz, {source.config.audio.duration:.2f} s sounds, "
            f"latent size {source.config.model.latent_dim}, classes {', '.join(source.class_names)}."
        ),
        "",
        "## Training",
        "",
        f"Best validation loss {source.training.get('best_val_loss')} at epoch {source.training.get('best_epoch')}, "
        f"after {minutes:.0f} minutes of training on 2 CPU cores (torch {source.training.get('torch')}). "
        f"Classes are drawn evenly during training. {sharpening_sentence(source.config)} {args.note} "
        "Retrain it with:".replace("  ", " "),
        "",
        RETRAIN,
        "",
        *data_section(bank),
        *evaluation_section(args.report),
        "Full configuration: `config.json` beside this file.",
        "",
    ]
    (target / "MODEL.md").write_text("\n".join(lines), encoding="utf-8")
    print(json.dumps({"model_id": model_id, "bytes": (target / "model.safetensors").stat().st_size}))


if __name__ == "__main__":
    main()
