from __future__ import annotations

import dataclasses

import pytest

from dkvae.core.config import AudioConfig, Config, InversionConfig, SplitConfig, get_preset


def test_seed_preset_has_the_seeds_settings() -> None:
    seed = get_preset("seed")
    assert seed.audio.sample_rate == 22050
    assert seed.audio.duration == pytest.approx(0.74, abs=1e-4)
    assert (seed.audio.n_fft, seed.audio.hop_length) == (512, 256)
    assert seed.audio.normalization == "minmax"
    assert (seed.split.test, seed.split.val) == (0.10, 0.05)
    # The Nyquist bin is kept: 257 bins, not the seed's 256.
    assert seed.audio.shape == (257, 64)


def test_default_preset_is_44k_with_global_normalization() -> None:
    default = get_preset("default")
    assert default.audio.sample_rate == 44100
    assert default.audio.normalization == "global"
    assert default.audio.shape == (513, 128)


@pytest.mark.parametrize("name", ["seed", "default"])
def test_json_round_trip(name: str) -> None:
    config = get_preset(name)
    assert Config.from_json(config.to_json()) == config


def test_configs_are_frozen_and_validated() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        AudioConfig().sample_rate = 1  # type: ignore[misc]
    with pytest.raises(ValueError):
        AudioConfig(hop_length=2048, n_fft=1024)
    with pytest.raises(ValueError):
        AudioConfig(normalization="zscore")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SplitConfig(test=0.6, val=0.4)
    with pytest.raises(ValueError, match="unknown preset"):
        get_preset("nope")


def test_same_data_ignores_the_preset_name_only() -> None:
    config = get_preset("default")
    assert config.same_data(dataclasses.replace(config, preset="mine"))
    assert not config.same_data(dataclasses.replace(config, audio=AudioConfig(hop_length=128)))
    assert not config.same_data(dataclasses.replace(config, split=SplitConfig(test=0.2)))


def test_unknown_keys_in_a_saved_config_are_refused() -> None:
    data = get_preset("default").to_dict()
    data["audio"]["colour"] = "red"
    with pytest.raises(TypeError):
        Config.from_dict(data)


def test_inversion_settings_round_trip_and_old_configs_without_them_still_load() -> None:
    config = dataclasses.replace(get_preset("default"), inversion=InversionConfig(method="fgla", iterations=12, momentum=0.9))
    assert Config.from_json(config.to_json()) == config
    old = config.to_dict()
    del old["inversion"]
    assert Config.from_dict(old).inversion == InversionConfig()
    with pytest.raises(ValueError):
        Config.from_dict({**old, "inversion": {"method": "istft"}})


def test_inversion_does_not_change_the_processed_data() -> None:
    config = get_preset("default")
    changed = dataclasses.replace(config, inversion=InversionConfig(method="gla", iterations=64))
    assert changed.same_data(config)
    assert changed.data_json() == config.data_json()
    assert "inversion" not in config.data_json()


def test_seed_preset_inverts_as_the_seed_did_and_default_by_the_benchmarks_choice() -> None:
    assert get_preset("seed").inversion == InversionConfig(method="gla", iterations=64)
    assert get_preset("default").inversion == InversionConfig()
    assert InversionConfig().method == "pghi"


def test_same_network_ignores_the_loss_weights_and_nothing_else() -> None:
    model = get_preset("default").model
    assert model.same_network(dataclasses.replace(model, beta=1e-2, onset_weight=4.0, onset_frames=4))
    assert not model.same_network(dataclasses.replace(model, latent_dim=model.latent_dim + 1))
    assert not model.same_network(dataclasses.replace(model, channels=(8, 16, 32, 64, 64)))
    assert not model.same_network(dataclasses.replace(model, conditional=not model.conditional))
