"""Web fixtures: a tiny untrained codec with a random flow prior, at the codec's 1.5 s, a tiny untrained VAE, and a
bank processed for each."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from torch import nn

from dkvae.core.config import CODEC_AUDIO, Config
from dkvae.models import build_model
from dkvae.models.checkpoint import save_model_dir
from dkvae.models.flow_prior import FlowConfig, LatentFlow, save_flow_prior

from ..conftest import tiny_config, write_bank

#: A small codec of the bundled one's latent size: 16 channels of 65 frames (1040 values) for 1.5 s at 44.1 kHz.
WEB_CODEC = {"kind": "codec", "conditional": False, "latent_channels": 16, "codec_width": 16, "codec_blocks": 1, "mel_bands": (8,)}
WEB_FLOW = FlowConfig(width=16, blocks=2, position_channels=4, steps=4, guidance=2.0)
WEB_CODEC_CLASSES = ["kick", "snare", "hihat"]


def web_codec_config() -> Config:
    """The tiny codec's settings: the codec preset's audio (1.5 s), a tiny network."""
    return dataclasses.replace(tiny_config(**WEB_CODEC), audio=CODEC_AUDIO)


def write_web_codec(directory: Path) -> Path:
    """An untrained codec's model directory with a flow prior whose velocity is random, not zero (no training)."""
    torch.manual_seed(0)
    config = web_codec_config()
    model = build_model(config.model, config.audio.shape, len(WEB_CODEC_CLASSES))
    model_id = save_model_dir(directory, model, config, WEB_CODEC_CLASSES)
    prior = LatentFlow(WEB_FLOW, WEB_CODEC["latent_channels"], len(WEB_CODEC_CLASSES))
    nn.init.normal_(prior.output.weight, std=0.2)  # a new flow's last layer is zero: no velocity at all
    prior.latent_mean.normal_()
    prior.latent_std.uniform_(0.5, 2.0)
    save_flow_prior(prior, directory, model_id)
    return directory


@pytest.fixture(scope="session")
def web_codec(tmp_path_factory) -> Path:
    """The tiny codec's model directory."""
    return write_web_codec(tmp_path_factory.mktemp("web-codec") / "model")


@pytest.fixture(scope="session")
def web_codec_bank(tmp_path_factory) -> Path:
    """Three kicks and three snares, processed with the tiny codec's audio settings (for ``--bank``)."""
    from dkvae import Bank

    bank = write_bank(tmp_path_factory.mktemp("web-codec-bank") / "bank", per_class=3, classes=("kick", "snare"))
    Bank(bank, preset=web_codec_config(), workers=1)
    return bank


@pytest.fixture(scope="session")
def web_vae(tmp_path_factory) -> Path:
    """A tiny untrained VAE's model directory (a 4-number latent), for comparing with the codec's."""
    torch.manual_seed(0)
    config = tiny_config()
    directory = tmp_path_factory.mktemp("web-vae") / "model"
    save_model_dir(
        directory, build_model(config.model, config.audio.shape, len(WEB_CODEC_CLASSES)), config, WEB_CODEC_CLASSES
    )
    return directory


@pytest.fixture(scope="session")
def web_vae_bank(tmp_path_factory) -> Path:
    """The codec bank's sounds (three kicks, three snares), processed with the tiny VAE's audio settings."""
    from dkvae import Bank

    bank = write_bank(tmp_path_factory.mktemp("web-vae-bank") / "bank", per_class=3, classes=("kick", "snare"))
    Bank(bank, preset=tiny_config(), workers=1)
    return bank
