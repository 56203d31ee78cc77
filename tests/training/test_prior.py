"""Training a codec's flow prior: latents cached once, a real (short) Lightning run, the prior saved beside the codec."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import safetensors
import torch

from dkvae.models.checkpoint import load_model_dir
from dkvae.models.flow_prior import FLOW_PRIOR_NAME, FlowConfig, flow_prior_training, load_flow_prior
from dkvae.training.prior import LATENTS_NAME, PRIOR_CHECKPOINTS, train_prior
from dkvae.training.train import train

from ..conftest import tiny_config
from ..test_cli import run_dkvae

CODEC = {"kind": "codec", "conditional": False, "latent_channels": 4, "codec_width": 16, "codec_blocks": 1, "mel_bands": (8,)}
FLOW = FlowConfig(width=16, blocks=2, position_channels=4, steps=4)


def test_a_prior_trains_on_cached_latents_and_loads_for_its_codec(tiny_bank, tmp_path) -> None:
    run = tmp_path / "codec"
    train(tiny_bank, run, tiny_config(**CODEC), progress_bar=False)
    path = train_prior(run, tiny_bank, FLOW, steps=30, batch_size=8, progress_bar=False)
    assert path == run / FLOW_PRIOR_NAME
    directory = load_model_dir(run)
    with safetensors.safe_open(str(run / LATENTS_NAME), "np") as handle:
        assert handle.metadata()["model_id"] == directory.model_id
        mean = handle.get_tensor("mean")
    frames = directory.model.latent_frames(directory.config.audio.n_frames)
    assert mean.shape[1:] == (4, frames)
    flow = load_flow_prior(run, directory.model_id)
    assert flow is not None
    torch.testing.assert_close(flow.latent_mean, torch.from_numpy(mean).mean(dim=(0, 2)))
    assert (run / PRIOR_CHECKPOINTS / "last.ckpt").is_file()
    record = flow_prior_training(run)
    assert record["steps"] == 30 and record["batch_size"] == 8 and record["seconds"] > 0
    assert math.isfinite(record["final_loss"]) and record["final_loss"] > 0
    noise = torch.randn(2, 4, frames, generator=torch.Generator().manual_seed(0))
    latents = flow.sample(noise, torch.eye(7)[:2])
    assert latents.shape == (2, 4, frames) and torch.isfinite(latents).all()


def test_a_resumed_prior_goes_on_from_its_checkpoint(tiny_bank, tmp_path) -> None:
    run = tmp_path / "codec"
    train(tiny_bank, run, tiny_config(**CODEC), progress_bar=False)
    train_prior(run, tiny_bank, FLOW, steps=10, batch_size=8, progress_bar=False)
    first_seconds = flow_prior_training(run)["seconds"]
    latents_written = (run / LATENTS_NAME).stat().st_mtime_ns
    train_prior(run, tiny_bank, FLOW, steps=20, batch_size=8, progress_bar=False, resume=True)
    checkpoint = torch.load(run / PRIOR_CHECKPOINTS / "last.ckpt", weights_only=False)
    assert checkpoint["global_step"] == 20
    assert flow_prior_training(run)["steps"] == 20
    assert flow_prior_training(run)["seconds"] > first_seconds, "the clock counts across the resume"
    logged = pd.read_csv(run / "prior_logs" / "metrics.csv")
    assert len(logged) == 2 and logged["step"].is_monotonic_increasing, "the first session's row kept, then the second's"
    assert (run / LATENTS_NAME).stat().st_mtime_ns == latents_written



def test_the_prior_command_trains_a_codec_s_prior_and_refuses_another_model(tiny_bank, trained_run, tmp_path) -> None:
    run = tmp_path / "codec"
    train(tiny_bank, run, tiny_config(**CODEC), progress_bar=False)
    result = run_dkvae("prior", str(run), str(tiny_bank), "--steps", "5", "--batch-size", "4", "--dilation-cycle", "4")
    assert result.returncode == 0, result.stderr
    assert (run / FLOW_PRIOR_NAME).is_file() and "flow prior in" in result.stdout
    assert load_flow_prior(run, load_model_dir(run).model_id).config.dilation_cycle == 4
    refused = run_dkvae("prior", str(trained_run), str(tiny_bank), "--steps", "5")
    assert refused.returncode == 2 and "a flow prior needs a codec" in refused.stderr and "Traceback" not in refused.stderr


def test_a_resumed_prior_keeps_the_network_it_began_with(tmp_path) -> None:
    from dkvae.core.errors import DkvaeError
    from dkvae.models.flow_prior import LEGACY_DILATION_CYCLE
    from dkvae.training.prior import PRIOR_LOGS, resumed_flow_config

    logs = tmp_path / PRIOR_LOGS
    logs.mkdir()
    (logs / "hparams.yaml").write_text("flow:\n  blocks: 3\n  width: 24\nlatent_channels: 4\n")
    assert resumed_flow_config(tmp_path) == FlowConfig(blocks=3, width=24, dilation_cycle=LEGACY_DILATION_CYCLE)
    (logs / "hparams.yaml").write_text("flow:\n  blocks: 3\n  colour: red\n")
    with pytest.raises(DkvaeError, match="cannot resume the prior"):
        resumed_flow_config(tmp_path)
