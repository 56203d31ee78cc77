"""Tests for the drum classes and the name and General MIDI mappings."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dkvae.core.classes import (
    CLASSES,
    GM_PERCUSSION,
    classify_name,
    gm_note_class,
    is_non_drum_name,
    match_class_name,
    name_words,
)

# Real instrument and file names, most from Debian's hydrogen-drumkits.
REAL_NAMES = {
    # kick
    "Kick": "kick",
    "BassDrum": "kick",
    "Kick Long": "kick",
    "Kick (Tama Superstar 22\")": "kick",
    "c3 - bass drum 1": "kick",
    "Pearl Kick": "kick",
    "BD_808": "kick",
    "bd1.flac": "kick",
    "bassdrum-4mics-br-stereo-soft4": "kick",
    "clean_soft_808": "kick",
    "KICKS": "kick",
    # snare
    "Snare Jazz": "snare",
    "snare-jazz": "snare",
    "Snare Rimshot": "snare",
    "Snare 2 Rimshot (Pearl Free Floating Maple 14x3.5)": "snare",
    "Rim Click (Pearl Free Floating Maple 14x3.5)": "snare",
    "Pearl Side Stick": "snare",
    "Stick": "snare",
    "c#3 - stick": "snare",
    "Snare1": "snare",
    "Snare Roll": "snare",
    "SD_01": "snare",
    # hihat
    "HatClosed": "hihat",
    "Hat Pedal": "hihat",
    "Closed HH": "hihat",
    "Pedal HH": "hihat",
    "Open HH": "hihat",
    "Hi Hat Opened": "hihat",
    "Hi-Hat Semiopen (Paiste Alpha Metal edge 14\")": "hihat",
    "Sabian Hat Choke": "hihat",
    "Side OHH": "hihat",
    "hhclosed_01": "hihat",
    "closehihat3": "hihat",
    "openhat2": "hihat",
    "bright_808_hat": "hihat",
    "CH_808": "hihat",
    "VariBreaks Hat 1 Pd": "hihat",
    # tom
    "Tom Hi": "tom",
    "Floor Tom": "tom",
    "Pearl Tom Floor": "tom",
    "b3 - low tom": "tom",
    "tomhi2": "tom",
    "floortom_01": "tom",
    "TomLow-0": "tom",
    "Tom Rim": "tom",
    # cymbal
    "Ride Bell": "cymbal",
    "Crash Choke": "cymbal",
    "Crash/Ride Bell (Paiste Rude Crash/Ride 18\")": "cymbal",
    "China (Paiste Alpha 18\")": "cymbal",
    "Zildjian Splash Choke": "cymbal",
    "Paiste Bell": "cymbal",
    "ride-cup": "cymbal",
    "crash16inch": "cymbal",
    "d#4 - cymbal 1": "cymbal",
    # clap
    "Hand Clap": "clap",
    "808 Clap": "clap",
    "Finger Snaps": "clap",
    "HandClap-Softest": "clap",
    # perc
    "Cajon Thump": "perc",
    "Cowbell": "perc",
    "Cow Bell": "perc",
    "g#4 - cowbell": "perc",
    "Tambourine Pedal (Pearl PTM-10GH)": "perc",
    "Agogo High (Pearl ECB-23)": "perc",
    "Woodblock Lo": "perc",
    "Maraca": "perc",
    "Bongo Hi": "perc",
    "Conga 1": "perc",
    "Whistle": "perc",
    "Djembe1 Bass": "perc",
    "Sangban1 Bell Hit": "perc",
    "Dununba1 Head Mute": "perc",
    "808 Cowbell": "perc",
    "Shakers": "perc",
}

# Names that say no drum class: nothing drum-like, non-drum instruments, or ambiguous.
UNCLEAR_NAMES = [
    "",
    "17",
    "Click",
    "Drum 1",
    "Zap 1",
    "FX",
    "WaterglassHi",
    "emptySample",
    "Sample: beats_08-37.flac",
    "f#4 - ",
    "Bass",  # a bass synth, not a kick
    "Sub Bass",
    "808 Bass",
    "Kick Guitar",
    "Amajor / D5-E4-A1",
    "Kick Snare",
    "Tom Snare",
    "Hat Crash",
    "belofilms.com - AC-Guitar-Strums (flac)",
    "Piano C4",
    "HardElectro1",
    "Gimme A Hand 1.0",
    "atom",
    "custom",
    "phantom",
]


@pytest.mark.parametrize(("name", "expected"), sorted(REAL_NAMES.items()))
def test_real_names_map_to_their_class(name: str, expected: str) -> None:
    assert classify_name(name) == expected


@pytest.mark.parametrize("name", UNCLEAR_NAMES)
def test_unclear_names_map_to_none(name: str) -> None:
    assert classify_name(name) is None


def test_classes_are_the_fixed_seven_in_order() -> None:
    assert CLASSES == ("kick", "snare", "hihat", "tom", "cymbal", "clap", "perc")


def test_words_split_at_separators_camel_case_and_digits() -> None:
    assert name_words("HatClosed") == ["hat", "closed"]
    assert name_words("BD_808") == ["bd", "808"]
    assert name_words("snare-jazz") == ["snare", "jazz"]
    assert name_words("HHClosed2") == ["hh", "closed", "2"]
    assert name_words("hhclosed") == ["hh", "closed"]


def test_specific_words_beat_generic_ones() -> None:
    assert classify_name("808") == "kick"
    assert classify_name("808 Snare") == "snare"
    assert classify_name("Stick") == "snare"
    assert classify_name("Stick Tom") == "tom"
    assert classify_name("Bell") == "cymbal"
    assert classify_name("Agogo Bell") == "perc"
    assert classify_name("Snap") == "clap"
    assert classify_name("Snap Snare") == "snare"
    assert classify_name("Snare OH") == "snare"  # an overhead microphone, not an open hat


def test_bass_is_a_kick_only_as_bass_drum() -> None:
    assert classify_name("Bass Drum") == "kick"
    assert classify_name("bass_drum") == "kick"
    assert classify_name("Bass Kick") == "kick"
    assert classify_name("Bass") is None


def test_first_name_that_matches_decides() -> None:
    assert classify_name("Snare", "kick.wav") == "snare"
    assert classify_name("Drum 1", "EE_Kick_Lite_1.flac") == "kick"
    assert classify_name("redo super opaco", "snare-opaque-2mics_normal-shot1") == "snare"
    assert classify_name("17", "emptySample") is None
    assert classify_name() is None


def test_an_unclear_first_name_is_not_overruled() -> None:
    assert classify_name("Kick Snare", "kick.wav") is None
    assert classify_name("Kick Guitar", "kick.wav") is None


def test_non_drum_names() -> None:
    assert is_non_drum_name("belofilms_GuitarStrums")
    assert is_non_drum_name("Grand Piano")
    assert not is_non_drum_name("Drum n Bass Kit")
    assert not is_non_drum_name("HardElectro1")


@pytest.mark.parametrize(
    ("note", "expected"),
    [
        (35, "kick"), (36, "kick"), (37, "snare"), (38, "snare"), (39, "clap"), (40, "snare"),
        (41, "tom"), (42, "hihat"), (44, "hihat"), (46, "hihat"), (48, "tom"), (49, "cymbal"),
        (51, "cymbal"), (53, "cymbal"), (54, "perc"), (56, "perc"), (57, "cymbal"), (59, "cymbal"),
        (60, "perc"), (81, "perc"), (34, None), (82, None), (0, None), (127, None),
    ],
)
def test_general_midi_notes(note: int, expected: str | None) -> None:
    assert gm_note_class(note) == expected


def test_general_midi_covers_35_to_81_with_known_classes() -> None:
    assert sorted(GM_PERCUSSION) == list(range(35, 82))
    assert set(GM_PERCUSSION.values()) == set(CLASSES)


@given(st.text(), st.lists(st.text(), max_size=3))
def test_classify_never_raises_and_returns_a_class_or_none(name: str, more: list[str]) -> None:
    assert classify_name(name, *more) in (*CLASSES, None)


_KEYWORD_LIKE = st.sampled_from(
    ["kick", "snare", "hat", "hi", "tom", "floor", "ride", "bell", "crash", "clap", "cowbell", "conga",
     "bass", "drum", "808", "bd", "sd", "hh", "oh", "stick", "side", "rim", "closed", "open", "pedal",
     "guitar", "snap", "finger", "hand", "perc", "low"]
)
_OTHER_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
_SEPARATORS = st.sampled_from([" ", "_", "-", ".", " - ", "/", "  ", "__"])


@given(
    words=st.lists(st.one_of(_KEYWORD_LIKE, _OTHER_WORD), min_size=1, max_size=5),
    cases=st.lists(st.sampled_from([str.lower, str.upper, str.title]), min_size=5, max_size=5),
    separators=st.lists(_SEPARATORS, min_size=4, max_size=4),
)
def test_case_and_separators_do_not_change_the_class(
    words: list[str], cases: list[Callable[[str], str]], separators: list[str]
) -> None:
    plain = classify_name(" ".join(words))
    restyled = cases[0](words[0]) + "".join(
        separator + case(word) for separator, case, word in zip(separators, cases[1:], words[1:])
    )
    assert classify_name(restyled) == plain
    assert classify_name(restyled.upper()) == plain
    assert classify_name(restyled.lower()) == plain


def test_a_generic_word_in_a_later_name_does_not_decide() -> None:
    # A folder "808 Kit" holds every kind of 808 sound: its files are not kicks for that.
    assert classify_name("mystery", "808 Kit") is None
    assert classify_name("clean_soft_808", "Misc") == "kick"
    assert classify_name("take1", "Shakers") == "perc"
    assert classify_name("01", "BD") == "kick"


def test_a_class_name_matches_in_any_case_and_by_its_usual_aliases() -> None:
    aliases = {
        "kick": "kick", "Snare": "snare", "HIHAT": "hihat", "hat": "hihat", "hh": "hihat", "Hi-Hat": "hihat",
        "bd": "kick", "BD": "kick", "sd": "snare", "cym": "cymbal", "crash": "cymbal", "perc": "perc",
        "Percussion": "perc", "toms": "tom", "clap": "clap", "handclap": "clap", "closed hat": "hihat",
    }  # fmt: skip
    assert {name: match_class_name(name, CLASSES) for name in aliases} == aliases
    for unknown in ("guitar", "", "kick snare", "zzz", "kick guitar"):
        assert match_class_name(unknown, CLASSES) is None
    own = ["Kick808", "snare", "Shaker"]  # a model trained on folders of other names knows only those
    assert [match_class_name(name, own) for name in ("kick808", "SNARE", "sd", "shaker", "bd", "hh")] == [
        "Kick808", "snare", "snare", "Shaker", None, None,
    ]  # fmt: skip
