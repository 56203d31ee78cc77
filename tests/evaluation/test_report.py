"""The report files: valid JSON whatever the numbers, readable Markdown, clear errors for what is not a report."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from dkvae import DkvaeError
from dkvae.evaluation.report import format_value, json_safe, read_metrics, render_markdown, write_report


def test_json_safe_turns_nan_into_null_and_numpy_into_python() -> None:
    value = json_safe({"a": math.nan, "b": [np.float32(1.5), np.int64(3), math.inf], 4: (True, "x")})
    assert value == {"a": None, "b": [1.5, 3, None], "4": [True, "x"]}
    json.dumps(value, allow_nan=False)


def test_numbers_are_formatted_for_tables() -> None:
    assert [format_value(v) for v in (None, 3, 0.123456, 1234.56, -0.00012345)] == [
        "–",
        "3",
        "0.1235",
        "1234.6",
        "-0.0001234",
    ]


def test_a_report_is_written_and_read_back(evaluation, tmp_path) -> None:
    _, metrics, _ = evaluation
    write_report(metrics, tmp_path)
    document = read_metrics(tmp_path)
    assert document["generation"]["overall"]["kid_mel"]["model"] == pytest.approx(
        metrics["generation"]["overall"]["kid_mel"]["model"]
    )
    assert (tmp_path / "report.md").read_text() == render_markdown(json_safe(metrics))


def test_what_is_not_a_report_is_refused_with_a_clear_message(tmp_path) -> None:
    with pytest.raises(DkvaeError, match="not an evaluation report"):
        read_metrics(tmp_path)
    (tmp_path / "metrics.json").write_text('{"format": "something else"}')
    with pytest.raises(DkvaeError, match="not a dkvae evaluation report"):
        read_metrics(tmp_path)


def test_a_held_out_source_gets_its_own_section_with_the_ratio_to_the_ceiling(evaluation) -> None:
    _, metrics, _ = evaluation
    assert "never trained on" not in render_markdown(metrics)
    reconstruction = metrics["reconstruction"]
    held = {**reconstruction, "sources": ["avldrums.lv2-soundfont"], "log_mel_ratio_to_ceiling": 1.25}
    text = render_markdown({**metrics, "holdout_reconstruction": held})
    section = text.split("## Reconstruction of sources never trained on")[1].split("## ")[0]
    assert "Every sound of avldrums.lv2-soundfont" in section and "1.25x the ceiling's" in section
    assert "| log-mel distance (dB) |" in section
