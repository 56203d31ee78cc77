"""Import every Debian-packaged drum source into one bank: ``dkvae import debian --out BANK``.

The sources (`DEBIAN_SOURCES`) are Hydrogen kits, SoundFont kits rendered with FluidSynth,
DrumSynth presets rendered with LMMS, and loose sample folders. Nothing is installed here: a
missing package is reported with the ``apt-get install`` line that adds it, and the rest is
imported. Exact and near duplicates across all sources are dropped at the end (`dedup`).

The FluidR3 family of SoundFonts (`RESERVED_PACKAGES`) is never used: this project keeps it for
independent evaluation, so no model may train, tune or be selected on it.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from dkvae.core.classes import classify_name
from dkvae.core.config import AUDIO_EXTENSIONS
from dkvae.core.errors import DkvaeError
from dkvae.core.names import safe_name
from dkvae.core.progress import Progress, StageProgress
from dkvae.data.layout import MANIFEST_NAME, BankWriter
from dkvae.importers.dedup import Duplicate, remove_duplicates
from dkvae.importers.drumsynth import SYSTEM_DRUMSYNTH_DIR, import_drumsynth
from dkvae.importers.hydrogen import SYSTEM_DRUMKITS_DIR, import_hydrogen
from dkvae.importers.licenses import UNKNOWN_LICENSE, debian_license, is_installed, write_licenses
from dkvae.importers.report import ImportReport
from dkvae.importers.soundfont import DEFAULT_VELOCITIES, import_soundfont

#: Packages reserved for evaluating this project; never imported for training.
RESERVED_PACKAGES: tuple[str, ...] = (
    "fluid-soundfont-gm",
    "fluid-soundfont-gs",
    "fluidr3mono-gm-soundfont",
    "musescore-general-soundfont",
    "musescore-general-soundfont-small",
    "musescore-general-soundfont-lossless",
)
#: File names of the reserved fonts, checked after following links (``default-GM.sf2`` may point at one).
RESERVED_FILE_WORDS: tuple[str, ...] = ("fluidr3", "musescore_general", "musescore-general", "generaluser")

SourceKind = Literal["hydrogen", "soundfont", "drumsynth", "samples"]

@dataclass(frozen=True)
class DebianSource:
    """One Debian package and the files of it to import, and how."""

    package: str
    kind: SourceKind
    paths: tuple[Path, ...]
    #: MIDI velocities each SoundFont key is rendered at.
    velocities: tuple[int, ...] = DEFAULT_VELOCITIES
    #: The SoundFont presets to render, as (bank, program); None: every drum-kit preset found.
    presets: tuple[tuple[int, int], ...] | None = None


#: The AVL kits are multi-sampled (a separate recording per velocity layer), so more velocities bring
#: more distinct hits: 208 survive duplicate removal at these 8 velocities, against 108 at 3.
AVL_VELOCITIES: tuple[int, ...] = tuple(range(15, 128, 16))

#: Each AVL font holds one kit, in bank 0 program 0 (where melodic instruments usually are).
AVL_PRESETS: tuple[tuple[int, int], ...] = ((0, 0),)

DEBIAN_SOURCES: tuple[DebianSource, ...] = (
    DebianSource("hydrogen-drumkits", "hydrogen", (SYSTEM_DRUMKITS_DIR,)),
    DebianSource("hydrogen-drumkits-effects", "hydrogen", (SYSTEM_DRUMKITS_DIR,)),
    DebianSource(
        "avldrums.lv2-soundfont",
        "soundfont",
        (Path("/usr/share/sounds/sf2/Black_Pearl_4_LV2.sf2"), Path("/usr/share/sounds/sf2/Red_Zeppelin_4_LV2.sf2")),
        AVL_VELOCITIES,
        AVL_PRESETS,
    ),
    DebianSource("timgm6mb-soundfont", "soundfont", (Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),)),
    DebianSource("csound-soundfont", "soundfont", (Path("/usr/share/sounds/sf2/sf_GMbank.sf2"),)),
    DebianSource("lmms-common", "drumsynth", (SYSTEM_DRUMSYNTH_DIR,)),
    DebianSource("lmms-common", "samples", (Path("/usr/share/lmms/samples/drums"),)),
    DebianSource("exadrums", "samples", (Path("/usr/share/exadrums"),)),
)
#: LMMS renders the DrumSynth presets; it is a separate package from the presets themselves.
RENDERER_PACKAGES: dict[SourceKind, str] = {"drumsynth": "lmms", "soundfont": "libfluidsynth3"}


@dataclass
class DebianReport(ImportReport):
    """An `ImportReport` over all sources, plus what was missing and what was dropped as a duplicate."""

    #: Sounds in the bank per source package (after duplicates were dropped).
    sources: dict[str, int] = field(default_factory=dict)
    #: Packages not installed, so not imported.
    missing: list[str] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)

    @property
    def install_hint(self) -> str:
        """The command that installs the missing packages ("" when none is missing)."""
        if not self.missing:
            return ""
        return "sudo apt-get install --no-install-recommends " + " ".join(self.missing)


def is_reserved(path: Path) -> bool:
    """Whether `path` (after following links) is a FluidR3-family file kept for evaluation."""
    names = {path.name.lower(), Path(os.path.realpath(path)).name.lower()}
    return any(word in name for word in RESERVED_FILE_WORDS for name in names)


def _needed_packages(source: DebianSource) -> list[str]:
    """The package itself and the program that renders it."""
    renderer = RENDERER_PACKAGES.get(source.kind)
    return [source.package] + ([renderer] if renderer else [])


def _import_samples(out: Path, package: str, folder: Path, report: ImportReport) -> None:
    """Copy a package's loose one-shots in `folder`, classified by file name, into the bank."""
    if not folder.is_dir():
        raise DkvaeError(f"{folder} (from {package}) is missing")
    with BankWriter(out) as writer:
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in AUDIO_EXTENSIONS or not path.is_file():
                continue
            item = f"{package}/{path.name}"
            label = classify_name(path.stem)
            if label is None:
                report.unsorted.append((item, "name maps to no drum class, or to two"))
                continue
            writer.copy_file(
                label,
                f"{safe_name(package)}__{path.name}",
                path,
                source=package,
                kit=f"{package} samples",
                instrument=path.stem,
                license=debian_license(package, [str(path)]) or UNKNOWN_LICENSE,
                group=f"{package}/{path.stem}",
            )
            report.counts[label] += 1


def _import_source(
    root: Path,
    source: DebianSource,
    path: Path,
    report: ImportReport,
    progress: Progress | None,
    workers: int | None,
    packages: set[str],
) -> None:
    """Import one file or folder of `source` with the importer for its kind, adding to `report`.

    `packages` are the sources' packages that install into this folder: of a Hydrogen drumkits folder
    only their kits are taken, since Hydrogen's own (hydrogen-data, installed with the program) would
    make the bank depend on whether the program is installed.
    """
    if source.kind == "hydrogen":
        _merge(report, import_hydrogen(root, path, progress=progress, packages=packages))
    elif source.kind == "soundfont":
        _merge(report, import_soundfont(root, path, progress=progress, presets=source.presets, velocities=source.velocities))
    elif source.kind == "drumsynth":
        _merge(report, import_drumsynth(root, path, progress=progress, workers=workers))
    else:
        _import_samples(root, source.package, path, report)


def _merge(total: ImportReport, part: ImportReport) -> None:
    total.kits += part.kits
    total.unsorted += part.unsorted
    total.skipped += part.skipped


def _stage(progress: StageProgress | None, name: str) -> Progress | None:
    return None if progress is None else (lambda done, total: progress(name, done, total))


def import_debian(
    out: str | os.PathLike[str],
    progress: StageProgress | None = None,
    workers: int | None = None,
    sources: tuple[DebianSource, ...] = DEBIAN_SOURCES,
) -> DebianReport:
    """Import every installed source of `sources` into the bank at `out`, drop duplicates, and report.

    Sources whose package (or renderer) is not installed are listed in ``report.missing``; the
    report's counts are what the bank holds at the end. `workers` is the number of LMMS processes.
`progress` gets one stage per source ("package (kind)") and a last one, "duplicates".

    Raises DkvaeError if none of the packages is installed, or if a source is a reserved font.
    """
    root = Path(out)
    report = DebianReport()
    missing = {package for source in sources for package in _needed_packages(source) if not is_installed(package)}
    report.missing = sorted(missing)
    available = [source for source in sources if not missing.intersection(_needed_packages(source))]
    if not available:
        raise DkvaeError(f"none of the Debian drum packages is installed; run: {report.install_hint}")
    done_kinds: set[tuple[SourceKind, tuple[Path, ...]]] = set()
    for source in available:
        if (source.kind, source.paths) in done_kinds:
            continue  # both Hydrogen packages install into one folder, imported once
        done_kinds.add((source.kind, source.paths))
        sharing = {s.package for s in available if (s.kind, s.paths) == (source.kind, source.paths)}
        for path in source.paths:
            if is_reserved(path):
                raise DkvaeError(f"{path} is a FluidR3-family SoundFont, kept for evaluation only")
            try:
                stage = _stage(progress, f"{source.package} ({source.kind})")
                _import_source(root, source, path, report, stage, workers, sharing)
            except DkvaeError as error:  # one broken source must not stop the others
                report.skipped.append((str(path), str(error)))
    report.duplicates = remove_duplicates(root, progress=_stage(progress, "duplicates"))
    write_licenses(root)
    manifest = pd.read_csv(root / MANIFEST_NAME, dtype=str, keep_default_na=False)
    report.counts = {label: int((manifest["label"] == label).sum()) for label in report.counts}
    report.sources = dict(Counter(manifest["source"]))
    return report
