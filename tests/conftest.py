"""Shared fixtures: small real audio files and banks written with soundfile."""

from __future__ import annotations

import atexit
import dataclasses
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from dkvae.core.config import AudioConfig, Config, ModelConfig, SplitConfig, TrainConfig

# librosa's numba functions (pyin, used as a reference) cache machine code, and processes filling one
# cache at once can pair one's kernel with another's wrapper: a segfault in pyin's gufunc (numba issue
# 10128). So each test process compiles into a cache of its own (set before librosa imports numba;
# about 13 s for pyin). An xdist worker inherits its controller's environment, so a cache this file
# made for another process (`OWN_CACHE_PID` says which) is replaced too; one the user set is kept.
OWN_CACHE_PID = "DKVAE_TESTS_NUMBA_CACHE_PID"
if "NUMBA_CACHE_DIR" not in os.environ or os.environ.get(OWN_CACHE_PID, str(os.getpid())) != str(os.getpid()):
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="dkvae-tests-numba-")
    os.environ[OWN_CACHE_PID] = str(os.getpid())
    atexit.register(shutil.rmtree, os.environ["NUMBA_CACHE_DIR"], ignore_errors=True)


def drum_hit(kind: str, seconds: float = 0.5, sample_rate: int = 44100, seed: int = 0) -> np.ndarray:
    """A short decaying test sound: a swept sine (``"tone"``) or a noise burst (``"noise"``), float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    envelope = np.exp(-t * 9.0)
    if kind == "tone":
        frequency = 50.0 + 5.0 * seed + 120.0 * np.exp(-t * 30.0)
        signal = np.sin(2 * np.pi * np.cumsum(frequency) / sample_rate)
    else:
        signal = rng.standard_normal(t.size)
    return (0.8 * envelope * signal / np.max(np.abs(signal))).astype(np.float32)


def write_bank(root: Path, per_class: int = 6, classes: tuple[str, ...] = ("kick", "snare")) -> Path:
    """A bank folder ``root/<class>/<class>_<i>.wav`` of distinct short sounds."""
    for class_index, label in enumerate(classes):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            kind = "tone" if class_index % 2 == 0 else "noise"
            sf.write(root / label / f"{label}_{i}.wav", drum_hit(kind, 0.3, seed=i + 10 * class_index), 44100)
    return root


@pytest.fixture
def small_bank(tmp_path: Path) -> Path:
    """Two classes of six sounds each."""
    return write_bank(tmp_path / "bank")


TINY_AUDIO = AudioConfig(sample_rate=8000, num_samples=2048, n_fft=128, hop_length=64)
TINY_MODEL = ModelConfig(channels=(8, 16), kernel_sizes=(3, 3), strides=((2, 2), (2, 2)), latent_dim=4, hidden_sizes=(32,))
TINY_TRAIN = TrainConfig(epochs=2, batch_size=8, kl_warmup_epochs=1, early_stopping_patience=0)


def tiny_config(**model_changes) -> Config:
    return Config(
        preset="tiny",
        audio=TINY_AUDIO,
        split=SplitConfig(test=0.15, val=0.15),
        model=dataclasses.replace(TINY_MODEL, **model_changes),
        train=TINY_TRAIN,
    )


@pytest.fixture(scope="session")
def tiny_bank(tmp_path_factory) -> Path:
    from dkvae import Bank
    from dkvae.importers.synth import write_synth_bank

    bank = write_synth_bank(tmp_path_factory.mktemp("synth") / "bank", per_class=8, seed=1, workers=1)
    Bank(bank, preset=tiny_config(), workers=1)
    return bank


@pytest.fixture
def no_pickle(monkeypatch):
    """Make any unpickling fail, so a test proves loading never needs it."""

    def refuse(*args, **kwargs):
        raise AssertionError("torch.load (pickle) was called")

    monkeypatch.setattr(torch, "load", refuse)



@pytest.fixture(scope="session")
def trained_run(tiny_bank, tmp_path_factory) -> Path:
    """A conditional VAE trained for two epochs on the tiny bank."""
    from dkvae.training.train import train

    run = tmp_path_factory.mktemp("runs") / "cvae"
    train(tiny_bank, run, tiny_config(), progress_bar=False)
    return run


#: Run as its own process (a reader blocked in open() may hold the GIL): whenever a reader waits on one of
#: the FIFOs given, open it for writing and close it at once, so the reader sees an empty file, not a hang;
#: each release is logged as a line of the first argument's file.
RELEASE_READERS = """
import os, sys, time
log, paths = sys.argv[1], sys.argv[2:]
while True:
    for path in paths:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO while no reader waits
        except OSError:
            continue
        os.close(fd)
        with open(log, "a") as out:
            out.write(path + "\\n")
    time.sleep(0.01)
"""


class WaitingReaders:
    """FIFOs watched by a `RELEASE_READERS` process; `count` is how often a reader waited on one."""

    def __init__(self, paths: list[Path], log: Path) -> None:
        import subprocess
        import sys

        self.log = log
        self.process = subprocess.Popen([sys.executable, "-c", RELEASE_READERS, str(log), *map(str, paths)])

    @property
    def count(self) -> int:
        return len(self.log.read_text().splitlines()) if self.log.exists() else 0


@pytest.fixture
def fifo_readers(tmp_path_factory):
    """``fifo_readers(*paths)`` makes a FIFO at each path and returns the `WaitingReaders` watching them."""
    watchers: list[WaitingReaders] = []

    def make(*paths: Path) -> WaitingReaders:
        for path in paths:
            os.mkfifo(path)
        watchers.append(WaitingReaders(list(paths), tmp_path_factory.mktemp("fifo") / "released.log"))
        return watchers[-1]

    yield make
    for watcher in watchers:
        watcher.process.kill()
        watcher.process.wait()
