"""Choosing the `default` preset's spectrogram: what each candidate keeps of real drums, and at what size.

For every candidate (44.1 kHz; STFT size, hop, length) and every sound of a bank this measures:
- tail kept: the share of the sound's energy (first 5 s after its onset) that fits in the length;
- round trip: the fitted sound through the candidate's spectrogram (normalized, stored as float16)
  and back with 32 Griffin-Lim iterations, compared with the fitted sound on three reference STFTs
  (n_fft 256, 1024, 4096 with hop n_fft/4; averaged, so no candidate is judged on its own grid):
  spectral convergence, log-spectral distance (dB), and attack kept (the peak of the first 10 ms
  after the onset, reconstruction over original);
- size: values per spectrogram (what the model has to learn and the bank stores).

Prints the medians per candidate (and the tail kept per class) as tables, then one JSON line; ``--out
FILE`` also writes one entry per candidate as rows of docs/results/representation.json (bench/record.py).

    python bench/representation.py data/hydrogen --limit 300
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import record
import torch

from dkvae.core.config import AUDIO_EXTENSIONS, AudioConfig, InversionConfig
from dkvae.sound.audio import BadAudio, load_sound, log_spectrogram, normalize, spectrogram_to_audio

RATE = 44100
CANDIDATES = {
    "512/128 0.74s": AudioConfig(n_fft=512, hop_length=128, num_samples=255 * 128),
    "1024/256 0.74s": AudioConfig(n_fft=1024, hop_length=256, num_samples=127 * 256),
    "1024/256 1.49s": AudioConfig(n_fft=1024, hop_length=256, num_samples=255 * 256),
    "2048/512 1.49s": AudioConfig(n_fft=2048, hop_length=512, num_samples=127 * 512),
    "1024/512 1.49s": AudioConfig(n_fft=1024, hop_length=512, num_samples=127 * 512),
}
TAIL_SECONDS = 5.0
ATTACK_SECONDS = 0.010


REFERENCE_FFT_SIZES = (256, 1024, 4096)


def compare(original: np.ndarray, rebuilt: np.ndarray) -> tuple[float, float]:
    """Spectral convergence and log-spectral distance (dB), averaged over the reference STFTs."""
    convergences, distances = [], []
    for n_fft in REFERENCE_FFT_SIZES:
        reference = 10.0 ** (log_spectrogram(original, n_fft, n_fft // 4).numpy() / 20.0)
        estimate = 10.0 ** (log_spectrogram(rebuilt, n_fft, n_fft // 4).numpy() / 20.0)
        convergences.append(np.linalg.norm(estimate - reference) / np.linalg.norm(reference))
        ratio_db = 20 * np.log10(np.maximum(estimate, 1e-5) / np.maximum(reference, 1e-5))
        distances.append(np.sqrt(np.mean(ratio_db**2)))
    return float(np.mean(convergences)), float(np.mean(distances))


def measure(path: Path, name: str, config: AudioConfig) -> dict[str, float] | None:
    """The figures of one sound under one candidate, or None when the file is unusable."""
    long_config = dataclasses.replace(config, num_samples=int(TAIL_SECONDS * RATE), fade_out=0.0)
    try:
        sound, _ = load_sound(path, config)
        long_sound, _ = load_sound(path, long_config)
    except BadAudio:
        return None
    energy = np.sum(long_sound.astype(np.float64) ** 2)
    kept = np.sum(long_sound[: config.num_samples].astype(np.float64) ** 2) / energy
    normalized, low, high = normalize(log_spectrogram(sound, config.n_fft, config.hop_length).numpy(), config)
    stored = normalized.astype(np.float16).astype(np.float32)
    rebuilt = spectrogram_to_audio(stored, config, low, high, InversionConfig(method="gla", iterations=32))
    convergence, log_distance = compare(sound, rebuilt)
    attack = int(ATTACK_SECONDS * RATE)
    attack_kept = np.max(np.abs(rebuilt[:attack])) / max(np.max(np.abs(sound[:attack])), 1e-9)
    return {
        "candidate": name,
        "tail_kept": kept,
        "convergence": convergence,
        "log_spectral_distance": log_distance,
        "attack_kept": attack_kept,
        "values": config.n_freq * config.n_frames,
    }


def table_entries(summary: pd.DataFrame, by_class: pd.DataFrame, sounds: int) -> list[dict]:
    """One row of docs/results/representation.json per candidate: its medians over the `sounds` measured
    (`summary`'s row) and its median tail kept per class (`by_class`'s column)."""
    return [
        record.study_entry(
            name.replace("/", "-").replace(" ", "-"),
            name,
            {key: round(float(value), 4) for key, value in figures.items()},
            {
                "sounds": sounds,
                "tail_kept_per_class": {label: round(float(v), 4) for label, v in by_class[name].items()},
            },
        )
        for name, figures in summary.to_dict("index").items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bank", type=Path)
    parser.add_argument("--limit", type=int, default=300, help="sounds measured (evenly spread over the bank)")
    record.add_out(parser, "representation")
    args = parser.parse_args()
    torch.set_num_threads(2)
    files = sorted(p for p in args.bank.glob("*/**/*") if p.suffix.lower() in AUDIO_EXTENSIONS)
    files = files[:: max(1, len(files) // args.limit)][: args.limit]
    rows = []
    for path in files:
        for name, config in CANDIDATES.items():
            row = measure(path, name, config)
            if row is not None:
                rows.append({**row, "label": path.parent.name})
    frame = pd.DataFrame(rows)
    summary = frame.groupby("candidate", sort=False).agg(
        tail_kept=("tail_kept", "median"),
        tail_kept_p10=("tail_kept", lambda x: np.percentile(x, 10)),
        convergence=("convergence", "median"),
        log_spectral_distance=("log_spectral_distance", "median"),
        attack_kept=("attack_kept", "median"),
        values=("values", "first"),
    )
    by_class = frame.pivot_table(index="label", columns="candidate", values="tail_kept", aggfunc="median")
    print(summary.round(3).to_string())
    print()
    print("median tail kept per class")
    print(by_class.round(3).to_string())
    print(json.dumps({"sounds": len(files), "summary": summary.round(4).reset_index().to_dict("records")}))
    record.write(args.out, *table_entries(summary, by_class, len(files)), table="representation")


if __name__ == "__main__":
    main()
