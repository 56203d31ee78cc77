"""Decent Sampler kits: the preset read back as XML, its samples found as the player finds them, the library zip."""

from __future__ import annotations

import io
import os
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path, PurePosixPath

import pytest
import soundfile as sf

from dkvae.kits.decent_sampler import write_decent_library, write_decent_sampler
from dkvae.kits.kit import Kit
from dkvae.sound.wav import WAV_SUBTYPES

from .test_sfz import KIT_NAME, SAMPLE_RATE, small_kit


def exact_file(folder: Path, relative: str) -> Path:
    """The file at the forward-slash path `relative` under `folder`, its case matching exactly (as on Linux)."""
    parts = PurePosixPath(relative).parts
    assert "\\" not in relative and not PurePosixPath(relative).is_absolute() and ".." not in parts
    current = folder
    for part in parts:
        assert part in os.listdir(current), f"{relative}: no {part!r} in {current}"
        current = current / part
    assert current.is_file()
    return current


def groups_by_tag(root: ET.Element) -> dict[str, ET.Element]:
    """The preset's groups by their tag (each pad's group is tagged with the pad's name)."""
    groups = root.findall("./groups/group")
    by_tag = {group.get("tags", ""): group for group in groups}
    assert len(by_tag) == len(groups)
    return by_tag


def silences(hit: ET.Element, ringing: ET.Element) -> bool:
    """Whether playing group `hit` stops group `ringing`: one of its tags is in ringing's ``silencedByTags``."""
    silenced_by = set(filter(None, ringing.get("silencedByTags", "").split(",")))
    return bool(silenced_by & set(hit.get("tags", "").split(",")))


@pytest.fixture(scope="module")
def kit() -> Kit:
    return small_kit()


@pytest.fixture(scope="module")
def preset(kit: Kit, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_decent_sampler(kit, tmp_path_factory.mktemp("decent") / "kit")


def test_preset_is_one_decentsampler_document_named_after_the_kit(preset: Path) -> None:
    assert preset.suffix == ".dspreset" and list(preset.parent.glob("*.dspreset")) == [preset]
    assert preset.stem == "Ölkit_Bäss_ドラム"
    assert preset.read_bytes().startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.parse(preset).getroot()
    assert root.tag == "DecentSampler" and root.get("minVersion") == "1.0.0"
    assert len(root.findall("groups")) == 1
    assert KIT_NAME in root.find("./ui/tab/label").get("text")


def test_any_kit_name_makes_valid_xml(tmp_path: Path) -> None:
    """Markup characters are escaped; characters XML cannot hold at all (controls, lone surrogates) are dropped."""
    library = write_decent_library(small_kit('<"Kit"> & \x01\x1b\ud800 ok'), tmp_path / "odd.dslibrary")
    with zipfile.ZipFile(library) as archive:
        documents = {
            PurePosixPath(name).suffix: ET.fromstring(archive.read(name))
            for name in archive.namelist()
            if name.endswith((".dspreset", ".xml"))
        }
    assert documents[".dspreset"].find("./ui/tab/label").get("text").startswith('<"Kit"> &  ok')
    assert documents[".xml"].get("name") == '<"Kit"> &  ok'


@pytest.mark.parametrize("bit_depth", [16, 24])
def test_every_sample_resolves_beside_the_preset(kit: Kit, tmp_path: Path, bit_depth: int) -> None:
    preset = write_decent_sampler(kit, tmp_path / "kit", bit_depth)
    samples = ET.parse(preset).getroot().findall("./groups/group/sample")
    assert len(samples) == sum(len(kit_pad.sounds) for kit_pad in kit.pads)
    for sample in samples:
        info = sf.info(str(exact_file(preset.parent, sample.get("path"))))
        assert (info.samplerate, info.subtype, info.channels) == (SAMPLE_RATE, WAV_SUBTYPES[bit_depth], 1)


def test_pads_sit_on_their_notes_as_one_shots(kit: Kit, preset: Path) -> None:
    groups = groups_by_tag(ET.parse(preset).getroot())
    assert list(groups) == [kit_pad.pad.name for kit_pad in kit.pads]
    for kit_pad in kit.pads:
        group = groups[kit_pad.pad.name]
        assert group.get("name") == kit_pad.pad.label
        samples = group.findall("sample")
        assert [sample.get("path") for sample in samples] == [f"samples/{name}" for name in kit_pad.sample_names()]
        note = str(kit_pad.pad.note)
        for sample in samples:
            assert [sample.get(key) for key in ("rootNote", "loNote", "hiNote")] == [note, note, note]
            assert (sample.get("loVel"), sample.get("hiVel"), sample.get("trigger")) == ("1", "127", "attack")
            assert sample.get("ampEnvEnabled") == "false"


def test_round_robins_take_turns(kit: Kit, preset: Path) -> None:
    groups = groups_by_tag(ET.parse(preset).getroot())
    for kit_pad in kit.pads:
        group = groups[kit_pad.pad.name]
        positions = [sample.get("seqPosition") for sample in group.findall("sample")]
        if len(kit_pad.sounds) == 1:
            assert group.get("seqMode") is None and positions == [None]
            continue
        assert (group.get("seqMode"), group.get("seqLength")) == ("round_robin", str(len(kit_pad.sounds)))
        assert positions == [str(k + 1) for k in range(len(kit_pad.sounds))]
    assert len(groups["kick"].findall("sample")) == 3


def test_closed_and_pedal_hats_choke_the_open_hat_only(preset: Path) -> None:
    groups = groups_by_tag(ET.parse(preset).getroot())
    open_hat, closed_hat, pedal_hat, kick = (groups[name] for name in ("open_hat", "closed_hat", "pedal_hat", "kick"))
    assert set(open_hat.get("silencedByTags").split(",")) == {"closed_hat", "pedal_hat"}
    assert open_hat.get("silencingMode") == "fast"
    assert silences(closed_hat, open_hat) and silences(pedal_hat, open_hat)
    for hit in groups.values():
        for ringing in (closed_hat, pedal_hat, kick):
            assert not silences(hit, ringing)
    assert not silences(open_hat, open_hat) and not silences(kick, open_hat)


def test_library_is_a_zip_of_one_folder_with_the_preset_and_its_samples(kit: Kit, tmp_path: Path) -> None:
    path = write_decent_library(kit, tmp_path / "kit.dslibrary", bit_depth=24)
    assert path == tmp_path / "kit.dslibrary" and os.listdir(tmp_path) == ["kit.dslibrary"]
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        top = "Ölkit_Bäss_ドラム"
        assert all(name.startswith(f"{top}/") for name in names)
        presets = [name for name in names if name.endswith(".dspreset")]
        assert presets == [f"{top}/{top}.dspreset"]
        samples = ET.fromstring(archive.read(presets[0])).findall("./groups/group/sample")
        assert len(samples) == sum(len(kit_pad.sounds) for kit_pad in kit.pads)
        for sample in samples:
            audio, rate = sf.read(io.BytesIO(archive.read(f"{top}/{sample.get('path')}")))
            assert rate == SAMPLE_RATE and audio.ndim == 1 and audio.size > 0
        info = ET.fromstring(archive.read(f"{top}/DSLibraryInfo.xml"))
        assert (info.tag, info.get("name")) == ("DecentSamplerLibraryInfo", KIT_NAME)


class Interrupted(Exception):
    """Stands for whatever stops a write halfway: a full disk, a killed job."""


def test_interrupted_library_write_keeps_the_old_one(kit: Kit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_decent_library(kit, tmp_path / "kit.dslibrary")
    before = path.read_bytes()
    write = zipfile.ZipFile.write

    def write_one_then_fail(self: zipfile.ZipFile, *args: object, **kwargs: object) -> None:
        if self.namelist():
            raise Interrupted
        write(self, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "write", write_one_then_fail)
    with pytest.raises(Interrupted):
        write_decent_library(small_kit("Another kit"), path)
    with pytest.raises(Interrupted):
        write_decent_library(kit, tmp_path / "new.dslibrary")
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["kit.dslibrary"]
