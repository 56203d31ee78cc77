"""Coverage-guided fuzzing of the audio loader with atheris, for a fixed time (not part of CI).

Every input is written as a file and loaded with the `default` preset: the loader must return a
sound or raise `BadAudio`; any other exception, or a child exceeding the memory limit (libFuzzer's
``-rss_limit_mb``), is a crash that libFuzzer reports with the input that caused it. Seeds are a
few valid WAV, FLAC and AIFF files so the fuzzer starts deep in the decoder.

    pip install atheris
    python bench/fuzz_loader.py --seconds 600
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from pathlib import Path

import atheris
import numpy as np
import soundfile as sf

with atheris.instrument_imports():
    from dkvae.core.config import get_preset
    from dkvae.sound.audio import BadAudio, load_sound

AUDIO = get_preset("default").audio
WORK = Path(tempfile.mkdtemp(prefix="dkvae-fuzz-"))


def seed_corpus(folder: Path) -> None:
    """A decaying tone in the formats libsndfile reads, as the fuzzer's starting inputs."""
    t = np.arange(4410) / 44100
    tone = (0.7 * np.sin(2 * np.pi * 200 * t) * np.exp(-t / 0.02)).astype(np.float32)
    for name, fmt, subtype in (("a.wav", "WAV", "PCM_16"), ("b.wav", "WAV", "FLOAT"), ("c.flac", "FLAC", "PCM_24"),
                               ("d.aiff", "AIFF", "PCM_16")):  # fmt: skip
        buffer = io.BytesIO()
        sf.write(buffer, np.stack([tone, tone], axis=1), 44100, format=fmt, subtype=subtype)
        (folder / name).write_bytes(buffer.getvalue())


def test_one_input(data: bytes) -> None:
    path = WORK / "input"
    path.write_bytes(data)
    try:
        audio, _ = load_sound(path, AUDIO)
    except BadAudio:
        return
    if audio.shape != (AUDIO.num_samples,) or not np.isfinite(audio).all():
        raise AssertionError("the loader returned a sound of the wrong shape or with non-finite samples")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--rss-limit-mb", type=int, default=1024)
    args, rest = parser.parse_known_args()
    corpus = WORK / "corpus"
    corpus.mkdir()
    seed_corpus(corpus)
    argv = [sys.argv[0], f"-max_total_time={args.seconds}", f"-rss_limit_mb={args.rss_limit_mb}", "-timeout=10",
            "-print_final_stats=1", str(corpus), *rest]  # fmt: skip
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
