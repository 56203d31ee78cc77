"""One Gaussian per class or a mixture: which prior fits where a model's sounds live, and what it generates.

Ghosh et al. (2020) fit either density to an autoencoder's latents after training. For each class
this encodes the bank's training sounds (posterior means) and fits scikit-learn's
`GaussianMixture` (full covariances) with each of `--components` (0: the count from 1 to 8 with the
lowest BIC); the model's own prior (`dkvae.models.latent_prior`, one shrunk Gaussian per class) is the
baseline. Two kinds of figures:

- held-out fit: the mean log-likelihood (nats) of the validation split's latents under each prior,
  per class and over all sounds, fitted on the training split only (the honest way to choose);
- generation: `dkvae evaluate` at each of `--seeds` with new sounds drawn from the mixture (one judge:
  a classifier cached in `--classifier` is copied in), one JSON line per report (`haze.summary`). A
  draw's component comes from its first noise coordinate (its normal CDF against the cumulative
  weights) and its offset from the other coordinates, so a seed still fixes every sound. The reports
  go under `--reports`.

``--out FILE`` also writes one entry per prior (its held-out fit, its components, the medians of its
generation figures over the seeds and each seed's) as rows of docs/results/latent_mixture.json
(bench/record.py).

    python bench/latent_mixture.py data/drums --components 0 4 --seeds 0 1 2 --classifier reports/bundled/classifier
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import record
from haze import median_figures, summary
from scipy.stats import multivariate_normal, norm
from sklearn.mixture import GaussianMixture

from dkvae import Bank
from dkvae.evaluation.evaluate import evaluate
from dkvae.inference.machine import DrumMachine

#: The most components the BIC search (``--components 0``) tries.
MOST_COMPONENTS = 8


class MixturePrior:
    """`LatentPrior`'s `sample` over one fitted mixture per class."""

    def __init__(self, mixtures: list[GaussianMixture]) -> None:
        self.mixtures = mixtures

    def sample(self, class_index: int, noise: np.ndarray) -> np.ndarray:
        mixture = self.mixtures[class_index]
        chance = norm.cdf(noise[:, 0].astype(np.float64))
        component = np.minimum(np.searchsorted(np.cumsum(mixture.weights_), chance), len(mixture.weights_) - 1)
        offset = np.roll(noise, -1, axis=1).astype(np.float64)
        offset[:, -1] = norm.ppf(np.clip((chance * 7919.0) % 1.0, 1e-6, 1 - 1e-6))
        factors = np.linalg.cholesky(mixture.covariances_)
        latents = [mixture.means_[k] + factors[k] @ offset[i] for i, k in enumerate(component)]
        return np.stack(latents).astype(np.float32)


def latents_by_class(machine: DrumMachine, bank: Bank) -> dict[str, dict[str, np.ndarray]]:
    """``{split: {class: latents (n, dim)}}`` for the train and validation splits."""
    x_train, y_train, _, _, x_val, y_val = bank.load_spectrograms()
    found: dict[str, dict[str, np.ndarray]] = {}
    for split, x, y in (("train", x_train, y_train), ("val", x_val, y_val)):
        found[split] = {}
        for name in machine.instruments:
            rows = np.flatnonzero(y == bank.instruments.index(name))
            parts = [
                machine.encode_spectrograms(np.asarray(x[rows[i : i + 64]], np.float32), name)
                for i in range(0, len(rows), 64)
            ]
            found[split][name] = np.concatenate(parts) if parts else np.zeros((0, machine.latent_dim), np.float32)
    return found


def fit(latents: np.ndarray, components: int) -> GaussianMixture:
    """A mixture with `components` components, or with the BIC's best count when `components` is 0."""
    counts = [components] if components > 0 else range(1, MOST_COMPONENTS + 1)
    fitted = [
        GaussianMixture(k, covariance_type="full", reg_covar=1e-3, random_state=0, n_init=3).fit(latents)
        for k in counts
    ]
    return min(fitted, key=lambda mixture: mixture.bic(latents))


def table_entries(
    held_out: dict[str, dict], components: dict[str, list[int]], generated: dict[str, list[dict]]
) -> list[dict]:
    """One row of docs/results/latent_mixture.json per prior (``one gaussian``, ``mixture bic``, ``mixture 4``):
    its held-out fit (`held_out`), its components per class, and the medians of its seeds' reports."""
    entries = []
    for label, held in held_out.items():
        runs = generated.get(label, [])
        figures = {"val_log_likelihood": held["val_log_likelihood"], "val_log_likelihood_per_class": held["per_class"]}
        if label in components:
            figures["components"] = components[label]
        if runs:
            figures |= median_figures([{k: v for k, v in report.items() if k != "seed"} for report in runs])
        entries.append(record.study_entry(label.replace(" ", "-"), label, figures, {"held_out": held, "reports": runs}))
    return entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bank", type=Path)
    parser.add_argument("--model", type=Path, default=None, help="model directory (default: the bundled model)")
    parser.add_argument("--components", type=int, nargs="+", default=[0, 4], help="0: chosen by BIC")
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2], help="none: held-out fit only")
    parser.add_argument("--classifier", type=Path, default=None, help="a cached judge (seed 0) to copy in")
    parser.add_argument(
        "--reports", type=Path, default=Path("bench/results/latent_mixture"), help="where the reports go"
    )
    record.add_out(parser, "latent_mixture")
    args = parser.parse_args()
    machine = DrumMachine.load(args.model)
    prior = machine.directory.latent_prior
    bank = Bank(args.bank, preset=machine.config, process=False)
    latents = latents_by_class(machine, bank)
    held_out = {"one gaussian": {}}
    for index, name in enumerate(machine.instruments):
        covariance = prior.scale_tril[index] @ prior.scale_tril[index].T
        held_out["one gaussian"][name] = multivariate_normal(prior.mean[index], covariance).logpdf(latents["val"][name])
    mixtures = {}
    for components in args.components:
        mixtures[components] = [fit(latents["train"][name], components) for name in machine.instruments]
        held_out[f"mixture {components or 'bic'}"] = {
            name: mixture.score_samples(latents["val"][name])
            for name, mixture in zip(machine.instruments, mixtures[components])
        }
    fits = {}
    for label, per_class in held_out.items():
        every = np.concatenate(list(per_class.values()))
        report = {name: round(float(np.mean(values)), 1) for name, values in per_class.items() if len(values)}
        fits[label] = {"val_log_likelihood": round(float(np.mean(every)), 2), "per_class": report}
        print(json.dumps({"prior": label, **fits[label]}))
    original = DrumMachine.__dict__["load"]
    load = DrumMachine.load
    counts, generated = {}, {}
    for components, fitted in mixtures.items():
        label = f"mixture {components or 'bic'}"
        counts[label] = [len(m.weights_) for m in fitted]
        print(json.dumps({"prior": label, "components": counts[label]}))

        def with_mixture(path: Path | None = None, *, _load=load, _fitted=fitted) -> DrumMachine:
            loaded = _load(path)
            loaded.directory.latent_prior = MixturePrior(_fitted)
            return loaded

        DrumMachine.load = staticmethod(with_mixture)  # type: ignore[method-assign]
        for seed in args.seeds:
            out = args.reports / f"k{components}-seed{seed}"
            if args.classifier is not None and not (out / "classifier").exists():
                shutil.copytree(args.classifier, out / "classifier")
            figures = summary(evaluate(args.bank, out, args.model, seed=seed))
            del figures["reconstruction"]  # the prior does not touch it
            generated.setdefault(label, []).append({"seed": seed, **figures})
            print(json.dumps({"prior": label, "seed": seed, **figures}), flush=True)
        DrumMachine.load = original  # type: ignore[method-assign]
    record.write(args.out, *table_entries(fits, counts, generated), table="latent_mixture")


if __name__ == "__main__":
    main()
