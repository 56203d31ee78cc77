"""Generation scores: sets matched to the reference's class proportions, and a copied training set flagged."""

from __future__ import annotations

import numpy as np
import pytest

from dkvae.evaluation.scores import (
    GENERATION_METRICS,
    PER_CLASS_METRICS,
    SETS,
    class_balanced_weights,
    composition_subset,
    generation_scores,
    make_references,
    per_class_sample,
    set_scores,
)
from dkvae.measures.features import Features

CLASSES = 3


def fake_features(labels: np.ndarray, seed: int, shift: float = 0.0) -> Features:
    """Features whose every part depends on the class, like a set of real sounds; `shift` moves them away."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    centre = np.eye(CLASSES)[labels]
    probabilities = 0.8 * centre + 0.2 / CLASSES
    embedding = np.concatenate([3 * centre, np.zeros((n, 5))], axis=1) + rng.standard_normal((n, CLASSES + 5)) + shift
    statistics = np.concatenate([10 * centre, np.zeros((n, 3))], axis=1) + rng.standard_normal((n, CLASSES + 3)) + shift
    vectors = np.repeat(centre, 4, axis=1) + 0.3 * rng.standard_normal((n, 4 * CLASSES)) + shift
    return Features(embedding, probabilities, statistics, vectors, labels)


@pytest.fixture(scope="module")
def references():
    rng = np.random.default_rng(0)
    train = fake_features(rng.integers(0, CLASSES, 400), seed=1)
    test = fake_features(np.repeat(np.arange(CLASSES), [30, 15, 15]), seed=2)
    val = fake_features(rng.integers(0, CLASSES, 40), seed=3)
    return make_references(train, test, val, CLASSES, seed=0)


def test_composition_subset_takes_the_largest_subset_with_the_targets_proportions() -> None:
    labels = np.repeat(np.arange(3), 20)
    target = np.repeat(np.arange(3), [10, 5, 0])
    chosen = composition_subset(labels, target, 3, seed=0)
    assert np.bincount(labels[chosen], minlength=3).tolist() == [20, 10, 0]
    assert len(set(chosen.tolist())) == len(chosen)


def test_composition_subset_leaves_out_a_class_the_set_lacks() -> None:
    labels = np.repeat([0, 1], 10)
    chosen = composition_subset(labels, np.repeat(np.arange(3), 5), 3, seed=0)
    assert np.bincount(labels[chosen], minlength=3).tolist() == [10, 10, 0]


def test_per_class_sample_takes_count_of_each_class_or_all_of_a_smaller_one() -> None:
    labels = np.repeat([0, 1, 2], [10, 3, 6])
    chosen = per_class_sample(labels, 5, seed=0)
    assert np.bincount(labels[chosen]).tolist() == [5, 3, 5] and (np.diff(chosen) > 0).all()


def test_class_balanced_weights_give_each_class_one_share() -> None:
    labels = np.array([0, 0, 0, 1, 2, 2])
    weights = class_balanced_weights(labels)
    assert [weights[labels == code].sum() for code in range(3)] == pytest.approx([1.0, 1.0, 1.0])


def test_a_copied_training_set_is_flagged_by_the_novelty_metrics(references) -> None:
    copies = references.train.subset(np.arange(60))
    overall, _ = set_scores(copies, references, True, seed=0)
    assert overall["novelty_ratio"] == pytest.approx(0.0, abs=1e-6)
    assert overall["copy_fraction"] == 1.0
    held_out, _ = set_scores(references.val, references, True, seed=0)
    assert held_out["novelty_ratio"] > 0.5 and held_out["copy_fraction"] < 0.5


def test_a_set_from_the_real_distribution_scores_near_the_ceiling_and_a_shifted_one_far(references) -> None:
    labels = np.repeat(np.arange(CLASSES), 40)
    good = references.standardized(fake_features(labels, seed=4))
    bad = references.standardized(fake_features(labels, seed=5, shift=2.0))
    good_scores, _ = set_scores(good, references, True, seed=0)
    bad_scores, _ = set_scores(bad, references, True, seed=0)
    for metric in ("frechet_distance_classifier", "kid_classifier", "frechet_distance_mel", "kid_mel", "ndb_fraction"):
        assert good_scores[metric] < bad_scores[metric], metric
    assert good_scores["accuracy"] == 1.0 and good_scores["inception_score"] == pytest.approx(
        bad_scores["inception_score"]
    )


def test_the_generation_table_has_every_metric_for_every_set(references) -> None:
    labels = np.repeat(np.arange(CLASSES), 10)
    table = generation_scores(
        fake_features(labels, seed=6), fake_features(labels, seed=7, shift=3.0), references, 10, True
    )
    assert list(table["overall"]) == list(GENERATION_METRICS)
    assert all(list(values) == list(SETS) for values in table["overall"].values())
    assert set(table["per_class"]) == set(range(CLASSES))
    assert all(set(scores) == set(PER_CLASS_METRICS) for scores in table["per_class"].values())
    assert table["sizes"] == {"train": 30, "test": 60, "val": 40, "model": 30, "noise": 30}


def test_the_ceiling_and_floor_follow_the_judge_seed_and_the_model_its_own_seed(references) -> None:
    labels = np.repeat(np.arange(CLASSES), 10)
    model, noise = fake_features(labels, seed=6), fake_features(labels, seed=7, shift=3.0)
    first = generation_scores(model, noise, references, 10, True, (0, 0))["overall"]
    other_seed = generation_scores(model, noise, references, 10, True, (5, 0))["overall"]
    other_judge = generation_scores(model, noise, references, 10, True, (0, 5))["overall"]
    ceiling_and_floor = {metric: (v["real"], v["noise"]) for metric, v in first.items()}
    assert {metric: (v["real"], v["noise"]) for metric, v in other_seed.items()} == ceiling_and_floor
    assert first["kid_mel"]["model"] != other_seed["kid_mel"]["model"]  # its subsets drawn anew
    assert {metric: v["model"] for metric, v in other_judge.items()} == {m: v["model"] for m, v in first.items()}
    assert first["kid_mel"]["real"] != other_judge["kid_mel"]["real"]
