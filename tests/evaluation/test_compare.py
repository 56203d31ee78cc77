"""Reports side by side, the better figure marked; and both commands through the CLI."""

from __future__ import annotations

import copy
import shutil

import pytest
from typer.testing import CliRunner

from dkvae import DkvaeError
from dkvae.cli import app
from dkvae.evaluation import evaluate as evaluate_module
from dkvae.evaluation.classifier import CLASSIFIER_DIR
from dkvae.evaluation.compare import compare_reports, render_comparison
from dkvae.evaluation.report import write_report

from .conftest import classifier_settings


@pytest.fixture
def two_reports(evaluation, tmp_path):
    _, metrics, _ = evaluation
    better = copy.deepcopy(metrics)
    better["generation"]["overall"]["frechet_distance_mel"]["model"] /= 2
    better["generation"]["overall"]["accuracy"]["model"] = 1.0
    better["reconstruction"]["audio"]["overall"]["onset_peak_ratio"] = 1.0
    better["bank"]["id"] = "elsewhere"
    write_report(metrics, tmp_path / "first")
    write_report(better, tmp_path / "second")
    return tmp_path / "first", tmp_path / "second"


def test_the_better_figure_of_each_metric_is_marked(two_reports) -> None:
    comparison = compare_reports(list(two_reports))
    assert comparison.names == ["first", "second"]
    rows = {(row.section, row.metric): row for row in comparison.rows}
    assert rows[("generation", "frechet_distance_mel")].best == 1
    assert rows[("generation", "accuracy")].best == 1
    assert rows[("reconstruction, after inversion", "onset_peak_ratio")].best == 1
    assert rows[("generation", "copy_fraction")].best is None
    assert any("differ in banks" in note for note in comparison.notes)
    assert "**" in render_comparison(comparison)


def test_reports_judged_by_classifiers_of_other_seeds_are_flagged(evaluation, tmp_path) -> None:
    _, metrics, _ = evaluation
    older = copy.deepcopy(metrics)
    older["settings"]["seed"] = 1
    del older["settings"]["judge_seed"]  # written before the setting: its judge was trained with its seed
    write_report(metrics, tmp_path / "first")
    write_report(older, tmp_path / "older")
    notes = compare_reports([tmp_path / "first", tmp_path / "older"]).notes
    assert any(note.startswith("the reports differ in seeds") for note in notes)
    assert any("judge seeds" in note and "older 1" in note for note in notes)


def test_compare_needs_two_reports(two_reports) -> None:
    with pytest.raises(DkvaeError, match="at least two"):
        compare_reports([two_reports[0]])


def test_the_cli_evaluates_and_compares(evaluation, eval_bank, eval_model, tmp_path, monkeypatch) -> None:
    out = tmp_path / "cli-report"
    shutil.copytree(evaluation[0] / CLASSIFIER_DIR, out / CLASSIFIER_DIR)
    monkeypatch.setattr(evaluate_module, "classifier_config", lambda bank, seed: classifier_settings())
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["evaluate", str(eval_bank), "--model", str(eval_model), "--out", str(out), "--count", "2", "--seed", "4"]
        + ["--judge-seed", "0"],
    )
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "seed 4; judge seed 0" in (out / "report.md").read_text()
    result = runner.invoke(app, ["compare", str(evaluation[0]), str(out)])
    assert result.exit_code == 0, result.output
    assert "Inception Score" in result.output and "*" in result.output and "counts per class" in result.output


def test_the_cli_refuses_a_folder_without_a_report(evaluation, tmp_path) -> None:
    result = CliRunner().invoke(app, ["compare", str(evaluation[0]), str(tmp_path)])
    assert result.exit_code != 0 and isinstance(result.exception, DkvaeError)
