"""Tests for ``import debian``: package checks, the reserved FluidR3 family, and a real import of the installed packages."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import soundfile as sf

from dkvae.core.classes import CLASSES
from dkvae.core.errors import DkvaeError
from dkvae.importers import debian
from dkvae.importers.debian import (
    DEBIAN_SOURCES,
    RESERVED_PACKAGES,
    DebianSource,
    import_debian,
    is_installed,
    is_reserved,
)
from dkvae.importers.dedup import DUPLICATES_NAME
from tests.conftest import drum_hit

ALL_INSTALLED = all(is_installed(package) for source in DEBIAN_SOURCES for package in debian._needed_packages(source))


def test_no_source_is_reserved():
    for source in DEBIAN_SOURCES:
        assert source.package not in RESERVED_PACKAGES
        assert not any(is_reserved(path) for path in source.paths)


def test_a_link_to_fluidr3_is_reserved(tmp_path):
    target = tmp_path / "FluidR3_GM.sf2"
    target.write_bytes(b"")
    link = tmp_path / "default-GM.sf2"
    os.symlink(target, link)
    assert is_reserved(link) and is_reserved(target)
    assert not is_reserved(Path("/usr/share/sounds/sf2/TimGM6mb.sf2"))


def test_reserved_font_in_sources_is_refused(tmp_path):
    font = tmp_path / "FluidR3_GM.sf2"
    font.write_bytes(b"RIFF")
    with pytest.raises(DkvaeError, match="FluidR3"):
        import_debian(tmp_path / "bank", sources=(DebianSource("exadrums", "soundfont", (font,)),))


def test_nothing_installed_gives_the_install_line(tmp_path):
    sources = (DebianSource("no-such-drums-package", "samples", (tmp_path,)),)
    with pytest.raises(DkvaeError, match="apt-get install --no-install-recommends no-such-drums-package"):
        import_debian(tmp_path / "bank", sources=sources)


def write_samples(folder: Path) -> None:
    folder.mkdir()
    sf.write(folder / "kick01.wav", drum_hit("tone", 0.4, seed=1), 44100)
    sf.write(folder / "kick02.wav", drum_hit("tone", 0.4, seed=1) * 0.5, 44100)  # a gain copy
    sf.write(folder / "snare01.wav", drum_hit("noise", 0.4, seed=2), 44100)
    sf.write(folder / "applause01.wav", drum_hit("noise", 0.4, seed=3), 44100)
    (folder / "readme.txt").write_text("not audio")


@pytest.mark.skipif(not is_installed("exadrums"), reason="needs an installed package to stand for the samples")
def test_missing_packages_are_reported_and_the_rest_imported(tmp_path):
    write_samples(tmp_path / "samples")
    sources = (
        DebianSource("exadrums", "samples", (tmp_path / "samples",)),
        DebianSource("no-such-drums-package", "samples", (tmp_path,)),
    )
    report = import_debian(tmp_path / "bank", sources=sources)
    assert report.missing == ["no-such-drums-package"]
    assert "no-such-drums-package" in report.install_hint
    assert report.counts["kick"] == 1 and report.counts["snare"] == 1  # kick02 dropped as a near copy
    assert [(d.file, d.kind) for d in report.duplicates] == [("kick/exadrums__kick02.wav", "near")]
    assert report.unsorted == [("exadrums/applause01.wav", "name maps to no drum class, or to two")]
    manifest = pd.read_csv(tmp_path / "bank" / "manifest.csv", dtype=str, keep_default_na=False)
    assert set(manifest["source"]) == {"exadrums"}
    assert set(manifest["license"]) == {"BSD-3-Clause"}  # from Debian's copyright file


@pytest.fixture(scope="module")
def debian_bank(tmp_path_factory) -> tuple[Path, debian.DebianReport]:
    out = tmp_path_factory.mktemp("debian") / "drums"
    return out, import_debian(out)


@pytest.mark.skipif(not ALL_INSTALLED, reason="needs every Debian drum package (scripts/install-system-packages.sh)")
def test_import_debian_gives_the_promised_bank(debian_bank):
    out, report = debian_bank
    assert report.missing == []
    assert report.total >= 1500
    assert min(report.counts.values()) >= 40 and set(report.counts) == set(CLASSES)
    manifest = pd.read_csv(out / "manifest.csv", dtype=str, keep_default_na=False)
    assert len(manifest) == report.total
    expected = {source.package for source in DEBIAN_SOURCES} - {"hydrogen-drumkits-effects"}
    assert expected <= set(manifest["source"])
    assert not manifest["license"].isin(["", "unknown"]).any()
    licenses = manifest.groupby("source")["license"].agg(set).to_dict()
    assert licenses["avldrums.lv2-soundfont"] == {"CC-BY-SA-3.0"}  # its copyright file's "sf2/*" stanza
    assert licenses["csound-soundfont"] == {"public-domain"}
    assert licenses["timgm6mb-soundfont"] == {"GPL-2"} and licenses["exadrums"] == {"BSD-3-Clause"}
    assert not manifest["kit"].str.lower().str.contains("fluid").any()
    # Hydrogen's own kits (hydrogen-data, installed with the program for its h2cli) are not a Debian source.
    assert "hydrogen-data" not in set(manifest["source"]) and not manifest["kit"].isin(["GMRockKit", "TR808EmulationKit"]).any()
    assert all((out / path).is_file() for path in manifest["original_path"])
    duplicates = pd.read_csv(out / DUPLICATES_NAME)
    assert len(duplicates) == len(report.duplicates) > 0
    assert not set(duplicates["file"]) & set(manifest["original_path"])
    assert (out / "LICENSES.md").read_text().count("## ") >= 40
