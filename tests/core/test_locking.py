"""Two processes on one bank: preprocessing runs one at a time, waits or refuses clearly, and survives SIGKILL."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dkvae import Bank
from dkvae.core.locking import exclusive_lock
from dkvae.data.bank import SAMPLES_NAME, processed_dir_for
from dkvae.importers.synth import write_synth_bank

#: Preprocesses the bank argv[1] with the seed preset; a second argument sets the lock's wait in seconds.
#: It waits for a file ``go`` beside the bank first, so two of them start together.
PREPROCESS = """
import sys, time
from pathlib import Path
import dkvae.core.locking
from dkvae.cli import main
if len(sys.argv) > 2:
    dkvae.core.locking.WAIT_SECONDS = float(sys.argv[2])
bank = Path(sys.argv[1])
while not (bank.parent / "go").exists():
    time.sleep(0.01)
sys.argv = ["dkvae", "preprocess", str(bank), "--preset", "seed", "--workers", "1"]
main()
"""
#: Holds the lock of the bank argv[1] until it is killed.
HOLD = """
import sys, time
from dkvae.data.bank import processed_dir_for
from dkvae.core.locking import exclusive_lock
directory = processed_dir_for(sys.argv[1])
directory.mkdir(exist_ok=True)
with exclusive_lock(directory, "a test"):
    print("locked", flush=True)
    time.sleep(600)
"""


@pytest.fixture(scope="module")
def synth_bank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synth_bank(tmp_path_factory.mktemp("synth") / "bank", per_class=6, seed=3, workers=1)


@pytest.fixture
def bank(synth_bank: Path, tmp_path: Path) -> Path:
    """A fresh, unprocessed copy of the synthetic bank (file times kept)."""
    return Path(shutil.copytree(synth_bank, tmp_path / "bank"))


def start(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def committed(bank: Path) -> tuple[bytes, bytes]:
    """samples.csv and the packed array of a processed bank, as bytes."""
    processed = processed_dir_for(bank)
    (array,) = processed.glob("spectrograms-*.npy")
    return (processed / SAMPLES_NAME).read_bytes(), array.read_bytes()


def test_two_runs_at_once_give_the_same_bank_as_one_run(bank: Path) -> None:
    runs = [start(PREPROCESS, str(bank)) for _ in range(2)]
    (bank.parent / "go").touch()
    for run in runs:
        _, stderr = run.communicate(timeout=60)
        assert run.returncode == 0, stderr
    together = committed(bank)
    shutil.rmtree(processed_dir_for(bank))
    Bank(bank, preset="seed", workers=1)
    assert committed(bank) == together
    assert sorted(p.name for p in processed_dir_for(bank).iterdir() if p.name.startswith(".")) == [".lock"]


def test_a_second_run_waits_for_the_holder_and_says_so(bank: Path) -> None:
    processed = processed_dir_for(bank)
    processed.mkdir()
    with exclusive_lock(processed, "a test"):
        waiter = start(PREPROCESS, str(bank))
        (bank.parent / "go").touch()
        assert waiter.stderr is not None
        assert waiter.stderr.readline() == f"waiting for another dkvae process on bank {bank}\n"
        time.sleep(1.0)
        assert waiter.poll() is None and not (processed / SAMPLES_NAME).exists()
    _, stderr = waiter.communicate(timeout=60)
    assert waiter.returncode == 0, stderr
    assert len(Bank(bank, process=False).data) == 6 * 7


def test_a_second_run_gives_up_after_the_wait_with_one_clear_line(bank: Path) -> None:
    processed = processed_dir_for(bank)
    processed.mkdir()
    with exclusive_lock(processed, "a test"):
        refused = start(PREPROCESS, str(bank), "0.5")
        (bank.parent / "go").touch()
        _, stderr = refused.communicate(timeout=60)
    assert refused.returncode == 2
    assert stderr.splitlines() == [
        f"waiting for another dkvae process on bank {bank}",
        f"error: another dkvae process is still working on bank {bank} after 0.5 s; try again once it has finished",
    ]
    assert not (processed / SAMPLES_NAME).exists()


def test_a_killed_holder_leaves_the_bank_unlocked(bank: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    holder = start(HOLD, str(bank))
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
    finally:
        holder.kill()  # SIGKILL: no cleanup runs in the holder
        holder.wait(timeout=10)
    monkeypatch.setattr("dkvae.core.locking.WAIT_SECONDS", 0.0)
    assert len(Bank(bank, preset="seed", workers=1).data) == 6 * 7
