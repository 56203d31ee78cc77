"""A full disk while preprocessing, training and exporting a kit: one clear error (exit 2), the previous state intact.

The disk is a real one: a small tmpfs mounted where the command writes, filled with a file, so writes
fail with ENOSPC as they would on a full drive. Mounting needs root; elsewhere these tests are skipped.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from safetensors import SafetensorError

from dkvae import Bank
from dkvae.data.bank import SAMPLES_NAME, processed_dir_for
from dkvae.importers.synth import write_synth_bank
from dkvae.inference.machine import DrumMachine
from dkvae.kits.build import build_kit
from dkvae.kits.export import export_kit
from dkvae.models.checkpoint import CONFIG_NAME, WEIGHTS_NAME, load_model_dir, save_model_dir
from dkvae.training.train import train

from .conftest import tiny_config

#: Bytes left free on a filled filesystem: room for a folder or a small JSON file, not for audio or weights.
LEFT_FREE = 32 * 1024
FILLER = "filler"


class UnclearReport(Exception):
    """The command failed safely but did not say so in one clear line with exit code 2."""


@pytest.fixture
def mount_small() -> Iterator[Callable[[Path, str], Path]]:
    """Mounts a tmpfs of a given size (e.g. ``"2m"``) on a folder; unmounted after the test."""
    mounted: list[Path] = []

    def mount(path: Path, size: str) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        command = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here: {result.stderr.strip()}")
        mounted.append(path)
        return path

    yield mount
    for path in reversed(mounted):
        subprocess.run(["umount", "--lazy", str(path)], check=True)


@pytest.fixture(scope="module")
def synth_bank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synth_bank(tmp_path_factory.mktemp("synth") / "bank", per_class=2, seed=5, workers=1)


@pytest.fixture
def bank(synth_bank: Path, tmp_path: Path) -> Path:
    """A fresh, unprocessed copy of the synthetic bank."""
    return Path(shutil.copytree(synth_bank, tmp_path / "bank"))


def fill(directory: Path, leave: int = LEFT_FREE) -> Path:
    """Fill the filesystem of `directory` with one file until it is full, then free `leave` bytes of it."""
    filler = directory / FILLER
    block = bytes(1 << 16)
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(block)
        except OSError as error:
            assert error.errno == errno.ENOSPC
    os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


def run_dkvae(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dkvae", *args], capture_output=True, text=True, timeout=120, check=False
    )


def check_report(result: subprocess.CompletedProcess[str]) -> None:
    """Raise `UnclearReport` unless the command exited 2 with one error line that says the disk is full."""
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    clear = len(errors) == 1 and "No space left on device" in errors[0]
    if result.returncode != 2 or "Traceback" in result.stderr or not clear:
        raise UnclearReport(f"exit {result.returncode}: {result.stderr.strip().splitlines()[-1:]}")


def temporaries(directory: Path) -> list[Path]:
    """Files and folders an interrupted atomic write would leave (``.<name>.<random>.tmp``, ``.<name>.<pid>.old``)."""
    return [path for path in directory.rglob(".*") if path.suffix in (".tmp", ".old")]


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under `directory` (but the filler), by relative path."""
    files = (path for path in directory.rglob("*") if path.is_file() and path.name != FILLER)
    return {path.relative_to(directory).as_posix(): path.read_bytes() for path in files}


def test_preprocessing_onto_a_full_disk_commits_nothing(bank: Path, mount_small) -> None:
    processed = mount_small(processed_dir_for(bank), "1m")
    filler = fill(processed)
    result = run_dkvae("preprocess", str(bank), "--preset", "seed", "--workers", "1")
    assert result.returncode != 0
    assert not (processed / SAMPLES_NAME).exists() and not list(processed.glob("spectrograms-*"))
    assert temporaries(processed) == []
    filler.unlink()
    assert len(Bank(bank, preset="seed", workers=1).data) == 2 * 7  # and it works once there is room
    check_report(result)


def test_an_incremental_run_onto_a_full_disk_keeps_the_last_commit(bank: Path, mount_small) -> None:
    processed = mount_small(processed_dir_for(bank), "2m")
    before = Bank(bank, preset="seed", workers=1)
    committed = snapshot(processed)
    for wav in sorted(bank.glob("kick/*.wav")):
        shutil.copy(wav, wav.with_name(f"more_{wav.name}"))
    fill(processed)
    result = run_dkvae("preprocess", str(bank), "--workers", "1")
    assert result.returncode != 0
    assert snapshot(processed) == committed and temporaries(processed) == []
    after = Bank(bank, process=False)
    assert after.data.equals(before.data)
    x_train, *_ = after.load_spectrograms()
    assert x_train.shape[1:] == after.config.audio.shape
    check_report(result)


def test_training_onto_a_full_disk_keeps_the_best_model(tiny_bank: Path, tmp_path: Path, mount_small) -> None:
    run = mount_small(tmp_path / "run", "4m")
    config = tiny_config()
    train(
        tiny_bank,
        run,
        dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=1)),
        progress_bar=False,
    )
    model_files = {name: (run / name).read_bytes() for name in (WEIGHTS_NAME, CONFIG_NAME)}
    fill(run)
    result = run_dkvae("train", str(tiny_bank), "--out", str(run), "--resume", "--epochs", "3", "--accelerator", "cpu")
    assert {name: (run / name).read_bytes() for name in model_files} == model_files
    assert load_model_dir(run).model_id
    check_report(result)


def test_saving_a_model_directory_onto_a_full_disk_keeps_the_previous_one(
    trained_run: Path, tmp_path: Path, mount_small
) -> None:
    run = mount_small(tmp_path / "run", "2m")
    for name in (WEIGHTS_NAME, CONFIG_NAME):
        shutil.copy(trained_run / name, run / name)
    previous = snapshot(run)
    best = load_model_dir(run)
    fill(run)
    with pytest.raises((OSError, SafetensorError)) as raised:
        save_model_dir(run, best.model, best.config, best.class_names, best.normalization, best.training)
    assert snapshot(run) == previous and temporaries(run) == []
    assert load_model_dir(run).model_id == best.model_id
    if getattr(raised.value, "errno", None) != errno.ENOSPC:
        raise UnclearReport(f"{type(raised.value).__name__}: {raised.value}")


def test_a_kit_export_onto_a_full_disk_keeps_the_previous_kit(tmp_path: Path, mount_small) -> None:
    kits = mount_small(tmp_path / "kits", "4m")
    export_kit(build_kit(DrumMachine.load(), seed=0), kits / "kit")
    previous = snapshot(kits / "kit")
    fill(kits)
    result = run_dkvae("kit", "--out", str(kits / "kit"), "--seed", "1", "--force")
    assert result.returncode != 0
    assert snapshot(kits / "kit") == previous
    assert sorted(path.name for path in kits.iterdir()) == [FILLER, "kit"]
    check_report(result)
