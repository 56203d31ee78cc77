"""Every recipe under experiments/ is a config `dkvae train --config` accepts; the README's command for it trains
with exactly that config, and the study's own command it was built from makes it; the docs name every recipe."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from dkvae.cli import app
from dkvae.core.config import Config
from dkvae.models.checkpoint import FORMAT, FORMAT_VERSION
from dkvae.training.options import build_config

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "experiments"
RECIPES = sorted(EXPERIMENTS.glob("*.json"))
README = (EXPERIMENTS / "README.md").read_text(encoding="utf-8")
RESULTS = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
#: A README row: | `FILE` | the command, in backticks | what it trains, ending "built from `COMMAND`" |
ROW = re.compile(r"^\| `(?P<file>[\w.-]+\.json)` \| `(?P<command>[^`]+)`.*?\|(?P<trains>[^|]*)\|$", re.MULTILINE)
BUILT_FROM = re.compile(r"built from `(?P<command>[^`]+)`")
#: The README's stand-in for the previous bundled model, which `previous-model.json` trained.
PREVIOUS = "PREVIOUS"
#: The bundled VAE before the codec, which the later studies began from (`drums-default.json`'s settings).
VAE = "VAE"
#: The codec's first stage, which its cosine stage begins from (`codec.json`'s run).
CODEC = "runs/codec"


def readme_rows() -> dict[str, dict[str, str | None]]:
    rows = {}
    for match in ROW.finditer(README):
        built = BUILT_FROM.search(match["trains"])
        rows[match["file"]] = {"command": match["command"], "built_from": built["command"] if built else None}
    return rows


ROWS = readme_rows()


def test_there_are_recipes() -> None:
    assert RECIPES


@pytest.mark.parametrize("recipe", RECIPES, ids=[path.stem for path in RECIPES])
def test_a_recipe_is_a_whole_config_the_train_command_takes(recipe: Path, tmp_path: Path) -> None:
    config = build_config(tmp_path / "run", False, config_file=recipe)
    assert config == Config.from_json(recipe.read_text())
    assert recipe.read_text() == config.to_json() + "\n"  # as Config.to_json writes it


@pytest.mark.parametrize("recipe", RECIPES, ids=[path.stem for path in RECIPES])
def test_each_recipe_is_named_by_the_results_or_the_readme(recipe: Path) -> None:
    assert f"experiments/{recipe.name}" in RESULTS or f"`{recipe.name}`" in README


def test_each_recipe_the_results_name_exists() -> None:
    named = set(re.findall(r"experiments/([\w.-]+\.json)", RESULTS))
    assert named, "docs/results.md names no recipe"
    assert named <= {path.name for path in RECIPES}
    assert named <= set(ROWS)  # and the README says how to run it


def trained_config(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    """The config `command` (a ``dkvae train`` line of the README) would train with: the CLI runs up to the
    training itself, which is replaced. PREVIOUS, VAE and runs/codec are model directories of
    `previous-model.json`'s, `drums-default.json`'s and `codec.json`'s settings (a fresh clone has none)."""
    models = {}
    for name, recipe in ((PREVIOUS, "previous-model.json"), (VAE, "drums-default.json"), (CODEC, "codec.json")):
        models[name] = tmp_path / name.lower().replace("/", "-")
        models[name].mkdir(exist_ok=True)
        settings = json.loads((EXPERIMENTS / recipe).read_text())
        document = {"format": FORMAT, "format_version": FORMAT_VERSION, "config": settings}
        (models[name] / "config.json").write_text(json.dumps(document))
    seen: list[Config] = []

    def train(bank: Path, out: Path, config: Config, **_: object) -> SimpleNamespace:
        seen.append(config)
        return SimpleNamespace(rank=1, run=out)

    monkeypatch.setattr("dkvae.training.train.train", train)
    monkeypatch.chdir(ROOT)
    args = shlex.split(command)
    assert args[:2] == ["dkvae", "train"], command
    args = [str(models[arg]) if arg in models else arg for arg in args[2:]]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "run")]
    result = CliRunner().invoke(app, ["train", *args])
    assert result.exit_code == 0, result.output
    return seen[0]


@pytest.mark.parametrize("name", sorted(ROWS), ids=sorted(ROWS))
def test_the_readme_command_trains_with_the_file_and_the_study_s_command_makes_it(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    row = ROWS[name]
    recipe = Config.from_json((EXPERIMENTS / name).read_text())
    assert f"--config experiments/{name}" in row["command"]
    command = re.sub(r"--out \S+", "", row["command"])
    assert trained_config(command, tmp_path, monkeypatch) == recipe
    if row["built_from"] is not None:
        assert trained_config(row["built_from"], tmp_path, monkeypatch) == recipe


def test_every_study_recipe_says_what_command_built_it() -> None:
    studies = {path.name for path in RECIPES if not path.name.startswith("codec")}
    assert studies <= {name for name, row in ROWS.items() if row["built_from"]}
