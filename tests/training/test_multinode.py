"""Training as a multi-node job: two local processes play node 0 and node 1 of a two-node DDP run (gloo on the
CPU, ``MASTER_ADDR=127.0.0.1``), as ``docs/cluster.md`` tells a user to start them on two machines, and the
model they train equals the model one process trains with the same global batch.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from subprocess import Popen
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from dkvae.training.train import _is_secondary_process

from ..conftest import TINY_TRAIN, tiny_config

NODES = 2
#: Sounds per class of the test bank: 51 training sounds (odd, so the sharding drops one an epoch) and 12
#: validation sounds (even, so each node validates 6 and Lightning's validation sampler repeats none).
PER_CLASS = 10
PER_PROCESS_BATCH = 4
#: Two epochs of 51 // 8 = 6 steps.
STEPS = 2 * (51 // (NODES * PER_PROCESS_BATCH))
# Both runs train on the same batches in the same order with the same VAE noise, so only the order of float32
# sums differs (a gradient averaged over two halves of a batch against one mean over the whole batch). Adam
# turns a rounding difference in a gradient that is nearly zero (a bias a GroupNorm cancels, a weight that
# only reaches the cropped padding) into a difference of a whole step (lr = 1e-3), so the weights drift
# apart by more than rounding: measured over seeds 0-7, the relative weight difference was 8e-5 to 1.0e-3
# (2.1e-4 at seed 0, this test's), the mean reconstruction difference 2e-7 to 8.7e-4, the epoch losses 0 to
# 2.6e-5 relative apart. One process with 2 threads instead of 1 (only the sums' order changes) lands as
# far from itself: 1.5e-4 to 5.9e-4 in weights. Before the two nodes shared one order and one noise, they
# were 3.2e-2 to 3.7e-2 apart in weights, 2.5e-2 to 3.5e-2 in reconstruction and 2.4e-2 in training loss.
#: Largest ``|w_nodes - w_one| / |w_one|`` over all weights (one vector): 5x the largest drift measured.
WEIGHT_TOLERANCE = 5e-3
#: Largest mean absolute difference of the two models' reconstructions of the bank (spectrograms in [0, 1]):
#: 6x the largest measured.
RECONSTRUCTION_TOLERANCE = 5e-3
#: Largest relative difference of the logged training and validation loss of each epoch: 8x the largest measured.
LOSS_TOLERANCE = 2e-4
TIMEOUT_S = 240


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dkvae import Bank
    from dkvae.importers.synth import write_synth_bank

    folder = write_synth_bank(tmp_path_factory.mktemp("multinode") / "bank", per_class=PER_CLASS, seed=3, workers=1)
    processed = Bank(folder, preset=tiny_config(), workers=1)
    assert processed.data["split"].value_counts().to_dict() == {"train": 51, "val": 12, "test": 7}
    return folder


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


#: Prefixes of the variables torchrun, SLURM, Lightning or a user's shell may have set for a distributed run.
LAUNCHER_VARIABLES = ("SLURM_", "TORCHELASTIC_", "PL_", "MASTER_", "NODE_RANK", "LOCAL_RANK", "GROUP_RANK", "RANK")
LAUNCHER_VARIABLES += ("WORLD_SIZE",)


def clean_environment() -> dict[str, str]:
    """This process's environment without any launcher's variables, one thread per process (2 shared cores)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(LAUNCHER_VARIABLES)}
    env["OMP_NUM_THREADS"] = "1"
    return env


def start_training(bank: Path, config: Path, out: Path, log: Path, env: dict[str, str], *options: str) -> Popen:
    """``python -m dkvae train`` on the CPU in the background, output in `log` (a pipe could fill and stall a node)."""
    command = [sys.executable, "-m", "dkvae", "train", str(bank), "--config", str(config), "--out", str(out)]
    command += ["--accelerator", "cpu", *options]
    with open(log, "w", encoding="utf-8") as file:
        return Popen(command, stdout=file, stderr=subprocess.STDOUT, env=env)


def finish(process: Popen, log: Path) -> str:
    """Wait for `process` and return its output; fail with its tail when it failed."""
    try:
        process.wait(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    output = log.read_text(encoding="utf-8")
    assert process.returncode == 0, output[-3000:]
    return output


def test_two_nodes_train_what_one_process_trains_with_the_same_global_batch(bank: Path, tmp_path: Path) -> None:
    config_file = tmp_path / "tiny.json"
    config_file.write_text(tiny_config().to_json())
    port = str(free_port())
    # One run folder for both nodes, as on a cluster's shared file system: node 0 writes it, node 1 only trains.
    nodes_run, single_run = tmp_path / "nodes", tmp_path / "single"
    nodes = []
    for node_rank in range(NODES):
        env = clean_environment() | {
            "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "NODE_RANK": str(node_rank), "LOCAL_RANK": "0",
            "WORLD_SIZE": str(NODES),
        }  # fmt: skip
        log = tmp_path / f"node{node_rank}.log"
        options = ["--num-nodes", str(NODES), "--devices", "1", "--strategy", "ddp"]
        options += ["--batch-size", str(PER_PROCESS_BATCH)]
        nodes.append((start_training(bank, config_file, nodes_run, log, env, *options), log))
    single_log = tmp_path / "single.log"
    options = ["--devices", "1", "--batch-size", str(NODES * PER_PROCESS_BATCH)]
    single = start_training(bank, config_file, single_run, single_log, clean_environment(), *options)
    outputs = [finish(process, log) for process, log in nodes]
    finish(single, single_log)

    assert "Starting with 2 processes" in outputs[0] and "MEMBER: 2/2" in outputs[1]
    assert "best validation loss" in outputs[0] and "process of rank 1 done" in outputs[1]
    steps = [pd.read_csv(run / "logs" / "metrics.csv")["step"].max() + 1 for run in (nodes_run, single_run)]
    assert steps == [STEPS, STEPS]

    trained, expected = load_file(nodes_run / "model.safetensors"), load_file(single_run / "model.safetensors")
    assert trained.keys() == expected.keys()
    difference = torch.cat([(trained[name] - expected[name]).flatten() for name in expected]).norm()
    assert difference / torch.cat([weight.flatten() for weight in expected.values()]).norm() < WEIGHT_TOLERANCE
    reconstructions = [reconstruct(run, bank) for run in (nodes_run, single_run)]
    assert (reconstructions[0] - reconstructions[1]).abs().mean() < RECONSTRUCTION_TOLERANCE
    losses = [epoch_losses(run) for run in (nodes_run, single_run)]
    assert losses[0].shape == (2, 2)
    np.testing.assert_allclose(losses[0], losses[1], rtol=LOSS_TOLERANCE)
    nodes_info = json.loads((nodes_run / "config.json").read_text())["training"]
    single_info = json.loads((single_run / "config.json").read_text())["training"]
    assert nodes_info["best_epoch"] == single_info["best_epoch"] == 1


def reconstruct(run: Path, bank: Path) -> torch.Tensor:
    """The run's model's reconstructions (from the posterior means) of the bank's training and validation sounds."""
    from dkvae import Bank
    from dkvae.models.checkpoint import load_model_dir

    x_train, y_train, _, _, x_val, y_val = Bank(bank, preset=tiny_config()).load_spectrograms()
    spectrograms = torch.from_numpy(np.concatenate([x_train, x_val]).astype(np.float32))
    labels = torch.from_numpy(np.concatenate([y_train, y_val])).long()
    model = load_model_dir(run).model.eval()
    with torch.no_grad():
        return model.decode(model.encode(spectrograms, labels)[0], labels)


def epoch_losses(run: Path) -> np.ndarray:
    """``(epochs, 2)``: the training and validation loss the run logged for each epoch."""
    metrics = pd.read_csv(run / "logs" / "metrics.csv")
    return metrics.groupby("epoch")[["train/loss", "val/loss"]].max().to_numpy()


@pytest.mark.parametrize("balance", [True, False])
def test_the_processes_deal_one_training_order_between_them(bank: Path, balance: bool) -> None:
    from dkvae import Bank
    from dkvae.training.train import BankDataModule

    processed = Bank(bank, preset=tiny_config())

    def epochs(world_size: int, rank: int, batch_size: int) -> tuple[list[list[int]], int]:
        """The sample order of two epochs on this process, and its batches an epoch."""
        train = dataclasses.replace(TINY_TRAIN, batch_size=batch_size, balance_classes=balance)
        data = BankDataModule(processed, train)
        data.trainer = SimpleNamespace(world_size=world_size, global_rank=rank)  # type: ignore[assignment]
        loader = data.train_dataloader()
        return [list(loader.sampler) for _ in range(2)], len(loader)

    one, one_batches = epochs(1, 0, NODES * PER_PROCESS_BATCH)
    shards = [epochs(NODES, rank, PER_PROCESS_BATCH) for rank in range(NODES)]
    assert one_batches == shards[0][1] == shards[1][1] == 51 // (NODES * PER_PROCESS_BATCH)
    assert one[0] != one[1]
    for epoch in range(2):
        dealt = [index for pair in zip(shards[0][0][epoch], shards[1][0][epoch]) for index in pair]
        assert dealt == one[epoch][:50]


def test_the_processes_draw_one_global_batchs_noise_between_them() -> None:
    from dkvae.training.train import DrumModule

    def noise(world_size: int, rank: int, rows: int) -> torch.Tensor:
        module = DrumModule(tiny_config().to_dict(), num_classes=7)
        module._trainer = SimpleNamespace(world_size=world_size, global_rank=rank)  # type: ignore[assignment]
        return torch.cat([module.latent_noise(rows), module.latent_noise(rows)])

    one = noise(1, 0, 6)
    shards = [noise(2, rank, 3) for rank in range(2)]
    assert shards[0].shape == (6, 4)
    for step in range(2):
        together = torch.stack([shards[0][3 * step : 3 * step + 3], shards[1][3 * step : 3 * step + 3]], dim=1)
        torch.testing.assert_close(together.reshape(6, 4), one[6 * step : 6 * step + 6], rtol=0, atol=0)


@pytest.mark.parametrize(
    ("variables", "secondary"),
    [
        ({}, False),
        ({"NODE_RANK": "0", "LOCAL_RANK": "0"}, False),
        ({"NODE_RANK": "1", "LOCAL_RANK": "0"}, True),
        ({"LOCAL_RANK": "1"}, True),
        ({"RANK": "0", "LOCAL_RANK": "0", "GROUP_RANK": "0"}, False),
        ({"RANK": "2", "LOCAL_RANK": "0", "GROUP_RANK": "1"}, True),
        ({"SLURM_PROCID": "0", "SLURM_NTASKS": "2"}, False),
        ({"SLURM_PROCID": "1", "SLURM_NTASKS": "2"}, True),
    ],
)
def test_only_the_first_process_of_any_launcher_prepares_the_run_folder(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], secondary: bool
) -> None:
    for name in ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID", "SLURM_NTASKS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert _is_secondary_process() is secondary
