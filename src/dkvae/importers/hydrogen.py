"""Import Hydrogen drum kits (``drumkit.xml`` plus samples) into a bank, one folder per drum class.

Backs ``dkvae import hydrogen [DRUMKITS_DIR] --out BANK``. Every sample layer of every instrument
that names a drum class is copied unchanged; everything left out is reported with its reason.
Kit XML is untrusted input: it is parsed with defusedxml, and sample paths that leave the kit
folder are refused.
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeElementTree
from defusedxml import DefusedXmlException

from dkvae.core.classes import classify_name, is_non_drum_name
from dkvae.core.errors import DkvaeError
from dkvae.core.names import safe_name, unique_name
from dkvae.core.progress import Progress
from dkvae.data.layout import BankWriter
from dkvae.importers.licenses import UNKNOWN_LICENSE, debian_license, write_licenses
from dkvae.importers.report import ImportReport

SYSTEM_DRUMKITS_DIR = Path("/usr/share/hydrogen/data/drumkits")
USER_DRUMKITS_DIR = Path.home() / ".hydrogen" / "data" / "drumkits"
#: Where `import_hydrogen` looks when given no source; those that exist are used.
DEFAULT_DRUMKITS_DIRS: tuple[Path, ...] = (SYSTEM_DRUMKITS_DIR, USER_DRUMKITS_DIR)

KIT_FILE_NAME = "drumkit.xml"
KIT_ARCHIVE_SUFFIX = ".h2drumkit"

#: Debian's file lists say which package installed a kit (hydrogen-drumkits and -effects, and
#: hydrogen-data with Hydrogen's own GMRockKit and TR808EmulationKit); its copyright file gives the license.
DPKG_INFO_DIR = Path("/var/lib/dpkg/info")
DEBIAN_PACKAGE_PATTERN = "hydrogen*.list"
#: The `source` recorded for kits that no Debian package installed.
OTHER_SOURCE = "hydrogen"

#: Full velocity, for layers that do not say theirs (old single-file instruments).
FULL_VELOCITY = 1.0


@dataclass(frozen=True)
class _Layer:
    """One sample of an instrument: the path as written in the XML, and its top velocity (0..1)."""

    reference: str
    velocity: float


@dataclass(frozen=True)
class _Instrument:
    name: str
    layers: tuple[_Layer, ...]


@dataclass(frozen=True)
class _Kit:
    folder: Path
    name: str
    author: str
    license: str
    instruments: tuple[_Instrument, ...]


# --- finding and parsing kits -----------------------------------------------------------------


def _source_folders(source: str | os.PathLike[str] | None) -> list[Path]:
    """The drumkits folders (or single kit folders) to import; raises DkvaeError if there are none."""
    if source is not None:
        folder = Path(source).expanduser()
        if not folder.is_dir():
            raise DkvaeError(f"Hydrogen drumkits folder not found: {folder}")
        return [folder]
    folders = [folder for folder in DEFAULT_DRUMKITS_DIRS if folder.is_dir()]
    if not folders:
        raise DkvaeError(
            f"No Hydrogen drumkits in {SYSTEM_DRUMKITS_DIR}: install them with "
            "`sudo apt-get install hydrogen-drumkits hydrogen-drumkits-effects`, or pass a drumkits folder."
        )
    return folders


def _kit_folders(folder: Path, report: ImportReport) -> list[Path]:
    """`folder` itself if it is a kit, else the kit folders inside it; archives are reported."""
    if (folder / KIT_FILE_NAME).is_file():
        return [folder]
    entries = sorted(folder.iterdir())
    for archive in (entry for entry in entries if entry.suffix == KIT_ARCHIVE_SUFFIX):
        report.skipped.append((str(archive), "a packed kit: unpack it (tar xzf) or install it in Hydrogen first"))
    return [entry for entry in entries if (entry / KIT_FILE_NAME).is_file()]


def _local_name(element: Element) -> str:
    """The tag of `element` without its XML namespace, so all format generations read alike."""
    return element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""


def _children(element: Element, name: str) -> Iterator[Element]:
    """The direct children of `element` with local tag `name`."""
    return (child for child in element if _local_name(child) == name)


def _child_text(element: Element, *names: str) -> str:
    """The stripped text of the first direct child named one of `names`, or ""."""
    for name in names:
        for child in _children(element, name):
            if child.text and child.text.strip():
                return child.text.strip()
    return ""


def _velocity(layer: Element) -> float:
    """A layer's top velocity, clamped to 0..1 (Hydrogen picks the layer whose range holds the hit)."""
    try:
        value = float(_child_text(layer, "max") or FULL_VELOCITY)
    except ValueError:
        return FULL_VELOCITY
    return min(max(value, 0.0), FULL_VELOCITY) if math.isfinite(value) else FULL_VELOCITY


def _parse_instrument(element: Element) -> _Instrument:
    """Read one ``<instrument>``: its layers (direct or in ``<instrumentComponent>``) or an old lone ``<filename>``."""
    layers = [
        _Layer(reference, _velocity(layer))
        for layer in element.iter()
        if _local_name(layer) == "layer" and (reference := _child_text(layer, "filename"))
    ]
    if not layers and (reference := _child_text(element, "filename")):
        layers = [_Layer(reference, FULL_VELOCITY)]
    return _Instrument(_child_text(element, "name"), tuple(layers))


def _parse_kit(folder: Path) -> _Kit:
    """Parse ``folder/drumkit.xml``; raises ValueError (with a readable reason) if it cannot be read."""
    try:
        root = SafeElementTree.parse(folder / KIT_FILE_NAME).getroot()
    except (ParseError, DefusedXmlException, OSError, UnicodeError) as error:
        raise ValueError(f"unreadable {KIT_FILE_NAME}: {error}") from error
    if _local_name(root) != "drumkit_info":
        raise ValueError(f"{KIT_FILE_NAME} is not a Hydrogen drum kit (root element <{_local_name(root)}>)")
    instruments = [
        _parse_instrument(instrument)
        for instrument_list in _children(root, "instrumentList")
        for instrument in _children(instrument_list, "instrument")
    ]
    return _Kit(
        folder=folder,
        name=_child_text(root, "name") or folder.name,
        author=_child_text(root, "author"),
        license=_child_text(root, "license", "licence"),
        instruments=tuple(instruments),
    )


# --- classes ------------------------------------------------------------------------------------


def _instrument_class(instrument: _Instrument) -> str | None:
    """The class from the instrument's name, else the one class its sample file names agree on."""
    labels = {
        classify_name(instrument.name, Path(layer.reference.replace("\\", "/")).stem) for layer in instrument.layers
    }
    return labels.pop() if len(labels) == 1 else None


def _not_a_drum_kit(kit: _Kit, labels: list[str]) -> str | None:
    """Why `kit` is not a drum kit (a guitar kit, no drum instruments), or None if it is one."""
    if is_non_drum_name(kit.name) or is_non_drum_name(kit.folder.name):
        return "not a drum kit (its name says it holds other instruments)"
    if not any(labels):
        return "not a drum kit (no instrument name maps to a drum class)"
    return None


# --- licenses -----------------------------------------------------------------------------------


def _debian_packages() -> dict[Path, str]:
    """Kit folder -> the Debian package that installed it, read from dpkg's file lists once."""
    packages: dict[Path, str] = {}
    for listing in sorted(DPKG_INFO_DIR.glob(DEBIAN_PACKAGE_PATTERN)):
        package = listing.stem.split(":", 1)[0]
        for line in listing.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.endswith(f"/{KIT_FILE_NAME}"):
                packages[Path(line).parent] = package
    return packages


def _debian_license(package: str, kit: _Kit) -> str | None:
    """The license the package's copyright file gives the kit (Debian's stanzas name the upstream archives)."""
    candidates = [
        form.format(name)
        for name in {kit.folder.name, kit.name}
        for form in ("{}", "{}" + KIT_ARCHIVE_SUFFIX, "drumkits/{}", "drumkits/{}" + KIT_ARCHIVE_SUFFIX)
    ]
    return debian_license(package, candidates)


def _kit_license(kit: _Kit, package: str) -> str:
    """The kit's own license, else the one its Debian package states, else "unknown"."""
    if kit.license:
        return kit.license
    stated = _debian_license(package, kit) if package != OTHER_SOURCE else None
    return stated or UNKNOWN_LICENSE


# --- copying ------------------------------------------------------------------------------------


def _sample_path(kit: _Kit, reference: str, names: dict[str, str]) -> Path:
    """Where a layer's sample is; raises ValueError if it leaves the kit folder or is missing.

    `names` maps lower-cased file names in the kit folder to real ones, for kits made on systems
    whose file names ignore case.
    """
    relative = os.path.normpath(reference.replace("\\", "/"))
    if os.path.isabs(relative) or relative.split(os.sep, 1)[0] == os.pardir:
        raise ValueError("sample path points outside the kit folder")
    path = kit.folder / relative
    if not path.is_file() and relative.lower() in names:
        path = kit.folder / names[relative.lower()]
    if not path.is_file():
        raise ValueError("sample file missing")
    return path


def _plan_kit(kit: _Kit) -> tuple[list[tuple[_Instrument, str]], list[tuple[str, str]]]:
    """The instruments of `kit` to import with their classes, and the unsorted ones with reasons."""
    planned, unsorted = [], []
    for instrument in kit.instruments:
        if not instrument.layers:
            continue  # an empty slot in the kit's instrument list: nothing to import
        label = _instrument_class(instrument)
        if label is None:
            unsorted.append((f"{kit.name}/{instrument.name}", "name maps to no drum class"))
        else:
            planned.append((instrument, label))
    return planned, unsorted


@dataclass
class _Progress:
    """Counts handled layers and passes (done, total) to the caller's callback, if any."""

    total: int
    callback: Progress | None
    done: int = 0

    def advance(self) -> None:
        self.done += 1
        if self.callback:
            self.callback(self.done, self.total)


def _import_kit(
    writer: BankWriter,
    kit: _Kit,
    planned: list[tuple[_Instrument, str]],
    kit_stem: str,
    package: str,
    report: ImportReport,
    progress: _Progress,
) -> int:
    """Copy the planned instruments' layers of `kit` into the bank; returns how many files were copied."""
    license = _kit_license(kit, package)
    names = {entry.name.lower(): entry.name for entry in kit.folder.iterdir()}
    copied: dict[Path, str] = {}  # sample -> the instrument that brought it, to copy each sample once
    taken_stems: set[str] = set()
    count = 0
    for instrument, label in planned:
        instrument_stem = unique_name(safe_name(instrument.name), taken_stems)
        item = f"{kit.name}/{instrument.name}"
        for index, layer in enumerate(instrument.layers):
            progress.advance()
            try:
                path = _sample_path(kit, layer.reference, names)
            except ValueError as error:
                report.skipped.append((f"{item}/{layer.reference}", str(error)))
                continue
            if path in copied:
                if copied[path] != item:
                    report.skipped.append((f"{item}/{layer.reference}", f"same sample as {copied[path]}"))
                continue
            copied[path] = item
            writer.copy_file(
                label,
                f"{kit_stem}__{instrument_stem}__{index}{path.suffix.lower()}",
                path,
                source=package,
                kit=kit.name,
                instrument=instrument.name,
                license=license,
                velocity=layer.velocity,
                group=item,
                layer=index,
                author=kit.author,
            )
            report.counts[label] += 1
            count += 1
    return count


def import_hydrogen(
    out: str | os.PathLike[str],
    source: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    packages: Collection[str] | None = None,
) -> ImportReport:
    """Import Hydrogen kits into the bank at `out` and return what was imported and left out.

    `source` is a drumkits folder holding kit folders, or one kit folder (holding ``drumkit.xml``);
    by default the system's and the user's Hydrogen drumkits folders. Each sample layer becomes
    ``out/<class>/<kit>__<instrument>__<layer>.<ext>``, copied unchanged, with a manifest row
    (kit, instrument, license, velocity 0..1, group ``kit/instrument`` so an instrument's layers
    stay in one split, layer index, author); ``out/LICENSES.md`` lists each kit's license.
    `progress(done, total)` is called as sample layers are handled. `packages`, when given, keeps only
    the kits that those Debian packages installed (others are listed in ``report.skipped``).

    Raises DkvaeError if `source` (or every default folder) is missing or holds no kits.
    """
    report = ImportReport()
    folders = _source_folders(source)
    kit_folders = [kit for folder in folders for kit in _kit_folders(folder, report)]
    if not kit_folders:
        searched = ", ".join(str(folder) for folder in folders)
        raise DkvaeError(f"No Hydrogen kits (folders holding {KIT_FILE_NAME}) in {searched}")
    installed_by = _debian_packages()
    plans: list[tuple[_Kit, list[tuple[_Instrument, str]], str]] = []
    for folder in kit_folders:
        package = installed_by.get(Path(os.path.abspath(folder)), OTHER_SOURCE)
        if packages is not None and package not in packages:
            report.skipped.append((str(folder), f"installed by {package}, not by {' or '.join(sorted(packages))}"))
            continue
        try:
            kit = _parse_kit(folder)
        except ValueError as error:
            report.skipped.append((str(folder), str(error)))
            continue
        planned, unsorted = _plan_kit(kit)
        reason = _not_a_drum_kit(kit, [label for _, label in planned])
        if reason:
            report.skipped.append((str(folder), reason))
            continue
        report.unsorted += unsorted
        plans.append((kit, planned, package))

    tracker = _Progress(sum(len(instrument.layers) for _, planned, _ in plans for instrument, _ in planned), progress)
    taken_stems: set[str] = set()
    with BankWriter(out) as writer:
        for kit, planned, package in plans:
            kit_stem = unique_name(safe_name(kit.name), taken_stems)
            if _import_kit(writer, kit, planned, kit_stem, package, report, tracker):
                report.kits += 1
    write_licenses(Path(out))
    return report
