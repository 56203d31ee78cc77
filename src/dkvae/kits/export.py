"""Write a kit in the formats a user asks for, all or nothing: an interrupted export leaves no half kit.

A kit folder is built under a temporary name beside its destination and renamed into place; a
previous kit there is replaced only when asked (``force``), and only once the new one is complete. A
``.h2drumkit``, ``.dslibrary`` or ``.sf2`` path is that single file; a ``.sfz`` or ``.dspreset`` path
is a kit folder named by its stem, since those files need their ``samples/`` beside them. The
format follows the path's extension unless one is given, and a given one must agree with it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dkvae.core.errors import DkvaeError
from dkvae.core.names import safe_name
from dkvae.kits.decent_sampler import write_decent_library, write_decent_sampler
from dkvae.kits.demo import write_demo
from dkvae.kits.hydrogen import write_hydrogen
from dkvae.kits.kit import Kit, write_samples
from dkvae.kits.sfz import write_sfz
from dkvae.kits.soundfont import write_soundfont
from dkvae.kits.wav_folder import write_wav_folder

FORMATS = ("wav", "sfz", "hydrogen", "decentsampler", "sf2", "all")
#: A file in every kit folder dkvae writes, so re-exporting may replace it but never a user's own folder.
KIT_MARKER = ".dkvae-kit"
SINGLE_FILE_SUFFIXES = {"hydrogen": ".h2drumkit", "decentsampler": ".dslibrary", "sf2": ".sf2"}
#: The writers of the single-file formats.
FILE_WRITERS = {"hydrogen": write_hydrogen, "decentsampler": write_decent_library, "sf2": write_soundfont}
#: Formats whose main file needs a kit folder around it, by that file's extension.
FOLDER_SUFFIXES = {".sfz": "sfz", ".dspreset": "decentsampler"}
#: The format an out path's extension names; any other path is a kit folder.
SUFFIX_FORMATS = {**{suffix: fmt for fmt, suffix in SINGLE_FILE_SUFFIXES.items()}, **FOLDER_SUFFIXES}
#: The format of a kit folder whose name names none.
DEFAULT_FORMAT = "wav"
#: The extensions of the demo's files (`write_demo`), which go beside a single-file kit.
DEMO_SUFFIXES = (".wav", ".mid")


@dataclass(frozen=True)
class Destination:
    """Where a kit goes: one archive file, or a kit folder, in one of `FORMATS`."""

    path: Path
    fmt: str
    single_file: bool


def plan_export(
    out: str | os.PathLike[str], fmt: str | None = None, demo: bool = False, force: bool = False
) -> Destination:
    """Where and how a kit for `out` is written, checked before anything is made.

    `fmt` None takes the format from the extension (`SUFFIX_FORMATS`, else `DEFAULT_FORMAT`); a given
    one that the extension contradicts is refused. An existing archive (or its demo) or an earlier kit
    folder is replaced only with `force`; a folder of files dkvae did not write, never.
    """
    target = Path(out)
    suffix = target.suffix.lower()
    implied = SUFFIX_FORMATS.get(suffix)
    if fmt is None:
        fmt = implied or DEFAULT_FORMAT
    if fmt not in FORMATS:
        raise DkvaeError(f"unknown kit format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if implied is not None and fmt != implied:
        raise DkvaeError(
            f"--out {target.name} ends in {suffix}, which is --format {implied}, not --format {fmt}; "
            "leave --format out or choose an --out that fits it"
        )
    if SINGLE_FILE_SUFFIXES.get(fmt) == suffix:
        files = [target, *(_demo_beside(target, extension) for extension in DEMO_SUFFIXES if demo)]
        for file in files:
            if file.exists() and not force:
                raise DkvaeError(f"{file} exists; pass --force to replace it, or choose another --out")
        return Destination(target, fmt, single_file=True)
    folder = target.with_suffix("") if suffix in FOLDER_SUFFIXES else target
    _check_replaceable(folder, force)
    return Destination(folder, fmt, single_file=False)


def export_kit(
    kit: Kit,
    out: str | os.PathLike[str],
    fmt: str | None = None,
    bit_depth: int = 16,
    demo: bool = False,
    force: bool = False,
) -> list[Path]:
    """Write `kit` to `out` in format `fmt` (one of `FORMATS`; None: by `out`'s extension); returns the main files written.

    What `out` may replace, and when, is `plan_export`'s rule.
    """
    destination = plan_export(out, fmt, demo, force)
    fmt, target = destination.fmt, destination.path
    if destination.single_file:
        return _export_file(kit, target, fmt, bit_depth, demo)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        written = _write_formats(kit, staging, fmt, bit_depth, demo)
        (staging / KIT_MARKER).write_text(kit.name + "\n", encoding="utf-8")
        _swap_into_place(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [target / path.relative_to(staging) for path in written]


def _write_formats(kit: Kit, folder: Path, fmt: str, bit_depth: int, demo: bool) -> list[Path]:
    """Every format `fmt` names, into one folder sharing its ``samples/``."""
    chosen = set(FORMATS) - {"all"} if fmt == "all" else {fmt}
    stem = safe_name(kit.name)
    written = []
    samples = write_samples(kit, folder, bit_depth) if chosen & {"wav", "sfz", "decentsampler"} else None
    if "wav" in chosen:
        written.append(write_wav_folder(kit, folder, bit_depth, samples))
    if "sfz" in chosen:
        written.append(write_sfz(kit, folder, bit_depth, samples))
    if "decentsampler" in chosen:
        written.append(write_decent_sampler(kit, folder, bit_depth, samples))
        written.append(write_decent_library(kit, folder / f"{stem}{SINGLE_FILE_SUFFIXES['decentsampler']}", bit_depth))
    if "hydrogen" in chosen:
        written.append(write_hydrogen(kit, folder / f"{stem}{SINGLE_FILE_SUFFIXES['hydrogen']}", bit_depth))
    if "sf2" in chosen:
        written.append(write_soundfont(kit, folder / f"{stem}{SINGLE_FILE_SUFFIXES['sf2']}", bit_depth))
    if demo:
        written.extend(write_demo(kit, folder, bit_depth))
    return written


def _export_file(kit: Kit, target: Path, fmt: str, bit_depth: int, demo: bool) -> list[Path]:
    """One archive file (each writer is atomic), and the demo beside it as ``<stem>-demo.wav/.mid``."""
    writer = FILE_WRITERS[fmt]
    target.parent.mkdir(parents=True, exist_ok=True)
    written = [writer(kit, target, bit_depth)]
    if demo:
        with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
            for path in write_demo(kit, Path(scratch), bit_depth):
                beside = _demo_beside(target, path.suffix)
                os.replace(path, beside)
                written.append(beside)
    return written


def _demo_beside(archive: Path, extension: str) -> Path:
    """Where the demo file ending in `extension` goes beside a single-file kit: ``<stem>-demo<extension>``."""
    return archive.with_name(f"{archive.stem}-demo{extension}")


def _check_replaceable(target: Path, force: bool) -> None:
    """Refuse to replace anything but a missing path, an empty folder or, with `force`, a kit folder dkvae wrote."""
    if not target.exists():
        return
    if not target.is_dir():
        raise DkvaeError(f"{target} exists and is not a folder; choose another --out")
    if not any(target.iterdir()):
        return
    marker = target / KIT_MARKER
    if not marker.exists():
        raise DkvaeError(f"{target} is a folder that holds files dkvae did not write; choose another --out")
    if not force:
        name = marker.read_text(encoding="utf-8", errors="replace").strip()
        raise DkvaeError(
            f"{target} holds an earlier kit ({name!r}); pass --force to replace it, or choose another --out"
        )


def _swap_into_place(staging: Path, target: Path) -> None:
    """Rename `staging` to `target`; a previous `target` is moved aside first and removed only after."""
    previous = None
    if target.exists():
        previous = target.with_name(f".{target.name}.{os.getpid()}.old")
        os.replace(target, previous)
    try:
        os.replace(staging, target)
    except OSError:
        if previous is not None:
            os.replace(previous, target)
        raise
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)
