"""Tests for exporting a kit: every format into one folder, all or nothing, never over a user's own files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

import dkvae.kits.export
import dkvae.kits.kit
from dkvae.cli import app
from dkvae.core.errors import DkvaeError
from dkvae.core.names import safe_name
from dkvae.kits.export import KIT_MARKER, export_kit
from dkvae.kits.kit import Kit, KitPad, KitSound
from dkvae.kits.layout import PADS

RATE = 44100


@pytest.fixture
def kit() -> Kit:
    """A kit of decaying sines, two round robins on the snare, and a name no file system likes as is."""
    t = np.arange(RATE // 5) / RATE
    pads = []
    for index, pad in enumerate(PADS):
        count = 2 if pad.name == "snare" else 1
        sounds = [
            KitSound(
                (0.5 * np.sin(2 * np.pi * (100 + 50 * index + 7 * k) * t) * np.exp(-t / 0.05)).astype(np.float32),
                {"k": k},
            )
            for k in range(count)
        ]
        pads.append(KitPad(pad, sounds))
    return Kit("Röck & Roll: 1/2", RATE, pads)


def listing(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def test_all_formats_share_one_samples_folder_with_the_demo_beside_them(kit, tmp_path) -> None:
    out = tmp_path / "kit"
    written = export_kit(kit, out, "all", bit_depth=24, demo=True)
    stem = safe_name(kit.name)
    assert stem == "Röck_Roll_1_2"
    names = {path.name for path in written}
    assert names == {
        "kit.json",
        "kit.sfz",
        f"{stem}.dspreset",
        f"{stem}.dslibrary",
        f"{stem}.h2drumkit",
        f"{stem}.sf2",
        "demo.wav",
        "demo.mid",
    }
    assert all(path.exists() for path in written)
    document = json.loads((out / "kit.json").read_text(encoding="utf-8"))
    assert document["name"] == kit.name and [p["note"] for p in document["pads"]] == [pad.note for pad in PADS]
    snare = next(p for p in document["pads"] if p["name"] == "snare")
    assert snare["samples"] == ["samples/38_snare.wav", "samples/38_snare_rr2.wav"]
    for pad in document["pads"]:
        for sample in pad["samples"]:
            assert sf.info(out / sample).subtype == "PCM_24"
            assert json.loads((out / sample).with_suffix(".json").read_text())["bit_depth"] == 24
    assert (out / KIT_MARKER).exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_the_shared_samples_folder_is_written_once_and_each_archive_packs_its_own(kit, tmp_path, monkeypatch) -> None:
    written = []
    original = dkvae.kits.kit.write_wav
    monkeypatch.setattr(
        dkvae.kits.kit, "write_wav", lambda path, *a, **k: written.append(path) or original(path, *a, **k)
    )
    export_kit(kit, tmp_path / "kit", "all")
    sounds = sum(len(kit_pad.sounds) for kit_pad in kit.pads)
    assert len(written) == 3 * sounds  # samples/ once, then one copy inside the .dslibrary and the .h2drumkit


def test_a_forced_export_replaces_a_previous_kit_completely(kit, tmp_path) -> None:
    out = tmp_path / "kit"
    export_kit(kit, out, "all")
    kit.pads = kit.pads[:2]
    export_kit(kit, out, "wav", force=True)
    assert listing(out) == sorted(
        [KIT_MARKER, "kit.json", "samples"]
        + [f"samples/{n}.{e}" for n in ("36_kick", "37_rim") for e in ("wav", "json")]
    )


def test_an_earlier_kit_is_kept_unless_the_export_is_forced(kit, tmp_path) -> None:
    out = tmp_path / "kit"
    export_kit(kit, out, "all", demo=True)
    before = listing(out)
    with pytest.raises(DkvaeError, match=r"holds an earlier kit .*--force"):
        export_kit(kit, out, "wav")
    assert listing(out) == before
    archive = tmp_path / "kit.h2drumkit"
    export_kit(kit, archive)
    written = archive.read_bytes()
    with pytest.raises(DkvaeError, match=r"kit.h2drumkit exists.*--force"):
        export_kit(kit, archive)
    assert archive.read_bytes() == written
    export_kit(kit, out, "wav", force=True)
    assert len(listing(out)) < len(before)


def test_a_folder_of_the_users_own_files_is_never_replaced(kit, tmp_path) -> None:
    out = tmp_path / "my music"
    out.mkdir()
    (out / "song.wav").write_bytes(b"mine")
    with pytest.raises(DkvaeError, match="did not write"):
        export_kit(kit, out, "wav")
    (tmp_path / "file").write_text("x")
    with pytest.raises(DkvaeError, match="not a folder"):
        export_kit(kit, tmp_path / "file", "wav")
    with pytest.raises(DkvaeError, match="did not write"):
        export_kit(kit, out, "wav", force=True)
    assert listing(out) == ["song.wav"] and (tmp_path / "file").read_text() == "x"


def test_an_interrupted_export_leaves_the_previous_kit_and_no_half_kit(kit, tmp_path, monkeypatch) -> None:
    out = tmp_path / "kit"
    export_kit(kit, out, "sfz")
    before = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}

    def fail(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(dkvae.kits.export, "write_hydrogen", fail)
    with pytest.raises(OSError, match="No space"):
        export_kit(kit, out, "all", force=True)
    assert {path: path.read_bytes() for path in out.rglob("*") if path.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kit"]
    with pytest.raises(OSError, match="No space"):
        export_kit(kit, tmp_path / "new", "all")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kit"]


def test_a_single_archive_goes_where_it_is_asked_with_its_demo_beside(kit, tmp_path) -> None:
    written = export_kit(kit, tmp_path / "out" / "My Kit.h2drumkit", "hydrogen", demo=True)
    assert [p.name for p in written] == ["My Kit.h2drumkit", "My Kit-demo.wav", "My Kit-demo.mid"]
    written = export_kit(kit, tmp_path / "out" / "My Kit.dslibrary", "decentsampler")
    written = export_kit(kit, tmp_path / "out" / "My Kit.sf2", "sf2")
    assert [p.name for p in written] == ["My Kit.sf2"] and written[0].read_bytes()[8:12] == b"sfbk"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "My Kit-demo.mid", "My Kit-demo.wav", "My Kit.dslibrary", "My Kit.h2drumkit", "My Kit.sf2"
    ]  # fmt: skip
    with pytest.raises(DkvaeError, match="unknown kit format 'mp3'"):
        export_kit(kit, tmp_path / "x", "mp3")


def test_the_format_follows_the_out_paths_extension(kit, tmp_path) -> None:
    assert [p.name for p in export_kit(kit, tmp_path / "a.h2drumkit")] == ["a.h2drumkit"]
    assert (tmp_path / "a.h2drumkit").is_file()
    export_kit(kit, tmp_path / "b.SF2")
    assert (tmp_path / "b.SF2").read_bytes()[8:12] == b"sfbk"
    assert export_kit(kit, tmp_path / "c.dslibrary")[0].is_file()
    sfz = export_kit(kit, tmp_path / "d.sfz")
    assert sfz == [tmp_path / "d" / "kit.sfz"] and sfz[0].is_file() and (tmp_path / "d" / "samples").is_dir()
    preset = export_kit(kit, tmp_path / "e.dspreset")
    assert preset[0] == tmp_path / "e" / f"{safe_name(kit.name)}.dspreset" and preset[0].is_file()
    assert not (tmp_path / "d.sfz").exists() and not (tmp_path / "e.dspreset").exists()
    assert export_kit(kit, tmp_path / "f") == [tmp_path / "f" / "kit.json"]
    for name, fmt in (("x.h2drumkit", "wav"), ("x.sf2", "all"), ("x.sfz", "hydrogen"), ("x.dslibrary", "sf2")):
        with pytest.raises(DkvaeError, match=rf"{name} ends in \.{name.split('.')[1]}, .*not --format {fmt}"):
            export_kit(kit, tmp_path / name, fmt)
        assert not (tmp_path / name).exists() and not (tmp_path / "x").exists()


def test_the_kit_command_refuses_to_replace_an_earlier_kit_without_force(tmp_path) -> None:
    from ..test_cli import run_dkvae

    out = tmp_path / "Y"
    first = CliRunner().invoke(app, ["kit", "--seed", "3", "--format", "all", "--demo", "--out", str(out)])
    assert first.exit_code == 0, first.output
    before = listing(out)
    again = run_dkvae("kit", "--seed", "3", "--out", str(out))
    assert again.returncode == 2 and "--force" in again.stderr and "Traceback" not in again.stderr
    assert again.stderr.count("\n") == 1 and listing(out) == before
    forced = CliRunner().invoke(app, ["kit", "--seed", "3", "--out", str(out), "--force"])
    assert forced.exit_code == 0, forced.output
    assert "kit.sfz" not in listing(out) and "kit.json" in listing(out)
    archive = CliRunner().invoke(app, ["kit", "--seed", "3", "--out", str(tmp_path / "new.h2drumkit")])
    assert archive.exit_code == 0, archive.output
    assert (tmp_path / "new.h2drumkit").is_file()
    wrong = run_dkvae("kit", "--format", "sfz", "--out", str(tmp_path / "other.sf2"))
    assert wrong.returncode == 2 and "--format" in wrong.stderr and not (tmp_path / "other.sf2").exists()


def test_the_kit_command_writes_every_format_with_round_robins_and_a_demo(tmp_path) -> None:
    out = tmp_path / "kit3"
    arguments = [
        "kit",
        "--seed",
        "3",
        "--format",
        "all",
        "--round-robin",
        "2",
        "--demo",
        "--name",
        "DKVAE 3",
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    assert "14 pads, 28 sounds" in result.output
    assert {p.name for p in out.iterdir()} >= {
        "kit.json",
        "kit.sfz",
        "DKVAE_3.h2drumkit",
        "DKVAE_3.dspreset",
        "DKVAE_3.sf2",
        "demo.wav",
    }
    assert len(list((out / "samples").glob("*_rr2.wav"))) == 14
