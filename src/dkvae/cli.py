"""The ``dkvae`` command line: thin Typer wrappers over the Python API, with Rich progress bars."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table
from typer.core import TyperCommand, TyperGroup

from dkvae.core.classes import CLASSES, match_class_name
from dkvae.core.config import MAX_INVERSION_ITERATIONS, MAX_TEMPERATURE, PRESETS
from dkvae.core.errors import DkvaeError
from dkvae.core.progress import Progress as ProgressCallback
from dkvae.core.progress import StageProgress
from dkvae.data.bank import Bank, processed_dir_for

if TYPE_CHECKING:
    import pandas as pd

    from dkvae.importers.report import ImportReport
    from dkvae.inference.machine import DrumMachine


class _FlagsWithoutValue:
    """Help that shows a flag (``--demo``) alone, where Typer's Rich help adds ``<bool>`` as if it took a value."""

    def get_params(self, ctx: typer.Context) -> list[Any]:
        params: list[Any] = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""
        return params


class Command(_FlagsWithoutValue, TyperCommand):
    """A dkvae command."""


class Group(_FlagsWithoutValue, TyperGroup):
    """A group of dkvae commands."""


class App(typer.Typer):
    """A Typer app whose commands are `Command`s."""

    def command(self, *args: Any, cls: type[TyperCommand] | None = None, **kwargs: Any) -> Any:  # type: ignore[override]
        return super().command(*args, cls=cls or Command, **kwargs)


app = App(
    cls=Group,
    help="dkvae: an AI drum machine. Learn drum one-shots, generate new ones.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
import_app = App(cls=Group, help="Import drum sounds from other formats into a bank folder.", no_args_is_help=True)
app.add_typer(import_app, name="import")

console = Console(soft_wrap=True)  # paths and reasons stay on one line, whole
progress_console = Console(stderr=True)

#: Exit code for errors the user can fix (missing folder, bad file, wrong model).
USER_ERROR = 2
#: More sounds than this at once need --yes: a slip of the keyboard (an extra zero or three) would fill a disk.
MANY_SOUNDS = 10_000


@contextmanager
def stage_progress_bars() -> Iterator[StageProgress]:
    """Rich progress bars, one per stage, each appearing at its first update; yields ``progress(stage, done, total)``."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    bars = Progress(*columns, console=progress_console, transient=False)
    tasks: dict[str, TaskID] = {}

    def update(stage: str, done: int, total: int) -> None:
        if not bars.live.is_started:
            bars.start()
        if stage not in tasks:
            tasks[stage] = bars.add_task(stage, total=total)
        bars.update(tasks[stage], completed=done, total=total)

    try:
        yield update
    finally:
        if bars.live.is_started:
            bars.stop()


@contextmanager
def progress_bar(description: str) -> Iterator[ProgressCallback]:
    """A Rich progress bar; yields the ``progress(done, total)`` callback the API functions take.

    The bar appears at the first update, so a command that fails before any work prints only its error.
    """
    with stage_progress_bars() as update:
        yield lambda done, total: update(description, done, total)


def print_import_report(report: ImportReport, out: Path) -> None:
    """What an import wrote and what it left out, with each reason."""
    counts = ", ".join(f"{label} {count}" for label, count in report.counts.items())
    console.print(f"imported {report.total} sounds from {report.kits} kits into {out}: {counts}")
    console.print(f"left out: {len(report.unsorted)} unsorted, {len(report.skipped)} other items")
    for item, reason in report.unsorted + report.skipped:
        console.print(f"  {item}: {reason}", markup=False, highlight=False)


@import_app.command("hydrogen")
def import_hydrogen(
    source: Annotated[Path | None, typer.Argument(help="Drumkits folder or one kit (default: Debian's)")] = None,
    out: Annotated[Path, typer.Option("--out", help="Bank folder to write")] = ...,  # type: ignore[assignment]
) -> None:
    """Import Hydrogen drum kits (drumkit.xml + samples) into a bank, one folder per drum class."""
    from dkvae.importers.hydrogen import import_hydrogen as run_import

    with progress_bar("importing kits") as progress:
        report = run_import(out, source, progress=progress)
    print_import_report(report, out)


@import_app.command("folder")
def import_folder(
    source: Annotated[Path, typer.Argument(help="A sample library: nested folders of sound files")],
    out: Annotated[Path, typer.Option("--out", help="Bank folder to write")],
    copy: Annotated[bool, typer.Option("--copy", help="Copy the files instead of linking to them")] = False,
    model: Annotated[
        Path | None, typer.Option("--model", help="A trained classifier: sorts by sound what names cannot")
    ] = None,
    threshold: Annotated[
        float, typer.Option("--threshold", min=0.0, max=1.0, help="Least classifier confidence to accept")
    ] = 0.8,
) -> None:
    """Sort a messy sample library into a bank by file and folder names (and by sound with --model); the rest goes to unsorted.csv."""
    from dkvae.importers.folder import import_folder as run_import

    with progress_bar("sorting files") as progress:
        report = run_import(out, source, copy=copy, progress=progress, model=model, threshold=threshold)
    print_import_report(report, out)


@import_app.command("soundfont")
def import_soundfont(
    source: Annotated[Path, typer.Argument(help="A SoundFont file (.sf2)")],
    out: Annotated[Path, typer.Option("--out", help="Bank folder to write")],
) -> None:
    """Render every drum-kit preset of a SoundFont key by key at three velocities with FluidSynth."""
    from dkvae.importers.soundfont import import_soundfont as run_import

    with progress_bar("rendering kits") as progress:
        report = run_import(out, source, progress=progress)
    print_import_report(report, out)
    console.print(f"{report.silent} silent renders skipped, {len(report.cut_at_limit)} cut at the length limit")


@import_app.command("sfz")
def import_sfz(
    source: Annotated[Path, typer.Argument(help="An .sfz file, or a folder of them")],
    out: Annotated[Path, typer.Option("--out", help="Bank folder to write")],
) -> None:
    """Import the samples of SFZ kits, classified by GM note and by name; each sample once."""
    from dkvae.importers.sfz import import_sfz as run_import

    with progress_bar("reading regions") as progress:
        report = run_import(out, source, progress=progress)
    print_import_report(report, out)


@import_app.command("drumsynth")
def import_drumsynth(
    source: Annotated[Path | None, typer.Argument(help="DrumSynth presets folder (default: LMMS's)")] = None,
    out: Annotated[Path, typer.Option("--out", help="Bank folder to write")] = ...,  # type: ignore[assignment]
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="LMMS processes (default: cores)")] = None,
) -> None:
    """Render DrumSynth presets (.ds: TR-808, TR-909, Linn, CR-78, ...) with LMMS into a bank."""
    from dkvae.importers.drumsynth import import_drumsynth as run_import

    with progress_bar("rendering presets") as progress:
        report = run_import(out, source, progress=progress, workers=workers)
    print_import_report(report, out)


@import_app.command("debian")
def import_debian(
    out: Annotated[Path, typer.Option("--out", help="Bank folder to write")],
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="LMMS processes (default: cores)")] = None,
) -> None:
    """Import all Debian-packaged drums (Hydrogen, AVL, TimGM6mb, csound GM, LMMS, eXaDrums) into one bank."""
    from dkvae.importers.debian import import_debian as run_import

    with stage_progress_bars() as progress:
        report = run_import(out, progress=progress, workers=workers)
    print_import_report(report, out)
    sources = ", ".join(f"{source} {count}" for source, count in sorted(report.sources.items()))
    console.print(f"per source: {sources}")
    exact = sum(duplicate.kind == "exact" for duplicate in report.duplicates)
    console.print(
        f"duplicates dropped: {exact} exact, {len(report.duplicates) - exact} near (listed in duplicates.csv)"
    )
    if report.missing:
        console.print(f"not installed, so not imported: {', '.join(report.missing)}; run: {report.install_hint}")


@app.command("synth-bank")
def synth_bank(
    out: Annotated[Path, typer.Option("--out", help="Bank folder to write")],
    per_class: Annotated[int, typer.Option("--per-class", min=1, help="Sounds per drum class")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Random seed")] = 0,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Processes (default: cores)")] = None,
) -> None:
    """Write a bank of procedurally synthesized drums with exact labels (for tests, demos and scale)."""
    from dkvae.importers.synth import write_synth_bank

    with progress_bar("synthesizing") as progress:
        path = write_synth_bank(out, per_class, seed=seed, workers=workers, progress=progress)
    console.print(f"wrote a synthetic bank to {path}")


@app.command()
def preprocess(
    bank: Annotated[Path, typer.Argument(help="Bank folder: BANK/<instrument>/<sound files>")],
    preset: Annotated[str | None, typer.Option("--preset", help=f"One of: {', '.join(PRESETS)}")] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Processes (default: cores)")] = None,
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


def count_table(title: str, data: pd.DataFrame, column: str, order: list[str] | None = None) -> Table:
    """A Rich table of sounds per class (rows) and per value of `column` (columns), with totals."""
    counts = data.pivot_table(index="label", columns=column, values="sample", aggfunc="count", fill_value=0)
    values = [v for v in (order or sorted(counts.columns)) if v in counts.columns]
    table = Table(title=title)
    table.add_column("class")
    for value in values + ["total"]:
        table.add_column(str(value), justify="right")
    for label, row in counts.iterrows():
        table.add_row(str(label), *(str(int(row[v])) for v in values), str(int(row[values].sum())))
    return table


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
    title = f"{processed.id}: {len(data)} sounds, preset {processed.config.preset}"
    console.print(count_table(title, data, "split", order=["train", "test", "val"]))
    if "source" in data.columns and data["source"].astype(bool).any():
        console.print(
            count_table("sounds per source", data.assign(source=data["source"].replace("", "unknown")), "source")
        )
    if "license" in data.columns and data["license"].astype(bool).any():
        console.print("[bold]licenses[/bold]")
        for value, count in data["license"].replace("", "unknown").value_counts().items():
            console.print(f"  {count:6d}  {value}", markup=False, highlight=False)
    skipped = processed.read_skipped()
    console.print(f"[bold]skipped[/bold]: {len(skipped)} files")
    for reason, count in skipped["reason"].str.split(":").str[0].value_counts().items():
        console.print(f"  {count:6d}  {reason}")
    console.print(f"[bold]settings[/bold] ({processed_dir_for(processed.original_dir) / 'config.json'}):")
    console.print_json(processed.config.data_json())


@app.command()
def train(
    bank: Annotated[Path, typer.Argument(help="Bank folder to train on")],
    out: Annotated[Path, typer.Option("--out", help="Run folder (becomes a model directory)")],
    model: Annotated[
        str | None, typer.Option("--model", help="vae, ae, cgan or classifier (default: the preset's)")
    ] = None,
    arch: Annotated[str | None, typer.Option("--arch", help="conv, dense or seed (default: the preset's)")] = None,
    preset: Annotated[str, typer.Option("--preset", help=f"One of: {', '.join(PRESETS)}")] = "default",
    config_file: Annotated[
        Path | None, typer.Option("--config", help="A full config as JSON (instead of --preset)")
    ] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", min=1)] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=1)] = None,
    lr: Annotated[float | None, typer.Option("--lr", min=0.0)] = None,
    latent: Annotated[int | None, typer.Option("--latent", min=1, help="Latent size")] = None,
    beta: Annotated[float | None, typer.Option("--beta", min=0.0, help="KL weight")] = None,
    onset_weight: Annotated[
        float | None,
        typer.Option("--onset-weight", min=0.0, help="Extra weight of the reconstruction error in the attack's frames"),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed of the run")] = None,
    max_minutes: Annotated[
        float | None, typer.Option("--max-minutes", min=0.0, help="Training time budget, across resumes (0: none)")
    ] = None,
    augment: Annotated[bool | None, typer.Option("--augment/--no-augment", help="Random gain and delay")] = None,
    pitch_shift: Annotated[
        float | None,
        typer.Option("--pitch-shift", min=0.0, max=12.0, help="Random playback-rate pitch change, up to ± semitones"),
    ] = None,
    balance: Annotated[bool | None, typer.Option("--balance/--no-balance", help="Draw classes evenly")] = None,
    holdout_source: Annotated[
        list[str] | None,
        typer.Option("--holdout-source", help="Leave this source out of training whole, for evaluate (repeatable)"),
    ] = None,
    conditional: Annotated[bool | None, typer.Option("--conditional/--unconditional")] = None,
    accelerator: Annotated[str, typer.Option("--accelerator", help="cpu, gpu or auto (GPUs when present)")] = "auto",
    devices: Annotated[str, typer.Option("--devices", help="How many devices (or 'auto')")] = "1",
    num_nodes: Annotated[int, typer.Option("--num-nodes", min=1)] = 1,
    strategy: Annotated[str, typer.Option("--strategy", help="Lightning strategy: auto, ddp, ...")] = "auto",
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out")] = False,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Preprocessing processes")] = None,
    adversarial: Annotated[
        bool, typer.Option("--adversarial", help="Sharpen the VAE given by --init against a discriminator")
    ] = False,
    init: Annotated[Path | None, typer.Option("--init", help="A trained model directory to start from")] = None,
    adversarial_weight: Annotated[
        float | None, typer.Option("--adversarial-weight", min=0.0, help="Sharpening: the discriminator's loss weight")
    ] = None,
    feature_matching_weight: Annotated[
        float | None, typer.Option("--feature-matching-weight", min=0.0, help="Sharpening: the feature-matching weight")
    ] = None,
) -> None:
    """Train a model on a bank: progress bar, validation loss per epoch, checkpoints, logs, loss curve."""
    from dkvae.training.options import build_config
    from dkvae.training.train import train as run_training

    config = build_config(
        out, resume, preset=preset, kind=model, architecture=arch, config_file=config_file, init=init,
        adversarial=adversarial or None, epochs=epochs, batch_size=batch_size,
        learning_rate=lr, latent_dim=latent, beta=beta, onset_weight=onset_weight, seed=seed, max_minutes=max_minutes, augment=augment, pitch_shift=pitch_shift,
        balance_classes=balance, holdout_sources=tuple(holdout_source) if holdout_source else None,
        conditional=conditional, adversarial_weight=adversarial_weight,
        feature_matching_weight=feature_matching_weight,
    )  # fmt: skip
    result = run_training(
        bank, out, config, resume=resume, accelerator=accelerator,
        devices=int(devices) if devices.isdigit() else devices, num_nodes=num_nodes, strategy=strategy,
        workers=workers, init=init,
    )  # fmt: skip
    if result.rank > 0:
        console.print(
            f"process of rank {result.rank} done; rank 0 reports the run and writes the model in {result.run}"
        )
        return
    console.print(
        f"best validation loss {result.best_val_loss:.5g} at epoch {result.best_epoch}; model in {result.run}"
    )


ModelOption = Annotated[Path | None, typer.Option("--model", help="Model directory (default: the bundled model)")]
OutOption = Annotated[Path, typer.Option("--out", help="Folder for the WAV files and their JSON sidecars")]
BitDepthOption = Annotated[int, typer.Option("--bit-depth", help="16 or 24")]
TemperatureOption = Annotated[
    float,
    typer.Option(
        "--temperature",
        min=0.0,
        max=MAX_TEMPERATURE,
        help="Spread of new sounds around their class's most typical one: 1 as the training sounds spread, 0 that one sound, more for stranger ones",
    ),
]
IterationsOption = Annotated[
    int | None,
    typer.Option(
        "--iterations",
        min=0,
        max=MAX_INVERSION_ITERATIONS,
        help="Fast Griffin-Lim iterations after the phase estimate (default: the model's, 12): more keep more of "
        "each attack, at about 0.35 ms a sound each; 32 suits kits and exports",
    ),
]


def load_machine(model: Path | None, bit_depth: int = 16, iterations: int | None = None) -> DrumMachine:
    """The model directory `model`, or the bundled model, with `iterations` inversion iterations when given;
    a bad `bit_depth` is refused first."""
    from dkvae.inference.machine import DrumMachine
    from dkvae.sound.wav import check_bit_depth

    check_bit_depth(bit_depth)
    machine = DrumMachine.load(model)
    if iterations is None:
        return machine
    return machine.with_inversion(dataclasses.replace(machine.config.inversion, iterations=iterations))


def print_skipped(skipped: list[tuple[str, str]]) -> None:
    """One line per input file left out, with its reason."""
    for file, reason in skipped:
        console.print(f"  skipped {file}: {reason}", markup=False, highlight=False)


def print_written(paths: list[Path], out: Path) -> None:
    """The one success line of a command that wrote sounds; nothing when it wrote none."""
    if paths:
        console.print(f"wrote {len(paths)} sound{'s' if len(paths) != 1 else ''} (WAV + JSON sidecar) to {out}")


YesOption = Annotated[bool, typer.Option("--yes", help=f"Confirm writing more than {MANY_SOUNDS:,} sounds")]


def check_count(machine: DrumMachine, count: int, bit_depth: int, yes: bool, option: str = "--count") -> None:
    """Refuse a count (given as `option`) over `MANY_SOUNDS` that --yes does not confirm, saying how much it would write."""
    from dkvae.inference.generation import disk_bytes_per_sound

    if count > MANY_SOUNDS and not yes:
        size = count * disk_bytes_per_sound(machine, bit_depth) / 1e9
        raise DkvaeError(
            f"{option} {count} writes {count} WAV files and their sidecars, up to {size:.1f} GB; "
            f"add --yes to write more than {MANY_SOUNDS:,} sounds"
        )


def model_instrument(machine: DrumMachine, name: str) -> str:
    """The model's class that `name` means: its own name in any case, or an alias such as hh, bd or sd."""
    found = match_class_name(name, machine.instruments)
    if found is None:
        raise DkvaeError(f"unknown instrument {name!r}; this model knows: {', '.join(machine.instruments)}")
    return found


@app.command()
def generate(
    instrument: Annotated[
        str,
        typer.Option(
            "--instrument",
            help=f"Drum class: {', '.join(CLASSES)} (the bundled model's; another model's are its own), "
            "in any case, or an alias such as bd, sd, hh, hat, cym",
        ),
    ],
    out: OutOption,
    model: ModelOption = None,
    count: Annotated[int, typer.Option("--count", min=1, help="How many sounds")] = 8,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same sounds")] = 0,
    temperature: TemperatureOption = 1.0,
    bit_depth: BitDepthOption = 16,
    iterations: IterationsOption = None,
    yes: YesOption = False,
) -> None:
    """Generate new drum sounds of one class."""
    from dkvae.inference.generation import write_generated

    machine = load_machine(model, bit_depth, iterations)
    name = model_instrument(machine, instrument)
    check_count(machine, count, bit_depth, yes)
    print_written(write_generated(machine, name, count, seed, out, bit_depth, temperature), out)


@app.command()
def kit(
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Kit folder, or a .h2drumkit, .dslibrary or .sf2 file; a .sfz or .dspreset path is a kit folder of its stem",
        ),
    ],
    model: ModelOption = None,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same kit")] = 0,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format", help="wav, sfz, hydrogen, decentsampler, sf2 or all (default: by --out's extension, else wav)"
        ),
    ] = None,
    round_robin: Annotated[int, typer.Option("--round-robin", help="Sounds per pad, played in turn")] = 1,
    spread: Annotated[float, typer.Option("--spread", help="0: one close-knit kit .. 1: independent sounds")] = 0.5,
    temperature: TemperatureOption = 1.0,
    name: Annotated[str | None, typer.Option("--name", help="Kit name (default: DKVAE <seed>)")] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Also write a two-bar groove played with the kit (demo.wav, demo.mid)")
    ] = False,
    picked: Annotated[
        Path | None, typer.Option("--from", help="Make the kit from the dkvae sounds (with sidecars) in this folder")
    ] = None,
    bit_depth: BitDepthOption = 16,
    iterations: IterationsOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an earlier kit at --out (never a folder of other files)")
    ] = False,
) -> None:
    """Generate a kit on General MIDI notes (kick 36, snare 38, hats 42/44/46, ...) for samplers: WAVs, SFZ, Hydrogen, Decent Sampler, SF2."""
    from dkvae.kits.build import build_kit
    from dkvae.kits.export import export_kit, plan_export
    from dkvae.kits.picked import kit_from_folder

    plan_export(out, fmt, demo, force)  # refused before the sounds are made
    if picked is not None:
        if iterations is not None:
            raise DkvaeError("--iterations renders new sounds; a kit --from a folder uses the sounds as they are")
        drum_kit, skipped = kit_from_folder(picked, round_robin, name, model)
        print_skipped(skipped)
    else:
        machine = load_machine(model, bit_depth, iterations)
        drum_kit = build_kit(machine, seed, spread, round_robin, name, temperature)
    written = export_kit(drum_kit, out, fmt, bit_depth, demo, force)
    sounds = sum(len(pad.sounds) for pad in drum_kit.pads)
    console.print(
        f"kit {drum_kit.name!r}: {len(drum_kit.pads)} pads, {sounds} sounds; wrote "
        + ", ".join(str(path) for path in written)
    )


@app.command()
def serve(
    model: ModelOption = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; anything but loopback is reachable from the network")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port")] = 8000,
    bank: Annotated[
        Path | None, typer.Option("--bank", help="Your processed bank: on the sound map and searched by 'similar'")
    ] = None,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-host",
            metavar="NAME",
            help="Another host name the page is opened by (repeatable); loopback and --host always are",
        ),
    ] = None,
) -> None:
    """Open the drum machine in the browser at http://HOST:PORT: pads, step sequencer, latent sliders, kit export."""
    from dkvae.web.app import serve as run_server

    run_server(model, host, port, bank, allow_host or [])


@app.command("export-model")
def export_model_command(
    fmt: Annotated[str, typer.Option("--format", help="onnx or torchscript")],
    out: Annotated[Path, typer.Option("--out", help="The model file to write (a .json description goes beside it)")],
    model: ModelOption = None,
) -> None:
    """Export the decoder (latent + class weights -> STFT magnitude) and its inversion for plugin hosts, with JSON."""
    from dkvae.inference.export import export_model, inversion_path, prior_path

    written = export_model(model, fmt, out)
    files = [written, inversion_path(written), written.with_suffix(".json")]
    files += [prior_path(written)] if prior_path(written).exists() else []
    console.print("wrote " + ", ".join(str(path) for path in files))


@app.command()
def distill(
    bank: Annotated[Path, typer.Argument(help="Processed bank: its training sounds' latents are among those learned on")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the student (becomes a model directory)")],
    channels: Annotated[
        str, typer.Option("--channels", help="The student decoder's stage widths, narrowest first: 16,32,64,96,96")
    ],
    model: ModelOption = None,
    steps: Annotated[int | None, typer.Option("--steps", min=1, help="Training steps (default 12000)")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=1, help="Latents a step (default 32)")] = None,
    lr: Annotated[float | None, typer.Option("--lr", min=0.0, help="Peak learning rate (default 0.002)")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the student's batches (default 0)")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its last checkpoint")] = False,
) -> None:
    """Train a narrower decoder to decode as a model's own does, so it renders faster; encoder and prior are kept."""
    from dkvae.inference.machine import bundled_model_dir
    from dkvae.training.distillation import DistillSettings
    from dkvae.training.distillation import distill as run_distillation

    try:
        widths = tuple(int(width) for width in channels.split(","))
    except ValueError:
        raise DkvaeError(f"--channels takes whole numbers separated by commas, not {channels!r}") from None
    given = {"steps": steps, "batch_size": batch_size, "learning_rate": lr, "seed": seed}
    settings = DistillSettings(widths, **{name: value for name, value in given.items() if value is not None})
    with progress_bar("distilling") as progress:
        result = run_distillation(model or bundled_model_dir(), bank, out, settings, resume, progress)
    console.print(f"model {result.model_id} in {result.directory}; last loss {result.final_loss:.3g}")


@app.command()
def prior(
    run: Annotated[Path, typer.Argument(help="A trained codec's run folder (dkvae train --preset codec)")],
    bank: Annotated[Path, typer.Argument(help="The bank the codec trained on: its training sounds' latents are learned")],
    steps: Annotated[int, typer.Option("--steps", min=1, help="Training steps")] = 20_000,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Latents a step")] = 64,
    lr: Annotated[float, typer.Option("--lr", min=0.0, help="Learning rate")] = 5e-4,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the prior's noise and batches")] = 0,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the run's prior checkpoint")] = False,
    dilation_cycle: Annotated[
        int | None,
        typer.Option("--dilation-cycle", min=1, help="Blocks' dilations 1, 2, ... 2^(N-1), then again [default: 6; the first prior's: 4]"),
    ] = None,
) -> None:
    """Train a codec's flow prior, the model new sounds are drawn from, on its cached latents."""
    from dkvae.models.flow_prior import FlowConfig
    from dkvae.training.prior import train_prior

    flow = FlowConfig() if dilation_cycle is None else FlowConfig(dilation_cycle=dilation_cycle)
    path = train_prior(run, bank, flow, steps=steps, batch_size=batch_size, learning_rate=lr, seed=seed, resume=resume)
    console.print(f"flow prior in {path}; dkvae generate --model {run} now draws from it")


@app.command()
def reconstruct(
    files: Annotated[list[Path], typer.Argument(help="Sound files to pass through the model")],
    out: OutOption,
    model: ModelOption = None,
    bit_depth: BitDepthOption = 16,
    iterations: IterationsOption = None,
) -> None:
    """Encode and decode sounds: OUT/<file stem>.wav is how the model hears each one."""
    from dkvae.inference.generation import write_reconstructions

    machine = load_machine(model, bit_depth, iterations)
    written, skipped = write_reconstructions(machine, files, out, bit_depth)
    print_skipped(skipped)
    print_written(written, out)
    if not written:
        raise DkvaeError("no file could be reconstructed")


@app.command()
def interpolate(
    file_a: Annotated[Path, typer.Argument(help="The sound to start from")],
    file_b: Annotated[Path, typer.Argument(help="The sound to end at")],
    out: OutOption,
    steps: Annotated[int, typer.Option("--steps", min=2, help="Sounds in the morph, both ends included")] = 8,
    method: Annotated[
        str | None, typer.Option("--method", help="linear (a VAE's default), slerp (a codec's), or prior (along a codec's flow noise)")
    ] = None,
    model: ModelOption = None,
    bit_depth: BitDepthOption = 16,
    iterations: IterationsOption = None,
    yes: YesOption = False,
) -> None:
    """Morph from one sound to another through the latent space."""
    from dkvae.inference.generation import write_interpolation

    machine = load_machine(model, bit_depth, iterations)
    check_count(machine, steps, bit_depth, yes, "--steps")
    print_written(write_interpolation(machine, file_a, file_b, steps, out, method, bit_depth), out)


@app.command()
def vary(
    file: Annotated[Path, typer.Argument(help="The sound to vary")],
    out: OutOption,
    count: Annotated[int, typer.Option("--count", min=1, help="How many variations")] = 8,
    amount: Annotated[
        float,
        typer.Option(
            "--amount", min=0.0, help="How far from the original: 1 is as far as a typical other sound of its class"
        ),
    ] = 0.3,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same variations")] = 0,
    model: ModelOption = None,
    bit_depth: BitDepthOption = 16,
    iterations: IterationsOption = None,
    yes: YesOption = False,
) -> None:
    """Make variations of a sound: its neighbours in the latent space."""
    from dkvae.inference.generation import write_variations

    machine = load_machine(model, bit_depth, iterations)
    check_count(machine, count, bit_depth, yes)
    print_written(write_variations(machine, file, count, amount, seed, out, bit_depth), out)


@app.command()
def render(
    sidecar: Annotated[Path, typer.Argument(help="A sound's JSON sidecar")],
    out: OutOption,
    model: ModelOption = None,
) -> None:
    """Re-create a sound from its sidecar, bit for bit (same model, same latent, same settings)."""
    from dkvae.inference.generation import render_sidecar

    path = render_sidecar(sidecar, out, model)
    console.print(f"wrote {path}")


@app.command()
def evaluate(
    bank: Annotated[Path, typer.Argument(help="A processed bank: the model is measured on its test split")],
    out: Annotated[Path, typer.Option("--out", help="Report folder: report.md, metrics.json, PNGs, cached classifier")],
    model: ModelOption = None,
    count: Annotated[int, typer.Option("--count", min=2, help="Sounds generated per class")] = 64,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generated sounds")] = 0,
    judge_seed: Annotated[
        int,
        typer.Option(
            "--judge-seed", help="Seed of what they are measured against: classifier, NDB bins, ceiling and floor"
        ),
    ] = 0,
    threads: Annotated[
        int, typer.Option("--threads", min=1, help="Torch threads (1 is fastest for its many small steps)")
    ] = 1,
) -> None:
    """Measure a model: reconstruction, generation against real-data ceilings and a noise floor, latent space; write a report."""
    from dkvae.evaluation.evaluate import evaluate as run_evaluation

    with stage_progress_bars() as progress:
        metrics = run_evaluation(
            bank, out, model, count=count, seed=seed, progress=progress, threads=threads, judge_seed=judge_seed
        )
    console.print(f"wrote {out / 'report.md'} and {out / 'metrics.json'} in {metrics['seconds']['total']:.0f} s")


@app.command()
def compare(
    reports: Annotated[list[Path], typer.Argument(help="Two or more report folders from dkvae evaluate")],
) -> None:
    """Print evaluation reports side by side; the better figure of each metric is bold and starred."""
    from dkvae.evaluation.compare import compare_reports, row_title
    from dkvae.evaluation.report import format_value

    comparison = compare_reports(reports)
    table = Table(title="evaluation reports (* better)")
    for column in ["section", "metric", *comparison.names]:
        table.add_column(column, justify="left" if column in ("section", "metric") else "right")
    for row in comparison.rows:
        cells = [
            f"[bold]{format_value(v)} *[/bold]" if i == row.best else format_value(v) for i, v in enumerate(row.values)
        ]
        table.add_row(row.section, row_title(row), *cells)
    console.print(table)
    for note in comparison.notes:
        console.print(f"note: {note}", markup=False, highlight=False)


def main() -> None:
    """Entry point: runs the app; a user error prints one line and exits with code 2."""
    try:
        app()
    except DkvaeError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(USER_ERROR)
    except OSError as error:
        where = f": {error.filename}" if error.filename else ""
        print(f"error: {error.strerror or error}{where}", file=sys.stderr)
        sys.exit(USER_ERROR)
