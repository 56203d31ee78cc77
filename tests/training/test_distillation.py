"""Distillation: a narrower decoder learns the teacher's decoding; everything else is the teacher's; runs resume."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from dkvae import Bank
from dkvae.core.errors import DkvaeError
from dkvae.inference.machine import DrumMachine
from dkvae.models.checkpoint import load_model_dir, save_model_dir
from dkvae.training.distillation import (
    STATE_JSON,
    STATE_WEIGHTS,
    DistillSettings,
    LatentSources,
    build_student,
    distill,
)

from ..conftest import tiny_config

SETTINGS = DistillSettings((4, 8), steps=40, batch_size=16, learning_rate=5e-3, checkpoint_every=10)


def student_error(teacher, student, sources: LatentSources) -> float:
    """Mean squared difference of the two decoders over fixed latents (a batch no run trains on)."""
    latents, weights = sources.batch(seed=99, step=0, size=64)
    with torch.no_grad():
        return float((student.decode(latents, weights) - teacher.model.decode(latents, weights)).square().mean())


def test_a_student_learns_its_teachers_decoding_and_keeps_the_rest(trained_run, tiny_bank, tmp_path) -> None:
    teacher = load_model_dir(trained_run)
    sources = LatentSources(teacher, Bank(tiny_bank, process=False))
    untrained = student_error(teacher, build_student(teacher, SETTINGS)[0].eval(), sources)

    result = distill(trained_run, tiny_bank, tmp_path / "student", dataclasses.replace(SETTINGS, steps=200))

    student = load_model_dir(result.directory)
    assert student.model_id == result.model_id and student.config.model.decoder_channels == (4, 8)
    widths = [m.out_channels for m in student.model.decoder.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert widths == [4, 1]  # stages narrowing 8 -> 4, then the last to one channel
    assert student_error(teacher, student.model, sources) < 0.3 * untrained  # 0.22 here
    kept = {k: v for k, v in teacher.model.state_dict().items() if not k.startswith(("decoder.", "from_latent."))}
    assert all(torch.equal(student.model.state_dict()[name], tensor) for name, tensor in kept.items())
    assert np.array_equal(student.latent_prior.mean, teacher.latent_prior.mean)
    assert student.training["distilled_from"] == teacher.model_id and student.training["distill"]["steps"] == 200
    assert not (tmp_path / "student" / STATE_JSON).exists() and not (tmp_path / "student" / STATE_WEIGHTS).exists()
    sounds = DrumMachine.load(result.directory).generate(student.class_names[0], n=2, seed=1)
    assert sounds.shape[0] == 2 and np.isfinite(sounds).all() and np.abs(sounds).max() > 0


def test_an_interrupted_run_resumes_to_the_student_an_unbroken_run_makes(trained_run, tiny_bank, tmp_path) -> None:
    settings = dataclasses.replace(SETTINGS, steps=25)
    unbroken = distill(trained_run, tiny_bank, tmp_path / "unbroken", settings)

    def stop_after_12(done: int, total: int) -> None:
        if done == 12:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        distill(trained_run, tiny_bank, tmp_path / "broken", settings, progress=stop_after_12)
    assert (tmp_path / "broken" / STATE_JSON).exists() and not (tmp_path / "broken" / "config.json").exists()
    resumed = distill(trained_run, tiny_bank, tmp_path / "broken", settings, resume=True)
    assert resumed.model_id == unbroken.model_id  # the same weights, bit for bit


def test_batches_follow_from_seed_and_step_and_blend_classes_convexly(trained_run, tiny_bank) -> None:
    sources = LatentSources(load_model_dir(trained_run), Bank(tiny_bank, process=False))
    first, again, other = sources.batch(0, 7, 256), sources.batch(0, 7, 256), sources.batch(0, 8, 256)
    assert all(torch.equal(a, b) for a, b in zip(first, again)) and not torch.equal(first[0], other[0])
    weights = first[1]
    assert torch.allclose(weights.sum(dim=1), torch.ones(256)) and (weights >= 0).all()
    blended = ((weights > 0) & (weights < 1)).any(dim=1).float().mean()
    assert 0.05 < blended < 0.4  # about BLEND_SHARE of the rows mix two classes (pairs of one class do not)


def test_refusals_leave_the_folder_as_it_was(trained_run, tiny_bank, tmp_path) -> None:
    with pytest.raises(DkvaeError, match="give 2 decoder channels"):
        distill(trained_run, tiny_bank, tmp_path / "a", dataclasses.replace(SETTINGS, decoder_channels=(4, 8, 8)))
    done = distill(trained_run, tiny_bank, tmp_path / "b", dataclasses.replace(SETTINGS, steps=2))
    with pytest.raises(DkvaeError, match="already holds a model"):
        distill(trained_run, tiny_bank, tmp_path / "b", SETTINGS)
    with pytest.raises(DkvaeError, match="has finished"):
        distill(trained_run, tiny_bank, tmp_path / "b", SETTINGS, resume=True)
    assert load_model_dir(tmp_path / "b").model_id == done.model_id

    def stop(done: int, total: int) -> None:
        if done == 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        distill(trained_run, tiny_bank, tmp_path / "c", SETTINGS, progress=stop)
    with pytest.raises(DkvaeError, match="other settings"):
        distill(trained_run, tiny_bank, tmp_path / "c", dataclasses.replace(SETTINGS, seed=1), resume=True)

    teacher = load_model_dir(trained_run)
    save_model_dir(tmp_path / "no-prior", teacher.model, teacher.config, teacher.class_names, teacher.normalization)
    with pytest.raises(DkvaeError, match="no latent prior"):
        distill(tmp_path / "no-prior", tiny_bank, tmp_path / "d", SETTINGS)
    with pytest.raises(DkvaeError, match="positive widths"):
        DistillSettings((4, 0))


def test_a_config_with_decoder_channels_round_trips_and_old_ones_mirror_the_encoder() -> None:
    config = tiny_config(decoder_channels=(4, 8))
    assert type(config).from_json(config.to_json()) == config
    data = tiny_config().to_dict()
    del data["model"]["decoder_channels"]
    assert type(config).from_dict(data).model.decoder_channels is None
    with pytest.raises(ValueError, match="one entry per stage"):
        tiny_config(decoder_channels=(4,))
