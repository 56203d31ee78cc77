"""Fill the result tables in README.md and docs/*.md from the JSON under docs/results/.

A table in a page is a block between two marker comments, each on its own line:

    <!-- table: NAME -->
    (the rendered table and its footnote: never edit them by hand)
    <!-- /table -->

NAME is a key of `TABLES` below, which says which JSON file under docs/results/ fills the table and how:
its rows, columns, number formats and the footnote giving the command behind each figure. Two kinds:

- ``entries``: one row per entry of the file's ``entries`` list (docs/results/performance.json), each
  entry one figure as the bench that measures it writes it with ``--out`` (see bench/record.py): id,
  title, optional label, figure, unit, note, target, command (optional command_note), machine; rows
  taken on another machine than most say so.
- ``metrics``: one row per metric, one column per model and set; the file's ``models`` hold each model's
  figures in the shape of a ``dkvae evaluate`` report's metrics.json (``generation.overall.METRIC.SET``,
  ``reconstruction.STAGE.overall.METRIC``), with the command that made the report.

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

#: The docs' tables. A metrics row's ``values`` is a path in a model's document to its {noise, model, real}
#: figures, or a {set: path} mapping; ``better`` (as in dkvae.measures.metrics.BETTER) picks the bold figure
#: among the columns marked ``contest``. A column's ``brackets`` adds that model's other sets in brackets.
TABLES: dict[str, dict[str, Any]] = {
    "models": {
        "kind": "metrics",
        "json": "models.json",
        "columns": [
            {"title": "held-out figure"},
            {"title": "noise floor", "model": "bundled_vae", "set": "noise"},
            {"title": "real ceiling", "model": "bundled_vae", "set": "real"},
            {"title": "bundled VAE", "model": "bundled_vae", "set": "model", "contest": True},
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


RENDERERS = {"entries": render_entries, "metrics": render_metrics}


# Pages


def load(root: Path, name: str) -> dict[str, Any]:
    path = root / RESULTS / name
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise SystemExit(f"{path} is not a {FORMAT} file")
    return document


def render_table(spec: dict[str, Any], document: dict[str, Any]) -> str:
    """The text between a table's markers: the table, its footnote and a blank line before the end marker."""
    return "\n".join(RENDERERS[spec["kind"]](spec, document)) + "\n\n"


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
        body = render_table(spec, cache[spec["json"]])
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
    one replaced (the bench's entry whole: its title, figure, note and command, with nothing of the old)."""
    for file in files:
        incoming = json.loads(file.read_text(encoding="utf-8"))
        if incoming.get("format") != FORMAT or "entries" not in incoming:
            raise SystemExit(f"{file} is not a bench's --out file")
        target = root / RESULTS / f"{incoming.get('table', 'performance')}.json"
        document = json.loads(target.read_text(encoding="utf-8"))
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
