from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from dkvae import DkvaeError
from dkvae.core.config import AudioConfig, get_preset
from dkvae.models.checkpoint import check_audio_matches, load_model_dir, save_model_dir


def test_a_model_directory_loads_without_pickle_and_matches_its_config(trained_run, no_pickle) -> None:
    loaded = load_model_dir(trained_run)
    document = json.loads((trained_run / "config.json").read_text())
    assert loaded.model_id == document["model_id"] and len(loaded.model_id) == 12
    assert loaded.config.audio.sample_rate == 8000
    assert set(loaded.normalization) == {"min_value", "max_value"}
    assert not loaded.model.training


def copy_run(trained_run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(trained_run, tmp_path / "copy", ignore=shutil.ignore_patterns("checkpoints", "logs")))


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda run: (run / "model.safetensors").write_bytes(b"\x00garbage"), "not a usable dkvae model"),
        (lambda run: (run / "model.safetensors").unlink(), "has no model.safetensors"),
        (lambda run: (run / "config.json").write_text("{not json"), "unreadable"),
        (lambda run: (run / "config.json").write_text('{"format": "keras"}'), "not a dkvae model directory"),
        (lambda run: (run / "config.json").unlink(), "no config.json"),
    ],
    ids=["garbage-weights", "no-weights", "bad-json", "foreign-json", "no-json"],
)
def test_corrupt_or_foreign_model_directories_are_refused_clearly(trained_run, tmp_path, damage, message) -> None:
    run = copy_run(trained_run, tmp_path)
    damage(run)
    with pytest.raises(DkvaeError, match=message):
        load_model_dir(run)


def test_weights_of_another_model_are_refused(trained_run, tmp_path) -> None:
    run = copy_run(trained_run, tmp_path)
    document = json.loads((run / "config.json").read_text())
    document["config"]["model"]["latent_dim"] = 5
    (run / "config.json").write_text(json.dumps(document))
    with pytest.raises(DkvaeError, match="not a usable dkvae model"):
        load_model_dir(run)


def test_weights_that_are_not_the_model_config_json_names_are_refused(trained_run, tmp_path) -> None:
    run = copy_run(trained_run, tmp_path)
    loaded = load_model_dir(run)
    with torch.no_grad():
        next(loaded.model.parameters()).add_(0.01)
    other = tmp_path / "other"
    save_model_dir(other, loaded.model, loaded.config, loaded.class_names, loaded.normalization)
    shutil.copy(other / "model.safetensors", run / "model.safetensors")  # same shapes, other values
    with pytest.raises(DkvaeError, match=f"is not model {loaded.model_id} that config.json describes"):
        load_model_dir(run)


def test_a_missing_model_directory_is_a_user_error(tmp_path) -> None:
    from dkvae.inference.machine import DrumMachine

    with pytest.raises(DkvaeError, match="model directory not found"):
        DrumMachine.load(tmp_path / "nowhere")


def test_other_audio_settings_are_refused() -> None:
    check_audio_matches(AudioConfig(), AudioConfig())
    with pytest.raises(DkvaeError, match="sample_rate 44100 vs 22050"):
        check_audio_matches(AudioConfig(), get_preset("seed").audio)


def test_weights_stored_as_float16_load_back_into_float32(trained_run, tmp_path) -> None:
    original = load_model_dir(trained_run)
    save_model_dir(tmp_path / "half", original.model, original.config, original.class_names,
                   original.normalization, original.training, weights_dtype=torch.float16)  # fmt: skip
    half = load_model_dir(tmp_path / "half")
    for name, tensor in half.model.state_dict().items():
        reference = original.model.state_dict()[name]
        assert tensor.dtype == reference.dtype
        torch.testing.assert_close(tensor, reference.half().to(reference.dtype))
    assert (tmp_path / "half" / "model.safetensors").stat().st_size < 0.6 * (
        trained_run / "model.safetensors"
    ).stat().st_size
