"""Tests for the DrumSynth importer: project XML, labels and tail cuts here; real renders with LMMS."""

from __future__ import annotations

import shutil
from pathlib import Path

import defusedxml.ElementTree as SafeElementTree
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from dkvae.core.errors import DkvaeError
from dkvae.importers import drumsynth
from dkvae.importers.drumsynth import (
    SYSTEM_DRUMSYNTH_DIR,
    import_drumsynth,
    preset_label,
    preset_seconds,
    project_xml,
)

needs_lmms = pytest.mark.skipif(
    shutil.which("lmms") is None or not (SYSTEM_DRUMSYNTH_DIR / "tr808").is_dir(),
    reason="LMMS and its DrumSynth presets are not installed (apt-get install lmms lmms-common)",
)


def copy_presets(folder: Path, names: dict[str, str]) -> Path:
    """A drumsynth folder holding real presets: `names` maps "machine/name.ds" -> the system preset to copy."""
    for target, source in names.items():
        path = folder / target
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SYSTEM_DRUMSYNTH_DIR / source, path)
    return folder


def fake_lmms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> None:
    """Make `shutil.which("lmms")` find a shell script standing in for LMMS."""
    path = tmp_path / "fake-lmms"
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)
    monkeypatch.setattr(drumsynth.shutil, "which", lambda name: str(path))


def test_project_xml_is_well_formed_and_names_the_preset(tmp_path: Path) -> None:
    preset = tmp_path / "it's a <Kick> & #1.ds"
    root = SafeElementTree.fromstring(project_xml(preset, 1.5).encode())
    assert root.tag == "lmms-project"
    assert root.find("head").get("bpm") == str(drumsynth.TEMPO_BPM)
    tracks = root.findall("song/trackcontainer/track")
    assert len(tracks) == 1
    processor = tracks[0].find("instrumenttrack/instrument[@name='audiofileprocessor']/audiofileprocessor")
    assert processor.get("src") == str(preset)
    (note,) = tracks[0].findall("pattern/note")
    assert note.get("key") == tracks[0].find("instrumenttrack").get("basenote")
    assert int(note.get("len")) >= 1.5 * drumsynth.TICKS_PER_SECOND


def test_preset_seconds_reads_the_longest_envelope(tmp_path: Path) -> None:
    preset = tmp_path / "a.ds"
    preset.write_text("[General]\nStretch=200.0\n[Tone]\nEnvelope=0,100 4410,0\n[Noise]\nEnvelope=0,100 22050,0\n")
    assert preset_seconds(preset) == pytest.approx(1.0)
    preset.write_bytes(b"\x00\xff garbage")
    assert preset_seconds(preset) == drumsynth.MAX_NOTE_SECONDS


@pytest.mark.parametrize(
    ("name", "machine", "label"),
    [
        ("Kick 1", "misc", "kick"),
        ("BD_808", "misc", "kick"),
        ("HiHat Closed", "misc", "hihat"),
        ("Hat_c", "tr808", "hihat"),
        ("Tom_hi", "tr808", "tom"),
        ("Cowbell", "tr808", "perc"),
        ("K_Linn", "electro", None),  # a lone letter is not a keyword: unsorted, not guessed
        ("S_reverb", "electro", None),
        ("H_open", "electro", None),
        ("amen_sn_1", "misc", "snare"),
        ("linn_clp", "linn", "clap"),
        ("lighthat", "misc_hats", "hihat"),
        ("Tone1", "tr808", None),  # the model number is not the "808" kick keyword
        ("Fisa_K_H", "farfisa", None),
        ("snare&hat", "r_n_b", None),  # two classes
        ("soft_piano", "instrument", None),
    ],
)
def test_preset_label(name: str, machine: str, label: str | None) -> None:
    assert preset_label(name, machine) == label


def test_missing_lmms_is_a_user_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drumsynth.shutil, "which", lambda name: None)
    with pytest.raises(DkvaeError, match="apt-get install lmms lmms-common"):
        import_drumsynth(tmp_path / "bank", tmp_path)


def test_missing_source_is_a_user_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_lmms(tmp_path, monkeypatch, "exit 1")
    with pytest.raises(DkvaeError, match="not found"):
        import_drumsynth(tmp_path / "bank", tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DkvaeError, match="No DrumSynth presets"):
        import_drumsynth(tmp_path / "bank", tmp_path / "empty")


def test_lmms_failure_and_unsorted_names_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_lmms(tmp_path, monkeypatch, "echo 'Segmentation fault' >&2; exit 139")
    source = tmp_path / "drumsynth"
    (source / "box").mkdir(parents=True)
    for name in ("Kick.ds", "Tone1.ds", "snare&hat.ds"):
        (source / "box" / name).write_text("[General]\nVersion=DrumSynth v2.0\n")
    report = import_drumsynth(tmp_path / "bank", source, workers=1)
    assert report.total == 0
    assert sorted(item for item, _ in report.unsorted) == ["box/Tone1", "box/snare&hat"]
    ((item, reason),) = report.skipped
    assert item == "box/Kick" and reason == "lmms failed (exit code 139): Segmentation fault (3 tries)"


def test_a_crashed_render_is_tried_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """LMMS 1.2.2 segfaults now and then: the first run dies, the second writes the file."""
    source = tmp_path / "drumsynth"
    (source / "box").mkdir(parents=True)
    (source / "box" / "Kick.ds").write_text("[Tone]\nEnvelope=0,100 441,0\n")
    wav = tmp_path / "click.wav"
    sf.write(wav, np.r_[np.ones(10), np.zeros(1000)].repeat(2).reshape(-1, 2) * 0.5, 44100, subtype="FLOAT")
    marker = tmp_path / "crashed-once"
    # The fake lmms: crash (SIGSEGV) the first time, then copy the click to the path after "-o".
    fake_lmms(
        tmp_path,
        monkeypatch,
        f'if [ ! -e {marker} ]; then touch {marker}; kill -SEGV $$; fi\n'
        f'while [ "$1" != "-o" ]; do shift; done; cp {wav} "$2"',
    )
    report = import_drumsynth(tmp_path / "bank", source, workers=1)
    assert report.counts["kick"] == 1 and report.skipped == []
    assert len(sf.read(tmp_path / "bank" / "kick" / "box__Kick.wav")[0]) == 10


@needs_lmms
def test_real_presets_render_labelled_cut_and_deduplicated(tmp_path: Path) -> None:
    source = copy_presets(
        tmp_path / "drumsynth",
        {
            "tr808/Kick.ds": "tr808/Kick.ds",
            "tr808/Hat_c.ds": "tr808/Hat_c.ds",
            "tr808/Snare.ds": "tr808/Snare.ds",
            "tr808/Kick_2.ds": "tr808/Kick.ds",
            "tr909/Kick_2.ds": "tr909/Kick_2.ds",
            "tr909/TR909_Kick.ds": "tr909/TR909_Kick.ds",  # another file, the same sound
        },
    )
    (source / "tr808" / "Broken Snare.ds").write_bytes(np.random.default_rng(0).bytes(3000))
    calls: list[tuple[int, int]] = []
    bank = tmp_path / "bank"
    report = import_drumsynth(bank, source, progress=lambda done, total: calls.append((done, total)), workers=2)

    assert {label: count for label, count in report.counts.items() if count} == {"kick": 2, "hihat": 1, "snare": 1}
    assert report.kits == 2 and report.unsorted == []
    skipped = dict(report.skipped)
    assert skipped.pop("tr808/Kick_2") == "duplicate of tr808/Kick (same preset file)"  # the first stays
    assert skipped.pop("tr909/TR909_Kick") == "duplicate of tr909/Kick_2"
    assert "silence" in skipped.pop("tr808/Broken Snare")
    assert skipped == {}
    assert calls[-1] == (6, 6)  # the identical file is never rendered

    manifest = pd.read_csv(bank / "manifest.csv", dtype=str, keep_default_na=False).set_index("instrument")
    assert manifest.loc["Hat_c", "original_path"] == "hihat/tr808__Hat_c.wav"
    assert manifest.loc["Kick", "source"] == "lmms-common"
    assert manifest.loc["Kick", "kit"] == "tr808"
    assert manifest.loc["Kick", "license"].startswith("GPL")
    assert manifest.loc["Snare", "group"] == "drumsynth/tr808/Snare"
    assert (bank / "LICENSES.md").read_text().count("## tr808") == 1
    assert manifest.loc["Kick_2", "kit"] == "tr909"

    for path in manifest["original_path"]:
        audio, rate = sf.read(bank / path, dtype="float32")
        assert rate == 44100 and audio.ndim == 1
        peak = np.abs(audio).max()
        assert peak > 0.1  # not silent
        assert 0.01 < len(audio) / rate < 2.0  # cut well before the render's end (4 s and more)
        assert np.abs(audio[-5:]).max() < peak * 1e-3  # faded out after the -60 dB point
        assert np.abs(audio[-300:]).max() > peak * 10 ** (-70 / 20)  # ... and not cut later than it
