"""Make a trained run the bundled default model: weights as float16 safetensors, config, latent prior, MODEL.md.

    python scripts/bundle_model.py runs/drums-default data/drums --report reports/bundled
    python scripts/bundle_model.py --update-evaluation --report reports/bundled --seeds reports/bundled-seed*

    python scripts/bundle_model.py runs/codec-cosine data/drums --recipe experiments/codec-bundle.sh --report reports/bundled

Writes src/dkvae/pretrained/ (model.safetensors, config.json, MODEL.md, and the prior new sounds are drawn
from: a VAE's latent_prior.safetensors, a codec's flow_prior.safetensors, bound to the float16 copy). The
data table comes from the bank's processed manifest; training figures from the run; evaluation
figures from a `dkvae evaluate` report when given, with a table of the generation figures over the
reports of other seeds (`--seeds`, same model and judge). The retraining commands in MODEL.md are the
ones that made the run (its epochs, and its KL weight where the preset's differs), so a run begun
from another model's weights (`--init`) is refused, unless `--recipe` gives the commands that made it
(a shell file, copied into MODEL.md as it is; tests/scripts/test_bundle_model.py checks that the recipe
files it names hold the bundled model's config). A codec needs its flow prior (`dkvae prior`) and a recipe.
`--update-evaluation` rewrites only MODEL.md's evaluation section, for the bundled model as it is (when
the evaluation code changed, not the model).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import pandas as pd
import torch

from dkvae import Bank
from dkvae.core.atomic import write_text
from dkvae.core.config import Config, get_preset
from dkvae.evaluation.report import TITLES, format_value, judge_seed, read_metrics
from dkvae.evaluation.scores import GENERATION_METRICS
from dkvae.inference.machine import bundled_model_dir
from dkvae.models.checkpoint import ModelDirectory, load_model_dir, save_model_dir
from dkvae.models.codec import TimeLocalAutoencoder
from dkvae.models.flow_prior import FLOW_PRIOR_NAME, flow_prior_training, load_flow_prior, save_flow_prior
from dkvae.models.latent_prior import LATENT_PRIOR_NAME
from dkvae.training.train import fit_run_latent_prior, run_init

RETRAIN = """```
dkvae import debian --out data/drums
dkvae train data/drums --model vae {options} --out runs/drums-default
python scripts/bundle_model.py runs/drums-default data/drums              # bundle the weights
dkvae evaluate data/drums --out reports/bundled                           # evaluate the bundled model
python scripts/bundle_model.py runs/drums-default data/drums --report reports/bundled   # and this file
```"""
#: The same for a bundled model whose decoder was distilled (`dkvae distill`) from the bundled VAE.
RETRAIN_DISTILLED = """```
dkvae import debian --out data/drums
dkvae train data/drums --model vae {options} --out runs/drums-default
python scripts/bundle_model.py runs/drums-default data/drums              # bundle the VAE (float16)
cp -r src/dkvae/pretrained runs/drums-vae                                 # the teacher
dkvae distill data/drums --model runs/drums-vae --channels {channels} --out runs/drums-fast
python scripts/bundle_model.py runs/drums-fast data/drums --teacher runs/drums-vae   # bundle the student
dkvae evaluate data/drums --out reports/bundled                           # evaluate the bundled model
python scripts/bundle_model.py runs/drums-fast data/drums --teacher runs/drums-vae --report reports/bundled
```"""


def data_section(bank: Bank, holdout_sources: tuple[str, ...] = ()) -> list[str]:
    """Tables of the training data: sounds per source and class, splits, and each kit with its license; the
    sources held out of training (`TrainConfig.holdout_sources`) are named with their sounds."""
    data = bank.data
    counts = pd.crosstab(data["source"], data["label"], margins=True, margins_name="total")
    held = data[data["source"].isin(holdout_sources)]
    lines = [
        "## Data",
        "",
        f"The bank `{bank.id}`: {len(data)} sounds ({', '.join(f'{k} {v}' for k, v in data['split'].value_counts().items())}).",
        "",
    ]
    if len(held):
        sources = ", ".join(sorted(set(held["source"])))
        held_line = (
            f"Held out of training and validation, to measure the model on sources it never met: {sources} "
            f"({len(held)} sounds, every split); the model trained on the rest."
        )
        lines += [held_line, ""]
    lines += ["| source | " + " | ".join(counts.columns) + " |", "|---" * (len(counts.columns) + 1) + "|"]
    lines += [f"| {source} | " + " | ".join(str(int(v)) for v in row) + " |" for source, row in counts.iterrows()]
    lines += ["", "### Kits and licenses", "", "| source | kit | sounds | license |", "|---|---|---|---|"]
    for (source, kit), rows in data.groupby(["source", "kit"], sort=True):
        licenses = "; ".join(sorted({value for value in rows["license"] if value})) or "unknown"
        lines.append(f"| {source} | {kit} | {len(rows)} | {licenses.replace('|', '/')} |")
    return lines + [""]


def evaluation_section(report: Path | None, seeds: list[Path]) -> list[str]:
    """The evaluation report's summary table, if a report is given, then the figures over `seeds`' reports."""
    if report is None:
        return ["## Evaluation", "", "Not evaluated yet.", ""]
    lines = [
        "## Evaluation",
        "",
        f"`{evaluate_command(report, read_metrics(report)['settings'])}` (the plots stay in the report folder):",
        "",
    ]
    for line in (report / "report.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("!["):
            continue
        lines.append("##" + line if line.startswith("#") else line)
    if seeds:
        lines += ["", "### Over seeds", "", *seeds_section(report, seeds)]
    return lines + [""]


def seeds_section(report: Path, others: list[Path]) -> list[str]:
    """The generated sounds' figures over the seeds of `report` and `others`: median and range, one judge.

    Every report must judge the same model on the same bank with the same judge seed and count, so that
    only the generated sounds differ (SystemExit otherwise).
    """
    documents = [read_metrics(path) for path in [report, *others]]

    def setup(document: dict) -> tuple:
        settings = document["settings"]
        return document["model"]["id"], document["bank"]["id"], judge_seed(settings), settings["count"]

    if len({setup(document) for document in documents}) > 1:
        raise SystemExit("the --seeds reports must share the model, bank, judge seed and count of --report")
    seeds = sorted(document["settings"]["seed"] for document in documents)
    if len(set(seeds)) < len(seeds):
        raise SystemExit(f"the reports repeat a seed: {seeds}")
    commands = [evaluate_command(path, document["settings"]) for path, document in zip([report, *others], documents)]
    lines = [
        "```",
        *commands,
        "```",
        "",
        (
            "A report's classifier folder copied into the next report's folder saves training the same judge again "
            "(with one judge seed it trains to the same bytes). "
            f"Generated sounds of {len(seeds)} seeds ({', '.join(map(str, seeds))}), each report judged by the "
            f"classifier of judge seed {judge_seed(documents[0]['settings'])}: median and range of the model's figures."
        ),
        "",
        "| metric | median | lowest | highest |",
        "|---|---|---|---|",
    ]
    for metric in GENERATION_METRICS:
        values = [document["generation"]["overall"][metric]["model"] for document in documents]
        cells = [format_value(statistics.median(values)), format_value(min(values)), format_value(max(values))]
        lines.append(f"| {TITLES[metric]} | " + " | ".join(cells) + " |")
    lines += ["", "Conditional accuracy per class:", "", "| class | median | lowest | highest |", "|---|---|---|---|"]
    for name in documents[0]["generation"].get("per_class", {}):
        values = [document["generation"]["per_class"][name]["accuracy"]["model"] for document in documents]
        cells = [format_value(statistics.median(values)), format_value(min(values)), format_value(max(values))]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines + [""]


def evaluate_command(report: Path, settings: dict) -> str:
    """The `dkvae evaluate` command that wrote `report` (its `settings`) on the bundled model, seeds shown when not 0."""
    options = [f"--seed {settings['seed']}"] if settings["seed"] else []
    options += [f"--judge-seed {judge_seed(settings)}"] if judge_seed(settings) else []
    return " ".join(["dkvae evaluate data/drums", *options, f"--out {report}"])


def replace_evaluation(markdown: str, section: list[str]) -> str:
    """MODEL.md's text with its evaluation section (up to the configuration line) replaced by `section`."""
    start = markdown.index("## Evaluation\n")
    end = markdown.index("Full configuration:", start)
    return markdown[:start] + "\n".join(section) + "\n" + markdown[end:]


def sharpening_sentence(config: Config) -> str:
    """Whether the bundled VAE was sharpened against a discriminator, as the GAN issue asks MODEL.md to say."""
    if config.train.adversarial:
        return "Its decoder was then sharpened against a discriminator (`--adversarial`)."
    return (
        "It is the plain VAE, not sharpened: adversarial sharpening (`--adversarial`) improved the generation "
        "figures but softened attacks (see docs/results.md)."
    )


def prior_sentence(source: ModelDirectory) -> str:
    """How a codec's flow prior was trained, as its file records it."""
    record = flow_prior_training(Path(source.path)) if source.path is not None else {}
    if not record:
        return ""
    return (
        f"Its flow prior then trained {record['steps']} steps of {record['batch_size']} latents on the frozen codec's "
        f"cached posteriors, in {float(record['seconds']) / 60:.0f} minutes (last loss {record['final_loss']})."
    )


def train_options(config: Config) -> str:
    """The `dkvae train` options that made a run of `config`: its epochs, and its KL weight where the preset's differs."""
    options = f"--epochs {config.train.epochs}"
    if config.model.beta != get_preset(config.preset).model.beta:
        options += f" --beta {config.model.beta:g}"
    return options


def refuse_runs_from_other_weights(run: Path) -> None:
    """Stop unless `run` trained from new weights: MODEL.md's retrain command cannot recreate a run that began
    from another model's (``dkvae train --init``), and would say a wrong one."""
    init = run_init(run)
    if init:
        raise SystemExit(f"{run} began from the weights of {init} (--init): bundle a run trained from scratch")


def describe_model(source: ModelDirectory, distilled: bool) -> str:
    """What kind of model it is, in a few words, for MODEL.md's first line."""
    model = source.config.model
    if isinstance(source.model, TimeLocalAutoencoder):
        audio = source.config.audio
        step_ms = 1000 * model.codec_downsample * audio.hop_length / audio.sample_rate
        return (
            f"a time-local codec ({model.latent_channels} latent numbers every {step_ms:.0f} ms) with a class-conditional "
            "flow-matching prior over its latents"
        )
    return (
        "a conditional VAE" + (" with a distilled decoder" if distilled else "") + f", latent size {model.latent_dim}"
    )


def training_section(
    source: ModelDirectory, teacher: ModelDirectory | None, note: str, recipe: str | None = None
) -> list[str]:
    """How the model was trained, and the commands that train it again (`recipe` when given); for a distilled
    model, both stages."""
    record = teacher.training if teacher is not None else source.training
    minutes = float(record.get("seconds", 0)) / 60
    config = teacher.config if teacher is not None else source.config
    codec = isinstance(source.model, TimeLocalAutoencoder)
    text = (
        f"Best validation loss {record.get('best_val_loss')} at epoch {record.get('best_epoch')}, "
        f"after {minutes:.0f} minutes of training on a machine with 2 CPU cores (torch {record.get('torch')}). "
        f"Classes are drawn evenly during training. {prior_sentence(source) if codec else sharpening_sentence(config)} {note} "
    )
    retrain = RETRAIN.format(options=train_options(config)) if recipe is None else f"```\n{recipe.strip()}\n```"
    if teacher is not None:
        distilled = source.training["distill"]
        channels = ",".join(str(width) for width in distilled["decoder_channels"])
        text = (
            f"The VAE (model `{teacher.model_id}`, the float16 copy of run model `{record.get('source_model_id')}`): "
            + text[0].lower()
            + text[1:]
            + f"Its decoder was then distilled (`dkvae distill`) into a narrower one, channels {channels} against "
            f"{','.join(str(width) for width in teacher.config.model.channels)}, which decodes about twice as fast: "
            f"{distilled['steps']} steps of {distilled['batch_size']} latents each (the VAE's per-class prior at "
            f"temperatures up to 1.6, its training sounds' latents, and blends of two), "
            f"{float(source.training.get('seconds', 0)) / 60:.0f} minutes of training, last mean squared "
            f"difference from the VAE's spectrograms {source.training.get('final_loss'):.2g} (in [0, 1] units, attack "
            "frames weighted 4). The encoder, class embedding and latent prior are the VAE's. "
        )
        retrain = RETRAIN_DISTILLED.format(options=train_options(config), channels=channels)
    return ["## Training", "", " ".join((text + "Retrain it with:").split()), "", retrain, ""]


def update_evaluation(report: Path | None, seeds: list[Path]) -> None:
    """Rewrite the bundled MODEL.md's evaluation section from `report` (and `seeds`), which must judge the bundled model."""
    if report is None:
        raise SystemExit("--update-evaluation needs --report")
    target = bundled_model_dir()
    bundled = load_model_dir(target).model_id
    evaluated = read_metrics(report)["model"]["id"]
    if evaluated != bundled:
        raise SystemExit(f"{report} evaluates model {evaluated}, not the bundled {bundled}")
    path = target / "MODEL.md"
    write_text(path, replace_evaluation(path.read_text(encoding="utf-8"), evaluation_section(report, seeds)))
    print(json.dumps({"model_id": bundled, "report": str(report), "seeds": [str(p) for p in seeds]}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, nargs="?")
    parser.add_argument("bank", type=Path, nargs="?")
    parser.add_argument("--report", type=Path, default=None)
    parser.add_argument("--seeds", type=Path, nargs="*", default=[], help="reports of the same model at other seeds")
    parser.add_argument(
        "--update-evaluation", action="store_true", help="rewrite only MODEL.md's evaluation section from --report"
    )
    parser.add_argument("--note", default="", help="a sentence on how the run went (added to Training)")
    parser.add_argument(
        "--teacher", type=Path, default=None, help="for a distilled run: the model it was distilled from"
    )
    parser.add_argument(
        "--recipe", type=Path, default=None, help="a shell file of the exact commands that made the run (MODEL.md's)"
    )
    args = parser.parse_args()
    if args.update_evaluation:
        update_evaluation(args.report, args.seeds)
        return
    if args.run is None or args.bank is None:
        parser.error("give the run and the bank (or --update-evaluation)")
    source = load_model_dir(args.run)
    codec = isinstance(source.model, TimeLocalAutoencoder)
    if args.recipe is None:
        if codec:
            raise SystemExit(f"{args.run} is a codec: give the commands that made it and its prior as --recipe")
        refuse_runs_from_other_weights(args.run)
    recipe = args.recipe.read_text(encoding="utf-8") if args.recipe is not None else None
    teacher = None
    if "distilled_from" in source.training:
        if args.teacher is None:
            raise SystemExit(
                f"{args.run} was distilled from model {source.training['distilled_from']}: give it as --teacher"
            )
        teacher = load_model_dir(args.teacher)
        if teacher.model_id != source.training["distilled_from"]:
            raise SystemExit(f"{args.teacher} is model {teacher.model_id}, not {source.training['distilled_from']}")
    bank = Bank(args.bank, preset=source.config, process=False)
    flow = load_flow_prior(args.run, source.model_id) if codec else None
    if codec and flow is None:
        raise SystemExit(f"{args.run} has no flow prior yet: dkvae prior {args.run} {args.bank}")
    prior = None if codec else source.latent_prior or fit_run_latent_prior(args.run, bank)
    target = bundled_model_dir()
    target.mkdir(parents=True, exist_ok=True)
    training = dict(source.training, source_model_id=source.model_id, weights="float16")
    model_id = save_model_dir(
        target, source.model, source.config, source.class_names, source.normalization, training, torch.float16
    )
    # The prior of the float16 copy; the other kind's prior file, left from an earlier bundle, goes.
    if flow is not None:
        save_flow_prior(flow, target, model_id, flow_prior_training(args.run))
        (target / LATENT_PRIOR_NAME).unlink(missing_ok=True)
    else:
        prior.save(target, model_id)
        (target / FLOW_PRIOR_NAME).unlink(missing_ok=True)
    lines = [
        "# The bundled dkvae model",
        "",
        (
            f"Model id `{model_id}` (float16 copy of run model `{source.model_id}`): "
            f"{describe_model(source, teacher is not None)}, preset "
            f"`{source.config.preset}`, {source.config.audio.sample_rate} Hz, {source.config.audio.duration:.2f} s sounds, "
            f"classes {', '.join(source.class_names)}."
        ),
        "",
        *training_section(source, teacher, args.note, recipe),
        *data_section(bank, source.config.train.holdout_sources),
        *evaluation_section(args.report, args.seeds),
        "Full configuration: `config.json` beside this file.",
        "",
    ]
    write_text(target / "MODEL.md", "\n".join(lines))
    print(json.dumps({"model_id": model_id, "bytes": (target / "model.safetensors").stat().st_size}))


if __name__ == "__main__":
    main()
