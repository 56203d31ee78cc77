"""The plainest kit: WAVs named by General MIDI note (``36_kick.wav``) and a ``kit.json`` that maps them."""

from __future__ import annotations

import json
from pathlib import Path

from dkvae.core.atomic import write_text
from dkvae.kits.kit import Kit, write_samples

KIT_JSON = "kit.json"
KIT_JSON_FORMAT = "dkvae-kit"


def write_wav_folder(kit: Kit, folder: Path, bit_depth: int = 16, samples: dict[str, list[str]] | None = None) -> Path:
    """Write ``folder/samples/*.wav`` (with sidecars) and ``folder/kit.json``; returns the JSON's path.

    `samples` is what `write_samples` returned when the caller already wrote them into `folder` (several
    formats sharing one ``samples/``).
    """
    if samples is None:
        samples = write_samples(kit, folder, bit_depth)
    document = {
        "format": KIT_JSON_FORMAT,
        "name": kit.name,
        "author": kit.author,
        "license": kit.license,
        "sample_rate": kit.sample_rate,
        "bit_depth": bit_depth,
        "pads": [
            {
                "name": kit_pad.pad.name,
                "label": kit_pad.pad.label,
                "note": kit_pad.pad.note,
                "instrument": kit_pad.pad.instrument,
                "choke_group": kit_pad.pad.choke_group,
                "choked_by": list(kit_pad.pad.choked_by),
                "samples": samples[kit_pad.pad.name],
            }
            for kit_pad in kit.pads
        ],
        "info": kit.info,
    }
    path = folder / KIT_JSON
    write_text(path, json.dumps(document, indent=2, ensure_ascii=False))
    return path
