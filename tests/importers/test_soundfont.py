"""Tests for the SoundFont importer: parsing and kit detection on tiny hand-built files; real fonts where installed."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from dkvae.core.errors import DkvaeError
from dkvae.importers import soundfont
from dkvae.importers.soundfont import (
    DRUM_BANK,
    MAX_RENDER_SECONDS,
    MIN_KIT_SAMPLES,
    RENDER_SAMPLE_RATE,
    Preset,
    drum_presets,
    has_kit_layout,
    import_soundfont,
    is_drum_preset,
    key_class,
    key_instrument,
    parse_presets,
    read_presets,
)

SF2_DIR = Path("/usr/share/sounds/sf2")
TIMGM = SF2_DIR / "TimGM6mb.sf2"
needs_timgm = pytest.mark.skipif(not TIMGM.is_file(), reason="timgm6mb-soundfont is not installed")
#: Debian's avldrums.lv2-soundfont: one kit each, in bank 0 program 0, found only by its key layout.
AVL_FONTS = {"Black_Pearl_4_LV2.sf2": "Black_Pearl_4pc", "Red_Zeppelin_4_LV2.sf2": "Red_Zeppelin_4pc"}
#: General MIDI fonts whose only kits are in bank 128 (csound's sf_GMbank and TimGM6mb).
GM_FONTS = ["sf_GMbank.sf2", "TimGM6mb.sf2"]

#: An instrument zone: (low key, high key, sample name); keys None: no key range; sample None: a global zone.
InstrumentZone = tuple["int | None", "int | None", "str | None"]


def chunk(chunk_id: bytes, body: bytes) -> bytes:
    """One RIFF chunk, padded to an even size."""
    return chunk_id + struct.pack("<I", len(body)) + body + b"\0" * (len(body) & 1)


def generator(operator: int, amount: int) -> bytes:
    """One ``pgen``/``igen`` record."""
    return struct.pack("<HH", operator, amount)


def key_range(low: int, high: int) -> bytes:
    """A key range generator (43): low key in the low byte, high key in the high byte."""
    return generator(43, low | high << 8)


def pdta_chunks(
    presets: list[tuple[str, int, int]],
    zones: Mapping[str, list[InstrumentZone]],
    preset_ranges: Mapping[str, tuple[int, int]],
) -> dict[bytes, bytes]:
    """The ``pdta`` chunk bodies of `presets` (name, bank, program), each ending with its terminal record.

    Each preset has one zone (key range from `preset_ranges`, if given) playing its own instrument,
    whose zones are ``zones[name]``; zones naming the same sample share one sample header.
    """
    samples = sorted({sample for instrument in zones.values() for *_, sample in instrument if sample})
    phdr, pbag, pgen, inst, ibag, igen = (bytearray() for _ in range(6))
    for index, (name, bank, program) in enumerate(presets):
        phdr += struct.pack("<20sHHHIII", name.encode("latin-1"), program, bank, index, 0, 0, 0)
        pbag += struct.pack("<HH", len(pgen) // 4, 0)
        if name in preset_ranges:
            pgen += key_range(*preset_ranges[name])
        pgen += generator(41, index)
        inst += struct.pack("<20sH", name.encode("latin-1"), len(ibag) // 4)
        for low, high, sample in zones.get(name, []):
            ibag += struct.pack("<HH", len(igen) // 4, 0)
            if low is not None and high is not None:
                igen += key_range(low, high)
            if sample is not None:
                igen += generator(53, samples.index(sample))
    phdr += struct.pack("<20sHHHIII", b"EOP", 255, 255, len(presets), 0, 0, 0)
    pbag += struct.pack("<HH", len(pgen) // 4, 0)
    inst += struct.pack("<20sH", b"EOI", len(ibag) // 4)
    ibag += struct.pack("<HH", len(igen) // 4, 0)
    shdr = b"".join(struct.pack("<20sIIIIIBbHH", name.encode(), 0, 0, 0, 0, 44100, 60, 0, 0, 1) for name in samples)
    return {
        b"phdr": bytes(phdr),
        b"pbag": bytes(pbag),
        b"pmod": b"\0" * 10,
        b"pgen": bytes(pgen) + generator(0, 0),
        b"inst": bytes(inst),
        b"ibag": bytes(ibag),
        b"imod": b"\0" * 10,
        b"igen": bytes(igen) + generator(0, 0),
        b"shdr": shdr + struct.pack("<20sIIIIIBbHH", b"EOS", 0, 0, 0, 0, 0, 0, 0, 0, 0),
    }


def tiny_sf2(
    presets: list[tuple[str, int, int]],
    zones: Mapping[str, list[InstrumentZone]] | None = None,
    preset_ranges: Mapping[str, tuple[int, int]] | None = None,
    replace: Mapping[bytes, bytes | None] | None = None,
) -> bytes:
    """A SoundFont without sample data: INFO (version, odd-sized name), an empty sdta, and pdta.

    `replace` swaps ``pdta`` chunk bodies (None leaves the chunk out), to build corrupt files.
    """
    info = chunk(b"LIST", b"INFO" + chunk(b"ifil", struct.pack("<HH", 2, 1)) + chunk(b"INAM", b"tiny"))
    sdta = chunk(b"LIST", b"sdta")
    bodies = {**pdta_chunks(presets, zones or {}, preset_ranges or {}), **(replace or {})}
    pdta = chunk(b"LIST", b"pdta" + b"".join(chunk(key, body) for key, body in bodies.items() if body is not None))
    return chunk(b"RIFF", b"sfbk" + info + sdta + pdta)


def kit_zones(keys: range, prefix: str = "Drum") -> list[InstrumentZone]:
    """A kit's instrument zones: one sample per key, each on its key alone."""
    return [(key, key, f"{key}-{prefix}") for key in keys]


#: A piano-like layout: a few narrow zones in the percussion keys, more samples stretched wide.
PIANO_ZONES: list[InstrumentZone] = [
    *kit_zones(range(40, 46), "Piano"),
    *[(low, low + 11, f"Piano wide {low}") for low in range(21, 117, 12)],
]


# --- the preset parser ---------------------------------------------------------------------------


def test_parse_presets_reads_names_banks_and_programs() -> None:
    data = tiny_sf2([("Piano", 0, 0), ("Standard", 128, 0), ("Brush Kit", 128, 40)])
    assert parse_presets(data) == [Preset("Piano", 0, 0), Preset("Standard", 128, 0), Preset("Brush Kit", 128, 40)]


def test_parse_presets_names_unnamed_presets() -> None:
    assert parse_presets(tiny_sf2([("", 128, 8)])) == [Preset("preset 128:8", 128, 8)]


def test_parse_presets_reads_each_presets_key_layout() -> None:
    zones = {
        "Kit": [*kit_zones(range(36, 44)), (30, 31, "Low"), (36, 36, "36-Drum")],  # 30..31: outside 35..81
        "Piano": PIANO_ZONES,
        "Cut": [(0, 127, "Whole keyboard")],
        "Global": [(60, 60, None), (None, None, "Default")],  # the global zone's range is the default
    }
    data = tiny_sf2([("Kit", 0, 0), ("Piano", 0, 1), ("Cut", 0, 2), ("Global", 0, 3)], zones, {"Cut": (50, 51)})
    kit, piano, cut, global_range = parse_presets(data)
    assert (kit.narrow_samples, kit.wide_samples) == (8, 0)  # "36-Drum" twice is one sample
    assert kit.key_samples[36] == {"36-Drum"} and 30 not in kit.key_samples and 44 not in kit.key_samples
    assert (piano.narrow_samples, piano.wide_samples) == (6, 8)
    assert (cut.narrow_samples, cut.wide_samples) == (1, 0)  # the preset zone cuts 0..127 to 50..51
    assert cut.key_samples == {50: {"Whole keyboard"}, 51: {"Whole keyboard"}}
    assert (global_range.narrow_samples, global_range.wide_samples) == (1, 0)


def test_a_kit_is_found_by_its_key_layout() -> None:
    zones = {
        "Black Pearl": kit_zones(range(36, 36 + MIN_KIT_SAMPLES)),
        "Few Keys": kit_zones(range(36, 36 + MIN_KIT_SAMPLES - 1)),
        "Piano": PIANO_ZONES,
        "Organ": [(0, 127, "Organ")],
    }
    data = tiny_sf2([(name, 0, program) for program, name in enumerate(zones)], zones)
    presets = parse_presets(data)
    assert [preset.name for preset in presets if has_kit_layout(preset)] == ["Black Pearl"]
    assert [preset.name for preset in drum_presets(presets, "Black_Pearl_4_LV2")] == ["Black Pearl"]
    # A melodic font falls back to no kit rather than to all its presets.
    assert drum_presets(presets[2:], "Strings") == []


#: Preset headers whose bag indices go back: preset "A" starts at bag 1, preset "B" at bag 0.
UNORDERED_PHDR = b"".join(
    struct.pack("<20sHHHIII", name, 0, 0, bag, 0, 0, 0) for name, bag in [(b"A", 1), (b"B", 0), (b"EOP", 2)]
)
#: The terminal generator record.
END = generator(0, 0)
KIT = {"Kit": kit_zones(range(36, 38))}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not a SoundFont"),
        (b"RIFF\x04\x00\x00\x00WAVE", "not a SoundFont"),
        (chunk(b"RIFF", b"sfbk" + chunk(b"LIST", b"INFO")), "no preset data"),
        (chunk(b"RIFF", b"sfbk" + chunk(b"LIST", b"pdta" + chunk(b"pbag", b"\0" * 4))), "no preset headers"),
        (tiny_sf2([], replace={b"phdr": b"\0" * 50}), "malformed preset headers"),
        (tiny_sf2([("Standard", 128, 0)])[:-20], "truncated"),
        (tiny_sf2([("Kit", 0, 0)], replace={b"igen": None}), "no 'igen' chunk"),
        (tiny_sf2([("Kit", 0, 0)], replace={b"pgen": b"\0" * 6}), "malformed 'pgen' chunk of 6 bytes"),
        (tiny_sf2([("Kit", 0, 0)], replace={b"shdr": b""}), "malformed 'shdr' chunk of 0 bytes"),
        (tiny_sf2([("A", 0, 0), ("B", 0, 1)], replace={b"phdr": UNORDERED_PHDR}), "preset bag indices"),
        (tiny_sf2([("Kit", 0, 0)], KIT, replace={b"ibag": struct.pack("<6H", 0, 0, 99, 0, 4, 0)}), "generator indices"),
        (tiny_sf2([("Kit", 0, 0)], replace={b"pgen": generator(41, 7) + END}), "instrument that does not exist"),
        (tiny_sf2([("Kit", 0, 0)], KIT, replace={b"igen": 3 * END + generator(53, 9) + END}), "sample that does not"),
    ],
    ids=lambda value: value if isinstance(value, str) else "font",
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
    corrupt.write_bytes(tiny_sf2([("Kit", 0, 0)], replace={b"pgen": generator(41, 7) + END}))
    with pytest.raises(DkvaeError, match=r"corrupt\.sf2.*instrument that does not exist") as raised:
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


def test_keys_outside_the_gm_bank_are_classed_and_named_by_their_samples() -> None:
    zones: list[InstrumentZone] = [(48, 48, "48-RockHatSwish-1"), (48, 48, "48-RockHatSwish-2")]
    zones += [(50, 50, "50-Paiste2002"), (51, 51, "Tom"), (51, 51, "Ride")]
    kit, gm_kit = parse_presets(tiny_sf2([("Kit", 0, 0), ("GM", DRUM_BANK, 0)], {"Kit": zones, "GM": zones}))
    assert key_class(kit, 48) == "hihat" and key_instrument(kit, 48) == "48-RockHatSwish"
    assert key_class(kit, 50) == "tom" and key_instrument(kit, 50) == "50-Paiste2002"  # no class word: GM's
    assert key_class(kit, 51) == "cymbal" and key_instrument(kit, 51) == "Ride Cymbal 1"  # names disagree: GM's
    assert key_class(gm_kit, 48) == "tom" and key_instrument(gm_kit, 48) == "Hi-Mid Tom"  # bank 128 is GM


# --- real fonts (skipped where not installed) ----------------------------------------------------


@pytest.mark.parametrize("font_name", AVL_FONTS)
def test_the_avl_drumkits_are_found_by_their_key_layout_and_render(font_name: str, tmp_path: Path) -> None:
    font = SF2_DIR / font_name
    if not font.is_file():
        pytest.skip("avldrums.lv2-soundfont is not installed")
    presets = read_presets(font)
    assert [(p.name, p.bank, p.program) for p in presets] == [(AVL_FONTS[font_name], 0, 0)]
    assert drum_presets(presets, font.stem) == presets and has_kit_layout(presets[0])
    # Key 48 is GM's Hi-Mid Tom, but the AVL kits put a hi-hat swish there.
    report = import_soundfont(tmp_path, font, keys=[36, 48, 81])
    assert report.kits == 1 and report.total == 6 and report.silent == 3  # nothing on key 81
    manifest = pd.read_csv(tmp_path / "manifest.csv", dtype=str, keep_default_na=False)
    assert dict(zip(manifest["note"], manifest["label"])) == {"36": "kick", "48": "hihat"}
    assert set(manifest["kit"]) == {AVL_FONTS[font_name]} and set(manifest["bank"]) == {"0"}
    assert all(name.startswith(note + "-") for note, name in zip(manifest["note"], manifest["instrument"]))


@pytest.mark.parametrize("font_name", GM_FONTS)
def test_general_midi_fonts_give_only_their_bank_128_kits(font_name: str) -> None:
    font = SF2_DIR / font_name
    if not font.is_file():
        pytest.skip(f"{font_name} is not installed")
    presets = read_presets(font)
    kits = drum_presets(presets, font.stem)
    assert len(presets) > 100 and len(kits) >= 8
    assert {preset.bank for preset in kits} == {DRUM_BANK}
    assert not [preset.name for preset in presets if preset.bank != DRUM_BANK and has_kit_layout(preset)]


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
