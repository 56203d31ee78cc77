"""Tests for the SFZ kit importer, on small kits (SFZ text and real WAV files) written here."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from dkvae import Bank
from dkvae.core.errors import DkvaeError
from dkvae.importers import licenses
from dkvae.importers.report import ImportReport
from dkvae.importers.sfz import import_sfz, parse_note, parse_sfz

SAMPLE_RATE = 22050


def write_sound(path: Path, seed: int) -> None:
    """A short distinct sound: 0.1 s of decaying noise or a decaying sine, by `seed`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = SAMPLE_RATE // 10
    t = np.arange(samples) / SAMPLE_RATE
    rng = np.random.default_rng(seed)
    signal = rng.uniform(-1, 1, samples) if seed % 2 else np.sin(2 * np.pi * (80 + 20 * seed) * t)
    sf.write(path, (0.6 * np.exp(-t / 0.02) * signal).astype(np.float32), SAMPLE_RATE)


def write_kit(folder: Path, files: dict[str, str], samples: list[str]) -> Path:
    """A kit folder holding the SFZ `files` (name -> text) and the named sample files; returns it."""
    for seed, name in enumerate(samples):
        write_sound(folder / name, seed)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(autouse=True)
def no_debian(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No file is from a Debian package unless a test says so."""
    monkeypatch.setattr(licenses, "DPKG_INFO_DIR", tmp_path / "no-dpkg")


def manifest(bank: Path) -> pd.DataFrame:
    return pd.read_csv(bank / "manifest.csv", dtype=str, keep_default_na=False).set_index("original_path")


def reasons(items: list[tuple[str, str]]) -> dict[str, str]:
    return dict(items)


def imported(report: ImportReport) -> dict[str, int]:
    return {label: count for label, count in report.counts.items() if count}


# GM map: meaningless names, the keys decide.
GM_KIT = """
<group> lovel=1 hivel=127
<region> sample=s01.wav key=36
<region> sample=s02.wav key=38
<region> sample=s03.wav key=42
<region> sample=s04.wav key=49
<region> sample=s05.wav key=45
<region> sample=s06.wav key=56
"""


def test_gm_mapped_kit(tmp_path: Path) -> None:
    kit = write_kit(tmp_path / "GM Kit", {"gm.sfz": GM_KIT}, [f"s0{i}.wav" for i in range(1, 7)])
    report = import_sfz(tmp_path / "bank", kit / "gm.sfz")
    assert imported(report) == {"kick": 1, "snare": 1, "hihat": 1, "cymbal": 1, "tom": 1, "perc": 1}
    assert report.kits == 1 and not report.skipped and not report.unsorted
    rows = manifest(tmp_path / "bank")
    assert rows.loc["kick/gm__s01.wav", "note"] == "36"
    assert rows.loc["kick/gm__s01.wav", "class_from"] == "note"
    assert rows.loc["snare/gm__s02.wav", "group"] == "gm/38"
    assert set(rows["kit"]) == {"gm"} and set(rows["source"]) == {"sfz"}
    assert (tmp_path / "bank/kick/gm__s01.wav").read_bytes() == (kit / "s01.wav").read_bytes()


# Laid out from C3 (48) upward: the names say kick/snare/hat, GM would say tom/cymbal/perc.
CHROMATIC_KIT = """
<region> sample=Kick.wav key=48
<region> sample=Snare.wav key=49
<region> sample=Closed Hat.wav key=50
<region> sample=Crash.wav key=51
<region> sample=fx 1.wav key=52
"""


def test_name_mapped_kit_outranks_a_non_gm_layout(tmp_path: Path) -> None:
    kit = write_kit(
        tmp_path / "kit",
        {"chromatic.sfz": CHROMATIC_KIT},
        ["Kick.wav", "Snare.wav", "Closed Hat.wav", "Crash.wav", "fx 1.wav"],
    )
    report = import_sfz(tmp_path / "bank", kit)
    assert imported(report) == {"kick": 1, "snare": 1, "hihat": 1, "cymbal": 1}
    assert set(manifest(tmp_path / "bank")["class_from"]) == {"name"}
    # Names contradict GM on every key, so key 52 (GM: cymbal) decides nothing.
    ((item, reason),) = report.unsorted
    assert item == "chromatic.sfz:6 (fx 1.wav)" and "do not follow the General MIDI drum map" in reason


def test_a_specific_name_outranks_the_note_and_a_generic_one_does_not(tmp_path: Path) -> None:
    text = """
    <region> sample=Kick.wav key=36
    <region> sample=Hat.wav key=42
    <region> sample=808 Snare.wav key=36
    <region> sample=clean_808.wav key=38
    """  # two names agree with GM, one disagrees: the kit follows the GM map
    kit = write_kit(tmp_path / "kit", {"kit.sfz": text}, ["Kick.wav", "Hat.wav", "808 Snare.wav", "clean_808.wav"])
    import_sfz(tmp_path / "bank", kit)
    rows = manifest(tmp_path / "bank")
    assert rows.loc["snare/kit__808_Snare.wav", "class_from"] == "name"  # the name's "snare" over key 36 (kick)
    assert rows.loc["snare/kit__clean_808.wav", "class_from"] == "note"  # "808" is only a generic kick word


INHERITING_KIT = """
<global> global_label=Studio lovel=1
<master> master_label=Shells
<group> group_label=Snare key=38
<region> sample=x1.wav hivel=40
<region> sample=x2.wav lovel=41 hivel=90
<region> sample=x3.wav lovel=91
<group> key=50
<region> sample=x4.wav
<master> hivel=100
<group> lokey=35 hikey=36
<region> sample=x5.wav region_label=Kick
"""


def test_group_master_and_global_opcodes_are_inherited(tmp_path: Path) -> None:
    kit = write_kit(tmp_path / "kit", {"inherit.sfz": INHERITING_KIT}, [f"x{i}.wav" for i in range(1, 6)])
    regions = parse_sfz(kit / "inherit.sfz").regions
    assert [region.opcodes.get("group_label") for region in regions] == ["Snare"] * 3 + [None, None]
    assert regions[3].opcodes["master_label"] == "Shells" and regions[3].opcodes["lovel"] == "1"
    assert "master_label" not in regions[4].opcodes and regions[4].opcodes["hivel"] == "100"
    report = import_sfz(tmp_path / "bank", kit)
    # The group named "Snare" decides x1..x3; x4 plays key 50 (GM high tom); x5 is named by its region label.
    assert imported(report) == {"snare": 3, "tom": 1, "kick": 1}
    rows = manifest(tmp_path / "bank")
    assert rows.loc["tom/inherit__x4.wav", "note"] == "50"
    assert rows.loc["kick/inherit__x5.wav", "keys"] == "35-36" and rows.loc["kick/inherit__x5.wav", "note"] == ""
    assert rows.loc["kick/inherit__x5.wav", "instrument"] == "Kick"


def test_velocity_layers_of_a_key_share_a_group(tmp_path: Path) -> None:
    kit = write_kit(tmp_path / "kit", {"inherit.sfz": INHERITING_KIT}, [f"x{i}.wav" for i in range(1, 6)])
    import_sfz(tmp_path / "bank", kit)
    rows = manifest(tmp_path / "bank")
    snares = rows[rows["label"] == "snare"].sort_values("velocity", key=lambda column: column.astype(int))
    assert list(snares["group"]) == ["inherit/38"] * 3
    assert list(snares["velocity"]) == ["40", "90", "109"]  # hivel, hivel, middle of lovel=91..127
    assert set(snares["instrument"]) == {"Snare"}


DEFINE_KIT = r"""
<control>
default_path=Samples\Acoustic Drums\ // a Windows path, with a comment
#define $KICK 36
#define $SN 38 /* a block comment
   running over lines <region> sample=not-a-region.wav */
#define $DIR Hits
<region> sample=$DIR\Kick Hard 01.wav key=$KICK lovel=64
<region> sample=$DIR/Rim_$SN.wav key=$SN
"""


def test_define_and_default_path(tmp_path: Path) -> None:
    samples = ["Samples/Acoustic Drums/Hits/Kick Hard 01.wav", "Samples/Acoustic Drums/Hits/Rim_38.wav"]
    kit = write_kit(tmp_path / "kit", {"defines.sfz": DEFINE_KIT}, samples)
    regions = parse_sfz(kit / "defines.sfz").regions
    assert [region.opcodes["sample"] for region in regions] == [r"Hits\Kick Hard 01.wav", "Hits/Rim_38.wav"]
    assert regions[0].opcodes["lovel"] == "64"  # the path with spaces stopped before key= and lovel=
    report = import_sfz(tmp_path / "bank", kit)
    assert imported(report) == {"kick": 1, "snare": 1} and not report.skipped
    assert set(manifest(tmp_path / "bank").index) == {"kick/defines__Kick_Hard_01.wav", "snare/defines__Rim_38.wav"}


def test_headers_opcodes_and_comments_on_one_line(tmp_path: Path) -> None:
    text = "<group>lovel=1 hivel=50<region>sample=a.wav key=36 <region> sample=b.wav key=38 // <region> sample=c.wav"
    kit = write_kit(tmp_path / "kit", {"line.sfz": text}, ["a.wav", "b.wav"])
    regions = parse_sfz(kit / "line.sfz").regions
    assert [(region.opcodes["sample"], region.opcodes["hivel"]) for region in regions] == [
        ("a.wav", "50"),
        ("b.wav", "50"),
    ]


def test_include_relative_to_the_including_file(tmp_path: Path) -> None:
    files = {
        "main.sfz": '#define $KEY 42\n<group> group_label=Hats\n#include "parts/hats.sfzh"\n'
        "<region> sample=kick.wav key=36",
        "parts/hats.sfzh": '<region> sample=hat1.wav key=$KEY\n#include "more/open.sfzh"',
        "parts/more/open.sfzh": "<region> sample=hat2.wav key=46",
    }
    kit = write_kit(tmp_path / "kit", files, ["kick.wav", "hat1.wav", "hat2.wav"])
    instrument = parse_sfz(kit / "main.sfz")
    assert [(region.file.name, region.line) for region in instrument.regions] == [
        ("hats.sfzh", 1), ("open.sfzh", 1), ("main.sfz", 4),
    ]  # fmt: skip
    report = import_sfz(tmp_path / "bank", kit / "main.sfz")
    assert imported(report) == {"hihat": 2, "kick": 1} and not report.skipped


def test_aria_style_includes_resolve_against_the_main_file(tmp_path: Path) -> None:
    """Laid out like the sfzinstruments DrumGizmo kits: nested includes written relative to the main file."""
    files = {
        "Programs/kit.sfz": '#include "../Data/keymap.txt"\n#include "../Data/global.txt" #include "../Data/drums.txt"',
        "Data/keymap.txt": "#define $key_kd 36\n#define $key_sn 38\n#define $ext wav\n#define $v1h 127",
        "Data/global.txt": "<global> ampeg_release=0.5",
        "Data/drums.txt": '#include "../Data/mic.txt"\n<master>\n<group> #include "../Data/region/kick.txt"\n'
        '<group> #include "../Data/region/snare.txt"',
        "Data/mic.txt": "#define $mic OH",
        "Data/region/kick.txt": "#define $instr Kick\ngroup_label=$instr\nkey=$key_kd\n"
        "<region> lovel=1 hivel=$v1h amp_velcurve_$v1h=1 region_label=1 sample=../Samples/$instr/1-$instr-$mic.$ext",
        "Data/region/snare.txt": "#define $instr Snare\ngroup_label=$instr\nkey=$key_sn\n"
        "<region> region_label=1 sample=../Samples/$instr/1-$instr-$mic.$ext",
    }
    kit = write_kit(tmp_path / "kit", files, ["Samples/Kick/1-Kick-OH.wav", "Samples/Snare/1-Snare-OH.wav"])
    regions = parse_sfz(kit / "Programs/kit.sfz").regions
    assert [region.opcodes["amp_velcurve_127"] for region in regions[:1]] == ["1"]
    report = import_sfz(tmp_path / "bank", kit)
    assert imported(report) == {"kick": 1, "snare": 1} and not report.skipped
    rows = manifest(tmp_path / "bank")
    assert rows.loc["kick/kit__1-Kick-OH.wav", ["instrument", "velocity", "group"]].tolist() == [
        "Kick",
        "127",
        "kit/36",
    ]


def test_include_cycle_and_missing_include_are_reported(tmp_path: Path) -> None:
    files = {
        "a.sfz": '<region> sample=kick.wav key=36\n#include "b.sfzh"\n#include "gone.sfzh"',
        "b.sfzh": '<region> sample=snare.wav key=38\n#include "a.sfz"',
    }
    kit = write_kit(tmp_path / "kit", files, ["kick.wav", "snare.wav"])
    report = import_sfz(tmp_path / "bank", kit / "a.sfz")
    assert imported(report) == {"kick": 1, "snare": 1}
    found = reasons(report.skipped)
    assert "include cycle (a.sfz -> b.sfzh -> a.sfz)" in found["b.sfzh:2 #include 'a.sfz'"]
    assert found["a.sfz:3 #include 'gone.sfzh'"].startswith("included file missing")


def test_note_names_and_offsets() -> None:
    assert [parse_note(name) for name in ("c4", "C4", "c2", "d#2", "eb2", "F#2", "bb2", "c-1", "g9")] == [
        60, 60, 36, 39, 39, 42, 46, 0, 127,
    ]  # fmt: skip
    for bad in ("h2", "c", "36.5", "$KEY"):
        with pytest.raises(ValueError):
            parse_note(bad)


def test_note_names_in_a_kit(tmp_path: Path) -> None:
    text = """
    <region> sample=a.wav key=c2
    <region> sample=b.wav lokey=d2 hikey=D2
    <control> octave_offset=-1 note_offset=2
    <region> sample=c.wav key=e3
    <region> sample=Pedal Hat.wav lokey=-1 hikey=-1 on_locc4=100
    """  # e3 = 52, -12 + 2 = 42: closed hi-hat; key -1: played by a controller, not a key
    kit = write_kit(tmp_path / "kit", {"names.sfz": text}, ["a.wav", "b.wav", "c.wav", "Pedal Hat.wav"])
    report = import_sfz(tmp_path / "bank", kit)
    assert imported(report) == {"kick": 1, "snare": 1, "hihat": 2}
    rows = manifest(tmp_path / "bank")
    assert rows.loc["hihat/names__c.wav", "note"] == "42"
    assert rows.loc["hihat/names__Pedal_Hat.wav", ["note", "group"]].tolist() == ["", "names/Pedal_Hat"]


def test_shared_samples_are_imported_once(tmp_path: Path) -> None:
    text = "<region> sample=hat.wav key=42\n<region> sample=HAT.WAV key=44\n<region> sample=./hat.wav key=46"
    kit = write_kit(tmp_path / "kit", {"shared.sfz": text, "copy.sfz": text}, ["hat.wav"])
    report = import_sfz(tmp_path / "bank", kit)
    assert imported(report) == {"hihat": 1} and report.kits == 1
    assert list(manifest(tmp_path / "bank")["note"]) == ["42"]  # the first mapping is kept
    repeats = [reason for _, reason in report.skipped]
    assert len(repeats) == 5 and all(
        reason == "same sample as copy.sfz:1 (hat.wav): imported once" for reason in repeats
    )


def test_missing_and_unusable_samples_are_skipped_with_reasons(tmp_path: Path) -> None:
    text = """
    <region> sample=kick.wav key=36
    <region> sample=gone.wav key=38
    <region> sample=../outside/snare.wav key=38
    <region> sample=../outside/nothing.wav key=40
    <region> sample=*noise key=39
    <region> key=41
    <region> sample=notes.txt key=42
    <region> sample=fake.wav key=43
    <region> sample=tom.wav key=c#
    """
    kit = write_kit(tmp_path / "kit", {"bad samples.sfz": text}, ["kick.wav", "../outside/snare.wav", "tom.wav"])
    (kit / "notes.txt").write_text("hello")
    (kit / "fake.wav").write_bytes(b"RIFF not really a wave")
    report = import_sfz(tmp_path / "bank", kit / "bad samples.sfz")
    assert imported(report) == {"kick": 1, "snare": 1}  # a path leaving the kit folder is fine when it exists
    found = {item.rsplit(" (", 1)[0]: reason for item, reason in report.skipped}
    assert found["bad samples.sfz:3"] == f"sample file missing: {kit / 'gone.wav'}"
    assert found["bad samples.sfz:5"] == f"sample file missing: {tmp_path / 'outside' / 'nothing.wav'}"
    assert found["bad samples.sfz:6"] == "a built-in generator (*noise), not a sample file"
    assert found["bad samples.sfz:7"] == "region has no sample"
    assert found["bad samples.sfz:8"] == "not an audio file (.txt)"
    assert found["bad samples.sfz:9"].startswith("unreadable audio")
    assert found["bad samples.sfz:10"] == "not a note: 'c#'"


def test_corrupt_binary_and_empty_sfz_files_are_skipped(tmp_path: Path) -> None:
    kit = write_kit(tmp_path / "kit", {"good.sfz": "<region> sample=kick.wav key=36"}, ["kick.wav"])
    (kit / "binary.sfz").write_bytes(bytes(range(256)) * 4)
    (kit / "prose.SFZ").write_text("This is not an instrument.\nJust words = and <things>.")
    (kit / "empty.sfz").write_text("// nothing yet\n<group> lovel=1\n")
    (kit / "latin1.sfz").write_bytes("<region> sample=kick.wav key=36 region_label=Caja r\xe1pida".encode("latin-1"))
    (kit / "folder.sfz").mkdir()
    report = import_sfz(tmp_path / "bank", kit)
    assert reasons(report.skipped) == {
        "binary.sfz": "a binary file, not SFZ text",
        "prose.SFZ": "not an SFZ file (no <region> or <group> headers)",
        "empty.sfz": "no <region> in it",
        "latin1.sfz:1 (kick.wav)": "same sample as good.sfz:1 (kick.wav): imported once",
    }
    assert imported(report) == {"kick": 1}


def test_melodic_regions_are_unsorted(tmp_path: Path) -> None:
    text = """
    <region> sample=Piano C4.wav lokey=21 hikey=108 pitch_keycenter=60
    <region> sample=Kick Long.wav lokey=0 hikey=127 pitch_keytrack=0
    <region> sample=Tom.wav lokey=40 hikey=51
    <region> sample=Snare.wav
    """
    kit = write_kit(tmp_path / "kit", {"mixed.sfz": text}, ["Piano C4.wav", "Kick Long.wav", "Tom.wav", "Snare.wav"])
    report = import_sfz(tmp_path / "bank", kit)
    assert imported(report) == {"kick": 1, "tom": 1}  # the same sound on every key is a one-shot
    assert reasons(report.unsorted) == {
        "mixed.sfz:2 (Piano C4.wav)": "spans 88 keys at changing pitch: a melodic instrument, not a drum",
        "mixed.sfz:5 (Snare.wav)": "spans 128 keys at changing pitch: a melodic instrument, not a drum",
    }


def test_unsorted_names_are_reported_not_guessed(tmp_path: Path) -> None:
    text = """
    <region> sample=Kick Snare Combo.wav key=90
    <region> sample=Kick Snare Layer.wav key=38
    <region> sample=swoosh.wav key=90
    <region> sample=Guitar Slap.wav key=38
    <region> sample=hit.wav lokey=40 hikey=41
    """
    samples = ["Kick Snare Combo.wav", "Kick Snare Layer.wav", "swoosh.wav", "Guitar Slap.wav", "hit.wav"]
    kit = write_kit(tmp_path / "kit", {"odd.sfz": text}, samples)
    report = import_sfz(tmp_path / "bank", kit)
    assert imported(report) == {"snare": 1}  # two classes named, but the GM key breaks the tie
    assert reasons(report.unsorted) == {
        "odd.sfz:2 (Kick Snare Combo.wav)": "name matches several classes: kick, snare",
        "odd.sfz:4 (swoosh.wav)": "no class in its name, and key 90 is no General MIDI drum",
        "odd.sfz:5 (Guitar Slap.wav)": "name says it is not a drum",
        "odd.sfz:6 (hit.wav)": "no class in its name, and it plays on no single key",
    }


def test_license_file_beside_the_kit(tmp_path: Path) -> None:
    kits = tmp_path / "kits"
    write_kit(kits / "Free Kit" / "sfz", {"free.sfz": "<region> sample=../kick.wav key=36"}, ["../kick.wav"])
    (kits / "Free Kit" / "License CC0.txt").write_text("CC0")
    write_kit(kits / "Plain", {"plain.sfz": "<region> sample=snare.wav key=38"}, ["snare.wav"])
    import_sfz(tmp_path / "bank", kits)
    rows = manifest(tmp_path / "bank")
    assert rows.loc["kick/free__kick.wav", "license"] == "see ../License CC0.txt"
    assert rows.loc["snare/plain__snare.wav", "license"] == "unknown"
    assert "- License: see ../License CC0.txt" in (tmp_path / "bank" / "LICENSES.md").read_text()


def test_license_from_debian_copyright(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kit = write_kit(tmp_path / "usr/share/sfz/drums", {"rock.sfz": "<region> sample=kick.wav key=36"}, ["kick.wav"])
    dpkg, docs = tmp_path / "dpkg", tmp_path / "doc"
    dpkg.mkdir()
    (dpkg / "sfz-drums:all.list").write_text(f"/.\n{kit}\n{kit / 'rock.sfz'}\n")
    (docs / "sfz-drums").mkdir(parents=True)
    (docs / "sfz-drums" / "copyright").write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
        "Files: *\nLicense: GPL-2+\n\nFiles: drums/rock.sfz\nLicense: CC-BY-SA-4.0\n"
    )
    monkeypatch.setattr(licenses, "DPKG_INFO_DIR", dpkg)
    monkeypatch.setattr(licenses, "DEBIAN_DOC_DIR", docs)
    import_sfz(tmp_path / "bank", kit / "rock.sfz")
    row = manifest(tmp_path / "bank").loc["kick/rock__kick.wav"]
    assert (row["source"], row["license"]) == ("sfz-drums", "CC-BY-SA-4.0")


def test_rerun_updates_the_bank_in_place(tmp_path: Path) -> None:
    kit = write_kit(tmp_path / "kit", {"gm.sfz": GM_KIT}, [f"s0{i}.wav" for i in range(1, 7)])
    out = tmp_path / "bank"
    import_sfz(out, kit)
    first = manifest(out)
    files = sorted(path.relative_to(out) for path in out.rglob("*.wav"))
    (kit / "gm.sfz").write_text(GM_KIT.replace("key=49", "key=51"))
    report = import_sfz(out, kit)
    assert report.total == 6
    assert sorted(path.relative_to(out) for path in out.rglob("*.wav")) == files
    again = manifest(out)
    assert list(again.index) == list(first.index)
    assert again.loc["cymbal/gm__s04.wav", "note"] == "51"


def test_progress_reaches_the_total(tmp_path: Path) -> None:
    kit = write_kit(tmp_path / "kit", {"gm.sfz": GM_KIT}, [f"s0{i}.wav" for i in range(1, 7)])
    calls: list[tuple[int, int]] = []
    import_sfz(tmp_path / "bank", kit, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(done, 6) for done in range(1, 7)]


def test_missing_source_or_no_sfz_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(DkvaeError, match="SFZ file or folder not found"):
        import_sfz(tmp_path / "bank", tmp_path / "nowhere.sfz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DkvaeError, match=r"No SFZ files \(\*\.sfz\) in"):
        import_sfz(tmp_path / "bank", tmp_path / "empty")


def test_large_and_hostile_files_parse_quickly(tmp_path: Path) -> None:
    regions = "".join(
        f"<region> sample=Samples/Kick {i}.wav lokey={i % 128} hikey={i % 128} hivel=127\n" for i in range(20000)
    )
    (tmp_path / "big.sfz").write_text(regions)
    (tmp_path / "hostile.sfz").write_text("<region> sample=a" + " " * 200_000 + "b.wav" + "x" * 200_000 + " /*" * 1000)
    start = time.perf_counter()
    assert len(parse_sfz(tmp_path / "big.sfz").regions) == 20000
    assert len(parse_sfz(tmp_path / "hostile.sfz").regions) == 1
    assert time.perf_counter() - start < 5.0


def test_the_bank_processes_the_imported_kit(tmp_path: Path) -> None:
    text = GM_KIT + "<region> sample=s07.wav key=38 lovel=100\n<region> sample=s08.wav key=36 hivel=60\n"
    kit = write_kit(tmp_path / "kit", {"gm.sfz": text}, [f"s0{i}.wav" for i in range(1, 9)])
    out = tmp_path / "bank"
    report = import_sfz(out, kit)
    bank = Bank(out, workers=1)
    assert bank.data["label"].value_counts().to_dict() == imported(report)
    assert imported(report) == {"kick": 2, "snare": 2, "hihat": 1, "cymbal": 1, "tom": 1, "perc": 1}


def regions_by_sfzlint(path: Path) -> list[dict[str, str]]:
    """Every region's opcodes with what it inherits from <global>, <master> and <group>, from sfzlint's own parser."""
    from sfzlint.parser import validate_s

    levels = ("global", "master", "group")
    scopes: dict[str, dict[str, str]] = {level: {} for level in levels}
    regions = []
    for header in validate_s(path.read_text(), config={"file_path": path, "validate": False}).headers:
        opcodes = {str(name): str(value) for name, value in header.items()}
        if "key" in opcodes:  # the spec: key=N sets lokey, hikey and pitch_keycenter
            note = opcodes.pop("key")
            opcodes.update(lokey=note, hikey=note, pitch_keycenter=note)
        if header.token in levels:
            scopes[header.token] = opcodes
            for lower in levels[levels.index(header.token) + 1 :]:
                scopes[lower] = {}
        elif header.token == "region":
            regions.append({**scopes["global"], **scopes["master"], **scopes["group"], **opcodes})
    return regions


@pytest.mark.parametrize("text", [GM_KIT, INHERITING_KIT], ids=["gm", "inheriting"])
def test_our_parser_reads_regions_as_sfzlint_does(tmp_path: Path, text: str) -> None:
    pytest.importorskip("sfzlint")
    path = tmp_path / "kit.sfz"
    path.write_text(text)
    ours = [region.opcodes for region in parse_sfz(path).regions]
    assert ours == regions_by_sfzlint(path)
