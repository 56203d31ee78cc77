from __future__ import annotations

import json
import re

import pytest

from dkvae import DkvaeError
from dkvae.core.config import Config, get_preset
from dkvae.training.options import build_config

from ..conftest import TINY_MODEL, tiny_config


def test_options_override_the_preset_and_none_means_not_given(tmp_path) -> None:
    config = build_config(tmp_path / "run", False, preset="seed", kind="ae", epochs=3, latent_dim=None, beta=0.5)
    seed = get_preset("seed")
    assert config.audio == seed.audio and config.model.kind == "ae" and config.model.architecture == "seed"
    assert config.train.epochs == 3 and config.model.beta == 0.5
    assert config.model.latent_dim == seed.model.latent_dim


def test_sharpening_weights_go_to_the_adversarial_settings(tmp_path) -> None:
    config = build_config(
        tmp_path / "run", False, adversarial=True, adversarial_weight=0.0, feature_matching_weight=0.5
    )
    assert config.adversarial.adversarial_weight == 0.0 and config.adversarial.feature_matching_weight == 0.5
    assert config.train.adversarial and config.adversarial.loss == get_preset("default").adversarial.loss


def test_a_config_file_replaces_the_preset_and_a_resumed_run_keeps_its_saved_config(tmp_path) -> None:
    custom = get_preset("default").to_dict()
    custom["model"]["latent_dim"] = 7
    (tmp_path / "mine.json").write_text(json.dumps(custom))
    assert build_config(tmp_path / "run", False, config_file=tmp_path / "mine.json").model.latent_dim == 7
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.json").write_text(json.dumps({"config": custom}))
    resumed = build_config(tmp_path / "run", True, preset="seed", epochs=9)
    assert resumed.model.latent_dim == 7 and resumed.audio == get_preset("default").audio and resumed.train.epochs == 9


def test_a_run_from_the_bundled_model_takes_its_network_whichever_kind_it_is(tmp_path) -> None:
    from dkvae.inference.machine import bundled_model_dir
    from dkvae.models.checkpoint import read_model_config

    bundled = Config.from_dict(read_model_config(bundled_model_dir())["config"])
    config = build_config(tmp_path / "run", False, preset="seed", init=bundled_model_dir(), epochs=5)
    assert config.model.same_network(bundled.model) and (config.audio, config.split) == (bundled.audio, bundled.split)
    assert config.inversion == bundled.inversion
    assert config.train.kl_warmup_epochs == 0 and config.train.epochs == 5
    with pytest.raises(DkvaeError, match=re.escape(f"kind 'ae' (the model's: {bundled.model.kind!r})")):
        build_config(tmp_path / "run", False, init=bundled_model_dir(), kind="ae")


# The runs from trained weights start from a VAE's (`trained_run`, a tiny conditional one trained with `tiny_config`),
# whichever model is bundled: its network is what --init keeps.


def test_a_run_from_trained_weights_takes_their_settings_and_skips_the_kl_warm_up(tmp_path, trained_run) -> None:
    config = build_config(tmp_path / "run", False, preset="seed", init=trained_run, epochs=5)
    trained = tiny_config()
    assert config.model.same_network(trained.model) and config.audio == trained.audio != get_preset("seed").audio
    assert config.train.kl_warmup_epochs == 0 and trained.train.kl_warmup_epochs > 0 and config.train.epochs == 5


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"preset": "huge"}, "unknown preset"),
        ({"kind": "gan"}, "unknown model"),
        ({"architecture": "transformer"}, "unknown architecture"),
        ({"latent_dim": 0}, "invalid training options"),
    ],
)
def test_bad_options_are_user_errors(tmp_path, arguments, message) -> None:
    with pytest.raises(DkvaeError, match=message):
        build_config(tmp_path / "run", False, **arguments)


def test_a_missing_or_foreign_config_file_is_a_user_error(tmp_path) -> None:
    with pytest.raises(DkvaeError, match="not found"):
        build_config(tmp_path / "run", False, config_file=tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text('{"audio": {"colour": 1}}')
    with pytest.raises(DkvaeError, match="not a dkvae config"):
        build_config(tmp_path / "run", False, config_file=tmp_path / "bad.json")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"kind": "cgan"}, "a GAN trains from scratch"),
        ({"kind": "ae"}, r"kind 'ae' \(the model's: 'vae'\)"),
        ({"architecture": "dense"}, r"architecture 'dense' \(the model's: 'conv'\)"),
        ({"latent_dim": 16}, rf"latent_dim 16 \(the model's: {TINY_MODEL.latent_dim}\)"),
        ({"conditional": False}, r"conditional False \(the model's: True\)"),
    ],
)
def test_a_run_from_trained_weights_refuses_another_network(tmp_path, trained_run, options, message) -> None:
    with pytest.raises(DkvaeError, match=message):
        build_config(tmp_path / "run", False, init=trained_run, **options)


def test_a_run_from_trained_weights_takes_options_that_keep_its_network(tmp_path, trained_run) -> None:
    latent_dim = TINY_MODEL.latent_dim
    config = build_config(
        tmp_path / "run", False, kind="vae", architecture="conv", init=trained_run, latent_dim=latent_dim, beta=1e-5
    )
    assert config.model.beta == 1e-5 and config.model.same_network(tiny_config().model)


def saved_run(folder, config) -> None:
    """A run folder holding `config` in its run.json, as `train` writes it."""
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps({"config": config.to_dict()}))


def test_a_resumed_run_refuses_a_learning_rate_its_restored_optimizer_would_not_use(tmp_path) -> None:
    saved_run(tmp_path / "run", get_preset("default"))
    assert get_preset("default").train.learning_rate == 0.001
    with pytest.raises(DkvaeError, match=r"would be recorded but not used: --lr 0\.01 \(the run's: 0\.001\)"):
        build_config(tmp_path / "run", True, learning_rate=0.01)
    with pytest.raises(DkvaeError, match=r"--init .*run --out NEW_RUN"):
        build_config(tmp_path / "run", True, learning_rate=0.01)
    same = build_config(tmp_path / "run", True, learning_rate=0.001, epochs=9)  # the run's own rate changes nothing
    assert same.train.learning_rate == 0.001 and same.train.epochs == 9


@pytest.mark.parametrize(
    ("section", "option", "value", "words"),
    [
        ("train", "weight_decay", 0.01, "weight_decay 0.01 (the run's: 0.0)"),
        ("adversarial", "generator_lr", 0.5, "generator_lr 0.5 (the run's: 0.0001)"),
        ("adversarial", "discriminator_lr", 0.5, "discriminator_lr 0.5 (the run's: 0.0004)"),
        ("adversarial", "betas", (0.5, 0.9), "betas (0.5, 0.9) (the run's: (0.0, 0.99))"),
        ("train", "lr_schedule", "cosine", "lr_schedule 'cosine' (the run's: 'constant')"),
        ("train", "final_lr_fraction", 0.5, "final_lr_fraction 0.5 (the run's: 0.01)"),
    ],
)
def test_a_resumed_run_refuses_every_optimizer_setting_its_checkpoint_restores(
    tmp_path, section, option, value, words
) -> None:
    saved_run(tmp_path / "run", get_preset("default"))
    with pytest.raises(DkvaeError, match=re.escape(words)):
        build_config(tmp_path / "run", True, **{option: value})
    assert getattr(getattr(build_config(tmp_path / "new", False, **{option: value}), section), option) == value


def test_augment_turns_on_the_training_data_s_augmentation_not_the_discriminator_s(tmp_path) -> None:
    on = build_config(tmp_path / "run", False, augment=True)
    off = build_config(tmp_path / "run", False, augment=False)
    assert on.train.augment is True and off.train.augment is False
    assert on.adversarial.augment is off.adversarial.augment is True
