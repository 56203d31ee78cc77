"""`evaluate`: measure a model on a bank's held-out sounds and write the report folder, stage by stage.

Stages (each reports ``progress(stage, done, total)``): the classifier (reused from the report
folder's cache or trained), reconstruction of the test split, generation, the noise floor,
features of every set, the generation scores, class character and tails, the latent space, and
the report itself.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from dkvae.core.config import ENCODER_KINDS, Config
from dkvae.core.errors import DkvaeError
from dkvae.core.progress import Progress, StageProgress
from dkvae.core.threads import torch_threads
from dkvae.data.bank import Bank
from dkvae.evaluation.character import measure_character
from dkvae.evaluation.classifier import cached_classifier, classifier_config, train_classifier
from dkvae.evaluation.latent import ACTIVE_VARIANCE, LatentSpace, analyse_latent_space
from dkvae.evaluation.plots import latent_map, spectrogram_grid, training_curves
from dkvae.evaluation.reconstruction import Reconstructions, measure_reconstruction, summarize
from dkvae.evaluation.report import (
    FORMAT,
    FORMAT_VERSION,
    GENERATED_FIGURE,
    LATENT_FIGURE,
    RECONSTRUCTION_FIGURE,
    TRAINING_FIGURE,
    write_report,
)
from dkvae.evaluation.scores import generation_scores, make_references
from dkvae.evaluation.sounds import SoundSet, generated_set, noise_set
from dkvae.inference.machine import DrumMachine
from dkvae.measures.features import Features, compute_features

#: Sounds generated per class unless asked otherwise.
DEFAULT_COUNT = 64
#: Torch intra-op threads while evaluating. Most of the work is many small per-sound operations
#: (inversion, analysis), where a second thread only adds synchronization: on the 2-core project
#: machine shared with a training run, one thread rendered a sound many times faster than two, and
#: ran the classifier faster too (bench/evaluate.py times a whole evaluation).
EVALUATION_THREADS = 1
#: Real and generated spectrograms shown per class in the generated-sounds figure.
REAL_SHOWN = 3
GENERATED_SHOWN = 5


class Stages:
    """Progress callbacks per stage, and the seconds each stage took."""

    def __init__(self, progress: StageProgress | None) -> None:
        self.progress = progress
        self.seconds: dict[str, float] = {}
        self.totals: dict[str, int] = {}
        self.started = time.monotonic()

    def report(self, stage: str, done: int, total: int) -> None:
        """Pass one stage's progress on."""
        self.totals[stage] = total
        if self.progress is not None:
            self.progress(stage, done, total)

    def callback(self, stage: str, offset: int = 0, total: int | None = None) -> Progress:
        """A ``progress(done, total)`` for one stage; `offset` and `total` place a part of the stage within it."""
        return lambda done, part_total: self.report(stage, offset + done, part_total if total is None else total)

    def finish(self, stage: str) -> None:
        """Mark `stage` done and record its time (since the previous stage finished)."""
        total = max(self.totals.get(stage, 1), 1)
        self.report(stage, total, total)
        self.seconds[stage] = round(time.monotonic() - self.started - sum(self.seconds.values()), 2)


def open_bank(bank_path: str | os.PathLike[str], machine: DrumMachine) -> Bank:
    """The processed bank, checked to suit the model: processed and current, same audio settings and classes, held-out sounds."""
    bank = machine.processed_bank(bank_path)
    if list(machine.instruments) != list(bank.instruments):
        raise DkvaeError(
            f"the model knows the classes {', '.join(machine.instruments)} but bank {bank.id} has {', '.join(bank.instruments)}"
        )
    splits = bank.data["split"].value_counts()
    for split in ("train", "test"):
        if splits.get(split, 0) < 2:
            raise DkvaeError(f"bank {bank.id} has {splits.get(split, 0)} {split} sounds; evaluation needs at least 2")
    return bank


def evaluate(
    bank_path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    model: str | os.PathLike[str] | None = None,
    count: int = DEFAULT_COUNT,
    seed: int = 0,
    classifier: Config | None = None,
    progress: StageProgress | None = None,
    threads: int | None = EVALUATION_THREADS,
    judge_seed: int = 0,
) -> dict[str, Any]:
    """Evaluate `model` (default: the bundled one) on the bank's test split; write the report into `out`; return its metrics.

    `count` sounds per class are generated with `seed`. What they are measured against (the judging
    classifier, the NDB bins, the real sounds' ceiling and the noise floor) depends on `judge_seed` only, so
    reports of several seeds share it and differ only in the model's sounds.
    `classifier` is the judge's config (default: `classifier_config` at `judge_seed`); it is trained once and
    cached in ``out/classifier/``.
    `threads`: torch threads meanwhile (None: as set; see `EVALUATION_THREADS`).
    """
    if count < 2:
        raise DkvaeError("--count must be at least 2 sounds per class")
    with torch_threads(threads):
        return _evaluate(bank_path, Path(out), model, (count, seed, judge_seed), classifier, Stages(progress))


def _evaluate(
    bank_path: str | os.PathLike[str],
    report_dir: Path,
    model: str | os.PathLike[str] | None,
    settings: tuple[int, int, int],
    classifier: Config | None,
    stages: Stages,
) -> dict[str, Any]:
    """The body of `evaluate`, stage by stage; `settings` is ``(count, seed, judge_seed)``."""
    count, seed, judge_seed = settings
    machine = DrumMachine.load(model)
    bank = open_bank(bank_path, machine)
    report_dir.mkdir(parents=True, exist_ok=True)

    config = classifier or classifier_config(bank, judge_seed)
    stages.report("classifier", 0, 1)
    judge = cached_classifier(bank, report_dir, config) or train_classifier(bank, report_dir, config)
    stages.finish("classifier")

    encodes = machine.config.model.kind in ENCODER_KINDS
    reconstructions = measure_reconstruction(machine, bank, stages.callback("reconstruction")) if encodes else None
    held_out = machine.config.train.holdout_sources
    holdout = measure_reconstruction(machine, bank, sources=held_out) if encodes and held_out else None
    stages.finish("reconstruction")
    generated = generated_set(machine, count, seed, stages.callback("generation"))
    stages.finish("generation")
    noise = noise_set(count, len(bank.instruments), machine.config.audio, judge_seed)
    stages.finish("noise floor")

    x_train, y_train, x_test, y_test, x_val, y_val = bank.load_spectrograms()
    sets = {"train": (x_train, y_train), "test": (x_test, y_test), "val": (x_val, y_val)}
    sets |= {"model": (generated.spectrograms, generated.labels if machine.generates_by_class else None)}
    sets |= {"noise": (noise.spectrograms, noise.labels)}
    total = sum(len(x) for x, _ in sets.values())
    features: dict[str, Features] = {}
    for name, (spectrograms, labels) in sets.items():
        done = sum(len(f) for f in features.values())
        update = stages.callback("features", done, total)
        features[name] = compute_features(spectrograms, labels, judge.model, machine.config.audio, update)
    stages.finish("features")

    references = make_references(features["train"], features["test"], features["val"], len(bank.instruments), judge_seed)
    scores = generation_scores(
        features["model"], features["noise"], references, count, machine.generates_by_class, (seed, judge_seed)
    )
    stages.finish("scores")
    made = (generated.audio, features["model"].labels)
    character = measure_character(machine, bank, made, stages.callback("character"))
    stages.finish("character")
    latent = analyse_latent_space(machine, x_test, y_test, seed) if encodes else None
    stages.finish("latent space")

    figures = draw_figures(report_dir, machine, bank, reconstructions, generated, features["model"], latent, seed)
    metrics = metrics_document(
        machine, bank, str(judge.path), settings, reconstructions, scores, (generated, noise), latent
    )
    metrics["holdout_reconstruction"] = holdout_document(holdout, held_out) if holdout is not None else None
    metrics["character"] = character
    metrics["figures"] = figures
    stages.finish("report")
    metrics["seconds"] = {**stages.seconds, "total": round(time.monotonic() - stages.started, 2)}
    write_report(metrics, report_dir)
    return metrics


def holdout_document(holdout: Reconstructions, sources: tuple[str, ...]) -> dict[str, Any]:
    """The held-out sources' reconstruction figures, with the model's log-mel distance over the ceiling's
    (the same sounds through the representation and inversion alone)."""
    summary = summarize(holdout.table)
    model, ceiling = (summary[stage]["overall"].get("log_mel_distance") for stage in ("audio", "inversion"))
    return {
        "sources": list(sources),
        **summary,
        "sounds": int((holdout.table["stage"] == "spectrogram").sum()),
        "unreadable": holdout.unreadable,
        "log_mel_ratio_to_ceiling": model / ceiling if model is not None and ceiling else None,
    }


def metrics_document(
    machine: DrumMachine,
    bank: Bank,
    classifier_path: str,
    settings: tuple[int, int, int],
    reconstructions: Reconstructions | None,
    scores: dict[str, Any],
    scored_sets: tuple[SoundSet, SoundSet],
    latent: LatentSpace | None,
) -> dict[str, Any]:
    """Every number of an evaluation as one JSON-ready document (figures and timings are added by `evaluate`).

    `settings` is ``(count, seed, judge_seed)``. A model without an encoder (a GAN) has no reconstruction and
    no latent section (None).
    """
    count, seed, judge_seed = settings
    generated, noise = scored_sets
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "model": {
            "id": machine.model_id,
            "path": str(machine.directory.path),
            "kind": machine.config.model.kind,
            "conditional": machine.conditional,
            "generates_by_class": machine.generates_by_class,
            "latent_dim": machine.latent_dim,
            "preset": machine.config.preset,
        },
        "bank": {
            "id": bank.id,
            "path": str(bank.original_dir),
            "array": bank.array_path.name,
            "sounds": {split: int(n) for split, n in bank.data["split"].value_counts().items()},
        },
        "settings": {
            "count": count,
            "seed": seed,
            "judge_seed": judge_seed,
            "classifier": classifier_path,
            "inversion": dataclasses.asdict(machine.config.inversion),
        },
        "reconstruction": None
        if reconstructions is None
        else {
            **summarize(reconstructions.table),
            "sounds": int((reconstructions.table["stage"] == "spectrogram").sum()),
            "unreadable": reconstructions.unreadable,
        },
        "generation": {
            "overall": scores["overall"],
            "per_class": {bank.instruments[code]: value for code, value in scores["per_class"].items()},
            "real_source": scores["real_source"],
            "sizes": scores["sizes"],
            "unusable": {"model": generated.unusable, "noise": noise.unusable},
        },
        "latent": None
        if latent is None
        else {
            "latent_dim": machine.latent_dim,
            "active_dimensions": latent.active_dimensions,
            "active_variance": ACTIVE_VARIANCE,
            "kl_per_dimension": None if latent.kl_per_dimension is None else latent.kl_per_dimension.tolist(),
            "pca_explained": latent.pca_explained.tolist(),
            "umap": latent.umap is not None,
        },
    }


def draw_figures(
    out: Path,
    machine: DrumMachine,
    bank: Bank,
    reconstructions: Reconstructions | None,
    generated: SoundSet,
    generated_features: Features,
    latent: LatentSpace | None,
    seed: int,
) -> list[str]:
    """Draw the report's PNGs into `out`; returns the names of those written (no latent map or reconstructions without an encoder)."""
    figures = [GENERATED_FIGURE]
    if latent is not None:
        latent_map(latent, bank.instruments, out / LATENT_FIGURE)
        figures.append(LATENT_FIGURE)
    x_train, y_train, *_ = bank.load_spectrograms()
    rng = np.random.default_rng(seed)
    rows = []
    for code, name in enumerate(bank.instruments):
        real = np.flatnonzero(y_train == code)
        real = np.sort(rng.choice(real, min(REAL_SHOWN, len(real)), replace=False))
        made = np.flatnonzero(generated_features.labels == code)[:GENERATED_SHOWN]
        panels = [("real", np.asarray(x_train[i], np.float32)) for i in real]
        rows.append((name, panels + [("generated", generated.spectrograms[i]) for i in made]))
    spectrogram_grid(rows, out / GENERATED_FIGURE)
    if reconstructions is not None:
        rows = [
            (name, [("original", original), ("decoded", decoded), ("decoded, as heard", heard)])
            for name, original, decoded, heard in zip(
                reconstructions.example_labels, reconstructions.originals, reconstructions.decoded, reconstructions.heard
            )
        ]
        spectrogram_grid(rows, out / RECONSTRUCTION_FIGURE)
        figures.append(RECONSTRUCTION_FIGURE)
    if copy_training_curves(machine, out / TRAINING_FIGURE):
        figures.append(TRAINING_FIGURE)
    return figures


def copy_training_curves(machine: DrumMachine, path: Path) -> bool:
    """Plot the model's training curves from its run folder (``logs/metrics.csv``, else its ``loss.png``); False when it has none."""
    from dkvae.training.train import LOGS_NAME, LOSS_PLOT_NAME

    run = machine.directory.path
    if run is None:
        return False
    if (run / LOGS_NAME / "metrics.csv").exists() and training_curves(run / LOGS_NAME / "metrics.csv", path):
        return True
    if (run / LOSS_PLOT_NAME).exists():
        shutil.copyfile(run / LOSS_PLOT_NAME, path)
        return True
    return False
