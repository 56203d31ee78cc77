"""Reconstruction of a source a model never trained on, beside the ceiling its spectrogram and inversion allow.

For every sound of the held-out source (``--source``, a value of the bank's ``source`` column; train
with ``dkvae train --holdout-source`` to keep it out), three versions are compared with the sound as
the bank reads it: the model's reconstruction inverted to audio, and the bank's own spectrogram
inverted (the ceiling: a perfect model). Figures per sound: log-mel distance (dB), spectral
convergence, and the attack share (energy of the first 10 ms over the first 100 ms) against the
original's. Writes JSON with medians overall and per class, and the model-to-ceiling ratio.

The reference is the sound as the model's bank reads it, cut to the model's length. Models of different
lengths are compared on one reference with ``--reference-seconds S``: every file read again at S seconds
(as the bank reads it: lead-in trimmed, peak-normalized) and each estimate cut or padded with silence to
it, so that a model whose sounds stop early loses what it cut, as a producer hears it.

    python bench/holdout.py runs/codec data/drums --source timgm6mb-soundfont --out docs/results/holdout_codec.json
    python bench/holdout.py runs/vae data/drums-vae --source timgm6mb-soundfont --reference-seconds 1.5 --out ...
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from dkvae import Bank, DrumMachine
from dkvae.data.packed import PackedArray
from dkvae.measures.metrics import attack_share, log_mel_distance, spectral_convergence
from dkvae.models.checkpoint import load_model_dir
from dkvae.models.codec import TimeLocalAutoencoder
from dkvae.sound.audio import load_sound, log_spectrogram, spectrogram_to_audio

BATCH = 16


def reconstruct(run: Path, spectrograms: np.ndarray, labels: np.ndarray, instruments: list[str]) -> np.ndarray:
    """Decoded spectrograms ``(n, freq, frames)``: a codec through its posterior mean, a VAE given each sound's class."""
    directory = load_model_dir(run)
    if isinstance(directory.model, TimeLocalAutoencoder):
        model = directory.model.eval()
        with torch.no_grad():
            parts = [model.decode(model.encode(torch.from_numpy(spectrograms[i : i + BATCH]))[0]) for i in range(0, len(spectrograms), BATCH)]
        return torch.cat(parts).numpy()
    machine = DrumMachine.load(run)
    decoded = np.zeros_like(spectrograms)
    for code in np.unique(labels):
        chosen = labels == code
        latents = machine.encode_spectrograms(spectrograms[chosen], instruments[code])
        decoded[chosen] = machine.decode_spectrograms(latents, instruments[code])
    return decoded


def measure(originals: np.ndarray, estimates: np.ndarray, sample_rate: int, n_fft: int, hop: int) -> dict[str, np.ndarray]:
    """Per-sound figures of `estimates` against `originals` (audio ``(n, samples)``)."""
    reference = 10 ** (log_spectrogram(originals, n_fft, hop).numpy() / 20)
    estimate = 10 ** (log_spectrogram(estimates, n_fft, hop).numpy() / 20)
    return {
        "log_mel_distance": log_mel_distance(originals, estimates, sample_rate),
        "spectral_convergence": spectral_convergence(reference, estimate),
        "attack_share_ratio": attack_share(estimates, sample_rate) / np.maximum(attack_share(originals, sample_rate), 1e-12),
    }


def fit_length(audio: np.ndarray, samples: int) -> np.ndarray:
    """Audio ``(n, length)`` cut or padded with silence to ``(n, samples)``."""
    if audio.shape[-1] >= samples:
        return audio[..., :samples]
    return np.pad(audio, ((0, 0), (0, samples - audio.shape[-1])))


def medians(figures: dict[str, np.ndarray], chosen: np.ndarray | None = None) -> dict[str, float]:
    return {name: round(float(np.median(values if chosen is None else values[chosen])), 4) for name, values in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("bank", type=Path)
    parser.add_argument("--source", required=True)
    parser.add_argument("--reference-seconds", type=float, help="compare with the files read at this length (default: the model's)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    directory = load_model_dir(args.run)
    config = directory.config
    bank = Bank(args.bank, preset=config)
    held = bank.data[bank.data["source"] == args.source]
    if held.empty:
        raise SystemExit(f"no sounds of source {args.source!r} in {args.bank}")
    codes = {name: code for code, name in enumerate(bank.instruments)}
    labels = held["label"].map(codes).to_numpy()
    spectrograms = PackedArray(bank.array_path, held["index"].to_numpy())[np.arange(len(held))].astype(np.float32)
    reference = config.audio
    if args.reference_seconds is not None:
        reference = dataclasses.replace(reference, num_samples=round(args.reference_seconds * reference.sample_rate))
    originals = np.stack([load_sound(bank.original_dir / path, reference)[0] for path in held["original_path"]])
    start = time.perf_counter()
    decoded = reconstruct(args.run, spectrograms, labels, bank.instruments)
    audio = config.audio
    model_audio = fit_length(spectrogram_to_audio(decoded, audio, inversion=config.inversion), reference.num_samples)
    ceiling_audio = fit_length(spectrogram_to_audio(spectrograms, audio, inversion=config.inversion), reference.num_samples)
    seconds = time.perf_counter() - start
    model = measure(originals, model_audio, audio.sample_rate, audio.n_fft, audio.hop_length)
    ceiling = measure(originals, ceiling_audio, audio.sample_rate, audio.n_fft, audio.hop_length)
    result = {
        "run": str(args.run),
        "model_kind": config.model.kind,
        "source": args.source,
        "reference_seconds": round(reference.num_samples / reference.sample_rate, 4),
        "sounds": len(held),
        "model": medians(model),
        "ceiling": medians(ceiling),
        "log_mel_ratio_to_ceiling": round(float(np.median(model["log_mel_distance"])) / float(np.median(ceiling["log_mel_distance"])), 3),
        "per_class": {
            name: {"sounds": int((labels == code).sum()), "model": medians(model, labels == code), "ceiling": medians(ceiling, labels == code)}
            for name, code in codes.items() if (labels == code).any()
        },
        "seconds": round(seconds, 1),
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("sounds", "model", "ceiling", "log_mel_ratio_to_ceiling")}, indent=2))


if __name__ == "__main__":
    main()
