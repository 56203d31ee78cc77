"""The ``dkvae`` command line: thin Typer wrappers over the Python API, with Rich progress bars."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from .bank import Bank, processed_dir_for
from .config import PRESETS
from .errors import DkvaeError

app = typer.Typer(
    help="dkvae: an AI drum machine. Learn drum one-shots, generate new ones.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
import_app = typer.Typer(help="Import drum sounds from other formats into a bank folder.", no_args_is_help=True)
app.add_typer(import_app, name="import")

console = Console()
progress_console = Console(stderr=True)

#: Exit code for errors the user can fix (missing folder, bad file, wrong model).
USER_ERROR = 2


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar; yields the ``progress(done, total)`` callback the API functions take."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=progress_console, transient=False) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@import_app.command("hydrogen")
def import_hydrogen(
    source: Annotated[Optional[Path], typer.Argument(help="Drumkits folder or one kit (default: Debian's)")] = None,
    out: Annotated[Path, typer.Option("--out", help="Bank folder to write")] = ...,  # type: ignore[assignment]
) -> None:
    """Import Hydrogen drum kits (drumkit.xml + samples) into a bank, one folder per drum class."""
    from .importers.hydrogen import import_hydrogen as run_import

    with progress_bar("importing kits") as progress:
        report = run_import(out, source, progress=progress)
    counts = ", ".join(f"{label} {count}" for label, count in report.counts.items())
    console.print(f"imported {report.total} sounds from {report.kits} kits into {out}: {counts}")
    console.print(f"left out: {len(report.unsorted)} unsorted instruments, {len(report.skipped)} other items")
    for item, reason in report.unsorted + report.skipped:
        console.print(f"  {item}: {reason}", markup=False, highlight=False)


@app.command("synth-bank")
def synth_bank(
    out: Annotated[Path, typer.Option("--out", help="Bank folder to write")],
    per_class: Annotated[int, typer.Option("--per-class", min=1, help="Sounds per drum class")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Random seed")] = 0,
    workers: Annotated[Optional[int], typer.Option("--workers", min=1, help="Processes (default: cores)")] = None,
) -> None:
    """Write a bank of procedurally synthesized drums with exact labels (for tests, demos and scale)."""
    from .importers.synth import write_synth_bank

    with progress_bar("synthesizing") as progress:
        path = write_synth_bank(out, per_class, seed=seed, workers=workers, progress=progress)
    console.print(f"wrote a synthetic bank to {path}")


@app.command()
def preprocess(
    bank: Annotated[Path, typer.Argument(help="Bank folder: BANK/<instrument>/<sound files>")],
    preset: Annotated[Optional[str], typer.Option("--preset", help=f"One of: {', '.join(PRESETS)}")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", min=1, help="Processes (default: cores)")] = None,
) -> None:
    """Turn a bank into normalized spectrograms (parallel, incremental, resumable)."""
    if preset is not None and preset not in PRESETS:
        raise DkvaeError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    processed = Bank(bank, preset=preset, process=False)
    if not processed.is_processed():
        with progress_bar("processing") as progress:
            processed.preprocess_wav_files(workers=workers, progress=progress)
    skipped = len(processed.read_skipped())
    console.print(
        f"{processed.id}: {len(processed.data)} sounds in {len(processed.instruments)} classes, "
        f"{skipped} skipped (see {processed.dir / 'skipped.csv'})"
    )


@app.command()
def info(bank: Annotated[Path, typer.Argument(help="Bank folder")]) -> None:
    """Show a bank: classes, counts per split, sources and licenses, skipped files and why, settings."""
    processed = Bank(bank, process=False)
    if not processed.is_processed():
        files = processed.scan().files
        console.print(f"{processed.id}: {len(files)} audio files, not processed yet (or changed since).")
        console.print(f"run: dkvae preprocess {processed.original_dir}")
        return
    data = processed.data
    counts = data.pivot_table(index="label", columns="split", values="sample", aggfunc="count", fill_value=0)
    table = Table(title=f"{processed.id}: {len(data)} sounds, preset {processed.config.preset}")
    table.add_column("class")
    splits = [s for s in ("train", "test", "val") if s in counts.columns]
    for split in splits + ["total"]:
        table.add_column(split, justify="right")
    for label, row in counts.iterrows():
        table.add_row(str(label), *(str(int(row[s])) for s in splits), str(int(row[splits].sum())))
    console.print(table)
    for column in ("source", "license"):
        if column in data.columns and data[column].astype(bool).any():
            console.print(f"[bold]{column}[/bold]")
            for value, count in data[column].replace("", "unknown").value_counts().items():
                console.print(f"  {count:6d}  {value}")
    skipped = processed.read_skipped()
    console.print(f"[bold]skipped[/bold]: {len(skipped)} files")
    for reason, count in skipped["reason"].str.split(":").str[0].value_counts().items():
        console.print(f"  {count:6d}  {reason}")
    console.print(f"[bold]settings[/bold] ({processed_dir_for(processed.original_dir) / 'config.json'}):")
    console.print_json(processed.config.to_json())


def main() -> None:
    """Entry point: runs the app; a user error prints one line and exits with code 2."""
    try:
        app()
    except DkvaeError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(USER_ERROR)
    except OSError as error:
        print(f"error: {error.strerror or error}: {error.filename or ''}", file=sys.stderr)
        sys.exit(USER_ERROR)
