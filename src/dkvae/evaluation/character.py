"""Class character and tails in an evaluation: each class's `dkvae.measures.character` figures, real beside generated.

The real sounds are the test split as the model sees them (`load_sound` with its audio config); the
generated ones are the sounds `generated_set` rendered (`SoundSet.audio`, measured as rendered, not made
again). Both are read at the model's output rate (`DrumMachine.sample_rate`), the real ones resampled
to it as `bench/character.py` does. Per class and figure: median and quartiles of each set, and the
gap of the medians, generated over real for a share or a count, generated less real in any other unit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dkvae.core.progress import Progress
from dkvae.data.bank import Bank
from dkvae.inference.machine import DrumMachine
from dkvae.measures.character import CLASS_FIGURES, FIGURES, TAIL_FIGURES, class_figures
from dkvae.sound.audio import BadAudio, load_sound, resample

#: Units whose gap is the ratio of the medians (generated / real); every other unit's is their difference.
RATIO_UNITS = ("share", "count")


def summary(values: np.ndarray) -> dict[str, float | int | None]:
    """Median and quartiles of the finite values ``(n,)``, and how many there were (None where there are none)."""
    finite = np.asarray(values, np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return {"median": None, "q1": None, "q3": None, "n": 0}
    q1, median, q3 = np.percentile(finite, [25, 50, 75])
    return {"median": float(median), "q1": float(q1), "q3": float(q3), "n": int(finite.size)}


def gap_kind(figure: str) -> str:
    """How a figure's generated median is set against the real one: ``"ratio"`` or ``"difference"``."""
    return "ratio" if FIGURES[figure].unit in RATIO_UNITS else "difference"


def gap(figure: str, real_median: float | None, generated_median: float | None) -> float | None:
    """The generated median against the real one, as `gap_kind` says; None without both (or a ratio over 0)."""
    if real_median is None or generated_median is None:
        return None
    if gap_kind(figure) == "difference":
        return generated_median - real_median
    return generated_median / real_median if real_median != 0 else None


def class_character(
    real: np.ndarray, generated: np.ndarray, sample_rate: int, instrument: str
) -> dict[str, dict[str, Any]]:
    """``{figure: {"real": summary, "generated": summary, "gap": value}}`` of one class's `class_figures`.

    `real` and `generated` are audio ``(n, samples)`` at `sample_rate` Hz (either may hold no sounds).
    """
    sets = {"real": real, "generated": generated}
    values = {
        name: class_figures(audio, sample_rate, instrument) if len(audio) else None for name, audio in sets.items()
    }
    out: dict[str, dict[str, Any]] = {}
    for figure in (*CLASS_FIGURES.get(instrument, ()), *TAIL_FIGURES):
        entry = {name: summary(np.zeros(0) if found is None else found[figure]) for name, found in values.items()}
        out[figure] = {**entry, "gap": gap(figure, entry["real"]["median"], entry["generated"]["median"])}
    return out


def character_document(
    real: tuple[np.ndarray, np.ndarray],
    generated: tuple[np.ndarray, np.ndarray],
    instruments: list[str],
    sample_rate: int,
    generated_classes: str,
) -> dict[str, Any]:
    """The ``character`` section of metrics.json: per class, each figure for real and generated sounds, and the figures' legend.

    `real` and `generated` are ``(audio (n, samples) at sample_rate Hz, class indices (n,))``; a sound whose
    index names no class (-1) is left out. `generated_classes` says where the generated sounds' classes came
    from: ``"asked"`` (a conditional model was told them) or ``"judged"`` (the judging classifier's).
    """
    per_class = {}
    for code, instrument in enumerate(instruments):
        chosen = [audio[labels == code] for audio, labels in (real, generated)]
        per_class[instrument] = class_character(*chosen, sample_rate, instrument)
    named = {name for figures in per_class.values() for name in figures}
    return {
        "sample_rate": sample_rate,
        "real_source": "test",
        "generated_classes": generated_classes,
        "per_class": per_class,
        "figures": {
            name: {"unit": figure.unit, "meaning": figure.meaning, "gap": gap_kind(name)}
            for name, figure in FIGURES.items()
            if name in named
        },
    }


def read_test_sounds(
    bank: Bank, machine: DrumMachine, progress: Progress | None = None
) -> tuple[np.ndarray, np.ndarray, int]:
    """The bank's test sounds as the model sees them, at the model's output rate: audio ``(n, samples)`` float32,
    class indices ``(n,)``, and how many files could not be read (left out)."""
    rows = bank.data[bank.data["split"] == "test"]
    config = machine.config.audio
    codes = {name: code for code, name in enumerate(bank.instruments)}
    sounds, labels, unreadable = [], [], 0
    for done, (path, label) in enumerate(zip(rows["original_path"], rows["label"]), start=1):
        try:
            sound = load_sound(bank.original_dir / path, config)[0]
        except BadAudio:
            unreadable += 1
        else:
            sounds.append(resample(sound, config.sample_rate, machine.sample_rate))
            labels.append(codes[label])
        if progress is not None:
            progress(done, len(rows))
    audio = np.stack(sounds) if sounds else np.zeros((0, 1), np.float32)
    return audio, np.asarray(labels, np.int64), unreadable


def measure_character(
    machine: DrumMachine,
    bank: Bank,
    generated: tuple[np.ndarray, np.ndarray],
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The ``character`` section of an evaluation: the bank's test split (read again) beside the generated sounds.

    `generated` is ``(audio (n, samples) at machine.sample_rate Hz, class indices (n,))``: the classes asked
    of a model that generates by class, or the judging classifier's for one that cannot be told. `progress` follows the reading.
    """
    audio, labels, unreadable = read_test_sounds(bank, machine, progress)
    asked = "asked" if machine.generates_by_class else "judged"
    document = character_document((audio, labels), generated, bank.instruments, machine.sample_rate, asked)
    return {**document, "unreadable": unreadable}
