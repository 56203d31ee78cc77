"""Write a kit in the formats a user asks for, all or nothing: an interrupted export leaves no half kit.

A kit folder is built under a temporary name beside its destination and renamed into place; a
previous kit there is replaced only once the new one is complete. `--format hydrogen` to a
``.h2drumkit`` path, `--format decentsampler` to a ``.dslibrary`` path, or `--format sf2` to a ``.sf2``
path writes that single file instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
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


def export_kit(
    kit: Kit, out: str | os.PathLike[str], fmt: str = "wav", bit_depth: int = 16, demo: bool = False
) -> list[Path]:
    """Write `kit` to `out` in format `fmt` (one of `FORMATS`); returns the main files written."""
    if fmt not in FORMATS:
        raise DkvaeError(f"unknown kit format {fmt!r}; choose one of {', '.join(FORMATS)}")
    target = Path(out)
    if SINGLE_FILE_SUFFIXES.get(fmt) == target.suffix.lower():
        return _export_file(kit, target, fmt, bit_depth, demo)
    _check_replaceable(target)
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
                beside = target.with_name(f"{target.stem}-demo{path.suffix}")
                os.replace(path, beside)
                written.append(beside)
    return written


def _check_replaceable(target: Path) -> None:
    """Refuse to replace anything but a missing path, an empty folder or a kit folder dkvae wrote."""
    if not target.exists():
        return
    if not target.is_dir():
        raise DkvaeError(f"{target} exists and is not a folder; choose another --out")
    if any(target.iterdir()) and not (target / KIT_MARKER).exists():
        raise DkvaeError(f"{target} is a folder that holds files dkvae did not write; choose another --out")


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
