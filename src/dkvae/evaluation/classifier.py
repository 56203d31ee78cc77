"""The drum classifier the generation metrics use: trained on the bank's train split and cached in ``REPORT/classifier/``.

The cache is keyed by the bank's content (its packed array's name, a digest of the settings and of
every file's identity), its class names and the classifier's settings (`cache_key`), so a classifier
trained on other data or settings is trained again, never reused.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

from dkvae.core.atomic import write_text
from dkvae.core.config import Config, ModelConfig, TrainConfig
from dkvae.core.errors import DkvaeError
from dkvae.data.bank import Bank
from dkvae.models.checkpoint import ModelDirectory, load_model_dir

#: The cached classifier's folder inside a report folder.
CLASSIFIER_DIR = "classifier"
#: What the cached classifier was trained on; a different key retrains it.
KEY_NAME = "evaluation-key.json"
#: Most epochs of classifier training, and the epochs without a better validation loss that stop it.
CLASSIFIER_EPOCHS = 40
CLASSIFIER_PATIENCE = 6
#: Dropout before the classifier's last layer.
CLASSIFIER_DROPOUT = 0.2


def classifier_config(bank: Bank, seed: int = 0) -> Config:
    """The classifier's config: the bank's audio and split settings, our conv classifier, a short training."""
    return dataclasses.replace(
        bank.config,
        model=ModelConfig(kind="classifier", dropout=CLASSIFIER_DROPOUT),
        train=TrainConfig(epochs=CLASSIFIER_EPOCHS, early_stopping_patience=CLASSIFIER_PATIENCE, seed=seed),
    )


def cache_key(bank: Bank, config: Config) -> dict[str, object]:
    """What a cached classifier must have been trained on to be reused: the bank, its classes, and the settings
    that shape a classifier (audio, split, model, and the training settings that differ from their defaults,
    so a setting added to dkvae later does not invalidate every cache)."""
    defaults = dataclasses.asdict(TrainConfig())
    train = {name: value for name, value in dataclasses.asdict(config.train).items() if value != defaults[name]}
    settings = {
        "audio": dataclasses.asdict(config.audio),
        "split": dataclasses.asdict(config.split),
        "model": dataclasses.asdict(config.model),
        "train": train,
    }
    return {"bank": bank.array_path.name, "class_names": list(bank.instruments), "settings": settings}


def cached_classifier(bank: Bank, report_dir: Path, config: Config) -> ModelDirectory | None:
    """The classifier cached in `report_dir` when it was trained on this bank with `config`, else None."""
    directory = report_dir / CLASSIFIER_DIR
    try:
        key = json.loads((directory / KEY_NAME).read_text(encoding="utf-8"))
        if key != json.loads(json.dumps(cache_key(bank, config))):
            return None
        return load_model_dir(directory)
    except (OSError, ValueError, DkvaeError):
        return None


def train_classifier(bank: Bank, report_dir: Path, config: Config) -> ModelDirectory:
    """Train the classifier on the bank's train split (early stopping on its val split) into ``REPORT/classifier/``.

    It is trained beside the cache and moved in when done, so an interrupted training leaves no half cache.
    """
    from dkvae.training.train import train

    if config.model.kind != "classifier" or not config.same_data(bank.config):
        raise DkvaeError("the evaluation classifier must be a classifier with the bank's own audio and split settings")
    directory = report_dir / CLASSIFIER_DIR
    staging = report_dir / f".{CLASSIFIER_DIR}.training"
    if directory.exists() and not (directory / KEY_NAME).exists():
        raise DkvaeError(f"{directory} is not a cached evaluation classifier; move it away or choose another --out")
    shutil.rmtree(staging, ignore_errors=True)
    train(bank.original_dir, staging, config, progress_bar=False)
    write_text(staging / KEY_NAME, json.dumps(cache_key(bank, config), indent=2, sort_keys=True))
    shutil.rmtree(directory, ignore_errors=True)
    staging.rename(directory)
    return load_model_dir(directory)
