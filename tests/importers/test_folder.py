"""Tests for the loose-folder importer, on a small messy sample library written here."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from dkvae import Bank
from dkvae.errors import DkvaeError
from dkvae.importers.folder import (
    NO_CLASS_REASON,
    NON_DRUM_REASON,
    UNSORTED_NAME,
    bank_file_name,
    import_folder,
    unsorted_reason,
)

SAMPLE_RATE = 22050

#: Source file -> the class it must land in (None: unsorted).
LIBRARY: dict[str, str | None] = {
    "Drums/808 Kit/BD 01.wav": "kick",
    "Drums/808 Kit/SD_02.wav": "snare",
    "Drums/Acoustic/kick.wav": "kick",
    "Drums/Acoustic Kit/kick.wav": "kick",
    "Loops/Claps/clap 3.wav": "clap",
    "Misc/bright_808_hat.wav": "hihat",
    "Misc/clean_soft_808.wav": "kick",
    "Misc/bass synth.wav": None,
    "Misc/snare&hat.wav": None,
    "Misc/field recording.flac": None,
    "Perc/Shakers/take1.wav": "perc",
    "Ünïcode Drums/Tambourin Schlag é.wav": None,
    "Ünïcode Drums/Crash Becken ü.wav": "cymbal",
    "top level snare.WAV": "snare",
}
#: Present in the library but never imported nor listed.
IGNORED = ["Drums/.hidden kick.wav", ".Trash/kick.wav", "Drums/808 Kit/readme kick.txt"]


def write_sound(path: Path, seed: int) -> None:
    """A short distinct sound file, 0.1 s of decaying noise (format from the suffix)."""
    samples = SAMPLE_RATE // 10
    decay = np.exp(-np.arange(samples) / (SAMPLE_RATE * 0.02))
    audio = (np.random.default_rng(seed).uniform(-0.5, 0.5, samples) * decay).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio, SAMPLE_RATE, format="WAV" if path.suffix.lower() in (".wav", ".txt") else None)


@pytest.fixture
def library(tmp_path: Path) -> Path:
    root = tmp_path / "My Samples"
    for seed, relative in enumerate([*LIBRARY, *IGNORED]):
        write_sound(root / relative, seed)
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` and its bytes, to show a folder was left unchanged."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def manifest(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "manifest.csv", dtype=str, keep_default_na=False)


def test_imports_by_file_then_folder_names_as_links(library: Path, tmp_path: Path) -> None:
    before = snapshot(library)
    out = tmp_path / "bank"
    calls: list[tuple[int, int]] = []
    report = import_folder(out, library, progress=lambda done, total: calls.append((done, total)))

    rows = manifest(out)
    by_original = dict(zip(rows["original"], rows["label"]))
    assert by_original == {source: label for source, label in LIBRARY.items() if label}
    assert report.total == len(by_original)
    assert report.counts["kick"] == 4 and report.counts["tom"] == 0
    assert calls[-1] == (len(LIBRARY), len(LIBRARY)) and len(calls) == len(LIBRARY)

    for row in rows.to_dict("records"):
        link = out / row["original_path"]
        assert link.is_symlink()
        target = Path(os.readlink(link))
        assert target.is_absolute() and target == library.resolve() / row["original"]
        assert link.read_bytes() == before[row["original"]]
        assert row["source"] == "folder" and row["license"] == ""
        assert row["group"] == row["original"]
        assert row["instrument"] == Path(row["original"]).stem
        assert row["kit"] == (row["original"].split("/")[0] if "/" in row["original"] else "")
    assert snapshot(library) == before

    # Two kick.wav in different folders do not collide; names keep their folders.
    assert (out / "kick" / "Drums__Acoustic__kick.wav").is_symlink()
    assert (out / "kick" / "Drums__Acoustic_Kit__kick.wav").is_symlink()
    assert (out / "kick" / "Drums__808_Kit__BD_01.wav").is_symlink()
    assert not any(p.name.startswith(".") for p in out.rglob("*")), "no temporary files left"
    assert "## Drums" in (out / "LICENSES.md").read_text(encoding="utf-8")


def test_unsorted_files_are_listed_with_reasons(library: Path, tmp_path: Path) -> None:
    out = tmp_path / "bank"
    report = import_folder(out, library)
    unsorted = pd.read_csv(out / UNSORTED_NAME, dtype=str, keep_default_na=False)
    reasons = dict(zip(unsorted["file"], unsorted["reason"]))
    assert reasons == {
        "Misc/bass synth.wav": NON_DRUM_REASON,
        "Misc/snare&hat.wav": "name matches several classes: hihat, snare",
        "Misc/field recording.flac": NO_CLASS_REASON,
        "Ünïcode Drums/Tambourin Schlag é.wav": NO_CLASS_REASON,
    }
    assert dict(report.unsorted) == reasons
    assert not any("bass" in p.name or "hidden" in p.name for p in out.rglob("*"))


def test_unsorted_reason_looks_at_the_deciding_name() -> None:
    # "bass synth" decides (it holds a keyword), so the "Kicks" folder is never consulted.
    assert unsorted_reason(["bass synth", "Kicks"]) == NON_DRUM_REASON
    assert unsorted_reason(["take 1", "Kick & Snare"]) == "name matches several classes: kick, snare"
    assert unsorted_reason(["take 1", "Guitar Kick"]) == NON_DRUM_REASON
    assert unsorted_reason(["take 1", "Misc"]) == NO_CLASS_REASON


def test_bank_file_names_are_safe_and_stable() -> None:
    assert bank_file_name(Path("Drums/808 Kit/BD 01.wav")) == "Drums__808_Kit__BD_01.wav"
    assert bank_file_name(Path("a/b c/ü kick.FLAC")) == "a__b_c__ü_kick.flac"
    assert bank_file_name(Path("kick.wav")) == "kick.wav"


def test_safe_name_collisions_get_a_path_hash(tmp_path: Path) -> None:
    source = tmp_path / "src"
    write_sound(source / "a b" / "kick.wav", 1)
    write_sound(source / "a_b" / "kick.wav", 2)
    import_folder(tmp_path / "bank", source)
    names = {p.name for p in (tmp_path / "bank" / "kick").iterdir()}
    assert len(names) == 2 and "a_b__kick.wav" in names
    assert any(name.startswith("a_b__kick-") for name in names)


def test_rerun_is_idempotent_and_copy_replaces_links(library: Path, tmp_path: Path) -> None:
    out = tmp_path / "bank"
    import_folder(out, library)
    first = manifest(out)
    first_unsorted = (out / UNSORTED_NAME).read_bytes()
    import_folder(out, library)
    pd.testing.assert_frame_equal(manifest(out), first)
    assert (out / UNSORTED_NAME).read_bytes() == first_unsorted

    before = snapshot(library)
    import_folder(out, library, copy=True)
    pd.testing.assert_frame_equal(manifest(out), first)
    for relative in first["original_path"]:
        path = out / relative
        assert path.is_file() and not path.is_symlink()
    assert snapshot(library) == before
    assert not any(p.name.startswith(".") for p in out.rglob("*"))


def test_copy_makes_real_files(library: Path, tmp_path: Path) -> None:
    out = tmp_path / "bank"
    report = import_folder(out, library, copy=True)
    copies = [p for p in out.rglob("*") if p.suffix.lower() in (".wav", ".flac")]
    assert len(copies) == report.total and not any(p.is_symlink() for p in copies)
    assert (out / "clap" / "Loops__Claps__clap_3.wav").read_bytes() == (library / "Loops/Claps/clap 3.wav").read_bytes()


def test_bank_inside_the_source_is_not_imported_again(library: Path) -> None:
    out = library / "bank"
    first = import_folder(out, library)
    second = import_folder(out, library)
    assert second.total == first.total


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(DkvaeError, match="not found"):
        import_folder(tmp_path / "bank", tmp_path / "missing")
    empty = tmp_path / "empty"
    (empty / "docs").mkdir(parents=True)
    (empty / "docs" / "notes.txt").write_text("no audio here")
    write_sound(empty / ".hidden.wav", 0)
    with pytest.raises(DkvaeError, match="no audio files"):
        import_folder(tmp_path / "bank", empty)


def test_bank_processes_the_linked_files(library: Path, tmp_path: Path) -> None:
    out = tmp_path / "bank"
    report = import_folder(out, library)
    bank = Bank(out, workers=1)
    assert len(bank.data) == report.total
    assert sorted(bank.instruments) == sorted(label for label, count in report.counts.items() if count)
