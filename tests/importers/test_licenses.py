"""Tests for reading licenses from Debian copyright files, matched by file name or by installed path."""

from __future__ import annotations

import pytest

from dkvae.importers import licenses
from dkvae.importers.licenses import copyright_paragraphs, debian_license

COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: drums

Files: *
Copyright: 2020 Someone
License: GPL-2+

Files: sf2/*
Copyright: 2015 Glen
License: CC-BY-SA-3.0

Files: samples/sf_GMbank.sf2
Copyright: none
License: public-domain
 The file has Public Domain in its license field

Files: debian/*
License: GPL-3+
"""


@pytest.fixture
def doc_dir(tmp_path, monkeypatch):
    (tmp_path / "drums").mkdir()
    (tmp_path / "drums" / "copyright").write_text(COPYRIGHT)
    monkeypatch.setattr(licenses, "DEBIAN_DOC_DIR", tmp_path)
    return tmp_path


def test_paragraphs_keep_continuation_lines() -> None:
    paragraphs = copyright_paragraphs(COPYRIGHT)
    assert len(paragraphs) == 5
    assert paragraphs[3]["license"] == "public-domain\nThe file has Public Domain in its license field"


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        (["kick.wav"], "GPL-2+"),  # only "*" matches a bare name
        (["/usr/share/sounds/sf2/Black_Pearl.sf2"], "CC-BY-SA-3.0"),  # "sf2/*" matches a tail of the path
        (["/usr/share/sounds/sf2/sf_GMbank.sf2", "/usr/share/samples/sf_GMbank.sf2"], "public-domain"),
        (["/usr/share/debian-like/readme"], "GPL-2+"),  # "debian/*" needs a folder named exactly debian
    ],
)
def test_the_last_matching_stanza_wins(doc_dir, candidates, expected) -> None:
    assert debian_license("drums", candidates) == expected


def test_an_unknown_package_has_no_license(doc_dir) -> None:
    assert debian_license("no-such-package", ["a.wav"]) is None


def test_installed_by_names_the_package_and_every_path_of_the_file(tmp_path, monkeypatch) -> None:
    dpkg = tmp_path / "dpkg"
    dpkg.mkdir()
    font = tmp_path / "sounds" / "kit.sf2"
    font.parent.mkdir()
    font.write_bytes(b"")
    (dpkg / "drums:all.list").write_text(f"/.\n{font}\n/usr/share/samples/kit.sf2\n/usr/share/other.sf2\n")
    monkeypatch.setattr(licenses, "DPKG_INFO_DIR", dpkg)
    assert licenses.installed_by([font, tmp_path / "stray.wav"]) == {
        font: ("drums", [str(font), "/usr/share/samples/kit.sf2"])
    }
    assert licenses.is_installed("drums") and not licenses.is_installed("other")
