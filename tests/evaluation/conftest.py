"""Fixtures of the evaluation tests: a small synthetic bank, a model and a classifier trained on it, and one evaluation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from dkvae.core.config import Config

from ..conftest import TINY_TRAIN, tiny_config

#: Sounds per class of the evaluation bank: enough for every class to reach the test and val splits.
PER_CLASS = 24
#: Sounds generated per class in the evaluation fixture.
COUNT = 12


def classifier_settings() -> Config:
    """A tiny classifier that learns the synthetic classes in seconds."""
    return dataclasses.replace(tiny_config(kind="classifier"), train=dataclasses.replace(TINY_TRAIN, epochs=12))


@pytest.fixture(scope="session")
def eval_bank(tmp_path_factory) -> Path:
    from dkvae import Bank
    from dkvae.importers.synth import write_synth_bank

    bank = write_synth_bank(tmp_path_factory.mktemp("eval") / "bank", per_class=PER_CLASS, seed=1, workers=1)
    Bank(bank, preset=tiny_config(), workers=1)
    return bank


@pytest.fixture(scope="session")
def eval_model(eval_bank, tmp_path_factory) -> Path:
    """A conditional VAE trained for two epochs on the evaluation bank."""
    from dkvae.training.train import train

    run = tmp_path_factory.mktemp("eval-runs") / "cvae"
    train(eval_bank, run, tiny_config(), progress_bar=False)
    return run


@pytest.fixture(scope="session")
def evaluation(eval_bank, eval_model, tmp_path_factory) -> tuple[Path, dict, list[tuple[str, int, int]]]:
    """One evaluation of the model: its report folder, its metrics and every progress call."""
    from dkvae.evaluation.evaluate import evaluate

    out = tmp_path_factory.mktemp("reports") / "report"
    calls: list[tuple[str, int, int]] = []
    metrics = evaluate(
        eval_bank,
        out,
        eval_model,
        count=COUNT,
        classifier=classifier_settings(),
        progress=lambda *call: calls.append(call),
    )
    return out, metrics, calls
