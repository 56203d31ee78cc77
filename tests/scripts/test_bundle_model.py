"""`scripts/bundle_model.py`'s MODEL.md sections: the figures over seeds, the evaluation section's replacement, the retrain command."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import pytest
import torch

from dkvae.core.config import get_preset
from dkvae.evaluation.report import FORMAT
from dkvae.evaluation.scores import GENERATION_METRICS
from dkvae.models.checkpoint import ModelDirectory

SCRIPT = Path(__file__).parents[2] / "scripts" / "bundle_model.py"


@pytest.fixture(scope="module")
def bundle_model():
    spec = importlib.util.spec_from_file_location("bundle_model", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_metrics(folder: Path, seed: int, accuracy: float, model: str = "m1", judge: int | None = 0) -> Path:
    settings = {"count": 64, "seed": seed} | ({} if judge is None else {"judge_seed": judge})
    generation = {metric: {"noise": 9.0, "model": 1.0, "real": 0.5} for metric in GENERATION_METRICS}
    generation["accuracy"]["model"] = accuracy
    per_class = {"kick": {"accuracy": {"model": accuracy / 2}}}
    document = {
        "format": FORMAT,
        "model": {"id": model},
        "bank": {"id": "b1"},
        "settings": settings,
        "generation": {"overall": generation, "per_class": per_class},
    }
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(document))
    return folder


def test_the_seeds_table_gives_the_median_and_range_of_each_figure(bundle_model, tmp_path) -> None:
    reports = [
        write_metrics(tmp_path / f"s{seed}", seed, accuracy) for seed, accuracy in [(0, 0.7), (1, 0.6), (2, 0.9)]
    ]
    lines = bundle_model.seeds_section(reports[0], reports[1:])
    assert "3 seeds (0, 1, 2)" in "\n".join(lines) and "judge seed 0" in "\n".join(lines)
    assert f"dkvae evaluate data/drums --seed 2 --out {reports[2]}" in lines
    assert "| conditional accuracy | 0.7 | 0.6 | 0.9 |" in lines
    assert "| kick | 0.35 | 0.3 | 0.45 |" in lines
    rows = [line for line in lines if line.startswith("| ") and "median" not in line]
    assert len(rows) == len(GENERATION_METRICS) + 1


@pytest.mark.parametrize(
    "other",
    [
        {"model": "m2"},  # another model
        {"judge": 1},  # another judge
        {"judge": None},  # an old report, judged with its own seed 1
    ],
)
def test_reports_that_differ_in_more_than_the_seed_are_refused(bundle_model, tmp_path, other) -> None:
    first = write_metrics(tmp_path / "s0", 0, 0.7)
    second = write_metrics(tmp_path / "s1", 1, 0.6, **other)
    with pytest.raises(SystemExit, match="must share"):
        bundle_model.seeds_section(first, [second])


def test_a_repeated_seed_is_refused(bundle_model, tmp_path) -> None:
    first = write_metrics(tmp_path / "a", 0, 0.7)
    with pytest.raises(SystemExit, match="repeat a seed"):
        bundle_model.seeds_section(first, [write_metrics(tmp_path / "b", 0, 0.7)])


def test_only_the_evaluation_section_is_replaced(bundle_model) -> None:
    markdown = "# Model\n\n## Training\n\nkept\n\n## Evaluation\n\nold figures\n\nFull configuration: `config.json`.\n"
    replaced = bundle_model.replace_evaluation(markdown, ["## Evaluation", "", "new figures", ""])
    assert (
        replaced
        == "# Model\n\n## Training\n\nkept\n\n## Evaluation\n\nnew figures\n\nFull configuration: `config.json`.\n"
    )


def test_the_retrain_command_gives_the_runs_epochs_and_a_kl_weight_other_than_the_presets(bundle_model) -> None:
    default = get_preset("default")
    assert bundle_model.train_options(default) == f"--epochs {default.train.epochs}"
    run = dataclasses.replace(
        default,
        model=dataclasses.replace(default.model, beta=default.model.beta / 4),
        train=dataclasses.replace(default.train, epochs=123),
    )
    assert bundle_model.train_options(run) == f"--epochs 123 --beta {default.model.beta / 4:g}"
    source = ModelDirectory(model=torch.nn.Identity(), config=run, class_names=["kick"], training={"seconds": 60})
    section = "\n".join(bundle_model.training_section(source, None, ""))
    assert f"dkvae train data/drums --model vae --epochs 123 --beta {default.model.beta / 4:g} --out" in section


def test_a_run_begun_from_another_models_weights_is_refused(bundle_model, tmp_path) -> None:
    (tmp_path / "run.json").write_text(json.dumps({"config": {}, "bank": "data/drums", "init": "src/dkvae/pretrained"}))
    with pytest.raises(SystemExit, match="began from the weights of src/dkvae/pretrained"):
        bundle_model.refuse_runs_from_other_weights(tmp_path)
    (tmp_path / "run.json").write_text(json.dumps({"config": {}, "bank": "data/drums", "init": None}))
    bundle_model.refuse_runs_from_other_weights(tmp_path)


def test_the_data_section_names_the_sources_held_out_of_training(bundle_model) -> None:
    import types

    import pandas as pd

    rows = [("hydrogen-drumkits", "kick", "train"), ("hydrogen-drumkits", "snare", "test"), ("timgm6mb-soundfont", "kick", "train")]
    data = pd.DataFrame(
        [{"source": s, "label": label, "split": split, "kit": "K", "license": "GPL"} for s, label, split in rows]
    )
    bank = types.SimpleNamespace(id="b1", data=data)
    held = "\n".join(bundle_model.data_section(bank, ("timgm6mb-soundfont",)))
    assert "Held out of training and validation" in held and "timgm6mb-soundfont (1 sounds, every split)" in held
    assert "| timgm6mb-soundfont | 1 | 0 | 1 |" in held
    assert "Held out" not in "\n".join(bundle_model.data_section(bank))


def test_the_bundled_models_recipe_trains_its_config_and_its_card_gives_every_command() -> None:
    import re

    from dkvae.core.config import Config
    from dkvae.inference.machine import bundled_model_dir
    from dkvae.models.checkpoint import load_model_dir

    root = SCRIPT.parents[1]
    recipe = (root / "experiments" / "codec-bundle.sh").read_text()
    bundled = load_model_dir(bundled_model_dir())
    files = re.findall(r"--config (\S+)", recipe)
    configs = [Config.from_json((root / name).read_text()) for name in files]
    assert files and configs[-1] == bundled.config, "the last run's recipe is the bundled model's config"
    assert all(config.model == bundled.config.model and config.audio == bundled.config.audio for config in configs)
    commands = [line.split("#")[0].strip() for line in recipe.splitlines() if line.strip() and not line.startswith("#")]
    card = (bundled_model_dir() / "MODEL.md").read_text()
    assert all(command in card for command in commands), "MODEL.md gives every command"
    assert "Held out of training and validation" in card and "timgm6mb-soundfont" in card
    from dkvae.models.flow_prior import flow_prior_training

    training = flow_prior_training(bundled_model_dir())  # the bundled prior keeps how it was trained
    assert training["steps"] > 0 and f"trained {training['steps']} steps" in card
