"""Fill the result tables in README.md and docs/*.md from the JSON under docs/results/.

A table in a page is a block between two marker comments, each on its own line:

    <!-- table: NAME -->
    (the rendered table and its footnote: never edit them by hand)
    <!-- /table -->

NAME is a key of `TABLES` below, which says which JSON file under docs/results/ fills the table and how:
its rows, columns, number formats and the footnote giving the command behind each figure. Three kinds:

- ``entries``: one row per entry of the file's ``entries`` list (docs/results/performance.json), each
  entry one figure as the bench that measures it writes it with ``--out`` (see bench/record.py): id,
  title, optional label, figure, unit, note, target, command (optional command_note), machine; rows
  taken on another machine than most say so.
- ``metrics``: one row per metric, one column per model and set; the file's ``models`` hold each model's
  figures in the shape of a ``dkvae evaluate`` report's metrics.json (``generation.overall.METRIC.SET``,
  ``reconstruction.STAGE.overall.METRIC``), with the command that made the report.
- ``grid``: any table of a study's figures (docs/results.md's). The file's ``entries`` are its runs, each
  with an id, a title, its ``figures`` (nested by name, as a report's metrics.json nests them where they
  are a report's), the command that made them and the recipe under experiments/ that trained it. The spec's
  ``columns`` and ``rows`` each give what they hold of a cell: an ``entry`` (one side names it: runs as
  rows or as columns) and a dotted ``path`` (or several, shown joined by " / "), a cell reading the row's
  path followed by the column's; their ``format``, ``unit``, what is ``bold`` and ``brackets``.

    python scripts/render_docs.py            # rewrite the tables that differ from their JSON
    python scripts/render_docs.py --check    # exit 1, naming each table that differs, and change nothing
    python scripts/render_docs.py --merge bench/results/serve.json   # put a bench's --out entries in by id, then render

Figures are printed as the JSON holds them (``"format": "as recorded"``) unless a spec names a Python
format (``".2f"``); negative numbers take a minus sign (−).
"""

from __future__ import annotations

import argparse
import difflib
import functools
import json
import os
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path("docs") / "results"
#: The pages that may hold tables, relative to the root.
PAGES = ("README.md", "docs/*.md")
FORMAT = "dkvae-results"
AS_RECORDED = "as recorded"
BLOCK = re.compile(r"^<!-- table: (?P<name>[\w-]+) -->\n(?P<body>.*?)^<!-- /table -->$", re.MULTILINE | re.DOTALL)

#: The rows of a model's generation figures over seeds (`seeds_grid`).
SEED_ROWS = [
    {"title": "generated-class accuracy", "path": "generation.accuracy", "format": ".2f"},
    {"title": "Inception Score", "path": "generation.inception_score", "format": ".2f"},
    {"title": "Fréchet distance, classifier embedding", "path": "generation.frechet_distance_classifier"},
    {"title": "KID, classifier embedding", "path": "generation.kid_classifier"},
    {"title": "Fréchet distance, MFCC statistics", "path": "generation.frechet_distance_mel", "format": ".1f"},
    {"title": "NDB (share of bins)", "path": "generation.ndb_fraction", "format": ".2f"},
    {"title": "diversity / real", "path": "generation.diversity_ratio", "format": ".2f"},
]


#: Novelty, which reports measure since the codec: a VAE's older reports lack it.
NOVELTY_ROW = {"title": "novelty: nearest-training distance / real's", "path": "generation.novelty_ratio", "format": ".2f"}


def seeds_grid(
    json_name: str, entry: str, title: str, before: tuple[str, str] | None = None, rows: list[dict[str, Any]] = SEED_ROWS
) -> dict[str, Any]:
    """A grid of one model's generation figures (`rows`): floor, seed 0, median (range) over seeds, ceiling, and the
    median of the model `before` it (its entry and title) under the same judge when given."""
    columns = [
        {"title": "metric", "label": True},
        {"title": "noise floor", "entry": entry, "path": "noise"},
        {"title": f"{title}, seed 0", "entry": entry, "path": "model", "bold": True},
        {"title": "over 5 seeds: median (range)", "entry": entry, "path": "median", "brackets": ["range"]},
        *([{"title": f"{before[1]}, median", "entry": before[0], "path": "median"}] if before else []),
        {"title": "real ceiling", "entry": entry, "path": "real"},
    ]
    return {"kind": "grid", "json": json_name, "columns": columns, "rows": rows,
            "footnote": "Figures: {json}; recipes: {recipes}."}  # fmt: skip


#: The rows of a flow-sampling study (`flow_grid`): a codec's generation figures.
FLOW_ROWS = [
    {"title": "generated-class accuracy", "path": "generation.accuracy", "format": ".2f", "better": "higher"},
    {"title": "Fréchet distance, classifier embedding", "path": "generation.frechet_distance_classifier",
     "format": ".2f", "better": "lower"},
    {"title": "KID, classifier embedding", "path": "generation.kid_classifier", "format": ".3f", "better": "lower"},
    {"title": "Fréchet distance, MFCC statistics", "path": "generation.frechet_distance_mel", "format": ".1f",
     "better": "lower"},
    {"title": "NDB (share of bins)", "path": "generation.ndb_fraction", "format": ".2f", "better": "lower"},
    {"title": "diversity / real", "path": "generation.diversity_ratio", "format": ".2f", "better": "one"},
    {"title": "novelty / real's", "path": "generation.novelty_ratio", "format": ".2f"},
]


def flow_grid(columns: list[tuple[str, str]]) -> dict[str, Any]:
    """A grid of docs/results/flow_steps.json: one column per (title, entry id), the better figure bold."""
    return {
        "kind": "grid",
        "json": "flow_steps.json",
        "columns": [{"title": "", "label": True}] + [{"title": t, "entry": e, "contest": True} for t, e in columns],
        "rows": FLOW_ROWS,
        "footnote": "Figures: {json}, as `python bench/flow_steps.py ... --out FILE` writes them.",
    }


#: The docs' tables. A metrics row's ``values`` is a path in a model's document to its {noise, model, real}
#: figures, or a {set: path} mapping; ``better`` (as in dkvae.measures.metrics.BETTER) picks the bold figure
#: among the columns marked ``contest``. A column's ``brackets`` adds that model's other sets in brackets.
#: In a grid, the column marked ``label`` holds the rows' titles (a row's own, or its entry's); ``bold`` is True
#: (all of a row or column) or the path parts it marks ("label": the title); ``better`` on a row (a column)
#: bolds the best figure among the ``contest`` columns (rows); a row's ``parts`` stand in for the columns'
#: paths; ``brackets`` shows the figures at other column paths of the same row path, optionally labelled.
TABLES: dict[str, dict[str, Any]] = {
    "models": {
        "kind": "metrics",
        "json": "models.json",
        "columns": [
            {"title": "held-out figure"},
            {"title": "noise floor", "model": "vae", "set": "noise"},
            {"title": "real ceiling", "model": "vae", "set": "real"},
            {"title": "VAE (bundled before the codec)", "model": "vae", "set": "model", "contest": True},
            {"title": "CGAN (hinge, 90 min)", "model": "cgan", "set": "model", "contest": True},
            {"title": "seed's VAE (floor / ceiling)", "model": "seed_vae", "set": "model", "brackets": ["noise", "real"]},
        ],
        "rows": [
            {"title": "generated-class accuracy", "values": "generation.overall.accuracy", "format": ".2f",
             "better": "higher"},
            {"title": "Inception Score", "values": "generation.overall.inception_score", "format": ".2f",
             "better": "higher"},
            {"title": "Fréchet distance, classifier", "values": "generation.overall.frechet_distance_classifier",
             "better": "lower"},
            {"title": "KID, classifier", "values": "generation.overall.kid_classifier", "better": "lower"},
            {"title": "Fréchet distance, MFCC statistics", "values": "generation.overall.frechet_distance_mel",
             "better": "lower"},
            {"title": "NDB (share of bins)", "values": "generation.overall.ndb_fraction", "format": ".2f",
             "better": "lower"},
            {"title": "diversity / real", "values": "generation.overall.diversity_ratio", "format": ".2f",
             "better": "one"},
            {"title": "reconstruction LSD after inversion", "unit": "dB", "better": "lower",
             "values": {"model": "reconstruction.audio.overall.log_spectral_distance",
                        "real": "reconstruction.inversion.overall.log_spectral_distance"},
             "notes": {"real": "inversion alone"}},
            {"title": "onset peak ratio after inversion (1 keeps the attack)", "better": "one",
             "values": {"model": "reconstruction.audio.overall.onset_peak_ratio"}},
        ],
        "footnote": "Reports (`metrics.json`): {commands}.",
    },
    "performance": {
        "kind": "entries",
        "json": "performance.json",
        "columns": [("figure", "title"), ("result", "result"), ("target", "target"), ("command", "command")],
        "footnote": (
            "Machine: {machine}, unless a row says otherwise. The rows are [results/performance.json](results/performance.json)'s entries: a"
            " bench's `--out FILE` writes its own, `python scripts/render_docs.py --merge FILE` puts them in."
        ),
    },
    "bundled": seeds_grid("bundled.json", "bundled", "bundled model", rows=[*SEED_ROWS, NOVELTY_ROW]),
    "vae-bundled": seeds_grid("vae_bundled.json", "vae", "the VAE", ("previous", "the model before it")),
    "compared": {
        "kind": "grid",
        "json": "compared.json",
        "columns": [
            {"title": "metric (floor / ceiling)", "label": True, "entry": "vae_bundled", "brackets": ["noise", "real"]},
            {"title": "VAE, bundled", "entry": "vae_bundled", "path": "model", "contest": True},
            {"title": "VAE, sharpened", "entry": "vae_sharpened", "path": "model", "contest": True},
            {"title": "VAE, same 20 epochs without discriminator", "entry": "vae_finetune", "path": "model", "contest": True},
            {"title": "CGAN (hinge), 90 min", "entry": "cgan", "path": "model", "contest": True},
            {"title": "seed's CGAN (BCE)", "entry": "cgan_seed", "path": "model", "brackets": ["noise", "real"]},
        ],
        "rows": [
            {"title": "generated-class accuracy", "path": "generation.accuracy", "format": ".2f", "better": "higher"},
            {"title": "Inception Score", "path": "generation.inception_score", "format": ".2f", "better": "higher"},
            {"title": "Fréchet distance, classifier", "path": "generation.frechet_distance_classifier", "better": "lower"},
            {"title": "KID, classifier", "path": "generation.kid_classifier", "better": "lower"},
            {"title": "Fréchet distance, MFCC statistics", "path": "generation.frechet_distance_mel", "better": "lower"},
            {"title": "NDB, share of bins", "path": "generation.ndb_fraction", "format": ".2f", "better": "lower"},
            {"title": "diversity / real", "path": "generation.diversity_ratio", "format": ".2f", "better": "one"},
            {"title": "reconstruction LSD after inversion (dB)", "path": "reconstruction.audio.log_spectral_distance",
             "format": ".2f", "better": "lower"},
            {"title": "onset peak ratio after inversion (1 keeps the attack)", "path": "reconstruction.audio.onset_peak_ratio",
             "format": ".2f", "better": "one"},
        ],
        "footnote": "Figures: {json}; recipes: {recipes}.",
    },
    "seed-vae": {
        "kind": "grid",
        "json": "seed_vae.json",
        "columns": [
            {"title": "metric", "label": True},
            {"title": "bundled: floor / **model** / ceiling", "entry": "previous", "path": ["noise", "model", "real"],
             "bold": ["model"]},
            {"title": "seed preset: floor / **model** / ceiling", "entry": "seed", "path": ["noise", "model", "real"],
             "bold": ["model"]},
        ],
        "rows": [
            *SEED_ROWS,
            {"title": "reconstruction LSD, after inversion (dB)", "path": "reconstruction.audio.log_spectral_distance",
             "parts": ["model"], "brackets": {"label": "inversion alone", "parts": ["real"]}, "format": ".1f"},
            {"title": "onset peak ratio, after inversion", "path": "reconstruction.audio.onset_peak_ratio", "parts": ["model"]},
        ],
        "footnote": "Figures: {json}; recipes: {recipes}.",
    },
    "kl-weight": {
        "kind": "grid",
        "json": "kl_weight.json",
        "columns": [
            {"title": "run (test split; generated: median of 5 seeds)", "label": True},
            {"title": "KL (nats)", "path": "kl_nats", "format": ".1f"},
            {"title": "accuracy", "path": "generation.accuracy", "format": ".2f"},
            {"title": "classifier FD", "path": "generation.frechet_distance_classifier", "format": ".1f"},
            {"title": "MFCC FD", "path": "generation.frechet_distance_mel", "format": ".1f"},
            {"title": "NDB", "path": "generation.ndb_fraction", "format": ".2f"},
            {"title": "diversity", "path": "generation.diversity_ratio", "format": ".2f"},
            {"title": "LSD before / after inversion (dB)", "format": ".2f",
             "path": ["reconstruction.spectrogram.log_spectral_distance", "reconstruction.audio.log_spectral_distance"]},
            {"title": "onset peak ratio before / after", "format": ".2f",
             "path": ["reconstruction.spectrogram.onset_peak_ratio", "reconstruction.audio.onset_peak_ratio"]},
        ],
        "rows": [
            {"entry": "previous"},
            {"entry": "finetune_1e-4"},
            {"entry": "finetune_1e-5"},
            {"entry": "finetune_2e-6"},
            {"entry": "finetune_5e-7"},
            {"entry": "bundled", "bold": ["label", "generation.frechet_distance_mel",
                                          "reconstruction.spectrogram.log_spectral_distance", "reconstruction.audio.log_spectral_distance",
                                          "reconstruction.spectrogram.onset_peak_ratio", "reconstruction.audio.onset_peak_ratio"]},
            {"entry": "scratch_1e-5"},
        ],
        "footnote": "Figures: {json}; recipes: {recipes}.",
    },
    "temperature": {
        "kind": "grid",
        "json": "temperature.json",
        "columns": [
            {"title": "temperature", "label": True},
            {"title": "accuracy", "path": "generation.accuracy", "format": ".2f"},
            {"title": "MFCC FD", "path": "generation.frechet_distance_mel", "format": ".1f"},
            {"title": "classifier FD", "path": "generation.frechet_distance_classifier", "format": ".2f"},
            {"title": "NDB", "path": "generation.ndb_fraction", "format": ".2f"},
            {"title": "diversity / real", "path": "generation.diversity_ratio", "format": ".2f"},
            {"title": "novelty", "path": "generation.novelty_ratio", "format": ".2f"},
            {"title": "percussion accuracy", "path": "accuracy_per_class.perc", "format": ".2f"},
        ],
        "rows": [{"entry": "t0.5"}, {"entry": "t0.75"}, {"entry": "t1", "bold": True}, {"entry": "t1.25"}, {"entry": "t1.5"}],
        "footnote": "Figures: {json}, as `python bench/temperature.py ... --out FILE` writes them (merged in by `python scripts/render_docs.py --merge FILE`).",
    },
    "onset-scratch": {
        "kind": "grid",
        "json": "onset_weight.json",
        "columns": [
            {"title": "", "label": True},
            {"title": "W = 0 (default)", "entry": "scratch_0", "contest": True},
            {"title": "W = 4", "entry": "scratch_4", "contest": True},
        ],
        "rows": [
            {"title": "onset peak ratio, test split, before / after inversion (1 keeps the attack)", "format": ".2f", "better": "one",
             "path": ["reconstruction.spectrogram.onset_peak_ratio", "reconstruction.audio.onset_peak_ratio"]},
            {"title": "spectral convergence, before / after inversion", "format": ".2f", "better": "lower",
             "path": ["reconstruction.spectrogram.spectral_convergence", "reconstruction.audio.spectral_convergence"]},
            {"title": "log-spectral distance after inversion", "path": "reconstruction.audio.log_spectral_distance",
             "format": ".2f", "unit": "dB", "better": "lower"},
            {"title": "generated-class accuracy", "path": "generation.accuracy", "format": ".2f", "better": "higher"},
            {"title": "Fréchet distance, classifier / MFCC statistics", "better": "lower",
             "path": ["generation.frechet_distance_classifier", "generation.frechet_distance_mel"]},
            {"title": "diversity / real", "path": "generation.diversity_ratio", "format": ".2f", "better": "one"},
        ],
        "footnote": "Figures: {json}; recipes: {recipes}.",
    },
    "onset-finetune": {
        "kind": "grid",
        "json": "onset_weight.json",
        "columns": [
            {"title": "", "label": True},
            {"title": "bundled", "entry": "previous", "contest": True},
            {"title": "fine-tuned, W = 0", "entry": "finetune_0", "contest": True},
            {"title": "fine-tuned, W = 4", "entry": "finetune_4", "contest": True},
        ],
        "rows": [
            {"title": "onset peak ratio, before / after inversion", "format": ".2f", "better": "one",
             "path": ["reconstruction.spectrogram.onset_peak_ratio", "reconstruction.audio.onset_peak_ratio"]},
            {"title": "log-spectral distance after inversion", "path": "reconstruction.audio.log_spectral_distance",
             "format": ".2f", "unit": "dB", "better": "lower"},
            {"title": "generated-class accuracy", "path": "generation.accuracy", "format": ".2f", "better": "higher"},
            {"title": "Fréchet distance, classifier / MFCC statistics", "better": "lower",
             "path": ["generation.frechet_distance_classifier", "generation.frechet_distance_mel"]},
            {"title": "NDB / diversity", "path": ["generation.ndb_fraction", "generation.diversity_ratio"], "format": ".2f",
             "better": ["lower", "one"]},
        ],
        "footnote": "Figures: {json}; recipes: {recipes}.",
    },
    "two-stage": {
        "kind": "grid",
        "json": "two_stage.json",
        "columns": [
            {"title": "", "label": True},
            {"title": "codec + flow prior", "entry": "codec", "contest": True},
            {"title": "VAE, to early stopping", "entry": "vae", "contest": True},
        ],
        "rows": [
            {"title": "held-out log-mel distance, against the files at 1.5 s", "path": "holdout.log_mel_distance",
             "format": ".2f", "unit": "dB", "better": "lower"},
            {"title": "its ceiling (the spectrogram inverted, no model)", "path": "holdout.ceiling_log_mel_distance",
             "format": ".2f", "unit": "dB"},
            {"title": "ratio to the ceiling (the target: 1.5)", "path": "holdout.log_mel_ratio_to_ceiling", "format": ".1f"},
            {"title": "held-out log-mel, cymbal / hi-hat / tom", "format": ".2f", "unit": "dB", "better": "lower",
             "path": ["holdout.per_class.cymbal.log_mel_distance", "holdout.per_class.hihat.log_mel_distance", "holdout.per_class.tom.log_mel_distance"]},
            {"title": "held-out log-mel, kick / snare / clap / perc", "format": ".2f", "unit": "dB", "better": "lower",
             "path": ["holdout.per_class.kick.log_mel_distance", "holdout.per_class.snare.log_mel_distance",
                      "holdout.per_class.clap.log_mel_distance", "holdout.per_class.perc.log_mel_distance"]},
            {"title": "held-out spectral convergence", "path": "holdout.spectral_convergence", "format": ".2f",
             "better": "lower"},
            {"title": "attack share, reconstruction over original (1 keeps the attack)", "path": "holdout.attack_share_ratio",
             "format": ".2f", "better": "one"},
            {"title": "generated-class accuracy / real test sounds' (each model's own judge)", "format": ".2f",
             "path": ["generation.accuracy", "generation.accuracy_real"]},
            {"title": "Fréchet distance, MFCC statistics / a real sample's", "format": ".1f",
             "path": ["generation.frechet_distance_mel", "generation.frechet_distance_mel_real"]},
            {"title": "NDB / diversity", "format": ".2f", "path": ["generation.ndb_fraction", "generation.diversity_ratio"]},
            {"title": "novelty: nearest-training distance over real test sounds' (at least 1 asked)", "format": ".2f",
             "path": "generation.novelty_ratio"},
        ],
        "footnote": "Figures: {json}; recipes: {recipes}.",
    },
    "balance": {
        "kind": "grid",
        "json": "balance.json",
        "columns": [
            {"title": "", "label": True},
            {"title": "balanced (default)", "entry": "balanced", "contest": True},
            {"title": "in proportion", "entry": "proportion", "contest": True},
        ],
        "rows": [
            {"title": "generated-class accuracy (all / clap / snare / kick / perc)", "format": ".2f", "better": "higher",
             "path": ["generation.accuracy", "accuracy_per_class.clap", "accuracy_per_class.snare",
                      "accuracy_per_class.kick", "accuracy_per_class.perc"]},
            {"title": "reconstruction log-spectral distance, test split", "path": "reconstruction.log_spectral_distance",
             "format": ".2f", "unit": "dB", "better": "lower"},
            {"title": "diversity / real", "path": "generation.diversity_ratio", "format": ".2f", "better": "one"},
        ],
        "footnote": "Figures: {json}; recipes: {recipes}.",
    },
    "flow-steps": flow_grid([("8 steps (bundled)", "steps_8"), ("4 steps", "steps_4"), ("2 steps", "steps_2")]),
    "second-hits": {
        "kind": "grid",
        "json": "second_hits.json",
        "columns": [
            {"title": "share of sounds that hit twice", "label": True},
            {"title": "real test sounds", "entry": "real"},
            {"title": "bundled codec (first prior)", "entry": "model_pretrained"},
        ],
        "rows": [{"title": name, "path": f"second_hit_share.{name}", "format": ".2f"}
                 for name in ("all", "clap", "cymbal", "hihat", "kick", "perc", "snare", "tom")],
        "footnote": "Figures: {json}, as `python bench/second_hits.py ... --out FILE` writes them.",
    },
    "flow-guidance": flow_grid([("guidance 1 (none)", "guidance_1"), ("guidance 2 (bundled)", "steps_8"), ("guidance 3", "guidance_3")]),
}  # fmt: skip


# Numbers


def number(value: float, style: str = AS_RECORDED) -> str:
    """`value` for a table: as the JSON holds it, or by a Python format spec; a minus sign for negatives."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"not a number: {value!r}")
    if style == AS_RECORDED:
        text = str(value) if isinstance(value, int) else repr(float(value))
    else:
        text = format(value, style)
    return text.replace("-", "−") if text.startswith("-") else text


def with_unit(text: str, unit: str | None) -> str:
    """A number and its unit: ``6.4×`` and ``12%`` close up, ``28 s`` spaced."""
    if not unit:
        return text
    return f"{text}{unit}" if unit in ("×", "%") else f"{text} {unit}"


def figure_text(figure: Any, unit: str | None, style: str = AS_RECORDED) -> str:
    """An entry's figure: a number; a list (several runs: ``6.6×, 7.3× and 7.0×``); ``{"from", "to"}`` (a
    range: ``11.5–12.2 ms``); or named numbers (``p50 6.4 ms, p99 10.3 ms``)."""
    if isinstance(figure, list):
        parts = [with_unit(number(value, style), unit) for value in figure]
        return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    if isinstance(figure, dict) and set(figure) == {"from", "to"}:
        return with_unit(f"{number(figure['from'], style)}–{number(figure['to'], style)}", unit)
    if isinstance(figure, dict):
        return ", ".join(f"{name} {with_unit(number(value, style), unit)}" for name, value in figure.items())
    return with_unit(number(figure, style), unit)


def cell(text: str) -> str:
    """Text safe in a table cell: pipes escaped, no line breaks."""
    return " ".join(str(text).split()).replace("|", "\\|")


def table_lines(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table."""

    def line(cells: list[str]) -> str:
        return "|" + "|".join(f" {cell(c)} " if c else " " for c in cells) + "|"

    return [line(header), "|" + "|".join("---" for _ in header) + "|", *(line(row) for row in rows)]


def code(command: str | list[str]) -> str:
    """Commands as inline code, joined by "then"."""
    commands = [command] if isinstance(command, str) else command
    return ", then ".join(f"`{c}`" for c in commands)


# Entries tables (docs/results/performance.json)


def result_text(entry: dict[str, Any]) -> str:
    """The result cell: label, the figure in bold, the note, and the machine where it is not the table's."""
    text = f"**{figure_text(entry['figure'], entry.get('unit'), entry.get('format', AS_RECORDED))}**"
    if entry.get("label"):
        text = f"{entry['label']} {text}"
    note = entry.get("note")
    if note:
        text += note if note[0] in ",;:.)" else f" {note}"
    return text


def command_text(entry: dict[str, Any]) -> str:
    """The command cell: the command as code, and how to read the figure off it."""
    text = code(entry["command"])
    return f"{text} ({entry['command_note']})" if entry.get("command_note") else text


def render_entries(spec: dict[str, Any], document: dict[str, Any]) -> list[str]:
    entries = document["entries"]
    if "ids" in spec:
        by_id = {entry["id"]: entry for entry in entries}
        entries = [by_id[i] for i in spec["ids"]]
    machines = Counter(entry.get("machine") for entry in entries if entry.get("machine"))
    usual = machines.most_common(1)[0][0] if machines else None
    fields = {
        "title": lambda e: e["title"] + (f" (on {e['machine']})" if e.get("machine") not in (None, usual) else ""),
        "result": result_text,
        "target": lambda e: e.get("target") or "–",
        "command": command_text,
    }
    header = [title for title, _ in spec["columns"]]
    rows = [[fields[field](entry) for _, field in spec["columns"]] for entry in entries]
    lines = table_lines(header, rows)
    if spec.get("footnote") and usual:
        lines += ["", spec["footnote"].format(machine=usual)]
    return lines


# Metrics tables (docs/results/models.json)

MISSING = object()


def lookup(document: Any, path: str) -> Any:
    """The value at a dotted path, `MISSING` where the path runs out, None where a value is null."""
    for key in path.split("."):
        if document is None:
            return None
        if not isinstance(document, dict) or key not in document:
            return MISSING
        document = document[key]
    return document


def missing_note(model: dict[str, Any], path: str) -> str:
    """Why a model has no figure at `path`: its ``missing`` note for the longest prefix of the path."""
    notes = model.get("missing", {})
    parts = path.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in notes:
            return notes[".".join(parts[:end])]
    return ""


def best(values: list[float], better: str) -> float | None:
    """The best of `values` by the direction `better` (higher, lower, one: nearest 1); None for none."""
    keys = {"higher": lambda v: -v, "lower": lambda v: v, "one": lambda v: abs(v - 1)}
    return min(values, key=keys[better]) if better in keys and len(values) > 1 else None


def row_paths(row: dict[str, Any]) -> dict[str, str]:
    values = row["values"]
    return values if isinstance(values, dict) else {s: f"{values}.{s}" for s in ("noise", "model", "real")}


def figure_at(models: dict[str, Any], paths: dict[str, str], model: str, role: str) -> Any:
    """A model's figure for one set of a row; `MISSING` where the row has no such set."""
    return lookup(models[model], paths[role]) if role in paths else MISSING


def render_metrics(spec: dict[str, Any], document: dict[str, Any]) -> list[str]:
    models = document["models"]
    columns = spec["columns"]
    rows = []
    for row in spec["rows"]:
        paths, style, unit = row_paths(row), row.get("format", AS_RECORDED), row.get("unit")
        value = functools.partial(figure_at, models, paths)
        contested = [value(c["model"], c["set"]) for c in columns if c.get("contest")]
        top = best([v for v in contested if isinstance(v, (int, float))], row.get("better", "none"))
        cells = [row["title"]]
        for column in columns[1:]:
            model, role = column["model"], column["set"]
            found = value(model, role)
            if found is MISSING and role not in paths:
                text = ""
            elif found is None or found is MISSING:
                note = missing_note(models[model], paths[role])
                text = f"– {note}" if note else "–"
            else:
                text = with_unit(number(found, style), unit)
                if column.get("contest") and top is not None and found == top:
                    text = f"**{text}**"
                if row.get("notes", {}).get(role):
                    text += f" ({row['notes'][role]})"
            inner = [value(model, r) for r in column.get("brackets", ())]
            inner = [with_unit(number(v, style), unit) for v in inner if isinstance(v, (int, float))]
            if inner:
                text += f" ({' / '.join(inner)})"
            cells.append(text)
        rows.append(cells)
    lines = table_lines([c["title"] for c in columns], rows)
    if spec.get("footnote"):
        used = dict.fromkeys(c["model"] for c in columns if "model" in c)
        commands = "; ".join(
            f"{models[m].get('title', m)}: {code(models[m]['command'])}"
            + (f" ({models[m]['command_note']})" if models[m].get("command_note") else "")
            for m in used
        )
        lines += ["", spec["footnote"].format(commands=commands)]
    return lines


# Grid tables (the studies' docs/results/*.json)


def listed(value: str | list[str] | None) -> list[str]:
    """A spec's path (or paths) as a list."""
    return [] if value is None else [value] if isinstance(value, str) else list(value)


def joined(*parts: str) -> str:
    """Path parts as one dotted path, empty parts left out."""
    return ".".join(part for part in parts if part)


def marked(bold: bool | list[str] | None, *parts: str) -> bool:
    """Whether a row's or column's ``bold`` (True: all of it; a list: the path parts it names) covers a figure."""
    return bold is True or (isinstance(bold, list) and any(part in bold for part in parts))


def is_number(value: Any) -> bool:
    """Whether `value` is a figure a direction can rank (not a flag, a range or a missing one)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def grid_parts(row: dict[str, Any], column: dict[str, Any]) -> list[tuple[str, str]]:
    """A cell's figures as (row part, column part) of their paths, in the order the cell shows them: each of the
    row's paths with each of the column's (a row's ``parts`` stand in for the column's paths)."""
    row_parts = listed(row.get("path")) or [""]
    column_parts = listed(row["parts"] if "parts" in row else column.get("path")) or [""]
    return [(r, c) for r in row_parts for c in column_parts]


def grid_entry(entries: dict[str, Any], *sides: dict[str, Any]) -> dict[str, Any] | None:
    """The entry a cell reads: the one its row or its column names (None where neither does)."""
    name = next((side["entry"] for side in sides if "entry" in side), None)
    if name is not None and name not in entries:
        raise SystemExit(f"no entry {name!r} in the table's JSON (known: {', '.join(entries)})")
    return None if name is None else entries[name]


def grid_values(entry: dict[str, Any] | None, parts: list[tuple[str, str]]) -> list[Any]:
    """The figures at a cell's paths in `entry` (`MISSING` where it has none)."""
    return [MISSING if entry is None else lookup(entry.get("figures", {}), joined(*pair)) for pair in parts]


def bold_by_rule(rows: list[dict[str, Any]], columns: list[dict[str, Any]], values: list[list[list[Any]]]) -> set:
    """The (row, column, figure) positions a ``better`` direction makes bold: along a row with ``better`` the best
    figure at each position among the ``contest`` columns, along a column with it among the ``contest`` rows; ties
    all. ``better`` is a direction, or a list of them by figure position."""
    lines = [
        (row["better"], [(r, c) for c, column in enumerate(columns) if column.get("contest")])
        for r, row in enumerate(rows)
        if "better" in row
    ]
    lines += [
        (column["better"], [(r, c) for r, row in enumerate(rows) if row.get("contest")])
        for c, column in enumerate(columns)
        if "better" in column
    ]
    bold = set()
    for better, cells in lines:
        for index in range(max((len(values[r][c]) for r, c in cells), default=0)):
            direction = better[index] if isinstance(better, list) else better
            found = {(r, c): values[r][c][index] for r, c in cells if is_number(values[r][c][index])}
            top = best(list(found.values()), direction)
            bold |= {(r, c, index) for (r, c), value in found.items() if top is not None and value == top}
    return bold


def brackets_text(entry: dict[str, Any] | None, brackets: Any, row_part: str, style: str, unit: str | None) -> str:
    """The figures of a cell's ``brackets`` (other column parts of the same row path, or ``{"label", "parts"}``)."""
    if entry is None or not brackets:
        return ""
    label, parts = (brackets.get("label"), brackets["parts"]) if isinstance(brackets, dict) else (None, brackets)
    figures = [lookup(entry.get("figures", {}), joined(row_part, part)) for part in parts]
    shown = [figure_text(f, unit, style) for f in figures if f is not MISSING and f is not None]
    if not shown:
        return ""
    return f" ({label + ' ' if label else ''}{' / '.join(shown)})"


def grid_cell(
    entry: dict[str, Any] | None, row: dict[str, Any], column: dict[str, Any], values: list[Any], bold: set[int]
) -> str:
    """One cell: its figures joined by " / " (bold where marked or best), "–" for a null or absent one with the
    entry's ``missing`` note, then its brackets."""
    style, unit = row.get("format", column.get("format", AS_RECORDED)), row.get("unit", column.get("unit"))
    parts = grid_parts(row, column)
    pieces = []
    for index, ((row_part, column_part), value) in enumerate(zip(parts, values)):
        if value is MISSING:
            continue
        text = "–" if value is None else figure_text(value, unit, style)
        if (
            index in bold
            or marked(row.get("bold"), row_part, column_part)
            or marked(column.get("bold"), row_part, column_part)
        ):
            text = f"**{text}**"
        note = missing_note(entry, joined(row_part, column_part)) if value is None and entry else ""
        pieces.append(f"{text} ({note})" if note else text)
    if not pieces:
        note = missing_note(entry, joined(*parts[0])) if entry else ""
        pieces = [f"– ({note})" if note else "–"]
    return " / ".join(pieces) + brackets_text(
        entry, row.get("brackets", column.get("brackets")), parts[0][0], style, unit
    )


def label_cell(entries: dict[str, Any], row: dict[str, Any], column: dict[str, Any]) -> str:
    """A row's title (its own, or its entry's), with the label column's brackets."""
    entry = grid_entry(entries, row)
    text = row.get("title") or (entry or {}).get("title", "")
    if marked(row.get("bold"), "label") or marked(column.get("bold"), "label"):
        text = f"**{text}**"
    style, unit = row.get("format", column.get("format", AS_RECORDED)), row.get("unit", column.get("unit"))
    path = listed(row.get("path")) or [""]
    return text + brackets_text(grid_entry(entries, column), column.get("brackets"), path[0], style, unit)


def recipes(entries: dict[str, Any], used: list[str]) -> str:
    """The recipe of each entry a table shows, where it has one: ``title: `experiments/FILE.json```."""
    return "; ".join(
        f"{entries[name]['title']}: `{entries[name]['recipe']}`" for name in used if entries[name].get("recipe")
    )


def render_grid(spec: dict[str, Any], document: dict[str, Any], results_href: str = "results") -> list[str]:
    entries = {entry["id"]: entry for entry in document["entries"]}
    rows, columns = spec["rows"], spec["columns"]
    values = [
        [grid_values(grid_entry(entries, row, column), grid_parts(row, column)) for column in columns] for row in rows
    ]
    bold = bold_by_rule(rows, columns, values)

    def text(r: int, c: int) -> str:
        row, column = rows[r], columns[c]
        if column.get("label"):
            return label_cell(entries, row, column)
        best_here = {index for (br, bc, index) in bold if (br, bc) == (r, c)}
        return grid_cell(grid_entry(entries, row, column), row, column, values[r][c], best_here)

    cells = [[text(r, c) for c in range(len(columns))] for r in range(len(rows))]
    lines = table_lines([column["title"] for column in columns], cells)
    if spec.get("footnote"):
        used = list(dict.fromkeys(side["entry"] for side in [*columns, *rows] if "entry" in side))
        link = f"[results/{spec['json']}]({results_href}/{spec['json']})"
        lines += ["", spec["footnote"].format(json=link, recipes=recipes(entries, used))]
    return lines


RENDERERS = {"entries": render_entries, "metrics": render_metrics, "grid": render_grid}


# Pages


def load(root: Path, name: str) -> dict[str, Any]:
    path = root / RESULTS / name
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise SystemExit(f"{path} is not a {FORMAT} file")
    return document


def render_table(spec: dict[str, Any], document: dict[str, Any], results_href: str = "results") -> str:
    """The text between a table's markers: the table, its footnote and a blank line before the end marker.
    `results_href` is docs/results/ as the page links to it (a grid's footnote links its JSON)."""
    lines = render_grid(spec, document, results_href) if spec["kind"] == "grid" else RENDERERS[spec["kind"]](spec, document)
    return "\n".join(lines) + "\n\n"


def pages(root: Path) -> list[Path]:
    return sorted({path for pattern in PAGES for path in root.glob(pattern) if path.is_file()})


def render_page(text: str, root: Path, cache: dict[str, dict[str, Any]], where: str) -> tuple[str, list[str]]:
    """The page with its tables rendered, and the names of those that changed."""
    changed: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in TABLES:
            raise SystemExit(f"{where}: no table named {name!r} in scripts/render_docs.py (known: {', '.join(TABLES)})")
        spec = TABLES[name]
        if spec["json"] not in cache:
            cache[spec["json"]] = load(root, spec["json"])
        href = Path(os.path.relpath(root / RESULTS, (root / where).parent)).as_posix()
        body = render_table(spec, cache[spec["json"]], href)
        if body != match["body"]:
            changed.append(name)
        return f"<!-- table: {name} -->\n{body}<!-- /table -->"

    return BLOCK.sub(replace, text), changed


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` by `text` in one rename, keeping its mode."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def merge(root: Path, files: list[Path]) -> None:
    """Put the entries of bench `--out` files into their table's JSON by id: a new id is appended, a known
    one replaced (the bench's entry whole: its title, figures, note and command, with nothing of the old).
    A table without a JSON yet gets one."""
    for file in files:
        incoming = json.loads(file.read_text(encoding="utf-8"))
        if incoming.get("format") != FORMAT or "entries" not in incoming:
            raise SystemExit(f"{file} is not a bench's --out file")
        table = incoming.get("table", "performance")
        target = root / RESULTS / f"{table}.json"
        empty = {"format": FORMAT, "version": incoming.get("version", 1), "table": table, "entries": []}
        document = json.loads(target.read_text(encoding="utf-8")) if target.exists() else empty
        by_id = {entry["id"]: index for index, entry in enumerate(document["entries"])}
        for entry in incoming["entries"]:
            if entry["id"] in by_id:
                document["entries"][by_id[entry["id"]]] = entry
            else:
                document["entries"].append(entry)
        write_atomically(target, json.dumps(document, indent=1, ensure_ascii=False) + "\n")
        print(f"merged {len(incoming['entries'])} entries of {file} into {target}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a table differs from its JSON")
    parser.add_argument("--merge", type=Path, nargs="+", default=[], help="bench --out files to merge in first")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository (default: this script's)")
    args = parser.parse_args(argv)
    if args.merge and args.check:
        parser.error("--merge changes the JSON; it cannot be combined with --check")
    merge(args.root, args.merge)
    cache: dict[str, dict[str, Any]] = {}
    stale = []
    for path in pages(args.root):
        where = path.relative_to(args.root).as_posix()
        text = path.read_text(encoding="utf-8")
        rendered, changed = render_page(text, args.root, cache, where)
        for name in changed:
            stale.append(f"{where}: table {name!r} differs from {RESULTS.as_posix()}/{TABLES[name]['json']}")
        if changed and args.check:
            diff = difflib.unified_diff(text.splitlines(), rendered.splitlines(), where, "rendered", n=0, lineterm="")
            print("\n".join(list(diff)[:40]), file=sys.stderr)
        elif changed:
            write_atomically(path, rendered)
    unused = sorted(set(TABLES) - {match["name"] for path in pages(args.root) for match in BLOCK.finditer(
        path.read_text(encoding="utf-8"))})  # fmt: skip
    for name in unused:
        print(f"note: table {name!r} appears in no page", file=sys.stderr)
    for line in stale:
        print(line if args.check else line.replace("differs from", "rendered from"))
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
