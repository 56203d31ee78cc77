from __future__ import annotations

import dataclasses
import math

import pytest

from dkvae.core.config import AudioConfig, Config, InversionConfig, ModelConfig, SplitConfig, get_preset


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


#: (section, field, value, message): each a value a tampered file may hold, and what refusing it says.
OUT_OF_BOUNDS = [
    ("audio", "sample_rate", 1, "sample_rate must be a whole number from 8000 to 192000; got 1"),
    ("audio", "sample_rate", 44100.5, "sample_rate must be a whole number from 8000 to 192000; got 44100.5"),
    ("audio", "sample_rate", "44100", "sample_rate must be a whole number from 8000 to 192000; got '44100'"),
    ("audio", "num_samples", 10**9, "num_samples must be a whole number from 1024 to 441000; got 1000000000"),
    ("audio", "num_samples", 512, "num_samples must be a whole number from 1024 to 441000; got 512"),
    ("audio", "n_fft", 8, "n_fft must be a whole number from 16 to 16384; got 8"),
    ("audio", "n_fft", 1 << 24, "n_fft must be a whole number from 16 to 16384; got 16777216"),
    ("audio", "hop_length", 0, "hop_length must be a whole number from 1 to 1024; got 0"),
    ("audio", "hop_length", 1, "a spectrogram of 513 x 32513 bins is more than 4194304"),
    ("audio", "min_db", math.nan, "min_db must be a number from -200 to 100 (dB); got nan"),
    ("audio", "min_db", -math.inf, "min_db must be a number from -200 to 100 (dB); got -inf"),
    ("audio", "max_db", 1e6, "max_db must be a number from -200 to 100 (dB); got 1000000.0"),
    ("audio", "trim_db", 3.0, "trim_db must be a number from -200 to 0 (dB); got 3.0"),
    ("audio", "fade_out", math.inf, "fade_out must be a number from 0 to 10 (seconds); got inf"),
    ("audio", "fade_out", -0.01, "fade_out must be a number from 0 to 10 (seconds); got -0.01"),
    ("audio", "pre_roll", 50.0, "pre_roll must be a number from 0 to 10 (seconds); got 50.0"),
    ("inversion", "iterations", 10**9, "inversion iterations must be a whole number from 0 to 512; got 1000000000"),
    ("inversion", "momentum", math.nan, "inversion momentum must be between 0 and 1"),
    ("split", "test", math.nan, "the test fraction must be a number from 0 to 1 (of the bank); got nan"),
    ("model", "latent_dim", 10**6, "latent_dim must be a whole number from 1 to 1024; got 1000000"),
    ("model", "class_embedding_dim", 0, "class_embedding_dim must be a whole number from 1 to 4096; got 0"),
    ("model", "channels", (24, 48, 96, 128, 10**5), "channels[4] must be a whole number from 1 to 4096; got 100000"),
    ("model", "hidden_sizes", (512, -1), "hidden_sizes[1] must be a whole number from 1 to 4096; got -1"),
    ("model", "kernel_sizes", (3, 3, 3, 3, 99), "kernel_sizes[4] must be a whole number from 1 to 15; got 99"),
    ("model", "strides", ((2, 2),) * 4 + ((2, 0),), "strides[4] must be a whole number from 1 to 8; got 0"),
    ("train", "lr_schedule", "linear", "unknown lr_schedule 'linear'; choose constant or cosine"),
    ("train", "final_lr_fraction", 1.5, "final_lr_fraction must be a number from 0 to 1 (of the learning rate); got 1.5"),
    ("train", "final_lr_fraction", math.nan, "final_lr_fraction must be a number from 0 to 1 (of the learning rate); got nan"),
]


@pytest.mark.parametrize(("section", "name", "value", "message"), OUT_OF_BOUNDS)
def test_every_size_a_file_gives_a_config_is_bounded_and_finite(section, name, value, message) -> None:
    data = get_preset("default").to_dict()
    data[section][name] = value
    with pytest.raises(ValueError) as raised:
        Config.from_dict(data)
    assert str(raised.value).startswith(message)


def test_the_bounds_themselves_are_allowed() -> None:
    low = AudioConfig(sample_rate=8000, num_samples=16, n_fft=16, hop_length=16, min_db=-200.0, max_db=-199.0, trim_db=-200.0)
    assert low.shape == (9, 2)
    high = AudioConfig(sample_rate=192_000, num_samples=1_920_000, n_fft=1024, hop_length=512, max_db=100.0, fade_out=10.0)
    assert high.duration == 10.0
    assert InversionConfig(iterations=512).iterations == 512
    assert ModelConfig(latent_dim=1024, channels=(4096,), kernel_sizes=(15,), strides=((8, 8),)).latent_dim == 1024
