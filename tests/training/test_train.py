from __future__ import annotations

import dataclasses
import itertools
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch

from dkvae import Bank, DkvaeError
from dkvae.core.config import SEED_MODEL, SplitConfig
from dkvae.core.errors import TrainingDiverged
from dkvae.data.bank import split_for
from dkvae.models.checkpoint import load_model_dir
from dkvae.training.train import CosineDecay, train

from ..conftest import TINY_TRAIN, tiny_config, write_bank


@pytest.mark.parametrize(
    "changes",
    [
        {}, {"kind": "ae"}, {"kind": "ae", "architecture": "dense"}, {"kind": "classifier"}, {"conditional": False},
        {"kind": "codec", "conditional": False, "latent_channels": 4, "codec_width": 16, "mel_bands": (8,)},
    ],
    ids=["cvae", "ae-conv", "ae-dense", "classifier", "vae-unconditional", "codec"],
)
def test_each_model_kind_trains_and_writes_a_run_folder(tiny_bank, tmp_path, changes) -> None:
    run = tmp_path / "run"
    result = train(tiny_bank, run, tiny_config(**changes), progress_bar=False)
    assert np.isfinite(result.best_val_loss)
    for name in ("model.safetensors", "config.json", "run.json", "loss.png", "checkpoints/last.ckpt"):
        assert (run / name).exists(), name
    metrics = pd.read_csv(run / "logs" / "metrics.csv")
    assert metrics["val/loss"].notna().sum() == 2 and metrics["epoch"].max() == 1
    assert list((run / "logs").glob("events.out.tfevents*"))
    document = json.loads((run / "config.json").read_text())
    assert document["class_names"] == ["clap", "cymbal", "hihat", "kick", "perc", "snare", "tom"]
    assert document["training"]["best_epoch"] in (0, 1)


def test_the_seed_model_trains_and_its_run_keeps_the_seeds_settings(tiny_bank, tmp_path) -> None:
    config = dataclasses.replace(tiny_config(), model=SEED_MODEL)
    train(tiny_bank, tmp_path / "seed", config, progress_bar=False)
    saved = json.loads((tmp_path / "seed" / "config.json").read_text())["config"]["model"]
    assert saved["architecture"] == "seed" and saved["latent_dim"] == 8 and saved["beta"] == 1e-4
    assert saved["channels"] == [512, 256, 128, 64] and saved["strides"][-1] == [2, 1]
    assert load_model_dir(tmp_path / "seed").config.model == SEED_MODEL


def test_a_nan_loss_stops_with_a_clear_message_and_keeps_the_best_model(tiny_bank, tmp_path, monkeypatch) -> None:
    import dkvae.training.train

    original = dkvae.training.train.DrumModule.losses

    def poisoned(self, batch):
        losses = original(self, batch)
        if self.current_epoch >= 1 and self.training:
            losses["loss"] = losses["loss"] * float("nan")
        return losses

    monkeypatch.setattr(dkvae.training.train.DrumModule, "losses", poisoned)
    config = dataclasses.replace(tiny_config(), train=dataclasses.replace(TINY_TRAIN, epochs=4))
    with pytest.raises(TrainingDiverged, match="diverged.*epoch 1"):
        train(tiny_bank, tmp_path / "run", config, progress_bar=False)
    kept = load_model_dir(tmp_path / "run")
    assert kept.training["best_epoch"] == 0


KILL_SCRIPT = """
import sys, dataclasses
from dkvae.core.config import Config
from dkvae.training.train import train
config = Config.from_json(open(sys.argv[3]).read())
train(sys.argv[1], sys.argv[2], config, resume=sys.argv[4] == "resume", progress_bar=False)
"""


def test_a_killed_run_resumes_from_its_last_checkpoint_with_the_optimizer_state(tiny_bank, tmp_path) -> None:
    config = dataclasses.replace(tiny_config(), train=dataclasses.replace(TINY_TRAIN, epochs=200))
    config_file = tmp_path / "config.json"
    config_file.write_text(config.to_json())
    run = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(tiny_bank), str(run), str(config_file), "new"], start_new_session=True
    )
    last = run / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if last.exists() and len(pd.read_csv(run / "logs" / "metrics.csv")) >= 3:
            break
        time.sleep(0.1)
    assert process.poll() is None, "the run ended before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    checkpoint = torch.load(last, weights_only=False)
    assert checkpoint["optimizer_states"] and checkpoint["optimizer_states"][0]["state"]
    killed_at = checkpoint["epoch"]

    resumed = dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=killed_at + 3))
    result = train(tiny_bank, run, resumed, resume=True, progress_bar=False)
    assert result.epochs == killed_at + 3
    metrics = pd.read_csv(run / "logs" / "metrics.csv")
    validated = metrics.dropna(subset=["val/loss"])["epoch"].astype(int)
    assert list(validated) == list(range(killed_at + 3)), "each epoch's row once, the killed session's kept"
    assert load_model_dir(run).training["best_epoch"] <= killed_at + 2


def test_runs_refuse_to_overwrite_or_to_resume_with_other_settings(tiny_bank, tmp_path) -> None:
    train(tiny_bank, tmp_path / "run", tiny_config(), progress_bar=False)
    with pytest.raises(DkvaeError, match="already holds a run"):
        train(tiny_bank, tmp_path / "run", tiny_config(), progress_bar=False)
    with pytest.raises(DkvaeError, match="other settings"):
        train(tiny_bank, tmp_path / "run", tiny_config(latent_dim=6), resume=True, progress_bar=False)
    with pytest.raises(DkvaeError, match="nothing to resume"):
        train(tiny_bank, tmp_path / "empty", tiny_config(), resume=True, progress_bar=False)


def test_banks_a_model_cannot_learn_from_are_refused(tmp_path) -> None:
    few = write_bank(tmp_path / "few", per_class=2)
    with pytest.raises(DkvaeError, match="has no (train|val) sounds"):
        train(few, tmp_path / "run", tiny_config(), progress_bar=False)


def test_a_class_without_training_sounds_is_refused(tmp_path) -> None:
    import soundfile as sf

    from ..conftest import drum_hit

    bank = write_bank(tmp_path / "bank", per_class=12)
    (bank / "clap").mkdir()
    split = tiny_config().split
    name = next(f"clap_{i}.wav" for i in range(1000) if split_for(f"clap/clap_{i}.wav", split) == "test")
    sf.write(bank / "clap" / name, drum_hit("noise", 0.2), 44100)
    with pytest.raises(DkvaeError, match="class clap has no training sounds"):
        train(bank, tmp_path / "run", tiny_config(), progress_bar=False)


def test_the_training_data_are_the_banks_spectrograms(tiny_bank) -> None:
    from dkvae.training.train import BankDataModule

    bank = Bank(tiny_bank, preset=tiny_config())
    data = BankDataModule(bank, TINY_TRAIN)
    x_train, y_train, _, _, x_val, _y_val = bank.load_spectrograms()
    assert len(data.train_set) == len(x_train) and len(data.val_set) == len(x_val)
    spectrogram, label = data.train_set[3]
    assert spectrogram.dtype == torch.float32
    np.testing.assert_array_equal(spectrogram.numpy(), x_train[3].astype(np.float32))
    assert int(label) == y_train[3]
    spectrogram, label = data.val_set[0]
    np.testing.assert_array_equal(spectrogram.numpy(), x_val[0].astype(np.float32))


def test_a_pitch_shift_changes_the_training_sounds_only(tiny_bank) -> None:
    from dkvae.training.train import BankDataModule

    bank = Bank(tiny_bank, preset=tiny_config())
    data = BankDataModule(bank, dataclasses.replace(TINY_TRAIN, pitch_shift=2.0))
    x_train, _, _, _, x_val, _ = bank.load_spectrograms()
    torch.manual_seed(0)
    draws = [data.train_set[3][0] for _ in range(2)]
    original = torch.from_numpy(x_train[3].astype(np.float32))
    assert all(draw.shape == original.shape and not torch.equal(draw, original) for draw in draws)
    assert not torch.equal(draws[0], draws[1]), "each reading draws its own shift"
    np.testing.assert_array_equal(data.val_set[0][0].numpy(), x_val[0].astype(np.float32))


@pytest.mark.parametrize("preset", ["default", "seed"])
def test_the_real_presets_train_a_real_epoch(tmp_path_factory, preset) -> None:
    from dkvae.core.config import get_preset
    from dkvae.importers.synth import write_synth_bank

    bank = write_synth_bank(tmp_path_factory.mktemp("presets") / "bank", per_class=6, seed=2, workers=1)
    config = get_preset(preset)
    config = dataclasses.replace(
        config,
        split=SplitConfig(test=0.15, val=0.15),
        train=dataclasses.replace(config.train, epochs=1, batch_size=16, early_stopping_patience=0),
    )
    run = tmp_path_factory.mktemp("run") / preset
    result = train(bank, run, config, progress_bar=False)
    assert np.isfinite(result.best_val_loss)
    loaded = load_model_dir(run)
    assert loaded.config.audio == get_preset(preset).audio and loaded.config.model == get_preset(preset).model
    document = json.loads((run / "config.json").read_text())
    assert document["input_shape"] == list(get_preset(preset).audio.shape)


def test_the_training_clock_runs_on_across_a_resume_and_a_time_budget_stops_the_run(tiny_bank, tmp_path) -> None:
    run = tmp_path / "run"
    train(tiny_bank, run, tiny_config(), progress_bar=False)
    first = pd.read_csv(run / "logs" / "metrics.csv")["elapsed_s"].dropna()
    assert first.is_monotonic_increasing and first.iloc[0] > 0
    longer = dataclasses.replace(tiny_config(), train=dataclasses.replace(TINY_TRAIN, epochs=3))
    train(tiny_bank, run, longer, resume=True, progress_bar=False)
    resumed = pd.read_csv(run / "logs" / "metrics.csv")["elapsed_s"].dropna()
    assert len(resumed) == len(first) + 1 and resumed.iloc[-1] > first.iloc[-1]

    budget = dataclasses.replace(tiny_config(), train=dataclasses.replace(TINY_TRAIN, epochs=100, max_minutes=1e-5))
    result = train(tiny_bank, tmp_path / "budget", budget, progress_bar=False)
    assert result.epochs == 1
    assert pd.read_csv(tmp_path / "budget" / "logs" / "metrics.csv")["elapsed_s"].max() > 1e-5 * 60


def test_a_run_with_early_stopping_resumes(tiny_bank, tmp_path) -> None:
    patient = dataclasses.replace(TINY_TRAIN, early_stopping_patience=5)
    train(tiny_bank, tmp_path / "run", dataclasses.replace(tiny_config(), train=patient), progress_bar=False)
    longer = dataclasses.replace(tiny_config(), train=dataclasses.replace(patient, epochs=4))
    result = train(tiny_bank, tmp_path / "run", longer, resume=True, progress_bar=False)
    assert result.epochs == 4


def test_init_starts_a_plain_run_from_the_given_models_weights(tiny_bank, trained_run) -> None:
    from dkvae.training.train import build_module

    start = load_model_dir(trained_run)
    bank = Bank(tiny_bank, preset=tiny_config(), process=False)
    module = build_module(tiny_config(), bank, trained_run)
    for name, tensor in start.model.state_dict().items():
        assert torch.equal(module.model.state_dict()[name], tensor), name
    fresh = build_module(tiny_config(), bank)
    assert not all(torch.equal(fresh.model.state_dict()[n], t) for n, t in start.model.state_dict().items())


def test_init_goes_on_training_the_given_model(tiny_bank, trained_run, tmp_path) -> None:
    more = train(tiny_bank, tmp_path / "more", tiny_config(), progress_bar=False, init=trained_run)
    from_scratch = train(tiny_bank, tmp_path / "scratch", tiny_config(), progress_bar=False)
    assert json.loads((tmp_path / "more" / "run.json").read_text())["init"] == str(trained_run)
    assert more.best_val_loss < from_scratch.best_val_loss  # two epochs on top of two beat two from nothing


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"kind": "cgan", "conditional": True}, "GAN trains from scratch"), ({"latent_dim": 3}, "another model")],
)
def test_init_from_a_model_it_cannot_start_from_is_refused(tiny_bank, trained_run, changes, message) -> None:
    from dkvae.training.train import build_module

    bank = Bank(tiny_bank, preset=tiny_config(), process=False)
    with pytest.raises(DkvaeError, match=message):
        build_module(tiny_config(**changes), bank, trained_run)


def test_a_held_out_source_is_left_out_of_training_and_validation(tiny_bank) -> None:
    from dkvae.importers.synth import SOURCE
    from dkvae.training.train import training_rows

    bank = Bank(tiny_bank, preset=tiny_config())
    rows, labels = training_rows(bank, "train", ())
    assert len(rows) == len(labels) == (bank.data["split"] == "train").sum() > 0
    assert len(training_rows(bank, "train", (SOURCE,))[0]) == 0
    assert len(training_rows(bank, "val", ("another-source",))[0]) == (bank.data["split"] == "val").sum()


def test_holding_out_a_source_the_bank_lacks_is_refused_by_name(tiny_bank, tmp_path) -> None:
    config = tiny_config()
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, holdout_sources=("fluid",)))
    with pytest.raises(DkvaeError, match="no sounds in bank .* come from fluid; its sources: dkvae-synth$"):
        train(tiny_bank, tmp_path / "run", config, progress_bar=False)


@pytest.mark.parametrize("balance_classes", [True, False], ids=["balanced", "shuffled"])
def test_a_resumed_run_ends_exactly_where_an_unbroken_one_does(tiny_bank, tmp_path, balance_classes) -> None:
    # augmented and pitch-shifted, so every source of randomness is drawn from: the training order, the
    # latent noise and torch's global generator (the augmentation's)
    varied = dataclasses.replace(TINY_TRAIN, epochs=3, augment=True, pitch_shift=1.0, balance_classes=balance_classes)
    config = dataclasses.replace(tiny_config(), train=varied)
    train(tiny_bank, tmp_path / "unbroken", config, progress_bar=False)
    first = dataclasses.replace(config, train=dataclasses.replace(varied, epochs=1))
    train(tiny_bank, tmp_path / "resumed", first, progress_bar=False)
    train(tiny_bank, tmp_path / "resumed", config, resume=True, progress_bar=False)

    def losses(run):
        return pd.read_csv(run / "logs" / "metrics.csv").dropna(subset=["val/loss"])["val/loss"].tolist()

    assert len(losses(tmp_path / "unbroken")) == 3
    assert losses(tmp_path / "resumed") == losses(tmp_path / "unbroken")
    unbroken, resumed = (
        torch.load(tmp_path / run / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
        for run in ("unbroken", "resumed")
    )
    assert unbroken.keys() == resumed.keys()
    for name, weights in unbroken.items():
        assert torch.equal(weights, resumed[name]), name


def test_the_cosine_decay_falls_from_one_to_its_final_fraction_and_then_stays() -> None:
    decay = CosineDecay(10, 0.01)
    factors = [decay(step) for step in range(21)]
    assert factors[0] == 1.0 and factors[5] == pytest.approx(0.505) and factors[10] == pytest.approx(0.01)
    assert all(a > b for a, b in itertools.pairwise(factors[:11])), "falls at every step"
    assert factors[10:] == [factors[10]] * 11, "flat after the end"


def test_a_cosine_run_ends_at_its_final_rate_and_an_extended_one_trains_on_at_it(tiny_bank, tmp_path) -> None:
    cosine = dataclasses.replace(TINY_TRAIN, epochs=3, learning_rate=1e-3, lr_schedule="cosine", final_lr_fraction=0.1)
    config = dataclasses.replace(tiny_config(), train=cosine)
    train(tiny_bank, tmp_path / "run", config, progress_bar=False)
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False)
    assert checkpoint["optimizer_states"][0]["param_groups"][0]["lr"] == pytest.approx(1e-4)
    rates = pd.read_csv(tmp_path / "run" / "logs" / "metrics.csv")["lr"].dropna().tolist()
    assert len(rates) == 3 and 1e-3 > rates[0] > rates[1] > rates[2] > 1e-4, "each epoch's mean rate, falling"

    extended = dataclasses.replace(config, train=dataclasses.replace(cosine, epochs=4))
    train(tiny_bank, tmp_path / "run", extended, resume=True, progress_bar=False)
    rates = pd.read_csv(tmp_path / "run" / "logs" / "metrics.csv")["lr"].dropna().tolist()
    assert len(rates) == 4 and rates[3] == pytest.approx(1e-4), "the schedule it started with, flat past its end"
