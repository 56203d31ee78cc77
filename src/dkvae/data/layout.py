"""The imported bank's layout: ``BANK/<class>/<file>`` plus ``BANK/manifest.csv`` describing each file."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd
import soundfile as sf

from dkvae.core.atomic import atomic_path
from dkvae.core.names import safe_name

MANIFEST_NAME = "manifest.csv"
#: Columns every manifest has, in this order; importers may add more after them.
MANIFEST_COLUMNS = ["original_path", "label", "source", "kit", "instrument", "license", "note", "velocity", "group"]


def relative_path(label: str, name: str) -> str:
    """Where a file of class `label` named `name` lives inside a bank (posix, file-name-safe)."""
    return f"{safe_name(label)}/{safe_name(name)}"


class BankWriter:
    """Adds files to an imported bank and keeps its manifest; rerunning an import updates it in place.

    Each file is written under a temporary name and renamed; the manifest is rewritten atomically by
    `close`, merging with rows already there (rows are keyed by ``original_path``).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._rows: dict[str, dict[str, Any]] = {}
        manifest = self.root / MANIFEST_NAME
        if manifest.exists():
            for row in pd.read_csv(manifest, dtype=str, keep_default_na=False).to_dict("records"):
                self._rows[row["original_path"]] = row

    def _target(self, label: str, name: str) -> tuple[Path, str]:
        relative = relative_path(label, name)
        return self.root / relative, relative

    def record(self, label: str, name: str, **meta: Any) -> Path:
        """Record a file another process already wrote at `relative_path(label, name)`; returns its path."""
        target, relative = self._target(label, name)
        self._record(relative, label, meta)
        return target

    def copy_file(self, label: str, name: str, source_path: str | os.PathLike[str], /, **meta: Any) -> Path:
        """Copy `source_path` into ``BANK/<label>/<name>`` and record `meta` in the manifest."""
        target, relative = self._target(label, name)
        with atomic_path(target) as tmp:
            shutil.copyfile(source_path, tmp)
        self._record(relative, label, meta)
        return target

    def write_audio(
        self, label: str, name: str, audio: np.ndarray, sample_rate: int, subtype: str = "PCM_16", **meta: Any
    ) -> Path:
        """Write `audio` (``(samples,)`` or ``(samples, channels)``, float in [-1, 1]) as a WAV file."""
        target, relative = self._target(label, name)
        with atomic_path(target) as tmp:
            sf.write(tmp, audio, sample_rate, subtype=subtype, format="WAV")
        self._record(relative, label, meta)
        return target

    def _record(self, relative: str, label: str, meta: dict[str, Any]) -> None:
        row = {column: "" for column in MANIFEST_COLUMNS}
        row.update({key: "" if value is None else value for key, value in meta.items()})
        row["original_path"] = relative
        row["label"] = label
        if not row["group"]:
            row["group"] = relative
        self._rows[relative] = row

    def close(self) -> Path:
        """Write the manifest (atomically) and return its path."""
        frame = pd.DataFrame(list(self._rows.values()))
        if frame.empty:
            frame = pd.DataFrame(columns=MANIFEST_COLUMNS)
        extra = [c for c in frame.columns if c not in MANIFEST_COLUMNS]
        frame = frame.reindex(columns=MANIFEST_COLUMNS + sorted(extra)).sort_values("original_path")
        path = self.root / MANIFEST_NAME
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=False)
        return path

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
