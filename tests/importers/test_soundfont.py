"""Tests for the SoundFont importer: the preset-header parser on tiny hand-built files, and rendering Debian's TimGM6mb."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from dkvae.errors import DkvaeError
from dkvae.importers import soundfont
from dkvae.importers.soundfont import (
    MAX_RENDER_SECONDS,
    RENDER_SAMPLE_RATE,
    Preset,
    drum_presets,
    import_soundfont,
    is_drum_preset,
    parse_presets,
    read_presets,
)

TIMGM = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
needs_timgm = pytest.mark.skipif(not TIMGM.is_file(), reason="timgm6mb-soundfont is not installed")


def chunk(chunk_id: bytes, body: bytes) -> bytes:
    """One RIFF chunk, padded to an even size."""
    return chunk_id + struct.pack("<I", len(body)) + body + b"\0" * (len(body) & 1)


def phdr(presets: list[tuple[str, int, int]]) -> bytes:
    """A ``phdr`` chunk body: one 38-byte record per (name, bank, program), then the terminal "EOP"."""
    records = [(name, program, bank) for name, bank, program in presets] + [("EOP", 255, 255)]
    return b"".join(
        struct.pack("<20sHHHIII", name.encode("latin-1"), program, bank, index, 0, 0, 0)
        for index, (name, program, bank) in enumerate(records)
    )


def tiny_sf2(presets: list[tuple[str, int, int]], phdr_body: bytes | None = None) -> bytes:
    """A SoundFont skeleton: INFO (version, odd-sized name), sdta (empty) and pdta (only phdr)."""
    info = chunk(b"LIST", b"INFO" + chunk(b"ifil", struct.pack("<HH", 2, 1)) + chunk(b"INAM", b"tiny"))
    sdta = chunk(b"LIST", b"sdta")
    pdta = chunk(b"LIST", b"pdta" + chunk(b"phdr", phdr(presets) if phdr_body is None else phdr_body))
    return chunk(b"RIFF", b"sfbk" + info + sdta + pdta)


# --- the preset-header parser -------------------------------------------------------------------


def test_parse_presets_reads_names_banks_and_programs() -> None:
    data = tiny_sf2([("Piano", 0, 0), ("Standard", 128, 0), ("Brush Kit", 128, 40)])
    assert parse_presets(data) == [Preset("Piano", 0, 0), Preset("Standard", 128, 0), Preset("Brush Kit", 128, 40)]


def test_parse_presets_names_unnamed_presets() -> None:
    assert parse_presets(tiny_sf2([("", 128, 8)])) == [Preset("preset 128:8", 128, 8)]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not a SoundFont"),
        (b"RIFF\x04\x00\x00\x00WAVE", "not a SoundFont"),
        (chunk(b"RIFF", b"sfbk" + chunk(b"LIST", b"INFO")), "no preset data"),
        (chunk(b"RIFF", b"sfbk" + chunk(b"LIST", b"pdta" + chunk(b"pbag", b"\0" * 4))), "no preset headers"),
        (tiny_sf2([], phdr_body=b"\0" * 50), "malformed preset headers"),
        (tiny_sf2([("Standard", 128, 0)])[:-20], "truncated"),
    ],
)
def test_parse_presets_rejects_corrupt_files(data: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_presets(data)


def test_read_presets_gives_one_line_user_errors(tmp_path: Path) -> None:
    with pytest.raises(DkvaeError, match="not found"):
        read_presets(tmp_path / "missing.sf2")
    corrupt = tmp_path / "corrupt.sf2"
    corrupt.write_bytes(b"this is not a soundfont")
    with pytest.raises(DkvaeError, match=r"corrupt\.sf2.*not a SoundFont") as raised:
        read_presets(corrupt)
    assert "\n" not in str(raised.value)


def test_drum_presets_by_bank_and_name() -> None:
    presets = [
        Preset("Piano", 0, 0),
        Preset("Steel Drums", 0, 114),  # GM melodic percussion, not a kit
        Preset("Synth Drum", 0, 118),
        Preset("Standard Drums", 0, 1),
        Preset("Room", 128, 8),
        Preset("Standard", 128, 0),
        Preset("Perc Kit", 1, 5),
    ]
    assert [p.name for p in drum_presets(presets, "General")] == ["Standard Drums", "Perc Kit", "Standard", "Room"]
    assert not is_drum_preset(Preset("Taiko Drum", 0, 116))
    melodic = [Preset("Red Zeppelin 4", 0, 0), Preset("Black Pearl 5", 0, 1)]
    assert drum_presets(melodic, "GeneralUser") == []
    assert drum_presets(melodic, "AVL_Drumkits") == melodic  # a drum-only font: every preset


def test_import_rejects_missing_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(DkvaeError, match="not found"):
        import_soundfont(tmp_path / "bank", tmp_path / "missing.sf2")
    corrupt = tmp_path / "corrupt.sf2"
    corrupt.write_bytes(tiny_sf2([("Standard", 128, 0)])[:-20])
    with pytest.raises(DkvaeError, match="truncated"):
        import_soundfont(tmp_path / "bank", corrupt)
    no_kits = tmp_path / "piano.sf2"
    no_kits.write_bytes(tiny_sf2([("Piano", 0, 0)]))
    with pytest.raises(DkvaeError, match="No drum-kit presets"):
        import_soundfont(tmp_path / "bank", no_kits)


def test_import_rejects_a_header_only_font_fluidsynth_cannot_load(tmp_path: Path) -> None:
    skeleton = tmp_path / "skeleton.sf2"
    skeleton.write_bytes(tiny_sf2([("Standard", 128, 0)]))  # presets parse, but no samples or zones
    with pytest.raises(DkvaeError, match="FluidSynth could not load it"):
        import_soundfont(tmp_path / "bank", skeleton)


def test_missing_fluidsynth_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(soundfont, "FLUIDSYNTH_LIBRARY_NAMES", ("libno-such-fluidsynth.so.3", "no-such-fluidsynth"))
    font = tmp_path / "kit.sf2"
    font.write_bytes(tiny_sf2([("Standard", 128, 0)]))
    with pytest.raises(DkvaeError, match=r"apt-get install libfluidsynth3"):
        import_soundfont(tmp_path / "bank", font)


# --- rendering the real TimGM6mb ----------------------------------------------------------------

KEY_LABELS = {36: "kick", 38: "snare", 39: "clap", 42: "hihat", 45: "tom", 49: "cymbal"}


@needs_timgm
def test_renders_keys_into_classes_at_three_velocities(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    report = import_soundfont(
        tmp_path, TIMGM, lambda done, total: calls.append((done, total)), presets=["Standard"], keys=[*KEY_LABELS, 34]
    )
    assert report.kits == 1 and report.total == 18 and report.silent == 0 and not report.skipped
    assert calls[-1] == (18, 18)  # key 34 maps to no class: not rendered
    manifest = pd.read_csv(tmp_path / "manifest.csv", dtype=str, keep_default_na=False)
    assert len(manifest) == 18
    for key, label in KEY_LABELS.items():
        rows = manifest[manifest["note"] == str(key)]
        assert set(rows["label"]) == {label}
        assert sorted(rows["velocity"], key=int) == ["40", "80", "127"]
        assert set(rows["group"]) == {f"TimGM6mb/Standard/{key}"}  # all velocities in one split
        assert set(rows["original_path"]) == {f"{label}/TimGM6mb__Standard__{key}_v{v}.wav" for v in (40, 80, 127)}
    row = manifest[manifest["original_path"] == "hihat/TimGM6mb__Standard__42_v127.wav"].iloc[0]
    assert (row["kit"], row["instrument"], row["bank"], row["program"]) == ("Standard", "Closed Hi-Hat", "128", "0")
    if row["source"] != "soundfont":  # installed by Debian: the package and its copyright file's license
        assert (row["source"], row["license"]) == ("timgm6mb-soundfont", "GPL-2")
    peaks = {}
    for path in manifest["original_path"]:
        info = sf.info(tmp_path / path)
        audio, rate = sf.read(tmp_path / path)
        assert rate == RENDER_SAMPLE_RATE and info.subtype == "PCM_16"
        assert 0 < info.frames < MAX_RENDER_SECONDS * RENDER_SAMPLE_RATE
        peaks[path] = np.abs(audio).max()
        assert peaks[path] > 0.001  # -60 dBFS: a real hit, even at velocity 40
    hat = sf.info(tmp_path / "hihat/TimGM6mb__Standard__42_v127.wav").duration
    assert hat < 1.0  # a closed hat is cut where it decays, far before the render limit
    assert peaks["kick/TimGM6mb__Standard__36_v127.wav"] > peaks["kick/TimGM6mb__Standard__36_v40.wav"]
    assert "## Standard" in (tmp_path / "LICENSES.md").read_text()


@needs_timgm
def test_exact_duplicates_across_kits_are_kept_once(tmp_path: Path) -> None:
    # TimGM6mb's Room kit reuses the Standard kit's closed hi-hat sample.
    report = import_soundfont(tmp_path, TIMGM, presets=["Standard", "Room"], keys=[42])
    duplicates = [(item, reason) for item, reason in report.skipped if reason.startswith("duplicate of")]
    assert ("TimGM6mb/Room/42_v127", "duplicate of TimGM6mb/Standard/42_v127") in duplicates
    assert report.total + len(duplicates) == 6
    files = sorted(path.name for path in (tmp_path / "hihat").iterdir())
    assert "TimGM6mb__Room__42_v127.wav" not in files and "TimGM6mb__Standard__42_v127.wav" in files


@needs_timgm
def test_rendering_is_repeatable(tmp_path: Path) -> None:
    """A note renders to the same bytes whatever was played before it (duplicates rely on it)."""
    import_soundfont(tmp_path / "a", TIMGM, presets=["Standard"], keys=[38])
    import_soundfont(tmp_path / "b", TIMGM, presets=["Standard"], keys=[35, 49, 81, 38])
    for velocity in (40, 80, 127):
        name = f"snare/TimGM6mb__Standard__38_v{velocity}.wav"
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


@needs_timgm
def test_unknown_preset_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(DkvaeError, match="None of the presets"):
        import_soundfont(tmp_path, TIMGM, presets=["No Such Kit"])
