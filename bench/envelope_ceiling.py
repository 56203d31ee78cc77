"""What a model that got each sound's envelope right, but not its noise, would score on the held-out figures.

Each sound of one source (``--source``) has its true normalized spectrogram smoothed (a moving average
in time and in frequency, as `scipy.ndimage.uniform_filter` makes it), inverted with the model's
inversion settings and compared with the sound as the bank reads it by the log-mel distance
(`dkvae.measures.metrics.log_mel_distance`), median over the sounds. Unsmoothed, it is the ceiling
`bench/holdout.py` reports; the smoothed figures say how far below a model's error the part lies
that only the fine structure of the noise explains.

    python bench/envelope_ceiling.py runs/codec-cosine data/drums --source timgm6mb-soundfont --out docs/results/envelope_ceiling.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.ndimage import uniform_filter

from dkvae import Bank
from dkvae.core.atomic import write_text
from dkvae.data.packed import PackedArray
from dkvae.measures.metrics import log_mel_distance
from dkvae.models.checkpoint import load_model_dir
from dkvae.sound.audio import load_sound, spectrogram_to_audio

#: (bins in frequency, frames in time) each smoothing averages over.
SMOOTHINGS = ((1, 1), (1, 2), (1, 4), (3, 1), (3, 4))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a model directory: its audio and inversion settings are used")
    parser.add_argument("bank", type=Path)
    parser.add_argument("--source", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    config = load_model_dir(args.run).config
    bank = Bank(args.bank, preset=config)
    rows = bank.data[bank.data["source"] == args.source]
    if rows.empty:
        raise SystemExit(f"no sounds of source {args.source!r} in {args.bank}")
    spectrograms = PackedArray(bank.array_path, rows["index"].to_numpy())[np.arange(len(rows))].astype(np.float32)
    originals = np.stack([load_sound(bank.original_dir / path, config.audio)[0] for path in rows["original_path"]])
    figures = []
    for bins, frames in SMOOTHINGS:
        smoothed = uniform_filter(spectrograms, size=(1, bins, frames), mode="nearest")
        audio = spectrogram_to_audio(smoothed, config.audio, inversion=config.inversion)
        distance = float(np.median(log_mel_distance(originals, audio, config.audio.sample_rate)))
        figures.append({"bins": bins, "frames": frames, "log_mel_distance": round(distance, 3)})
        print(json.dumps(figures[-1]), flush=True)
    result = {"bench": "envelope_ceiling", "run": str(args.run), "source": args.source, "sounds": len(rows), "smoothings": figures}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_text(args.out, json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
