"""Tests for the loose-folder importer, on a small messy sample library written here, with and without a classifier."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from dkvae import Bank
from dkvae.core.classes import CLASSES
from dkvae.core.errors import DkvaeError
from dkvae.importers.folder import (
    NO_CLASS_REASON,
    NON_DRUM_REASON,
    UNSORTED_NAME,
    bank_file_name,
    import_folder,
    unsorted_reason,
)
from dkvae.models import build_model
from dkvae.models.checkpoint import load_model_dir, save_model_dir
from dkvae.sound.audio import load_sound, log_spectrogram, normalize
from dkvae.training.train import train

from ..conftest import tiny_config

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


# --- classifying the files no name classifies -----------------------------------------------------

#: Files of `LIBRARY` the classifier is asked about: their names say nothing or name several classes.
UNNAMED = ["Misc/field recording.flac", "Misc/snare&hat.wav", "Ünïcode Drums/Tambourin Schlag é.wav"]
#: Sounds of the classifier's own training classes, added under names that say nothing.
TAKES = {"Misc/take 1.wav": "kick", "Misc/take 2.wav": "hihat", "Misc/take 3.wav": "cymbal"}
#: A file with an audio extension that holds no audio.
UNDECODABLE = "Misc/take 7.wav"


#: Enough training for the tiny classifier's confidences to spread (about 0.3..0.65), in a few seconds.
CLASSIFIER_TRAINING = {"epochs": 10, "learning_rate": 1e-2}


@pytest.fixture(scope="module")
def classifier_run(tiny_bank: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A drum classifier trained briefly on the tiny synthetic bank (its run folder is a model directory)."""
    config = tiny_config(kind="classifier")
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, **CLASSIFIER_TRAINING))
    run = tmp_path_factory.mktemp("classifier") / "run"
    train(tiny_bank, run, config, progress_bar=False)
    return run


@pytest.fixture
def unnamed(library: Path, tiny_bank: Path) -> list[str]:
    """The files of `library` no name classifies, after adding `TAKES` (copies of the tiny bank's sounds)."""
    for relative, label in TAKES.items():
        shutil.copyfile(min((tiny_bank / label).glob("*.wav")), library / relative)
    return [*UNNAMED, *TAKES]


def own_predictions(model: Path, root: Path, files: list[str]) -> dict[str, tuple[str, float]]:
    """The classifier's (argmax class, softmax confidence) for each file, computed here one file at a time."""
    directory = load_model_dir(model)
    audio = directory.config.audio
    predictions = {}
    for relative in files:
        sound, _ = load_sound(root / relative, audio)
        spectrogram, _, _ = normalize(log_spectrogram(sound, audio.n_fft, audio.hop_length).numpy(), audio)
        stored = torch.from_numpy(spectrogram.astype(np.float16).astype(np.float32))  # as a bank stores it
        with torch.no_grad():
            probabilities = torch.softmax(directory.model(stored[None]), dim=1)[0]
        predictions[relative] = (directory.class_names[int(probabilities.argmax())], float(probabilities.max()))
    return predictions


def test_at_threshold_zero_every_decodable_unnamed_file_gets_the_classifiers_class(
    library: Path, tmp_path: Path, classifier_run: Path, unnamed: list[str]
) -> None:
    (library / UNDECODABLE).write_bytes(b"RIFF but not really a wave file")
    expected = own_predictions(classifier_run, library, unnamed)
    out = tmp_path / "bank"
    report = import_folder(out, library, model=classifier_run, threshold=0.0)

    rows = manifest(out).set_index("original")
    named = {source: label for source, label in LIBRARY.items() if label}
    assert set(rows.index) == set(named) | set(unnamed)
    for source, label in named.items():
        assert (rows.loc[source, "label"], rows.loc[source, "labelled_by"]) == (label, "name")
    for source, (label, confidence) in expected.items():
        assert rows.loc[source, "label"] == label
        by, _, value = rows.loc[source, "labelled_by"].partition(":")
        assert by == "classifier" and float(value) == pytest.approx(confidence, abs=0.006)
        assert (out / rows.loc[source, "original_path"]).resolve() == (library / source).resolve()
    assert sum(report.counts.values()) == len(named) + len(unnamed)
    reasons = dict(report.unsorted)
    assert reasons["Misc/bass synth.wav"] == NON_DRUM_REASON  # the name rules drums out: never classified
    assert reasons[UNDECODABLE].startswith(f"{NO_CLASS_REASON}; classifier: cannot decode")
    assert set(reasons) == {"Misc/bass synth.wav", UNDECODABLE}


def test_above_the_threshold_only_confident_files_are_imported(
    library: Path, tmp_path: Path, classifier_run: Path, unnamed: list[str]
) -> None:
    expected = own_predictions(classifier_run, library, unnamed)
    low, high = sorted(confidence for _, confidence in expected.values())[:2]
    threshold = (low + high) / 2  # between the two least confident files: all but one pass
    out = tmp_path / "bank"
    report = import_folder(out, library, model=classifier_run, threshold=threshold)
    rows = manifest(out)
    classified = rows[rows["labelled_by"] != "name"]
    confident = {source: label for source, (label, confidence) in expected.items() if confidence > threshold}
    assert dict(zip(classified["original"], classified["label"])) == confident
    (left_out,) = [source for source, (_, confidence) in expected.items() if confidence < threshold]
    label, confidence = expected[left_out]
    reason = dict(report.unsorted)[left_out]
    assert reason.endswith(f"classifier: {confidence:.2f} {label} < {threshold:.2f}")


def test_over_one_no_file_is_labelled_by_the_classifier(
    library: Path, tmp_path: Path, classifier_run: Path, unnamed: list[str]
) -> None:
    expected = own_predictions(classifier_run, library, unnamed)
    import_folder(tmp_path / "names", library)
    out = tmp_path / "bank"
    report = import_folder(out, library, model=classifier_run, threshold=1.01)
    pd.testing.assert_frame_equal(manifest(out), manifest(tmp_path / "names"))
    assert set(manifest(out)["labelled_by"]) == {"name"}
    reasons = dict(report.unsorted)
    for source, (label, confidence) in expected.items():
        name_reason, _, classifier_reason = reasons[source].partition("; ")
        assert name_reason in (NO_CLASS_REASON, "name matches several classes: hihat, snare")
        shown, shown_label, _, shown_threshold = classifier_reason.removeprefix("classifier: ").split()
        assert float(shown) == pytest.approx(confidence, abs=0.006)
        assert (shown_label, shown_threshold) == (label, "1.01")


def test_the_model_must_be_a_classifier(library: Path, tmp_path: Path) -> None:
    config = tiny_config()  # a VAE
    vae = tmp_path / "vae"
    save_model_dir(vae, build_model(config.model, config.audio.shape, len(CLASSES)), config, list(CLASSES))
    with pytest.raises(DkvaeError, match="holds a vae model, not a classifier"):
        import_folder(tmp_path / "bank", library, model=vae)
    with pytest.raises(DkvaeError, match="model directory not found"):
        import_folder(tmp_path / "bank", library, model=tmp_path / "missing")
    assert not (tmp_path / "bank").exists()  # refused before anything was written
