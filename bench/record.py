"""What a bench writes with ``--out``: its figures as entries of docs/results/performance.json.

Each entry is one row of docs/performance.md's bench table (``scripts/render_docs.py`` renders it):

- ``id``: the row (``preprocess_hydrogen``, ``serve``, ...); ``bench``: the script's name;
- ``title``: what is measured; ``label``: words before the figure, where it needs them;
- ``figure``: the headline number, or a list (several runs), ``{"from", "to"}`` (a range) or named numbers;
- ``unit``, ``target`` (what the figure must reach, or null) and ``note`` (the rest of the result, in words);
- ``command``: what reproduces it; ``machine``: where it was taken;
- ``measured``: everything the bench measured, as it printed it.

``python scripts/render_docs.py --merge FILE`` puts a file's entries into docs/results/performance.json by
id and renders the table.
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


def add_out(parser: argparse.ArgumentParser) -> None:
    """The ``--out`` option every bench takes."""
    parser.add_argument(
        "--out", type=Path, default=None, help="also write the figures here as JSON (docs/results/performance.json's shape)"
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


def write(path: Path | None, *entries: dict[str, Any]) -> None:
    """Write `entries` to `path` (nothing when it is None)."""
    if path is None:
        return
    document = {"format": FORMAT, "version": VERSION, "table": "performance", "entries": list(entries)}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    print(f"wrote {path}", file=sys.stderr)
