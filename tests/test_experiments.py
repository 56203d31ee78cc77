"""Every recipe under experiments/ is a config `dkvae train --config` accepts, and the README lists it."""

from __future__ import annotations

from pathlib import Path

import pytest

from dkvae.core.config import Config
from dkvae.training.options import build_config

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
RECIPES = sorted(EXPERIMENTS.glob("*.json"))


def test_there_are_recipes() -> None:
    assert RECIPES


@pytest.mark.parametrize("recipe", RECIPES, ids=[path.stem for path in RECIPES])
def test_a_recipe_is_a_whole_config_the_train_command_takes(recipe: Path, tmp_path: Path) -> None:
    config = build_config(tmp_path / "run", False, config_file=recipe)
    assert config == Config.from_json(recipe.read_text())
    assert f"`{recipe.name}`" in (EXPERIMENTS / "README.md").read_text()
