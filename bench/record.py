"""What a bench writes with ``--out``: its figures as entries of a table's JSON under docs/results/.

A speed or memory bench writes rows of docs/performance.md's bench table (docs/results/performance.json,
``scripts/render_docs.py``'s ``entries`` tables), each entry one figure:

- ``id``: the row (``preprocess_hydrogen``, ``serve``, ...); ``bench``: the script's name;
- ``title``: what is measured; ``label``: words before the figure, where it needs them;
- ``figure``: the headline number, or a list (several runs), ``{"from", "to"}`` (a range) or named numbers;
- ``unit``, ``target`` (what the figure must reach, or null) and ``note`` (the rest of the result, in words);
- ``command``: what reproduces it; ``machine``: where it was taken;
- ``measured``: everything the bench measured, as it printed it.

A study's bench (temperature, haze, ...) writes rows of its own table instead (docs/results/TABLE.json,
``grid`` tables): each entry one row of the study, with ``figures`` in place of ``figure``, ``unit``,
``note`` and ``target``: its named figures, nested as a ``dkvae evaluate`` report's metrics.json nests
them where they are that report's (see `study_entry`).

``python scripts/render_docs.py --merge FILE`` puts a file's entries into its table's JSON by id and
renders the tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
from pathlib import Path
from typing import Any

FORMAT = "dkvae-results"
VERSION = 1


def add_out(parser: argparse.ArgumentParser, table: str = "performance") -> None:
    """The ``--out`` option every bench takes; `table` names the docs/results/ JSON whose entries it writes."""
    parser.add_argument(
        "--out", type=Path, default=None, help=f"also write the figures here as JSON (docs/results/{table}.json's shape)"
    )


def machine() -> str:
    """Where the figures were taken: CPU cores, GPU, Python and torch."""
    python = ".".join(platform.python_version().split(".")[:2])
    try:
        import torch
    except ImportError:
        return f"{os.cpu_count()} CPU cores, Python {python}"
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{os.cpu_count()} CPU cores, {gpu}, Python {python}, torch {torch.__version__}"


def command(argv: list[str] | None = None) -> str:
    """The command line that reproduces the figures: this bench's, without ``--out``."""
    argv = list(sys.argv if argv is None else argv)
    script = Path(argv[0])
    kept: list[str] = []
    skip = False
    for arg in argv[1:]:
        if skip:
            skip = False
        elif arg == "--out":
            skip = True
        elif not arg.startswith("--out="):
            kept.append(arg)
    return shlex.join(["python", f"bench/{script.name}", *kept])


def entry(
    name: str,
    title: str,
    figure: Any,
    unit: str | None,
    note: str,
    measured: dict[str, Any],
    target: str | None = None,
    label: str | None = None,
) -> dict[str, Any]:
    """One row of the bench table, in docs/results/performance.json's shape."""
    row: dict[str, Any] = {"id": name, "bench": Path(sys.argv[0]).stem, "title": title}
    if label:
        row["label"] = label
    row |= {"figure": figure, "unit": unit, "note": note, "target": target, "command": command(), "machine": machine()}
    return row | {"measured": measured}


def study_entry(name: str, title: str, figures: dict[str, Any], measured: Any) -> dict[str, Any]:
    """One row of a study's table (docs/results/TABLE.json): its named `figures` and all that was `measured`."""
    row = {"id": name, "bench": Path(sys.argv[0]).stem, "title": title, "figures": figures}
    return row | {"command": command(), "machine": machine(), "measured": measured}


def write(path: Path | None, *entries: dict[str, Any], table: str = "performance") -> None:
    """Write `entries`, rows of docs/results/`table`.json, to `path` (nothing when it is None)."""
    if path is None:
        return
    document = {"format": FORMAT, "version": VERSION, "table": table, "entries": list(entries)}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    print(f"wrote {path}", file=sys.stderr)
