"""Write generated sounds to disk: one WAV and one JSON sidecar (what made it) per sound."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .atomic import write_text
from .audio import write_wav
from .machine import DrumMachine


def write_generated(
    model: str | os.PathLike[str], instrument: str, count: int, seed: int, out: str | os.PathLike[str]
) -> list[Path]:
    """Generate `count` sounds of `instrument` with the model directory `model` into `out`.

    Writes ``<instrument>_<seed>_<index>.wav`` (16-bit) and a ``.json`` sidecar holding the model id,
    instrument, seed, index and latent vector. Returns the WAV paths.
    """
    machine = DrumMachine.load(model)
    latents = machine.sample_latents(count, seed)
    audio = machine.render(latents, instrument)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, (sound, latent) in enumerate(zip(audio, latents)):
        path = folder / f"{instrument}_{seed}_{index:03d}.wav"
        peak = float(np.max(np.abs(sound))) or 1.0
        write_wav(path, sound / max(peak, 1.0), machine.sample_rate)
        sidecar = {
            "model_id": machine.directory.model_id,
            "model": str(machine.directory.path),
            "instrument": instrument,
            "seed": seed,
            "index": index,
            "latent": [round(float(value), 6) for value in latent],
            "sample_rate": machine.sample_rate,
        }
        write_text(path.with_suffix(".json"), json.dumps(sidecar, indent=2))
        paths.append(path)
    return paths
