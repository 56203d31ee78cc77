"""`evaluate` end to end on a small bank: the report folder, every metric, the floor below the ceiling, the cached classifier."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil

import pytest
import torch

from dkvae import Bank, DkvaeError
from dkvae.evaluation import evaluate as evaluate_module
from dkvae.evaluation.classifier import CLASSIFIER_DIR, KEY_NAME, cached_classifier, train_classifier
from dkvae.evaluation.evaluate import evaluate, open_bank
from dkvae.evaluation.reconstruction import RECONSTRUCTION_METRICS, STAGES
from dkvae.evaluation.scores import GENERATION_METRICS, SETS
from dkvae.inference.machine import DrumMachine
from dkvae.measures.metrics import BETTER

from ..conftest import tiny_config, write_bank
from .conftest import COUNT, classifier_settings


def test_the_report_folder_holds_the_report_the_metrics_and_the_figures(evaluation) -> None:
    out, _, _ = evaluation
    for name in ("report.md", "metrics.json", "latent_map.png", "generated.png", "reconstructions.png", "training.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / CLASSIFIER_DIR / "model.safetensors").exists() and (out / CLASSIFIER_DIR / KEY_NAME).exists()
    report = (out / "report.md").read_text()
    for title in (
        "## Reconstruction",
        "## Generation",
        "## Latent space",
        "Inception Score",
        "KID (MFCC statistics)",
        "noise floor",
    ):
        assert title in report


def test_metrics_json_holds_every_metric_with_the_ceiling_and_floor_beside_the_model(evaluation, eval_bank) -> None:
    out, _, _ = evaluation
    document = json.loads((out / "metrics.json").read_text())
    classes = Bank(eval_bank, process=False).instruments
    for stage in STAGES:
        assert set(document["reconstruction"][stage]) == {"overall", *classes}
        audio_only = {"log_mel_distance", "attack_share_ratio"} if stage == "spectrogram" else set()
        for scores in document["reconstruction"][stage].values():
            assert set(scores) == set(RECONSTRUCTION_METRICS) - audio_only
    for metric in GENERATION_METRICS:
        assert set(document["generation"]["overall"][metric]) == set(SETS)
        assert all(document["generation"]["overall"][metric][name] is not None for name in SETS), metric
    assert set(document["generation"]["per_class"]) == set(classes)
    assert document["generation"]["sizes"]["model"] == COUNT * len(classes)
    assert len(document["latent"]["kl_per_dimension"]) == tiny_config().model.latent_dim
    inversion = dataclasses.asdict(tiny_config().inversion)
    assert document["settings"] == {
        "count": COUNT,
        "seed": 0,
        "judge_seed": 0,
        "classifier": str(out / CLASSIFIER_DIR),
        "inversion": inversion,
    }
    assert f"Inversion: pghi, {inversion['iterations']} iterations." in (out / "report.md").read_text()
    assert document["seconds"]["total"] > 0


def test_the_noise_floor_is_worse_than_real_data_on_every_ranked_metric(evaluation) -> None:
    _, metrics, _ = evaluation
    ranked = {metric: values for metric, values in metrics["generation"]["overall"].items() if BETTER[metric] != "none"}
    assert len(ranked) == 8
    for metric, values in ranked.items():
        real, noise = values["real"], values["noise"]
        if BETTER[metric] == "lower":
            assert noise > real, metric
        elif BETTER[metric] == "higher":
            assert noise < real, metric
        else:
            assert abs(math.log(noise)) > abs(math.log(real)), metric


def test_inversion_alone_is_the_ceiling_of_the_audio_figures(evaluation) -> None:
    _, metrics, _ = evaluation
    audio, inversion = metrics["reconstruction"]["audio"]["overall"], metrics["reconstruction"]["inversion"]["overall"]
    for metric in ("spectral_convergence", "log_spectral_distance", "multi_resolution_stft_distance"):
        assert inversion[metric] < audio[metric], metric


def test_every_stage_reports_its_progress_to_the_end(evaluation) -> None:
    _, metrics, calls = evaluation
    stages = list(dict.fromkeys(stage for stage, _, _ in calls))
    assert stages == [
        "classifier",
        "reconstruction",
        "generation",
        "noise floor",
        "features",
        "scores",
        "character",
        "latent space",
        "report",
    ]
    last = {stage: (done, total) for stage, done, total in calls}
    assert all(done == total for done, total in last.values())
    assert set(metrics["seconds"]) == {*stages, "total"}


def test_a_second_evaluation_reuses_the_cached_classifier(
    evaluation, eval_bank, eval_model, tmp_path, monkeypatch
) -> None:
    out = tmp_path / "again"
    shutil.copytree(evaluation[0] / CLASSIFIER_DIR, out / CLASSIFIER_DIR)

    def refuse(*args, **kwargs):
        raise AssertionError("the classifier was trained again")

    monkeypatch.setattr(evaluate_module, "train_classifier", refuse)
    threads = torch.get_num_threads()
    metrics = evaluate(eval_bank, out, eval_model, count=2, classifier=classifier_settings(), threads=threads + 1)
    assert (
        metrics["generation"]["overall"]["accuracy"]["real"]
        == evaluation[1]["generation"]["overall"]["accuracy"]["real"]
    )
    assert torch.get_num_threads() == threads


def test_another_seed_draws_other_sounds_and_keeps_the_judge_of_the_judge_seed(
    evaluation, eval_bank, eval_model, tmp_path, monkeypatch
) -> None:
    out = tmp_path / "seed3"
    shutil.copytree(evaluation[0] / CLASSIFIER_DIR, out / CLASSIFIER_DIR)
    judged_with: list[int] = []

    def judge_config(bank, seed):
        judged_with.append(seed)
        return classifier_settings()

    def refuse(*args, **kwargs):
        raise AssertionError("the classifier was trained again")

    monkeypatch.setattr(evaluate_module, "classifier_config", judge_config)
    monkeypatch.setattr(evaluate_module, "train_classifier", refuse)
    metrics = evaluate(eval_bank, out, eval_model, count=COUNT, seed=3)
    assert judged_with == [0]
    assert (metrics["settings"]["seed"], metrics["settings"]["judge_seed"]) == (3, 0)
    first = evaluation[1]["generation"]["overall"]
    again = metrics["generation"]["overall"]
    assert {m: (v["real"], v["noise"]) for m, v in again.items()} == {
        m: (v["real"], v["noise"]) for m, v in first.items()
    }  # one judge seed: the same ceiling and floor
    assert again["frechet_distance_mel"]["model"] != first["frechet_distance_mel"]["model"]  # other sounds
    assert "seed 3; judge seed 0" in (out / "report.md").read_text()
    shutil.copytree(evaluation[0] / CLASSIFIER_DIR, tmp_path / "judge2" / CLASSIFIER_DIR)
    metrics = evaluate(eval_bank, tmp_path / "judge2", eval_model, count=2, seed=3, judge_seed=2)
    assert judged_with == [0, 2] and metrics["settings"]["judge_seed"] == 2


def test_a_classifier_cached_with_other_settings_is_not_reused(evaluation, eval_bank) -> None:
    bank = Bank(eval_bank, process=False)
    assert cached_classifier(bank, evaluation[0], classifier_settings()) is not None
    other = dataclasses.replace(classifier_settings(), train=dataclasses.replace(classifier_settings().train, seed=1))
    assert cached_classifier(bank, evaluation[0], other) is None


def test_a_foreign_classifier_folder_is_never_deleted(eval_bank, tmp_path) -> None:
    (tmp_path / CLASSIFIER_DIR).mkdir()
    (tmp_path / CLASSIFIER_DIR / "mine.txt").write_text("keep")
    with pytest.raises(DkvaeError, match="not a cached evaluation classifier"):
        train_classifier(Bank(eval_bank, process=False), tmp_path, classifier_settings())
    assert (tmp_path / CLASSIFIER_DIR / "mine.txt").exists()


def test_a_model_trained_with_other_audio_settings_is_refused(eval_bank, eval_model) -> None:
    machine = DrumMachine.load(eval_model)
    machine.config = dataclasses.replace(machine.config, audio=dataclasses.replace(machine.config.audio, n_fft=256))
    with pytest.raises(DkvaeError, match="other audio settings.*n_fft 256 vs 128"):
        open_bank(eval_bank, machine)


def test_a_bank_with_other_classes_or_not_processed_is_refused(eval_model, tmp_path) -> None:
    machine = DrumMachine.load(eval_model)
    bank = write_bank(tmp_path / "two", per_class=12)
    with pytest.raises(DkvaeError, match="not processed"):
        open_bank(bank, machine)
    Bank(bank, preset=tiny_config(), workers=1)
    with pytest.raises(DkvaeError, match="the model knows the classes clap, cymbal.*has kick, snare"):
        open_bank(bank, machine)


def test_an_unconditional_vae_is_asked_classes_through_its_class_prior(evaluation, eval_bank, tmp_path) -> None:
    from dkvae.training.train import train

    run = tmp_path / "unconditional"
    train(eval_bank, run, tiny_config(conditional=False), progress_bar=False)
    out = tmp_path / "report"
    shutil.copytree(evaluation[0] / CLASSIFIER_DIR, out / CLASSIFIER_DIR)
    metrics = evaluate(eval_bank, out, run, count=2, classifier=classifier_settings())
    overall = metrics["generation"]["overall"]
    assert not math.isnan(overall["accuracy"]["model"]) and not math.isnan(overall["accuracy"]["real"])
    assert metrics["generation"]["sizes"]["model"] == 2 * len(Bank(eval_bank, process=False).instruments)
    assert metrics["model"]["generates_by_class"] and not metrics["model"]["conditional"]
    assert metrics["character"]["generated_classes"] == "asked"
    assert "unconditional decoder, class-conditional prior" in (out / "report.md").read_text()


def test_a_gan_is_evaluated_on_generation_alone_and_compares_with_a_vae(evaluation, eval_bank, tmp_path) -> None:
    from dkvae.core.config import AdversarialConfig
    from dkvae.evaluation.compare import compare_reports
    from dkvae.training.train import train

    config = dataclasses.replace(
        tiny_config(kind="cgan"),
        adversarial=AdversarialConfig(discriminator_channels=(8, 16), discriminator_hidden=16, diagnostic_per_class=3),
    )
    train(eval_bank, tmp_path / "gan", config, progress_bar=False)
    out = tmp_path / "report"
    shutil.copytree(evaluation[0] / CLASSIFIER_DIR, out / CLASSIFIER_DIR)
    metrics = evaluate(eval_bank, out, tmp_path / "gan", count=2, classifier=classifier_settings())
    assert metrics["reconstruction"] is None and metrics["latent"] is None
    assert metrics["model"]["kind"] == "cgan" and not math.isnan(metrics["generation"]["overall"]["accuracy"]["model"])
    assert sorted(metrics["figures"]) == ["generated.png", "training.png"]
    assert "A cgan has no encoder" in (out / "report.md").read_text()
    rows = compare_reports([evaluation[0], out]).rows
    reconstruction = next(row for row in rows if row.section.startswith("reconstruction"))
    assert reconstruction.values[1] is None and reconstruction.values[0] is not None


def test_the_classifier_cache_key_holds_only_what_shapes_a_classifier(eval_bank) -> None:
    from dkvae.core.config import SEED_ADVERSARIAL, SEED_INVERSION
    from dkvae.evaluation.classifier import cache_key

    bank = Bank(eval_bank, process=False)
    config = classifier_settings()
    unrelated = dataclasses.replace(config, adversarial=SEED_ADVERSARIAL, inversion=SEED_INVERSION)
    assert cache_key(bank, unrelated) == cache_key(bank, config)
    longer = dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=config.train.epochs + 1))
    assert cache_key(bank, longer) != cache_key(bank, config)
