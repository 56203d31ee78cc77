"""SFZ kits: checked by sfzlint, and read back by the project's own SFZ parser the way a player reads them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from dkvae.core.errors import DkvaeError
from dkvae.importers.sfz import Region, key_range, parse_sfz, sample_path
from dkvae.kits.kit import Kit, KitPad, KitSound
from dkvae.kits.layout import pad_named
from dkvae.kits.sfz import write_sfz
from dkvae.sound.wav import WAV_SUBTYPES

from ..conftest import drum_hit

SAMPLE_RATE = 44100
KIT_NAME = "Ölkit & Bäss ドラム"
#: Pad name -> (kind of test sound, how many round robins).
KIT_SOUNDS = {
    "kick": ("tone", 3),
    "snare": ("noise", 1),
    "closed_hat": ("noise", 1),
    "pedal_hat": ("noise", 2),
    "open_hat": ("noise", 1),
}

#: sfzlint from the running environment first: `make test` runs the venv's python without the venv on PATH.
SFZLINT = shutil.which("sfzlint", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
needs_sfzlint = pytest.mark.skipif(SFZLINT is None, reason="sfzlint is not installed (pip install sfzlint)")
#: sfzlint's line for each problem: ``path:line:column:E|W message``.
SFZLINT_PROBLEM = re.compile(r"^.+:\d+:\d+:[EW] .+$")


def small_kit(name: str = KIT_NAME) -> Kit:
    """A real little kit at 44.1 kHz: a kick with three round robins, a snare, and the three hats."""
    pads = []
    for index, (pad_name, (kind, count)) in enumerate(KIT_SOUNDS.items()):
        pad = pad_named(pad_name)
        seeds = [10 * index + take for take in range(count)]
        sounds = [
            KitSound(drum_hit(kind, 0.2, SAMPLE_RATE, seed), {"instrument": pad.instrument, "seed": seed})
            for seed in seeds
        ]
        pads.append(KitPad(pad, sounds))
    return Kit(name, SAMPLE_RATE, sorted(pads, key=lambda kit_pad: kit_pad.pad.note))


def sfzlint(path: Path) -> list[str]:
    """The problems sfzlint finds in the SFZ file at `path`, one line each (it exits 0 either way)."""
    assert SFZLINT is not None
    result = subprocess.run(
        [SFZLINT, "--no-pickle", str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONUTF8": "1"},  # sfzlint opens files in the locale's encoding
        timeout=120,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return [line for line in result.stdout.splitlines() if line.strip()]


def regions_by_note(path: Path) -> dict[int, list[Region]]:
    """The regions of the SFZ file at `path`, by the single key that plays them."""
    by_note: dict[int, list[Region]] = {}
    for region in parse_sfz(path).regions:
        keys = key_range(region)
        assert keys is not None and keys[0] == keys[1], region.opcodes
        by_note.setdefault(keys[0], []).append(region)
    return by_note


def silences(hit: Region, ringing: Region) -> bool:
    """Whether playing `hit` stops `ringing` (SFZ: a new region whose ``group`` is the other's ``off_by``)."""
    off_by = ringing.opcodes.get("off_by", "0")
    return off_by != "0" and hit.opcodes.get("group", "0") == off_by


@pytest.fixture(scope="module")
def kit() -> Kit:
    return small_kit()


@pytest.fixture(scope="module")
def written(kit: Kit, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sfz(kit, tmp_path_factory.mktemp("sfz") / "kit")


@needs_sfzlint
def test_sfzlint_finds_nothing_wrong(written: Path) -> None:
    assert sfzlint(written) == []


@needs_sfzlint
def test_sfzlint_reports_a_broken_kit(kit: Kit, tmp_path: Path) -> None:
    """The check above can fail: sfzlint flags a missing sample and a wrong opcode value in a broken copy."""
    path = write_sfz(kit, tmp_path / "broken")
    (path.parent / "samples" / "38_snare.wav").unlink()
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("loop_mode=one_shot", "loop_mode=sometimes"), encoding="utf-8")
    problems = sfzlint(path)
    assert problems and all(SFZLINT_PROBLEM.match(line) for line in problems), problems
    assert any("file not found" in line and "38_snare.wav" in line for line in problems), problems
    assert any("loop_mode" in line for line in problems), problems


@pytest.mark.parametrize("bit_depth", [16, 24])
def test_every_sample_exists_at_the_kit_rate_and_depth(kit: Kit, tmp_path: Path, bit_depth: int) -> None:
    path = write_sfz(kit, tmp_path / "kit", bit_depth)
    regions = parse_sfz(path).regions
    assert len(regions) == sum(len(kit_pad.sounds) for kit_pad in kit.pads)
    for region in regions:
        assert "\\" not in region.opcodes["sample"]
        info = sf.info(str(sample_path(region, path)))
        assert (info.samplerate, info.subtype, info.channels) == (SAMPLE_RATE, WAV_SUBTYPES[bit_depth], 1)


def test_pads_sit_on_their_notes_as_one_shots(kit: Kit, written: Path) -> None:
    by_note = regions_by_note(written)
    assert sorted(by_note) == [kit_pad.pad.note for kit_pad in kit.pads]
    for kit_pad in kit.pads:
        regions = by_note[kit_pad.pad.note]
        assert len(regions) == len(kit_pad.sounds)
        for region, name in zip(regions, kit_pad.sample_names()):
            assert region.opcodes["pitch_keycenter"] == str(kit_pad.pad.note)
            assert region.opcodes["loop_mode"] == "one_shot"
            assert region.opcodes["sample"] == f"samples/{name}"
            assert region.opcodes["group_label"] == kit_pad.pad.label


def test_round_robins_take_turns(kit: Kit, written: Path) -> None:
    by_note = regions_by_note(written)
    for kit_pad in kit.pads:
        regions = by_note[kit_pad.pad.note]
        if len(kit_pad.sounds) == 1:
            assert "seq_length" not in regions[0].opcodes and "seq_position" not in regions[0].opcodes
            continue
        assert {region.opcodes["seq_length"] for region in regions} == {str(len(kit_pad.sounds))}
        assert [region.opcodes["seq_position"] for region in regions] == [str(k + 1) for k in range(len(regions))]
    assert len(by_note[pad_named("kick").note]) == 3


def test_closed_and_pedal_hats_choke_the_open_hat_only(written: Path) -> None:
    by_note = regions_by_note(written)
    open_hat, closed_hat, pedal_hat, kick = (
        by_note[pad_named(name).note][0] for name in ("open_hat", "closed_hat", "pedal_hat", "kick")
    )
    assert silences(closed_hat, open_hat) and silences(pedal_hat, open_hat)
    assert open_hat.opcodes["off_mode"] == "fast"
    assert open_hat.opcodes["group"] not in ("0", closed_hat.opcodes["group"])
    for hit in (open_hat, closed_hat, pedal_hat, kick):
        for ringing in (closed_hat, pedal_hat, kick):
            assert not silences(hit, ringing)
    assert not silences(open_hat, open_hat) and not silences(kick, open_hat)
    assert "group" not in kick.opcodes and "off_by" not in kick.opcodes


def test_header_names_the_kit_in_utf8(written: Path) -> None:
    lines = written.read_bytes().decode("utf-8").splitlines()
    assert lines[0] == f"// {KIT_NAME}"
    assert "dkvae" in lines[1] and "CC0-1.0" in lines[1]


def test_a_kit_name_cannot_add_opcodes(tmp_path: Path) -> None:
    """A name is one comment line: line breaks in it cannot start a header or an opcode."""
    path = write_sfz(small_kit("Evil\n<region> sample=evil.wav\r\nkey=1\u2028lokey=2"), tmp_path / "kit")
    assert len(parse_sfz(path).regions) == sum(count for _, count in KIT_SOUNDS.values())
    assert path.read_text(encoding="utf-8").splitlines()[0] == "// Evil <region> sample=evil.wav key=1 lokey=2"


def test_refuses_a_bit_depth_before_writing(kit: Kit, tmp_path: Path) -> None:
    with pytest.raises(DkvaeError, match="bit depth"):
        write_sfz(kit, tmp_path / "kit", bit_depth=12)
    assert not (tmp_path / "kit").exists()
