"""Class character and tails in an evaluation: summaries of constructed sounds with known answers, and the section of a real run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dkvae import Bank
from dkvae.evaluation.character import character_document, class_character, gap, gap_kind, summary
from dkvae.measures.character import CLASS_FIGURES, TAIL_FIGURES

from .conftest import COUNT

RATE = 44100


def times(seconds: float) -> np.ndarray:
    return np.arange(round(seconds * RATE)) / RATE


def band_noise(seconds: float, low_hz: float, high_hz: float, seed: int) -> np.ndarray:
    """White noise with its spectrum outside ``[low_hz, high_hz)`` zeroed, scaled to unit RMS."""
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(round(seconds * RATE)))
    frequencies = np.fft.rfftfreq(round(seconds * RATE), 1.0 / RATE)
    spectrum[(frequencies < low_hz) | (frequencies >= high_hz)] = 0.0
    signal = np.fft.irfft(spectrum, round(seconds * RATE))
    return signal / np.sqrt(np.mean(signal**2))


def clap(slaps: int, seed: int) -> np.ndarray:
    """`slaps` bursts of 1-3 kHz noise 15 ms apart, each decaying 3 ms, the last with a 40 ms tail."""
    t = times(0.3)
    envelope = np.zeros_like(t)
    for k in range(slaps):
        since = t - k * 0.015
        constant = 0.040 if k == slaps - 1 else 0.003
        envelope = np.maximum(envelope, np.where(since >= 0, np.exp(-np.maximum(since, 0) / constant), 0.0))
    return envelope * band_noise(0.3, 1000.0, 3000.0, seed)


def snare(tone: bool, seed: int) -> np.ndarray:
    """Decaying white noise, with a 200 Hz tone of the noise's power beside it when `tone`."""
    t = times(0.3)
    noise = np.random.default_rng(seed).standard_normal(len(t))
    body = np.sqrt(2.0) * np.sin(2 * np.pi * 200.0 * t) if tone else 0.0
    return np.exp(-t / 0.1) * (noise + body)


def stepped_tone(tail_amplitude: float) -> np.ndarray:
    """A 1 kHz sine of amplitude 1 for 0.3 s, then of `tail_amplitude` for 0.2 s, cut there."""
    t = times(0.5)
    return np.where(t < 0.3, 1.0, tail_amplitude) * np.sin(2 * np.pi * 1000.0 * t)


def test_a_summary_is_the_median_and_quartiles_of_the_finite_values() -> None:
    assert summary(np.array([5.0, 1.0, np.nan, 3.0, 2.0, 4.0])) == {"median": 3.0, "q1": 2.0, "q3": 4.0, "n": 5}
    assert summary(np.array([np.nan])) == {"median": None, "q1": None, "q3": None, "n": 0}
    assert summary(np.zeros(0)) == {"median": None, "q1": None, "q3": None, "n": 0}


def test_shares_and_counts_are_set_against_real_as_ratios_the_rest_as_differences() -> None:
    assert [gap_kind(name) for name in ("head_tone_share", "slap_count", "end_level_db", "ring_seconds")] == [
        "ratio",
        "ratio",
        "difference",
        "difference",
    ]
    assert gap_kind("pitch_drop") == "difference"
    assert gap("slap_count", 3.0, 1.0) == pytest.approx(1 / 3)
    assert gap("end_level_db", -40.0, -70.0) == pytest.approx(-30.0)
    assert gap("slap_count", 0.0, 1.0) is None
    assert gap("ring_seconds", None, 0.2) is None and gap("ring_seconds", 0.2, None) is None


def test_claps_of_three_slaps_against_single_bursts_read_three_one_and_a_third() -> None:
    real = np.stack([clap(3, seed) for seed in range(5)])
    generated = np.stack([clap(1, seed) for seed in range(5, 10)])
    figures = class_character(real, generated, RATE, "clap")
    assert list(figures) == ["slap_count", *TAIL_FIGURES]
    slaps = figures["slap_count"]
    assert slaps["real"] == {"median": 3.0, "q1": 3.0, "q3": 3.0, "n": 5}
    assert slaps["generated"] == {"median": 1.0, "q1": 1.0, "q3": 1.0, "n": 5}
    assert slaps["gap"] == pytest.approx(1 / 3)


def test_a_snare_without_its_head_tone_loses_the_tones_share_of_the_band() -> None:
    real = np.stack([snare(True, seed) for seed in range(4)])
    generated = np.stack([snare(False, seed) for seed in range(4, 8)])
    share = class_character(real, generated, RATE, "snare")["head_tone_share"]
    assert share["real"]["median"] == pytest.approx(0.5, abs=0.05)
    assert share["generated"]["median"] < 0.02
    assert share["gap"] == pytest.approx(share["generated"]["median"] / share["real"]["median"])
    assert share["real"]["q1"] <= share["real"]["median"] <= share["real"]["q3"]


def test_sounds_ending_at_known_levels_give_those_tails_and_their_difference() -> None:
    real = np.stack([stepped_tone(0.01)] * 3)  # ends 40 dB down, above the -60 dB ring threshold throughout
    generated = np.stack([stepped_tone(0.0005)] * 3)  # ends 66 dB down: rang out when the step came at 0.3 s
    figures = class_character(real, generated, RATE, "kick")
    end, ring = figures["end_level_db"], figures["ring_seconds"]
    assert end["real"]["median"] == pytest.approx(-40.0, abs=0.1)
    assert end["generated"]["median"] == pytest.approx(20 * np.log10(0.0005), abs=0.1)
    assert end["gap"] == pytest.approx(20 * np.log10(0.0005 / 0.01), abs=0.1)
    assert ring["real"]["median"] == pytest.approx(0.5)
    assert ring["generated"]["median"] == pytest.approx(0.3)
    assert ring["gap"] == pytest.approx(-0.2)


def test_the_document_groups_sounds_by_class_leaves_unlabelled_ones_out_and_is_plain_json() -> None:
    claps = np.stack([clap(3, 0), clap(3, 1), clap(1, 2)])
    snares = np.stack([snare(True, 3), snare(False, 4)])
    real = (np.concatenate([claps[:2], snares[:1]]), np.array([0, 0, 1]))
    generated = (np.concatenate([claps[2:], snares[1:], claps[:1]]), np.array([0, -1, 0]))
    document = character_document(real, generated, ["clap", "snare"], RATE, "judged")
    assert document["generated_classes"] == "judged" and document["sample_rate"] == RATE
    assert list(document["per_class"]) == ["clap", "snare"]
    clap_slaps = document["per_class"]["clap"]["slap_count"]
    assert (clap_slaps["real"]["median"], clap_slaps["generated"]["median"]) == (3.0, 2.0)  # slaps 1 and 3
    assert clap_slaps["generated"]["n"] == 2
    tone = document["per_class"]["snare"]["head_tone_share"]
    assert tone["real"]["n"] == 1 and tone["generated"] == {"median": None, "q1": None, "q3": None, "n": 0}
    assert tone["gap"] is None
    assert set(document["figures"]) == {"slap_count", "head_tone_share", "high_share", *TAIL_FIGURES}
    assert document["figures"]["slap_count"] == {
        "unit": "count",
        "meaning": "distinct envelope peaks in the first 100 ms: a clap's slaps",
        "gap": "ratio",
    }
    json.dumps(document, allow_nan=False)


def test_an_evaluation_writes_every_classs_character_and_tails_into_the_metrics_and_the_report(
    evaluation, eval_bank
) -> None:
    out, _, _ = evaluation
    character = json.loads((out / "metrics.json").read_text())["character"]
    bank = Bank(eval_bank, process=False)
    test = bank.data[bank.data["split"] == "test"]
    assert list(character["per_class"]) == bank.instruments
    assert character["generated_classes"] == "asked" and character["unreadable"] == 0
    for instrument, figures in character["per_class"].items():
        assert list(figures) == [*CLASS_FIGURES.get(instrument, ()), *TAIL_FIGURES]
        tail = figures["end_level_db"]
        assert tail["real"]["n"] == int((test["label"] == instrument).sum()) > 0, instrument
        assert 0 < tail["generated"]["n"] <= COUNT, instrument
        assert tail["gap"] == pytest.approx(tail["generated"]["median"] - tail["real"]["median"])
    assert character["figures"]["ring_seconds"]["unit"] == "s"
    report = (out / "report.md").read_text()
    section = report.split("## Class character and tails")[1].split("\n## ")[0]
    assert "| class | figure | real | generated | generated vs real | unit |" in section
    assert "| clap | slap_count |" in section and "| snare | end_level_db |" in section
    assert "- head_tone_share (share): energy share of the first 100 ms in 150-250 Hz" in section
