"""The report's figures as PNG files (matplotlib, Agg): latent map, generated and real spectrograms, reconstructions, training curves."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from dkvae.core.atomic import atomic_path
from dkvae.evaluation.latent import LatentSpace

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Resolution of every figure, in dots per inch.
DPI = 100
#: Size of one spectrogram panel in the grids, in inches (width, height).
PANEL_INCHES = (1.6, 1.3)
#: Curves of the training plot, by the column names of Lightning's metrics.csv.
TRAINING_CURVES = {
    "loss": ("train/loss", "val/loss"),
    "reconstruction": ("train/reconstruction", "val/reconstruction"),
    "KL (nats)": ("train/kl", "val/kl"),
}


def pyplot() -> ModuleType:
    """matplotlib's pyplot on the Agg backend (files only, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def save_figure(figure: Figure, path: Path) -> None:
    """Write `figure` as a PNG atomically and free it."""
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", bbox_inches="tight", dpi=DPI)
    pyplot().close(figure)


def latent_map(latent: LatentSpace, class_names: list[str], path: Path) -> None:
    """Scatter of the encoded sounds coloured by class: PCA, and UMAP beside it when computed."""
    plt = pyplot()
    maps = [("PCA", latent.pca)] + ([("UMAP", latent.umap)] if latent.umap is not None else [])
    figure, axes = plt.subplots(1, len(maps), figsize=(5.5 * len(maps), 4.5), squeeze=False)
    colours = plt.get_cmap("tab10")
    for axis, (name, points) in zip(axes[0], maps):
        for code, label in enumerate(class_names):
            chosen = latent.labels == code
            if chosen.any():
                axis.scatter(
                    points[chosen, 0], points[chosen, 1], s=12, color=colours(code % 10), label=label, alpha=0.8
                )
        axis.set_title(name if name != "PCA" else f"PCA ({100 * latent.pca_explained.sum():.0f}% of the variance)")
        axis.set_xticks([])
        axis.set_yticks([])
    axes[0][-1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    save_figure(figure, path)


def spectrogram_grid(rows: list[tuple[str, list[tuple[str, np.ndarray]]]], path: Path) -> None:
    """A grid of normalized spectrograms ``(freq, frames)``: one row per ``(row title, [(column title, spectrogram), ...])``.

    Column titles are taken from the first row.
    """
    plt = pyplot()
    columns = max((len(panels) for _, panels in rows), default=1)
    figure, axes = plt.subplots(
        len(rows), columns, figsize=(PANEL_INCHES[0] * columns, PANEL_INCHES[1] * len(rows)), squeeze=False
    )
    for row, (row_title, panels) in enumerate(rows):
        for column in range(columns):
            axis = axes[row][column]
            axis.set_xticks([])
            axis.set_yticks([])
            if column < len(panels):
                title, spectrogram = panels[column]
                axis.imshow(
                    spectrogram,
                    origin="lower",
                    aspect="auto",
                    vmin=0.0,
                    vmax=1.0,
                    cmap="magma",
                    interpolation="nearest",
                )
                if row == 0:
                    axis.set_title(title, fontsize=8)
            else:
                axis.axis("off")
        axes[row][0].set_ylabel(row_title, fontsize=8)
    save_figure(figure, path)


def training_curves(metrics_csv: Path, path: Path) -> bool:
    """Plot a run's Lightning ``logs/metrics.csv`` (loss, reconstruction, KL per epoch); False when it has none of them."""
    frame = pd.read_csv(metrics_csv)
    panels = {title: [c for c in names if c in frame.columns] for title, names in TRAINING_CURVES.items()}
    panels = {title: names for title, names in panels.items() if names}
    if not panels or "epoch" not in frame.columns:
        return False
    plt = pyplot()
    figure, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.5), squeeze=False)
    for axis, (title, names) in zip(axes[0], panels.items()):
        for name in names:
            points = frame[["epoch", name]].dropna()
            axis.plot(points["epoch"], points[name], label=name)
        if title != "KL (nats)" and frame[names].min().min() > 0:
            axis.set_yscale("log")
        axis.set_title(title)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    save_figure(figure, path)
    return True
