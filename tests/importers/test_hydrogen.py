"""Tests for the Hydrogen drum kit importer, on small kits written here and on Debian's real kits."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from dkvae.core.classes import CLASSES
from dkvae.core.errors import DkvaeError
from dkvae.importers import hydrogen, licenses
from dkvae.importers.hydrogen import SYSTEM_DRUMKITS_DIR, import_hydrogen

SAMPLE_RATE = 22050
NAMESPACE = 'xmlns="http://www.hydrogen-music.org/drumkit" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'


def write_sound(path: Path, seed: int) -> None:
    """A short distinct sound file, 0.1 s of decaying noise (format from the suffix: .wav or .flac)."""
    samples = SAMPLE_RATE // 10
    decay = np.exp(-np.arange(samples) / (SAMPLE_RATE * 0.02))
    audio = (np.random.default_rng(seed).uniform(-0.5, 0.5, samples) * decay).astype(np.float32)
    sf.write(path, audio, SAMPLE_RATE)


def write_kit(folder: Path, xml: str, samples: list[str]) -> Path:
    """A kit folder with `xml` as its drumkit.xml and the named sample files."""
    folder.mkdir(parents=True)
    (folder / "drumkit.xml").write_text(xml, encoding="utf-8")
    for seed, name in enumerate(samples):
        write_sound(folder / name, seed)
    return folder


def layer(filename: str, maximum: float = 1.0) -> str:
    return f"<layer><filename>{filename}</filename><min>0</min><max>{maximum}</max><gain>1</gain></layer>"


# Hydrogen 0.9.7+ / 1.x: namespaced, layers inside <instrumentComponent>; unicode and spaces in names.
MODERN_KIT = f"""<?xml version="1.0" encoding="UTF-8"?>
<drumkit_info {NAMESPACE}>
 <name>Ünï Kit 開</name>
 <author>Zoë Example</author>
 <license>CC0</license>
 <componentList><drumkitComponent><id>0</id><name>Main</name></drumkitComponent></componentList>
 <instrumentList>
  <instrument><id>0</id><name>Kick Drum</name>
   <instrumentComponent><component_id>0</component_id>
    {layer("kick soft.wav", 0.5)}{layer("kick hard.flac", 1.0)}{layer("kick soft.wav", 0.5)}
   </instrumentComponent>
  </instrument>
  <instrument><id>1</id><name>Caja Snare ñ</name>
   <instrumentComponent><component_id>0</component_id>{layer("caja.wav")}</instrumentComponent>
  </instrument>
  <instrument><id>2</id><name>Zap</name>
   <instrumentComponent><component_id>0</component_id>{layer("zap.wav")}</instrumentComponent>
  </instrument>
 </instrumentList>
</drumkit_info>
"""

# Hydrogen 0.9.x: no namespace, layers directly in <instrument>; a missing sample, a shared one.
LAYERED_KIT = f"""<drumkit_info>
 <name>Layered Kit</name>
 <author>Old Author</author>
 <instrumentList>
  <instrument><id>0</id><name>Hi Hat Closed</name>{layer("HH_1.wav", 0.3)}{layer("HH_2.wav", 0.9)}</instrument>
  <instrument><id>1</id><name>Tom Mid</name>{layer("tom.wav")}{layer("gone.wav")}</instrument>
  <instrument><id>2</id><name>Tom Hi</name>{layer("tom.wav")}</instrument>
  <instrument><id>3</id><name>15</name></instrument>
 </instrumentList>
</drumkit_info>
"""

# Hydrogen 0.9.3 and older: one <filename> directly in <instrument>, a British <licence>.
OLD_KIT = """<drumkit_info>
 <name>OldKit</name>
 <author>Someone</author>
 <licence>GPL</licence>
 <instrumentList>
  <instrument><id>0</id><filename>cr_1.flac</filename><name>Crash</name><volume>1</volume></instrument>
  <instrument><id>1</id><filename>misc_Cowbell.flac</filename><name>Cowbell</name></instrument>
  <instrument><id>2</id><filename>clap_dry.flac</filename><name>17</name></instrument>
  <instrument><id>3</id><filename>emptySample.flac</filename><name>18</name></instrument>
 </instrumentList>
</drumkit_info>
"""

GUITAR_KIT = f"""<drumkit_info>
 <name>belofilms.com - AC-Guitar-Strums (flac)</name>
 <instrumentList>
  <instrument><name>Amajor / D5-E4-A1</name>{layer("Amajor_UP_03.flac")}</instrument>
  <instrument><name>Kick</name>{layer("kickish.flac")}</instrument>
 </instrumentList>
</drumkit_info>
"""

PADS_KIT = f"""<drumkit_info><name>Pads</name><instrumentList>
  <instrument><name>Pad 1</name>{layer("pad1.wav")}</instrument>
</instrumentList></drumkit_info>
"""

ESCAPING_KIT = f"""<drumkit_info><name>Escaping</name><instrumentList>
  <instrument><name>Snare</name>{layer("../secret.wav")}{layer("snare.wav")}</instrument>
</instrumentList></drumkit_info>
"""


@pytest.fixture
def drumkits(tmp_path: Path) -> Path:
    """A drumkits folder holding the kits above, a broken one and a packed one."""
    root = tmp_path / "drumkits"
    write_kit(root / "Ünï Kit 開", MODERN_KIT, ["kick soft.wav", "kick hard.flac", "caja.wav", "zap.wav"])
    write_kit(root / "Layered", LAYERED_KIT, ["HH_1.wav", "HH_2.wav", "tom.wav"])
    write_kit(root / "OldKit", OLD_KIT, ["cr_1.flac", "misc_Cowbell.flac", "clap_dry.flac", "emptySample.flac"])
    write_kit(root / "belofilms_GuitarStrums", GUITAR_KIT, ["Amajor_UP_03.flac", "kickish.flac"])
    write_kit(root / "Pads", PADS_KIT, ["pad1.wav"])
    write_kit(root / "Broken", "<drumkit_info><name>Broken</name><instrumentList>", [])
    write_kit(root / "Escaping", ESCAPING_KIT, ["snare.wav"])
    write_sound(tmp_path / "secret.wav", 99)
    (root / "Packed.h2drumkit").write_bytes(b"\x1f\x8b")
    return root


@pytest.fixture
def no_debian(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend no Debian package installed any kit."""
    monkeypatch.setattr(hydrogen, "DPKG_INFO_DIR", tmp_path / "no-dpkg")


def manifest(bank: Path) -> pd.DataFrame:
    return pd.read_csv(bank / "manifest.csv", dtype=str, keep_default_na=False).set_index("original_path")


def reasons(items: list[tuple[str, str]]) -> dict[str, str]:
    return dict(items)


def test_imports_every_format_generation(drumkits: Path, tmp_path: Path, no_debian: None) -> None:
    bank = tmp_path / "bank"
    report = import_hydrogen(bank, drumkits)

    assert report.counts == {"kick": 2, "snare": 2, "hihat": 2, "tom": 1, "cymbal": 1, "clap": 1, "perc": 1}
    assert report.kits == 4
    rows = manifest(bank)
    assert len(rows) == report.total == 10
    for relative, row in rows.iterrows():
        assert (bank / relative).is_file()
        assert relative.split("/")[0] == row["label"] in CLASSES
    assert set(rows.index) >= {
        "kick/Ünï_Kit_開__Kick_Drum__0.wav",
        "kick/Ünï_Kit_開__Kick_Drum__1.flac",
        "snare/Ünï_Kit_開__Caja_Snare_ñ__0.wav",
        "hihat/Layered_Kit__Hi_Hat_Closed__1.wav",
        "tom/Layered_Kit__Tom_Mid__0.wav",
        "cymbal/OldKit__Crash__0.flac",
        "perc/OldKit__Cowbell__0.flac",
        "clap/OldKit__17__0.flac",  # named by its sample file, as its instrument name says nothing
        "snare/Escaping__Snare__1.wav",
    }


def test_copies_samples_unchanged_with_their_metadata(drumkits: Path, tmp_path: Path, no_debian: None) -> None:
    bank = tmp_path / "bank"
    import_hydrogen(bank, drumkits)
    rows = manifest(bank)

    copied = bank / "kick/Ünï_Kit_開__Kick_Drum__1.flac"
    assert copied.read_bytes() == (drumkits / "Ünï Kit 開" / "kick hard.flac").read_bytes()
    soft = rows.loc["kick/Ünï_Kit_開__Kick_Drum__0.wav"]
    assert soft["kit"] == "Ünï Kit 開"
    assert soft["instrument"] == "Kick Drum"
    assert soft["group"] == "Ünï Kit 開/Kick Drum"
    assert float(soft["velocity"]) == 0.5
    assert soft["layer"] == "0"
    assert soft["author"] == "Zoë Example"
    assert soft["license"] == "CC0"
    assert soft["source"] == "hydrogen"
    assert rows.loc["cymbal/OldKit__Crash__0.flac", "license"] == "GPL"  # from <licence>
    assert float(rows.loc["cymbal/OldKit__Crash__0.flac", "velocity"]) == 1.0
    assert rows.loc["hihat/Layered_Kit__Hi_Hat_Closed__0.wav", "license"] == "unknown"


def test_reports_what_it_leaves_out(drumkits: Path, tmp_path: Path, no_debian: None) -> None:
    report = import_hydrogen(tmp_path / "bank", drumkits)
    skipped = reasons(report.skipped)

    assert skipped[f"{drumkits / 'belofilms_GuitarStrums'}"].startswith("not a drum kit")
    assert skipped[f"{drumkits / 'Pads'}"].startswith("not a drum kit")
    assert skipped[f"{drumkits / 'Broken'}"].startswith("unreadable drumkit.xml")
    assert "unpack" in skipped[f"{drumkits / 'Packed.h2drumkit'}"]
    assert skipped["Layered Kit/Tom Mid/gone.wav"] == "sample file missing"
    assert skipped["Layered Kit/Tom Hi/tom.wav"] == "same sample as Layered Kit/Tom Mid"
    assert skipped["Escaping/Snare/../secret.wav"] == "sample path points outside the kit folder"
    assert set(reasons(report.unsorted)) == {"Ünï Kit 開/Zap", "OldKit/18"}
    # The same file twice in one instrument is imported once, silently.
    assert not any("kick soft.wav" in item for item, _ in report.skipped)


def test_nothing_from_skipped_kits_reaches_the_bank(drumkits: Path, tmp_path: Path, no_debian: None) -> None:
    bank = tmp_path / "bank"
    import_hydrogen(bank, drumkits)
    rows = manifest(bank)
    assert not rows["kit"].str.contains("Guitar|Pads").any()
    assert not any("secret" in path.name for path in bank.rglob("*"))


def test_single_kit_folder_as_source(drumkits: Path, tmp_path: Path, no_debian: None) -> None:
    report = import_hydrogen(tmp_path / "bank", drumkits / "OldKit")
    assert report.kits == 1
    assert report.total == 3


def test_rerun_updates_the_bank_in_place(drumkits: Path, tmp_path: Path, no_debian: None) -> None:
    bank = tmp_path / "bank"
    first = import_hydrogen(bank, drumkits)
    second = import_hydrogen(bank, drumkits)
    assert first == second
    assert len(manifest(bank)) == first.total
    assert len([path for path in bank.rglob("*") if path.parent.name in CLASSES]) == first.total


def test_progress_reaches_the_total(drumkits: Path, tmp_path: Path, no_debian: None) -> None:
    calls: list[tuple[int, int]] = []
    import_hydrogen(tmp_path / "bank", drumkits, progress=lambda done, total: calls.append((done, total)))
    total = calls[-1][1]
    assert calls[-1] == (total, total)
    assert [done for done, _ in calls] == list(range(1, total + 1))


def test_licenses_file_lists_every_kit(drumkits: Path, tmp_path: Path, no_debian: None) -> None:
    bank = tmp_path / "bank"
    import_hydrogen(bank, drumkits)
    text = (bank / "LICENSES.md").read_text(encoding="utf-8")
    assert "## Ünï Kit 開" in text and "Zoë Example" in text and "CC0" in text
    assert "## OldKit" in text and "## Layered Kit" in text
    assert "Guitar" not in text


def test_license_from_debian_copyright(drumkits: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dpkg = tmp_path / "dpkg"
    dpkg.mkdir()
    (dpkg / "hydrogen-drumkits.list").write_text(f"/.\n{drumkits / 'Layered'}\n{drumkits / 'Layered'}/drumkit.xml\n")
    doc = tmp_path / "doc" / "hydrogen-drumkits"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        "Upstream-Name: hydrogen-drumkits\n\n"
        "Files:\n drumkits/Other.h2drumkit\n drumkits/Layered.h2drumkit\n"
        "Copyright: Old Author\nLicense: GPL-2+ with composition exception\n As a special exception...\n\n"
        "Files: debian/*\nLicense: GPL-2+\n"
    )
    monkeypatch.setattr(hydrogen, "DPKG_INFO_DIR", dpkg)
    monkeypatch.setattr(licenses, "DEBIAN_DOC_DIR", tmp_path / "doc")

    bank = tmp_path / "bank"
    import_hydrogen(bank, drumkits)
    rows = manifest(bank)
    layered = rows[rows["kit"] == "Layered Kit"]
    assert set(layered["license"]) == {"GPL-2+ with composition exception"}
    assert set(layered["source"]) == {"hydrogen-drumkits"}
    assert set(rows[rows["kit"] == "OldKit"]["source"]) == {"hydrogen"}


def test_packages_keep_only_the_kits_those_debian_packages_installed(
    drumkits: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each kit's source is the package whose file list holds its drumkit.xml; `packages` filters on it."""
    dpkg = tmp_path / "dpkg"
    dpkg.mkdir()
    (dpkg / "hydrogen-drumkits.list").write_text(f"{drumkits / 'Layered'}/drumkit.xml\n")
    (dpkg / "hydrogen-data.list").write_text(f"{drumkits / 'OldKit'}/drumkit.xml\n")
    monkeypatch.setattr(hydrogen, "DPKG_INFO_DIR", dpkg)

    everything = import_hydrogen(tmp_path / "all", drumkits)
    sources = manifest(tmp_path / "all").groupby("kit")["source"].agg(set).to_dict()
    assert sources["Layered Kit"] == {"hydrogen-drumkits"} and sources["OldKit"] == {"hydrogen-data"}

    only = import_hydrogen(tmp_path / "only", drumkits, packages={"hydrogen-drumkits"})
    rows = manifest(tmp_path / "only")
    assert set(rows["kit"]) == {"Layered Kit"}
    assert len(rows) == sum(kit == "Layered Kit" for kit in manifest(tmp_path / "all")["kit"]) > 0
    assert only.total == len(rows) < everything.total
    assert "installed by hydrogen-data, not by hydrogen-drumkits" in reasons(only.skipped)[str(drumkits / "OldKit")]
    assert "installed by hydrogen," in reasons(only.skipped)[str(drumkits / "Ünï Kit 開")]  # by no package


def test_missing_source_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(DkvaeError, match="not found"):
        import_hydrogen(tmp_path / "bank", tmp_path / "nowhere")


def test_a_folder_without_kits_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DkvaeError, match="No Hydrogen kits"):
        import_hydrogen(tmp_path / "bank", tmp_path / "empty")


def test_missing_default_kits_tell_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hydrogen, "DEFAULT_DRUMKITS_DIRS", (tmp_path / "nowhere",))
    with pytest.raises(DkvaeError, match="apt-get install hydrogen-drumkits"):
        import_hydrogen(tmp_path / "bank")


#: Debian's hydrogen-drumkits hold 622 distinct drum samples with clear names, and hydrogen-data (installed
#: with Hydrogen by scripts/install-system-packages.sh) 102 more: 724 in all.
MINIMUM_REAL_SOUNDS = 650


@pytest.mark.hydrogen
@pytest.mark.skipif(not SYSTEM_DRUMKITS_DIR.is_dir(), reason="Debian's hydrogen-drumkits is not installed")
def test_imports_debians_real_kits(tmp_path: Path) -> None:
    bank = tmp_path / "bank"
    started = time.perf_counter()
    report = import_hydrogen(bank, SYSTEM_DRUMKITS_DIR)
    print(f"imported {report.total} sounds from {report.kits} kits in {time.perf_counter() - started:.1f} s")

    assert report.total >= MINIMUM_REAL_SOUNDS
    assert all(report.counts[label] > 0 for label in CLASSES)
    rows = manifest(bank)
    assert not rows["kit"].str.contains("Guitar", case=False).any()
    assert not rows["instrument"].str.contains("major|minor", case=False).any()
    assert set(rows["license"]) - {"unknown"} == set(rows["license"])
    assert set(rows["source"]) == {"hydrogen-drumkits", "hydrogen-data"}  # each kit credited to its package
    assert (bank / "LICENSES.md").is_file()
