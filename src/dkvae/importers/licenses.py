"""Licenses of imported sounds: Debian copyright files, and the bank's ``LICENSES.md``."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from dkvae.core.atomic import write_text
from dkvae.data.layout import MANIFEST_NAME

DEBIAN_DOC_DIR = Path("/usr/share/doc")
#: Where dpkg lists each installed package's files (``<package>[:<arch>].list``).
DPKG_INFO_DIR = Path("/var/lib/dpkg/info")
LICENSES_NAME = "LICENSES.md"
UNKNOWN_LICENSE = "unknown"


def copyright_paragraphs(text: str) -> list[dict[str, str]]:
    """Parse a Debian machine-readable copyright file into paragraphs of lower-cased field -> value."""
    paragraphs: list[dict[str, str]] = []
    fields: dict[str, str] = {}
    key = ""
    for line in text.splitlines() + [""]:
        if not line.strip():
            if fields:
                paragraphs.append(fields)
            fields, key = {}, ""
        elif line[0].isspace() and key:
            fields[key] += "\n" + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            key = key.strip().lower()
            fields[key] = value.strip()
    return paragraphs


def is_installed(package: str) -> bool:
    """Whether dpkg has `package` installed (any architecture)."""
    return (DPKG_INFO_DIR / f"{package}.list").exists() or any(DPKG_INFO_DIR.glob(f"{package}:*.list"))


def installed_by(files: Iterable[Path]) -> dict[Path, tuple[str, list[str]]]:
    """Each of `files` a Debian package installed -> (that package, every path it installed under the file's name).

    Read from dpkg's file lists, once for all files. The paths let the package's copyright file be
    matched (`debian_license`) however it names the file's folder.
    """
    wanted: dict[str, Path] = {}
    for path in files:
        wanted[os.path.abspath(path)] = path
        wanted[os.path.realpath(path)] = path
    found: dict[Path, tuple[str, list[str]]] = {}
    if not DPKG_INFO_DIR.is_dir():
        return found
    for listing in sorted(DPKG_INFO_DIR.glob("*.list")):
        try:
            lines = listing.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for line in sorted(wanted.keys() & set(lines)):
            path = wanted[line]
            if path not in found:
                names = {path.name, Path(os.path.realpath(path)).name}
                same_name = [entry for entry in lines if entry.rsplit("/", 1)[-1] in names]
                found[path] = (listing.stem.split(":", 1)[0], same_name)
    return found


def _suffixes(candidate: str) -> list[str]:
    """``a/b/c.wav`` -> ``c.wav``, ``b/c.wav``, ``a/b/c.wav``: an installed path ends like the source tree's path."""
    parts = [part for part in candidate.split("/") if part]
    return ["/".join(parts[index:]) for index in range(len(parts) - 1, -1, -1)]


def _matches(candidate: str, pattern: str) -> bool:
    """Whether a file (a name or a path) matches a ``Files:`` glob by its name or by a tail of its path."""
    pattern = pattern.replace("[", "[[]")
    return any(fnmatch.fnmatchcase(suffix, pattern) for suffix in _suffixes(candidate))


def debian_license(package: str, candidates: list[str]) -> str | None:
    """The license a Debian package's copyright file gives files named like `candidates` (names or installed paths).

    The last ``Files:`` stanza whose glob matches a candidate wins (as the format says); without one,
    the header's license covers the whole package. Returns the license's first line, or None.
    """
    path = DEBIAN_DOC_DIR / package / "copyright"
    try:
        paragraphs = copyright_paragraphs(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None
    found = None
    for paragraph in paragraphs:
        patterns = paragraph.get("files", "").split()
        if any(_matches(candidate, pattern) for pattern in patterns for candidate in candidates):
            found = paragraph.get("license")
    if found is None and paragraphs and "format" in paragraphs[0]:
        found = paragraphs[0].get("license")
    return found.splitlines()[0].strip() if found else None


def write_licenses(bank: Path) -> None:
    """Write ``BANK/LICENSES.md``: one section per kit in the bank's manifest (all imports, not just the last)."""
    rows = pd.read_csv(bank / MANIFEST_NAME, dtype=str, keep_default_na=False)
    rows = rows[rows["kit"] != ""]
    if "author" not in rows:
        rows = rows.assign(author="")
    lines = ["# Licenses", "", "The sounds in this bank come from these kits; each keeps its own license.", ""]
    for (source, kit), files in rows.groupby(["source", "kit"], sort=True):
        authors = sorted({author for author in files["author"] if author}) or ["unknown"]
        licenses = sorted({license for license in files["license"] if license}) or [UNKNOWN_LICENSE]
        lines += [
            f"## {kit}",
            "",
            f"- Author: {', '.join(authors)}",
            f"- License: {'; '.join(licenses)}",
            f"- Source: {source}",
            f"- Files: {len(files)}",
            "",
        ]
    write_text(bank / LICENSES_NAME, "\n".join(lines))
