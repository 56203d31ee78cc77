"""A run's clock and its ``logs/metrics.csv``, both carried across resumes.

Lightning's CSV logger deletes an existing metrics file when it starts, so a resumed run would lose
the history of every earlier session; this one keeps the rows of the epochs the checkpoint holds.
"""

from __future__ import annotations

import csv
from pathlib import Path

import lightning as L
import pandas as pd
from lightning.pytorch.callbacks import Callback, Timer
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter

from dkvae.core.atomic import atomic_path


class _KeptRowsWriter(ExperimentWriter):
    """Lightning's CSV writer, appending to the metrics file instead of deleting it."""

    def __init__(self, log_dir: str) -> None:
        super().__init__(log_dir)
        if Path(self.metrics_file_path).is_file():
            with open(self.metrics_file_path, newline="", encoding="utf-8") as file:
                self.metrics_keys = sorted(next(csv.reader(file), []))

    def _check_log_dir_exists(self) -> None:
        """Keep the file: the resumed run appends to it."""


class ResumableCSVLogger(CSVLogger):
    """`CSVLogger` whose metrics file survives a resume (see `TrimResumedLog` for the rows it keeps)."""

    @property
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _KeptRowsWriter(log_dir=self.log_dir)
        return self._experiment


class TrimResumedLog(Callback):
    """On a resume, drops logged rows of the epochs after the checkpoint (a kill can land between the two)."""

    def __init__(self, metrics_file: Path) -> None:
        self.metrics_file = metrics_file
        self.trimmed = False

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.trimmed or not trainer.is_global_zero or not self.metrics_file.is_file():
            return
        self.trimmed = True
        rows = pd.read_csv(self.metrics_file)
        kept = (
            rows[rows["epoch"].isna() | (rows["epoch"] < trainer.current_epoch)] if "epoch" in rows else rows.iloc[:0]
        )
        if len(kept) < len(rows):
            with atomic_path(self.metrics_file) as temporary:
                kept.to_csv(temporary, index=False)


def training_seconds(trainer: L.Trainer) -> float:
    """Seconds spent in training epochs so far, counted across resumes by Lightning's `Timer` (saved in checkpoints)."""
    timer = next(callback for callback in trainer.callbacks if isinstance(callback, Timer))
    return timer.time_elapsed("train")
