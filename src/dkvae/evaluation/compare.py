"""Two or more evaluation reports side by side, metric by metric, with the better figure of each marked."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dkvae.core.errors import DkvaeError
from dkvae.evaluation.reconstruction import RECONSTRUCTION_METRICS, STAGES
from dkvae.evaluation.report import STAGE_TITLES, TITLES, format_value, judge_seed, read_metrics
from dkvae.evaluation.scores import GENERATION_METRICS
from dkvae.measures.metrics import BETTER, best_index


@dataclass
class Row:
    """One metric across reports."""

    section: str
    metric: str
    values: list[float | None]
    #: Index of the best value, None when the metric is not ranked or fewer than two values exist.
    best: int | None


@dataclass
class Comparison:
    """Reports side by side."""

    #: One column name per report (its folder's name, made unique).
    names: list[str]
    rows: list[Row]
    #: Things a reader must know to read the table fairly (different banks, counts, seeds).
    notes: list[str]


def compare_reports(report_dirs: list[str | os.PathLike[str]]) -> Comparison:
    """Read the reports' ``metrics.json`` files and line their figures up; at least two reports."""
    if len(report_dirs) < 2:
        raise DkvaeError("compare needs at least two report folders")
    documents = [read_metrics(path) for path in report_dirs]
    names = [Path(path).resolve().name or str(path) for path in report_dirs]
    names = [name if names.count(name) == 1 else f"{name} ({index + 1})" for index, name in enumerate(names)]
    return Comparison(names, comparison_rows(documents), comparison_notes(documents, names))


def comparison_rows(documents: list[dict[str, Any]]) -> list[Row]:
    """Rows for every reconstruction stage's overall medians, every generation metric (the model's figure), and the latent space."""
    rows: list[Row] = []
    for stage in STAGES:
        for metric in RECONSTRUCTION_METRICS:
            values = [
                document["reconstruction"][stage]["overall"].get(metric) if document["reconstruction"] else None
                for document in documents
            ]
            rows.append(
                Row(f"reconstruction, {STAGE_TITLES[stage]}", metric, values, best_index(values, BETTER[metric]))
            )
    for metric in GENERATION_METRICS:
        values = [document["generation"]["overall"][metric]["model"] for document in documents]
        rows.append(Row("generation", metric, values, best_index(values, BETTER[metric])))
    values = [document["latent"]["active_dimensions"] if document["latent"] else None for document in documents]
    rows.append(Row("latent space", "active_dimensions", values, None))
    return rows


def comparison_notes(documents: list[dict[str, Any]], names: list[str]) -> list[str]:
    """What differs between the reports besides the models."""
    notes = []
    for what, key in (("banks", lambda d: f"{d['bank']['id']} ({d['bank']['array']})"),
                      ("counts per class", lambda d: d["settings"]["count"]),
                      ("seeds", lambda d: d["settings"]["seed"]),
                      ("judge seeds (what the sounds are measured against)", lambda d: judge_seed(d["settings"]))):  # fmt: skip
        values = [key(document) for document in documents]
        if len(set(map(str, values))) > 1:
            notes.append(f"the reports differ in {what}: " + ", ".join(f"{n} {v}" for n, v in zip(names, values)))
    return notes


def row_title(row: Row) -> str:
    """A row's metric as tables name it."""
    return TITLES.get(row.metric, row.metric.replace("_", " "))


def render_comparison(comparison: Comparison) -> str:
    """The comparison as a Markdown table, the best figure of each row in bold."""
    lines = [
        "| section | metric | " + " | ".join(comparison.names) + " |",
        "|---|---|" + "---|" * len(comparison.names),
    ]
    for row in comparison.rows:
        cells = [f"**{format_value(v)}**" if i == row.best else format_value(v) for i, v in enumerate(row.values)]
        lines.append(f"| {row.section} | {row_title(row)} | " + " | ".join(cells) + " |")
    return "\n".join(lines + [""] + [f"Note: {note}." for note in comparison.notes])
