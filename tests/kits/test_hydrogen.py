"""Hydrogen kits checked by Hydrogen itself: its XSD, ``h2cli --check``, and a song rendered with the installed kit."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dkvae.core.errors import DkvaeError
from dkvae.kits.hydrogen import KIT_XML, NAMESPACE, kit_folder_name, write_hydrogen
from dkvae.kits.kit import Kit, KitPad, KitSound
from dkvae.kits.layout import HAT_CHOKE_GROUP, pad_named

RATE = 44100
XSD = Path("/usr/share/hydrogen/data/xsd/drumkit.xsd")
H2 = f"{{{NAMESPACE}}}"
#: Each pad's sounds are sine bursts at these frequencies (Hz), one per round robin, so a render tells which played.
FREQUENCIES = {
    "kick": (220.0,),
    "snare": (400.0, 500.0, 600.0),
    "tom_low": (300.0,),
    "closed_hat": (1000.0,),
    "pedal_hat": (1300.0,),
    "open_hat": (1700.0,),
}
KIT_NAME = "Café & <Drums> ✓"
#: Hydrogen's pattern ticks per beat; the test song plays at 120 BPM, so a beat is half a second.
TICKS_PER_BEAT, SECONDS_PER_BEAT = 48, 0.5
#: (beat, pad) of every hit of the test song: the snare's three round robins, the kick, then the
#: open hat choked a quarter beat later by the closed hat.
HITS = ((0, "snare"), (1, "snare"), (2, "snare"), (3, "kick"), (4, "open_hat"), (4.5, "closed_hat"))
H2CLI_TIMEOUT = 60

needs_h2cli = pytest.mark.skipif(
    shutil.which("h2cli") is None, reason="Hydrogen's h2cli is not installed (Debian package hydrogen)"
)


def _burst(frequency: float, seconds: float, decay: float) -> np.ndarray:
    """A sine burst, decaying `decay` per second, as float32."""
    time = np.arange(round(seconds * RATE)) / RATE
    return (0.8 * np.sin(2 * np.pi * frequency * time) * np.exp(-decay * time)).astype(np.float32)


def _make_kit() -> Kit:
    pads = []
    for name, frequencies in FREQUENCIES.items():
        # The open hat rings long enough that only a choke silences it before the next beat.
        seconds, decay = (2.0, 1.0) if name == "open_hat" else (0.25, 8.0)
        sounds = [KitSound(_burst(f, seconds, decay), {"frequency": f}) for f in frequencies]
        pads.append(KitPad(pad_named(name), sounds))
    pads.sort(key=lambda kit_pad: kit_pad.pad.note)
    return Kit(KIT_NAME, RATE, pads, author="Zoë & <co>", license="CC-BY-4.0", info={"seed": 7})


@pytest.fixture(scope="module")
def kit() -> Kit:
    return _make_kit()


@pytest.fixture(scope="module")
def archive(kit: Kit, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_hydrogen(kit, tmp_path_factory.mktemp("out") / "kit.h2drumkit")


def _members(path: Path) -> dict[str, bytes]:
    """The files of the archive at `path`, by name."""
    with tarfile.open(path) as tar:
        return {member.name: tar.extractfile(member).read() for member in tar.getmembers() if member.isfile()}


def _kit_xml(path: Path) -> ET.Element:
    return ET.fromstring(_members(path)[f"{kit_folder_name(KIT_NAME)}/{KIT_XML}"])


def _text(element: ET.Element, tag: str) -> str:
    return element.find(H2 + tag).text or ""


def test_archive_is_one_flat_kit_folder(archive: Path) -> None:
    folder = kit_folder_name(KIT_NAME)
    assert folder == "Caf__Drums_"  # Hydrogen's own rule for a kit's folder
    names = set(_members(archive))
    assert {name.split("/")[0] for name in names} == {folder}
    assert all(name.count("/") == 1 for name in names)
    assert f"{folder}/{KIT_XML}" in names


def test_drumkit_xml_reads_back(kit: Kit, archive: Path) -> None:
    root = _kit_xml(archive)
    assert (_text(root, "name"), _text(root, "author"), _text(root, "license")) == (KIT_NAME, kit.author, kit.license)
    assert "seed: 7" in _text(root, "info")
    instruments = root.findall(f"{H2}instrumentList/{H2}instrument")
    assert [int(_text(instrument, "id")) for instrument in instruments] == list(range(len(kit.pads)))
    for instrument, kit_pad in zip(instruments, kit.pads):
        pad = kit_pad.pad
        assert _text(instrument, "name") == pad.label
        assert int(_text(instrument, "midiOutNote")) == pad.note
        assert int(_text(instrument, "muteGroup")) == (pad.choke_group or -1)
        layers = instrument.findall(f"{H2}instrumentComponent/{H2}layer")
        assert len(layers) == len(kit_pad.sounds)
        assert all((_text(layer, "min"), _text(layer, "max")) == ("0", "1") for layer in layers)
        expected_algorithm = "ROUND_ROBIN" if len(kit_pad.sounds) > 1 else "VELOCITY"
        assert _text(instrument, "sampleSelectionAlgo") == expected_algorithm


def test_samples_and_sidecars_travel_in_the_archive(kit: Kit, archive: Path, tmp_path: Path) -> None:
    members = _members(archive)
    folder = kit_folder_name(KIT_NAME)
    instruments = _kit_xml(archive).findall(f"{H2}instrumentList/{H2}instrument")
    for instrument, kit_pad in zip(instruments, kit.pads):
        files = [_text(layer, "filename") for layer in instrument.iter(H2 + "layer")]
        for file, sound in zip(files, kit_pad.sounds):
            assert f"{folder}/{Path(file).with_suffix('.json')}" in members
            wav = tmp_path / file
            wav.write_bytes(members[f"{folder}/{file}"])
            audio, rate = sf.read(wav, dtype="float32")
            assert rate == RATE
            np.testing.assert_allclose(audio, sound.audio, atol=1e-4)


def test_hats_share_one_mute_group(archive: Path) -> None:
    groups = {_text(i, "name"): int(_text(i, "muteGroup")) for i in _kit_xml(archive).iter(H2 + "instrument")}
    hats = {groups.pop(label) for label in ("Closed Hat", "Pedal Hat", "Open Hat")}
    assert hats == {HAT_CHOKE_GROUP}
    assert set(groups.values()) == {-1}


def test_a_name_without_folder_characters_uses_the_fallback_folder(tmp_path: Path) -> None:
    kit = _make_kit()
    kit.name = "ドラム\x01"  # no character Hydrogen keeps in a folder name, and one XML cannot hold
    root = ET.fromstring(_members(write_hydrogen(kit, tmp_path / "k.h2drumkit"))[f"dkvae_kit/{KIT_XML}"])
    assert _text(root, "name") == "ドラム"


@pytest.mark.skipif(not XSD.exists(), reason="Hydrogen's drumkit.xsd is not installed (Debian package hydrogen-data)")
@pytest.mark.skipif(shutil.which("xmllint") is None, reason="xmllint is not installed (Debian package libxml2-utils)")
def test_drumkit_xml_is_valid_against_hydrogens_xsd(archive: Path, tmp_path: Path) -> None:
    xml = tmp_path / KIT_XML
    xml.write_bytes(_members(archive)[f"{kit_folder_name(KIT_NAME)}/{KIT_XML}"])
    result = subprocess.run(
        ["xmllint", "--noout", "--schema", str(XSD), str(xml)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "validates" in result.stderr


def test_too_many_round_robins_for_hydrogen_are_refused(tmp_path: Path) -> None:
    kit = _make_kit()
    kit.pads[0].sounds *= 17
    with pytest.raises(DkvaeError, match="at most 16"):
        write_hydrogen(kit, tmp_path / "k.h2drumkit")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("previous", [False, True], ids=["new", "replacing"])
def test_interrupted_write_leaves_nothing_behind(
    previous: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, scratch = tmp_path / "out", tmp_path / "scratch"
    out.mkdir()
    scratch.mkdir()
    path = out / "kit.h2drumkit"
    if previous:
        path.write_bytes(b"previous kit")
    add_file = tarfile.TarFile.addfile
    calls = []

    def fail_midway(self: tarfile.TarFile, *args: object, **kwargs: object) -> None:
        calls.append(1)
        if len(calls) == 4:
            raise OSError("disk full")
        add_file(self, *args, **kwargs)

    monkeypatch.setattr(tarfile.TarFile, "addfile", fail_midway)
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    with pytest.raises(OSError, match="disk full"):
        write_hydrogen(_make_kit(), path)
    assert len(calls) == 4
    assert [p.name for p in out.iterdir()] == (["kit.h2drumkit"] if previous else [])
    if previous:
        assert path.read_bytes() == b"previous kit"
    assert list(scratch.iterdir()) == []


def _h2cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run h2cli with `home` as its HOME (its preferences, user kits and temporary files stay there)."""
    env = {**os.environ, "HOME": str(home), "TMPDIR": str(home)}
    return subprocess.run(
        ["h2cli", *args], capture_output=True, text=True, env=env, cwd=home, timeout=H2CLI_TIMEOUT, check=False
    )


@pytest.fixture(scope="module")
def h2_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A HOME whose Hydrogen preferences name the null audio driver and no MIDI driver.

    h2cli creates its audio driver even to check a kit; with none named it tries JACK and ALSA first,
    which costs seconds and fails on a machine without a sound card. Exporting a song needs no driver.
    """
    home = tmp_path_factory.mktemp("home")
    (home / ".hydrogen").mkdir()
    preferences = ET.Element("hydrogen_preferences")
    engine = ET.SubElement(preferences, "audio_engine")
    ET.SubElement(engine, "audio_driver").text = "NullDriver"
    ET.SubElement(ET.SubElement(engine, "midi_driver"), "driverName").text = "None"
    ET.ElementTree(preferences).write(home / ".hydrogen" / "hydrogen.conf", encoding="UTF-8", xml_declaration=True)
    return home


def _song(kit: Kit, path: Path) -> Path:
    """A one-pattern Hydrogen song playing `HITS` at 120 BPM on instruments numbered as `kit`'s pads.

    Its instruments have no samples: ``h2cli --drumkit`` puts the kit's instruments in their place.
    """
    song = ET.Element("song")
    for tag, text in (("version", "1.2.0"), ("bpm", "120"), ("volume", "0.5"), ("name", "test"), ("mode", "song")):
        ET.SubElement(song, tag).text = text
    instruments = ET.SubElement(song, "instrumentList")
    for index, kit_pad in enumerate(kit.pads):
        instrument = ET.SubElement(instruments, "instrument")
        ET.SubElement(instrument, "id").text = str(index)
        ET.SubElement(instrument, "name").text = kit_pad.pad.label
        ET.SubElement(ET.SubElement(instrument, "instrumentComponent"), "component_id").text = "0"
    pattern = ET.SubElement(ET.SubElement(song, "patternList"), "pattern")
    ET.SubElement(pattern, "name").text = "hits"
    ET.SubElement(pattern, "size").text = str(8 * TICKS_PER_BEAT)
    ET.SubElement(pattern, "denominator").text = "4"
    notes = ET.SubElement(pattern, "noteList")
    index_of = {kit_pad.pad.name: index for index, kit_pad in enumerate(kit.pads)}
    for beat, pad in HITS:
        note = ET.SubElement(notes, "note")
        ET.SubElement(note, "position").text = str(round(beat * TICKS_PER_BEAT))
        ET.SubElement(note, "velocity").text = "0.8"
        ET.SubElement(note, "instrument").text = str(index_of[pad])
    ET.SubElement(ET.SubElement(ET.SubElement(song, "patternSequence"), "group"), "patternID").text = "hits"
    ET.ElementTree(song).write(path, encoding="UTF-8", xml_declaration=True)
    return path


def _spectrum(audio: np.ndarray, start: float, seconds: float) -> np.ndarray:
    """The magnitude spectrum of `audio` between `start` and `start + seconds`; bin i is ``i / seconds`` Hz."""
    segment = audio[round(start * RATE) : round((start + seconds) * RATE)]
    return np.abs(np.fft.rfft(segment * np.hanning(segment.size)))


def _level(audio: np.ndarray, start: float, seconds: float, frequency: float) -> float:
    """The spectral magnitude of `audio` at `frequency` between `start` and `start + seconds`."""
    return float(_spectrum(audio, start, seconds)[round(frequency * seconds)])


def _dominant(audio: np.ndarray, start: float, seconds: float) -> float:
    """The strongest frequency (Hz) of `audio` between `start` and `start + seconds`."""
    return float(np.argmax(_spectrum(audio, start, seconds)) / seconds)


@needs_h2cli
def test_h2cli_check_says_valid(archive: Path, h2_home: Path) -> None:
    result = _h2cli(h2_home, "--check", str(archive))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Provided drumkit [{archive}] is valid" in result.stdout


@needs_h2cli
def test_h2cli_check_catches_a_broken_kit(archive: Path, h2_home: Path, tmp_path: Path) -> None:
    """The check above means something: without a required element, h2cli calls the kit invalid."""
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "kit", filter="data")
    xml = tmp_path / "kit" / kit_folder_name(KIT_NAME) / KIT_XML
    xml.write_text(xml.read_text(encoding="utf-8").replace("<sampleSelectionAlgo>VELOCITY</sampleSelectionAlgo>", ""))
    broken = tmp_path / "broken.h2drumkit"
    with tarfile.open(broken, "w:gz") as tar:
        tar.add(tmp_path / "kit" / kit_folder_name(KIT_NAME), arcname=kit_folder_name(KIT_NAME))
    result = _h2cli(h2_home, "--check", str(broken))
    assert result.returncode != 0
    assert "is INVALID!" in result.stdout


@needs_h2cli
def test_installed_kit_renders_its_own_samples(kit: Kit, archive: Path, h2_home: Path) -> None:
    installed = _h2cli(h2_home, "--extract", str(archive))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "successfully installed" in installed.stdout
    folder = h2_home / ".hydrogen" / "data" / "drumkits" / kit_folder_name(KIT_NAME)
    assert (folder / KIT_XML).is_file()

    song, out = _song(kit, h2_home / "test.h2song"), h2_home / "render.wav"
    rendered = _h2cli(h2_home, "--song", str(song), "--drumkit", kit_folder_name(KIT_NAME), "--outfile", str(out))
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr
    audio, rate = sf.read(out, dtype="float32")
    assert rate == RATE
    audio = audio.mean(axis=1)
    assert np.abs(audio).max() > 0.05

    # Each snare hit plays the next round robin (Hydrogen starts the cycle at the second layer).
    snares = [_dominant(audio, beat * SECONDS_PER_BEAT, 0.2) for beat, pad in HITS if pad == "snare"]
    expected = FREQUENCIES["snare"]
    assert any(np.allclose(snares, expected[shift:] + expected[:shift], atol=10) for shift in range(len(expected))), (
        snares
    )
    assert _dominant(audio, 3 * SECONDS_PER_BEAT, 0.2) == pytest.approx(FREQUENCIES["kick"][0], abs=10)

    # The closed hat chokes the ringing open hat: they share Hydrogen's mute group.
    open_hat, closed_at = FREQUENCIES["open_hat"][0], 4.5 * SECONDS_PER_BEAT
    before = _level(audio, closed_at - 0.15, 0.1, open_hat)
    after = _level(audio, closed_at + 0.05, 0.1, open_hat)
    assert after < 0.1 * before
