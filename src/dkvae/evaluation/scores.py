"""Generation metrics of a set of sounds against the real ones, with the real-data ceiling and the noise floor beside each.

Every metric is computed the same way for three sets: the model's sounds, real sounds (the ceiling),
and noise bursts (the floor). Which real sounds stand for the ceiling depends on what the metric
compares with (`REAL_SOURCE`): the test split for what the classifier judges (it trained on the
train split), ``count`` train sounds per class for what is measured against the test split, the
test split for NDB (whose bins come from the train split), the val split for novelty.

Sets are compared at equal class proportions: before a set is measured against a reference, it is
subsampled to the reference's class proportions (`composition_subset`), so a model that makes
``count`` sounds of every class is not blamed for a bank that holds more hi-hats than claps.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from dkvae.measures.features import Features, standardizer
from dkvae.measures.metrics import (
    copy_fraction,
    frechet_distance,
    inception_score,
    kernel_inception_distance,
    kmeans,
    mean_pairwise_distance,
    ndb,
    nearest_neighbour_distances,
)

#: NDB's number of bins, and the fewest training sounds per bin (small banks get fewer bins).
NDB_BINS = 20
NDB_MIN_PER_BIN = 10
#: The generation metrics, in report order.
GENERATION_METRICS = (
    "accuracy",
    "inception_score",
    "frechet_distance_classifier",
    "kid_classifier",
    "frechet_distance_mel",
    "kid_mel",
    "ndb_fraction",
    "diversity_ratio",
    "novelty_ratio",
    "copy_fraction",
)
#: The metrics also reported per class.
PER_CLASS_METRICS = ("accuracy", "diversity_ratio", "novelty_ratio")
#: Which real sounds give each metric's ceiling (see the module's docstring).
REAL_SOURCE = {
    "accuracy": "test",
    "inception_score": "test",
    "frechet_distance_classifier": "train",
    "kid_classifier": "train",
    "frechet_distance_mel": "train",
    "kid_mel": "train",
    "ndb_fraction": "test",
    "diversity_ratio": "train",
    "novelty_ratio": "val",
    "copy_fraction": "val",
}
#: The three sets of every generation table, in report order.
SETS = ("noise", "model", "real")


@dataclass
class References:
    """The real sounds every set is measured against, and what is computed from them once."""

    train: Features
    test: Features
    val: Features
    num_classes: int
    #: NDB's bins: k-means centroids of the training sounds' mel vectors ``(bins, dim)``.
    bins: np.ndarray
    #: Each test sound's distance to its nearest training sound ``(n_test,)``: what novelty is relative to.
    test_distances: np.ndarray
    #: Mean and standard deviation ``(dim,)`` of the training sounds' MFCC statistics: every set's are
    #: standardized with them, so no coefficient dominates (c0 spans hundreds of dB) and KID's cubic
    #: kernel sees values of order 1, as it was designed for.
    mel_mean: np.ndarray
    mel_scale: np.ndarray

    def standardized(self, features: Features) -> Features:
        """`features` with their MFCC statistics standardized by the training sounds' mean and deviation."""
        return dataclasses.replace(features, mel_statistics=(features.mel_statistics - self.mel_mean) / self.mel_scale)


def make_references(train: Features, test: Features, val: Features, num_classes: int, seed: int = 0) -> References:
    """Place the NDB bins on the train split, measure how far held-out test sounds lie from it, and standardize."""
    bins = max(2, min(NDB_BINS, len(train) // NDB_MIN_PER_BIN))
    centroids = kmeans(train.mel_vectors, bins, seed)
    distances = nearest_neighbour_distances(test.mel_vectors, train.mel_vectors)
    mean, scale = standardizer(train.mel_statistics)
    references = References(train, test, val, num_classes, centroids, distances, mean, scale)
    references.train, references.test, references.val = (references.standardized(f) for f in (train, test, val))
    return references


def composition_subset(labels: np.ndarray, target: np.ndarray, num_classes: int, seed: int) -> np.ndarray:
    """Indices of the largest subset of `labels` with the class proportions of `target` (both ``(n,)`` class indices).

    A class that the target holds but `labels` lacks is left out of the matching (its absence still shows in the metrics).
    """
    wanted = np.bincount(target, minlength=num_classes) / max(len(target), 1)
    available = np.bincount(labels[labels >= 0], minlength=num_classes)
    present = (wanted > 0) & (available > 0)
    if not present.any():
        return np.arange(len(labels))
    scale = np.min(available[present] / wanted[present])
    rng = np.random.default_rng(seed)
    chosen = [
        rng.choice(np.flatnonzero(labels == code), math.floor(scale * wanted[code] + 1e-9), replace=False)
        for code in np.flatnonzero(present)
    ]
    return np.sort(np.concatenate(chosen))


def per_class_sample(labels: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Sorted indices of `count` sounds of every class in `labels` ``(n,)`` (all of a class that has fewer), drawn without replacement."""
    rng = np.random.default_rng(seed)
    picks = [
        rng.choice(np.flatnonzero(labels == code), min(count, int((labels == code).sum())), replace=False)
        for code in np.unique(labels)
    ]
    return np.sort(np.concatenate(picks)) if picks else np.zeros(0, np.int64)


def class_balanced_weights(labels: np.ndarray) -> np.ndarray:
    """Weights ``(n,)`` giving every class the same total weight."""
    counts = np.bincount(labels)
    return 1.0 / counts[labels]


def set_scores(
    candidate: Features, references: References, labelled: bool, seed: int
) -> tuple[dict[str, float], dict[int, dict[str, float]]]:
    """Every generation metric of `candidate` (standardized as the references are) against them: overall, and per class index.

    `labelled`: the candidate's labels are the classes it was meant to be (False for a model that
    cannot be told a class, whose labels are the classifier's own, so accuracy means nothing).
    """
    test, train = references.test, references.train
    against_test = candidate.subset(composition_subset(candidate.labels, test.labels, references.num_classes, seed))
    against_train = candidate.subset(composition_subset(candidate.labels, train.labels, references.num_classes, seed))
    correct = candidate.probabilities.argmax(axis=1) == candidate.labels
    distances = nearest_neighbour_distances(candidate.mel_vectors, train.mel_vectors)
    test_median = float(np.median(references.test_distances)) if len(references.test_distances) else math.nan
    per_class: dict[int, dict[str, float]] = {}
    for code in range(references.num_classes):
        mine, theirs = candidate.labels == code, test.labels == code
        real_spread = mean_pairwise_distance(test.mel_vectors[theirs])
        per_class[code] = {
            "accuracy": float(correct[mine].mean()) if labelled and mine.any() else math.nan,
            "diversity_ratio": _ratio(mean_pairwise_distance(candidate.mel_vectors[mine]), real_spread),
            "novelty_ratio": _ratio(_median(distances[mine]), _median(references.test_distances[theirs])),
        }
    bins_differing, bins = ndb(references.bins, train.mel_vectors, against_train.mel_vectors)
    overall = {
        "accuracy": _nanmean([scores["accuracy"] for scores in per_class.values()]),
        "inception_score": inception_score(
            candidate.probabilities, class_balanced_weights(candidate.labels) if labelled else None
        ),
        "frechet_distance_classifier": frechet_distance(against_test.embedding, test.embedding),
        "kid_classifier": kernel_inception_distance(against_test.embedding, test.embedding, seed=seed)[0],
        "frechet_distance_mel": frechet_distance(against_test.mel_statistics, test.mel_statistics),
        "kid_mel": kernel_inception_distance(against_test.mel_statistics, test.mel_statistics, seed=seed)[0],
        "ndb_fraction": bins_differing / bins,
        "diversity_ratio": _nanmean([scores["diversity_ratio"] for scores in per_class.values()]),
        "novelty_ratio": _ratio(_median(distances), test_median),
        "copy_fraction": copy_fraction(distances, references.test_distances),
    }
    return overall, per_class


def generation_scores(
    model: Features,
    noise: Features,
    references: References,
    count: int,
    labelled: bool,
    seeds: tuple[int, int] = (0, 0),
) -> dict[str, dict]:
    """The generation table: ``{"overall": {metric: {set: value}}, "per_class": {class index: {metric: {set: value}}}}``.

    The real ceiling of each metric comes from the set `REAL_SOURCE` names; `count` train sounds per
    class stand for the ``train`` ceiling, as many as the model made. `seeds` is ``(seed, judge_seed)``:
    the model's sounds are subsampled with the first, the real sets and the noise floor with the second,
    so reports of one judge seed share their ceilings and floors.
    """
    seed, judge_seed = seeds
    train_sample = references.train.subset(per_class_sample(references.train.labels, count, judge_seed))
    real_sets = {"train": train_sample, "test": references.test, "val": references.val}
    scored = {
        name: set_scores(features, references, True, judge_seed)
        for name, features in real_sets.items()
        if len(features) > 1
    }
    scored["model"] = set_scores(references.standardized(model), references, labelled, seed)
    scored["noise"] = set_scores(references.standardized(noise), references, True, judge_seed)
    nothing: tuple[dict[str, float], dict[int, dict[str, float]]] = ({}, {})

    def value(set_name: str, metric: str, code: int | None) -> float:
        source = REAL_SOURCE[metric] if set_name == "real" else set_name
        overall, per_class = scored.get(source, nothing)
        table = overall if code is None else per_class.get(code, {})
        return table.get(metric, math.nan)

    return {
        "overall": {metric: {name: value(name, metric, None) for name in SETS} for metric in GENERATION_METRICS},
        "per_class": {
            code: {metric: {name: value(name, metric, code) for name in SETS} for metric in PER_CLASS_METRICS}
            for code in range(references.num_classes)
        },
        "real_source": dict(REAL_SOURCE),
        "sizes": {name: len(features) for name, features in {**real_sets, "model": model, "noise": noise}.items()},
    }


def _median(values: np.ndarray) -> float:
    """The median, nan for no values."""
    return float(np.median(values)) if len(values) else math.nan


def _nanmean(values: list[float]) -> float:
    """The mean of the finite values, nan when there are none."""
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def _ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, nan when either is missing or the denominator is 0."""
    if not (math.isfinite(numerator) and math.isfinite(denominator)) or denominator == 0:
        return math.nan
    return numerator / denominator
