"""A kit from sounds a user picked: a folder of dkvae WAVs with their sidecars, placed on pads by class and measurement.

The WAVs are used as they are. Round robins need the model that made a sound (named in its
sidecar, or given with ``--model``): its latent is varied as for a generated kit.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dkvae.core.config import OUTPUT_SAMPLE_RATE
from dkvae.core.errors import DkvaeError
from dkvae.inference.generation import read_sidecar, sidecar_latent, sidecar_machine
from dkvae.inference.machine import DrumMachine
from dkvae.kits.build import CHOICES, round_robins
from dkvae.kits.kit import Kit, KitPad, KitSound
from dkvae.kits.layout import PADS
from dkvae.sound.audio import resample, to_mono
from dkvae.sound.files import read_sound_file


def kit_from_folder(
    folder: str | os.PathLike[str],
    round_robin: int = 1,
    name: str | None = None,
    model: str | os.PathLike[str] | None = None,
) -> tuple[Kit, list[tuple[str, str]]]:
    """The kit of the picked sounds in `folder`, and the (file, reason) of each sound left out."""
    root = Path(folder)
    if not root.is_dir():
        raise DkvaeError(f"{root} is not a folder of picked sounds")
    by_class: dict[str, list[tuple[Path, np.ndarray, dict]]] = {}
    skipped: list[tuple[str, str]] = []
    for wav in sorted(root.glob("*.wav")):
        try:
            document = read_sidecar(wav.with_suffix(".json"))
            if document.get("class_weights") is not None:
                raise DkvaeError("it blends classes (a morph step), so it belongs on no single pad")
            audio, rate = read_sound_file(wav)
        except DkvaeError as error:
            skipped.append((str(wav), str(error)))
            continue
        mono = resample(to_mono(audio), rate, OUTPUT_SAMPLE_RATE) if rate != OUTPUT_SAMPLE_RATE else to_mono(audio)
        by_class.setdefault(document["instrument"], []).append((wav, mono.astype(np.float32), document))
    chosen: dict[str, tuple[Path, np.ndarray, dict]] = {}
    for choice in CHOICES:
        sounds = by_class.pop(choice.instrument, [])
        values = [choice.measure(audio, OUTPUT_SAMPLE_RATE) for _, audio, _ in sounds]
        assigned = choice.assign(values) if sounds else {}
        chosen.update({pad: sounds[index] for pad, index in assigned.items()})
        used = set(assigned.values())
        skipped += [
            (str(sounds[i][0]), f"no {choice.instrument} pad left for it") for i in range(len(sounds)) if i not in used
        ]
    for instrument, sounds in by_class.items():
        skipped += [(str(wav), f"a kit has no pad for class {instrument!r}") for wav, _, _ in sounds]
    if not chosen:
        raise DkvaeError(f"{root} holds no dkvae sounds with sidecars for a kit's pads")
    machines: dict[str, DrumMachine] = {}
    pads = []
    for pad_index, pad in enumerate(p for p in PADS if p.name in chosen):
        wav, audio, document = chosen[pad.name]
        sounds = [KitSound(audio, document)]
        if round_robin > 1:
            machine = machines.get(document["model_id"]) or sidecar_machine(document, wav, model)
            machines[document["model_id"]] = machine
            details = {**document.get("details", {}), "pad": pad.name, "note": pad.note, "picked": wav.name}
            latent = sidecar_latent(document, wav, machine)
            sounds += round_robins(machine, latent, document["instrument"], round_robin - 1, pad_index + 1, details)
        pads.append(KitPad(pad, sounds))
    info = {"from": str(root.resolve()), "round_robin": round_robin}
    return Kit(name or root.name, OUTPUT_SAMPLE_RATE, pads, info=info), skipped
