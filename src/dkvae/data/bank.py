"""`Bank`: a folder of drum sounds sorted by class, and its processed spectrograms beside it in ``BANK_/``.

The processed folder holds ``config.json`` (the settings it was made with), ``samples.csv`` (one row
per kept sound; written last, it commits a run), ``skipped.csv`` (file, reason) and one packed array
``spectrograms-<digest>.npy`` of shape ``(sounds, freq, frames)``, ordered train, test, val so each split
is one contiguous, memory-mappable slice. Runs are incremental (only new or changed files are
processed) and resumable (finished chunks survive an interruption in ``parts/``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dkvae.core.atomic import atomic_path, write_text
from dkvae.core.config import AUDIO_EXTENSIONS, AudioConfig, Config, InversionConfig, SplitConfig, get_preset
from dkvae.core.errors import DkvaeError
from dkvae.core.locking import exclusive_lock
from dkvae.data import staging
from dkvae.data.layout import MANIFEST_NAME
from dkvae.data.packed import PackedRows
from dkvae.data.preprocess import STORAGE_DTYPE, Outcome, Progress, SourceFile, read_parts, run_parts
from dkvae.sound import audio

log = logging.getLogger(__name__)

SAMPLES_NAME = "samples.csv"
SKIPPED_NAME = "skipped.csv"
CONFIG_NAME = "config.json"
PARTS_NAME = "parts"
ARRAY_PREFIX = "spectrograms-"
#: Split names in the order their rows are packed (and `load_spectrograms` returns them).
SPLITS = ("train", "test", "val")
#: Columns of samples.csv: the seed's first, then ours; manifest columns from an importer follow.
SAMPLE_COLUMNS = [
    "sample", "path", "original_path", "label", "split", "min_value", "max_value",
    "index", "group", "size", "mtime_ns", "source_sample_rate", "channels", "source_frames",
    "peak_db", "lead_in",
]  # fmt: skip
SKIPPED_COLUMNS = ["file", "reason", "size", "mtime_ns"]


def processed_dir_for(original_dir: str | os.PathLike[str]) -> Path:
    """The processed folder of a bank: the bank's own path with ``_`` appended, beside it (the seed's layout)."""
    original = Path(original_dir)
    return original.parent / f"{original.name}_"


def split_for(key: str, split: SplitConfig) -> str:
    """The split of a sound, from a hash of `key` (its group or path in the bank).

    Deterministic and independent of every other file, so adding files never moves earlier ones.
    """
    value = int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big") / 2.0**64
    if value < split.test:
        return "test"
    if value < split.test + split.val:
        return "val"
    return "train"


@dataclass
class Scan:
    """The audio files found in a bank folder."""

    files: list[SourceFile] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    #: Audio files that cannot be used whatever their content (outside a class folder, unreadable).
    rejected: list[Outcome] = field(default_factory=list)

    def keys(self) -> set[tuple[str, int, int]]:
        """Identities of every audio file found, usable or not."""
        return {f.key for f in self.files} | {o.key for o in self.rejected}


class Bank:
    """A drum sample bank: ``BANK/<instrument>/<files>`` and its processed spectrograms in ``BANK_/``.

    Like the seed, creating a `Bank` processes it when needed. `preset` picks the settings (a preset
    name or a `Config`); left out, a processed bank keeps the settings it was made with and a new one
    gets ``default``. A bank processed with other settings is processed again, never mixed.

    Attributes: ``id`` (the folder's name), ``original_dir``, ``dir`` (the processed folder),
    ``instruments`` (class names, sorted), ``data`` (samples.csv as a DataFrame), ``config``.

    >>> bank = Bank("data/hydrogen")  # doctest: +SKIP
    >>> x_train, y_train, x_test, y_test, x_val, y_val = bank.load_spectrograms()  # doctest: +SKIP
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        preset: str | Config | None = None,
        workers: int | None = None,
        progress: Progress | None = None,
        process: bool = True,
    ) -> None:
        self.original_dir, self.dir = self.get_dirs(path)
        self.id = self.original_dir.name
        self.config = self._resolve_config(preset)
        self.instruments = self._class_folders()
        self.data = pd.DataFrame(columns=SAMPLE_COLUMNS)
        state = self._committed_state()
        if process and not self._is_current(state):
            self.preprocess_wav_files(workers=workers, progress=progress)
        elif state is not None:
            self._use(state[0])

    def _use(self, samples: pd.DataFrame) -> None:
        """Take committed samples as `data` and their class names as `instruments`."""
        self.data = samples
        self.instruments = sorted(self.data["label"].unique())

    def get_dirs(self, path: str | os.PathLike[str]) -> tuple[Path, Path]:
        """The bank's source folder and its processed folder; checks the source exists and has classes."""
        original = Path(path).expanduser().resolve()
        if not original.is_dir():
            raise DkvaeError(f"bank folder not found: {original}")
        processed = processed_dir_for(original)
        if not any(_class_dirs(original)):
            raise DkvaeError(f"{original} has no class folders: expected BANK/<instrument>/<sound files>")
        try:
            processed.mkdir(exist_ok=True)
            tempfile.TemporaryFile(dir=processed).close()
        except OSError as error:
            raise DkvaeError(f"cannot write the processed bank to {processed}: {error.strerror}") from None
        log.info("bank %s: %d instrument folders", original.name, len(list(_class_dirs(original))))
        return original, processed

    @property
    def audio_config(self) -> AudioConfig:
        """The audio settings of this bank."""
        return self.config.audio

    def _resolve_config(self, preset: str | Config | None) -> Config:
        """The config asked for, or the one the bank was processed with, or the default preset."""
        if isinstance(preset, Config):
            return preset
        if preset is not None:
            return get_preset(preset)
        saved = self._saved_config()
        return saved if saved is not None else get_preset("default")

    def _saved_config(self) -> Config | None:
        """The config in ``BANK_/config.json``, or None when absent, unreadable or out of bounds (see `Config`)."""
        try:
            return Config.from_json((self.dir / CONFIG_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            return None

    def _class_folders(self) -> list[str]:
        """Names of the class folders in the source bank, sorted."""
        return sorted(d.name for d in _class_dirs(self.original_dir))

    def scan(self) -> Scan:
        """Find the bank's audio files (by extension; hidden files and folders are ignored).

        Files that are not regular files (a FIFO would block preprocessing for ever, a device never end)
        and names that are not UTF-8 (no CSV or split hash can hold them) are rejected unopened.
        """
        scan = Scan()
        for entry in sorted(self.original_dir.iterdir()):
            if entry.is_file() and _is_audio_name(entry.name):
                scan.rejected.append(_rejected(entry, self.original_dir, "not inside a class folder"))
        for class_dir in _class_dirs(self.original_dir):
            for root, dirs, names in os.walk(class_dir):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                folder = Path(root).relative_to(self.original_dir).as_posix()  # plain strings below: 100k files
                for name in sorted(names):
                    if not _is_audio_name(name):
                        continue
                    file = os.path.join(root, name)
                    relative = f"{folder}/{name}"
                    if not _is_utf8(relative):
                        scan.rejected.append(_rejected(Path(file), self.original_dir, "file name is not valid UTF-8"))
                        continue
                    try:
                        info = os.stat(file)
                    except OSError as error:
                        scan.rejected.append(_rejected(Path(file), self.original_dir, f"cannot read: {error.strerror}"))
                        continue
                    if not stat.S_ISREG(info.st_mode):
                        scan.rejected.append(_rejected(Path(file), self.original_dir, "not a regular file"))
                        continue
                    scan.files.append(SourceFile(relative, file, info.st_size, info.st_mtime_ns))
                    scan.labels[relative] = class_dir.name
        return scan

    def is_processed(self) -> bool:
        """True when the processed bank exists, has this bank's settings, and matches the files on disk."""
        return self._is_current(self._committed_state())

    def _is_current(self, state: tuple[pd.DataFrame, pd.DataFrame] | None) -> bool:
        """`is_processed` for an already read committed state (see `_committed_state`)."""
        saved = self._saved_config()
        if saved is None or not saved.same_data(self.config) or state is None:
            return False
        samples, skipped = state
        done = set(zip(samples["original_path"], samples["size"], samples["mtime_ns"]))
        done |= set(zip(skipped["file"], skipped["size"], skipped["mtime_ns"]))
        return done == self.scan().keys()

    def read_data(self) -> pd.DataFrame:
        """``samples.csv`` as a DataFrame (one row per processed sound)."""
        return pd.read_csv(
            self.dir / SAMPLES_NAME,
            dtype={"sample": str, "path": str, "original_path": str, "label": str, "split": str, "group": str},
            keep_default_na=False,
            na_values={"min_value": [""], "max_value": [""]},
        )

    def read_skipped(self) -> pd.DataFrame:
        """``skipped.csv`` as a DataFrame: each file that was not used, and why."""
        path = self.dir / SKIPPED_NAME
        if not path.exists():
            return pd.DataFrame(columns=SKIPPED_COLUMNS)
        return pd.read_csv(path, dtype={"file": str, "reason": str}, keep_default_na=False)

    def _committed_state(self) -> tuple[pd.DataFrame, pd.DataFrame] | None:
        """The last committed (samples, skipped), or None when missing or inconsistent with its array."""
        try:
            samples = self.read_data()
            skipped = self.read_skipped()
        except (OSError, ValueError, pd.errors.ParserError):
            return None
        if not set(SAMPLE_COLUMNS) <= set(samples.columns) or not set(SKIPPED_COLUMNS) <= set(skipped.columns):
            return None
        arrays = set(samples["path"])
        if len(arrays) > 1:
            return None
        if arrays:
            try:
                array = np.load(self.dir / arrays.pop(), mmap_mode="r")
            except (OSError, ValueError):
                return None
            if array.shape != (len(samples), *self.config.audio.shape):
                return None
        return samples, skipped

    def preprocess_wav_files(self, workers: int | None = None, progress: Progress | None = None) -> None:
        """Process the bank: only new or changed files are decoded; the result is committed atomically.

        Each audio file is loaded (only the needed part), mixed to mono, resampled, trimmed of its
        lead-in, fitted to length, turned into a log spectrogram and normalized. Unusable files go to
        ``skipped.csv`` with the reason. Runs on `workers` processes (default: all cores). One run at a
        time per bank: another process's run is waited for (see `dkvae.core.locking`).
        """
        with exclusive_lock(self.dir, f"bank {self.original_dir}"):
            saved = self._saved_config()
            if saved is None or not saved.same_data(self.config):
                self._clear()
                write_text(self.dir / CONFIG_NAME, self.config.data_json())
            for leftover in [*self.dir.glob(".*.tmp"), *self.dir.glob(f"{PARTS_NAME}/.*.tmp")]:
                leftover.unlink()  # temporary files of a run that was killed
            scan = self.scan()
            manifest = self._manifest()
            known = self._known_outcomes()
            known.update(read_parts(self.dir / PARTS_NAME))
            todo = sorted(
                (f for f in scan.files if f.key not in known),
                key=lambda f: self._pack_order(f.original_path, scan.labels[f.original_path], manifest),
            )  # chunks in pack order, so packing copies runs of rows, not one row at a time
            if todo:
                log.info("processing %d of %d files", len(todo), len(scan.files))
            fresh = run_parts(self.dir / PARTS_NAME, todo, self.config.audio, workers, progress)
            known.update((o.key, o) for o in fresh)
            outcomes = [known[f.key] for f in scan.files] + scan.rejected
            self._commit(outcomes, scan.labels, manifest)
            self._use(self.read_data())

    def _known_outcomes(self) -> dict[tuple[str, int, int], Outcome]:
        """Outcomes of the last committed run, reusable for files that did not change since."""
        state = self._committed_state()
        if state is None:
            return {}
        samples, skipped = state
        known: dict[tuple[str, int, int], Outcome] = {}
        for row in samples.itertuples(index=False):
            known[(row.original_path, row.size, row.mtime_ns)] = Outcome(
                row.original_path, row.size, row.mtime_ns, part=row.path, row=row.index,
                min_value=row.min_value, max_value=row.max_value,
                source_sample_rate=row.source_sample_rate, channels=row.channels,
                source_frames=row.source_frames, peak_db=row.peak_db, lead_in=row.lead_in,
            )  # fmt: skip
        for row in skipped.itertuples(index=False):
            known[(row.file, row.size, row.mtime_ns)] = Outcome(row.file, row.size, row.mtime_ns, reason=row.reason)
        return known

    def _commit(self, outcomes: list[Outcome], labels: dict[str, str], manifest: dict[str, dict[str, str]]) -> None:
        """Pack the kept spectrograms, write skipped.csv, then samples.csv (the commit), then clean up."""
        kept = [o for o in outcomes if o.kept]
        rows = [self._sample_row(o, labels[o.original_path], manifest.get(o.original_path, {})) for o in kept]
        order = sorted(range(len(rows)), key=lambda i: _row_order(rows[i]))
        rows = [rows[i] for i in order]
        kept = [kept[i] for i in order]
        array_name = self._array_name(kept)
        for index, row in enumerate(rows):
            row.update(path=array_name, index=index)
        if not (self.dir / array_name).exists():
            self._pack(array_name, kept)

        skipped = pd.DataFrame(
            [(o.original_path, o.reason, o.size, o.mtime_ns) for o in outcomes if not o.kept],
            columns=SKIPPED_COLUMNS,
        ).sort_values("file")
        with atomic_path(self.dir / SKIPPED_NAME) as tmp:
            skipped.to_csv(tmp, index=False)
        samples = pd.DataFrame(rows)
        extra = sorted(c for c in samples.columns if c not in SAMPLE_COLUMNS)
        samples = samples.reindex(columns=SAMPLE_COLUMNS + extra)
        with atomic_path(self.dir / SAMPLES_NAME) as tmp:
            samples.to_csv(tmp, index=False)

        shutil.rmtree(self.dir / PARTS_NAME, ignore_errors=True)
        for stale in self.dir.glob(f"{ARRAY_PREFIX}*.npy"):
            if stale.name != array_name:
                stale.unlink()

    def _pack_order(self, original_path: str, label: str, manifest: dict[str, dict[str, str]]) -> tuple[int, str, str]:
        """`_pack_key` of a file not yet processed."""
        group = _group(original_path, manifest.get(original_path, {}))
        return _pack_key(split_for(group, self.config.split), label, original_path)

    def _sample_row(self, outcome: Outcome, label: str, meta: dict[str, str]) -> dict[str, object]:
        """One row of samples.csv."""
        group = _group(outcome.original_path, meta)
        row: dict[str, object] = {k: v for k, v in meta.items() if k not in ("original_path", "label", "group")}
        row.update(
            sample=os.path.splitext(os.path.basename(outcome.original_path))[0],  # Path.stem: audio names have an extension
            original_path=outcome.original_path,
            label=label,
            split=split_for(group, self.config.split),
            min_value=outcome.min_value,
            max_value=outcome.max_value,
            group=group,
            size=outcome.size,
            mtime_ns=outcome.mtime_ns,
            source_sample_rate=outcome.source_sample_rate,
            channels=outcome.channels,
            source_frames=outcome.source_frames,
            peak_db=outcome.peak_db,
            lead_in=outcome.lead_in,
        )
        return row

    def _manifest(self) -> dict[str, dict[str, str]]:
        """Per-file metadata an importer wrote in ``BANK/manifest.csv``, keyed by path in the bank."""
        path = self.original_dir / MANIFEST_NAME
        if not path.exists():
            return {}
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (OSError, ValueError, pd.errors.ParserError) as error:
            log.warning("ignoring unreadable %s: %s", path, error)
            return {}
        if "original_path" not in frame.columns:
            return {}
        columns = list(frame.columns)
        rows = (dict(zip(columns, values)) for values in zip(*(frame[column].tolist() for column in columns)))
        return {row["original_path"]: row for row in rows}  # (to_dict("records") is several times slower)

    def _array_name(self, kept: list[Outcome]) -> str:
        """The packed array's file name: a digest of the settings and the ordered file identities."""
        digest = hashlib.blake2b(self.config.data_json().encode(), digest_size=10)
        for outcome in kept:
            digest.update(repr(outcome.key).encode())
        return f"{ARRAY_PREFIX}{digest.hexdigest()}.npy"

    def _pack(self, name: str, kept: list[Outcome]) -> None:
        """Write each kept spectrogram, from its part or the previous array, into one new array file.

        When every kept row is in one staging array (a first run), that file becomes the new array in
        place (see `dkvae.data.staging`). Otherwise rows are copied with plain reads and one sequential write
        (no memory maps), so memory stays small however large the bank.
        """
        shape = (len(kept), *self.config.audio.shape)
        sources = {o.part for o in kept}
        if len(sources) == 1 and not (part := sources.pop()).startswith(ARRAY_PREFIX):
            slots = [o.row for o in kept]
            if staging.finish_in_place(self._source_path(part), self.dir / name, slots, shape[1:], STORAGE_DTYPE):
                return
        header = {"descr": np.dtype(STORAGE_DTYPE).str, "fortran_order": False, "shape": shape}
        with atomic_path(self.dir / name) as tmp, open(tmp, "wb") as out, PackedRows() as rows:
            np.lib.format.write_array_header_1_0(out, header)
            for part, first, count in _runs(kept):
                source = self._source_path(part)
                if rows.row_shape(source) != (shape[1:], np.dtype(STORAGE_DTYPE)):
                    raise OSError(f"{source} does not hold spectrograms of this bank's shape")
                out.write(rows.read_bytes(source, first, count))

    def _source_path(self, part: str) -> Path:
        """Where the array named by an outcome's ``part`` lives: a previous pack or a part file."""
        if part.startswith(ARRAY_PREFIX):
            return self.dir / part
        return self.dir / PARTS_NAME / f"{part}.npy"

    def _clear(self) -> None:
        """Remove a processed bank made with other settings (samples.csv first, so nothing claims to be done)."""
        for name in (SAMPLES_NAME, SKIPPED_NAME, CONFIG_NAME):
            (self.dir / name).unlink(missing_ok=True)
        shutil.rmtree(self.dir / PARTS_NAME, ignore_errors=True)
        for array in self.dir.glob(f"{ARRAY_PREFIX}*.npy"):
            array.unlink()

    def load_spectrograms(
        self,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``x_train, y_train, x_test, y_test, x_val, y_val``: memory-mapped spectrograms and class indices.

        Each ``x`` is a read-only view ``(sounds, freq, frames)`` of float16 values in [0, 1], not a
        copy; each ``y`` is int64 indices into `instruments`.
        """
        if self._committed_state() is None:
            raise DkvaeError(f"bank {self.id} is not processed; run `dkvae preprocess {self.original_dir}`")
        array = np.load(self.dir / self.data["path"].iloc[0], mmap_mode="r") if len(self.data) else None
        codes = {name: code for code, name in enumerate(self.instruments)}
        result: list[np.ndarray] = []
        for split in SPLITS:
            positions = np.flatnonzero(self.data["split"].to_numpy() == split)
            if array is None or positions.size == 0:
                result += [np.empty((0, *self.config.audio.shape), STORAGE_DTYPE), np.empty(0, np.int64)]
                continue
            start, stop = int(positions[0]), int(positions[-1]) + 1
            labels = self.data["label"].iloc[start:stop].map(codes).to_numpy(np.int64)
            result += [array[start:stop], labels]
        return tuple(result)  # type: ignore[return-value]

    load_spectograms = load_spectrograms

    @property
    def array_path(self) -> Path:
        """The packed spectrogram array of the committed run."""
        if not len(self.data):
            raise DkvaeError(f"bank {self.id} has no processed sounds")
        return self.dir / self.data["path"].iloc[0]

    def split_rows(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """Row indices into `array_path` and class indices (into `instruments`) of one split's sounds."""
        codes = {name: code for code, name in enumerate(self.instruments)}
        rows = self.data[self.data["split"] == split]
        return rows["index"].to_numpy(np.int64), rows["label"].map(codes).to_numpy(np.int64)

    @staticmethod
    def test_train_val(keys: Iterable[str], split: SplitConfig | None = None) -> list[str]:
        """The split (``train``/``test``/``val``) of each key, by hash: see `split_for`."""
        split = split or SplitConfig()
        return [split_for(key, split) for key in keys]

    @staticmethod
    def match_length(signal: np.ndarray, num_samples: int, fade_samples: int = 0) -> np.ndarray:
        """Pad or cut audio to `num_samples` (see `dkvae.sound.audio.match_length`)."""
        return audio.match_length(signal, num_samples, fade_samples)

    @staticmethod
    def get_log_spectrogram(signal: np.ndarray, config: AudioConfig | None = None) -> np.ndarray:
        """dB spectrogram ``(freq, frames)`` of ``(samples,)`` audio with `config`'s STFT settings."""
        config = config or AudioConfig()
        return audio.log_spectrogram(signal, config.n_fft, config.hop_length).numpy()

    get_log_spectogram = get_log_spectrogram

    @staticmethod
    def normalize(spectrogram_db: np.ndarray, config: AudioConfig | None = None) -> tuple[np.ndarray, float, float]:
        """Normalize a dB spectrogram to [0, 1] (see `dkvae.sound.audio.normalize`)."""
        return audio.normalize(spectrogram_db, config or AudioConfig())

    @staticmethod
    def spectrogram_to_audio(
        normalized: np.ndarray,
        config: AudioConfig | None = None,
        min_value: float | None = None,
        max_value: float | None = None,
        inversion: InversionConfig | None = None,
    ) -> np.ndarray:
        """Invert a normalized spectrogram to audio (default: `InversionConfig()`; the seed preset's is 64 plain Griffin-Lim iterations)."""
        return audio.spectrogram_to_audio(normalized, config or AudioConfig(), min_value, max_value, inversion)

    spectogram_to_audio = spectrogram_to_audio


def _class_dirs(root: Path) -> Iterable[Path]:
    """Non-hidden sub-folders of a bank: one per class."""
    return (p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith("."))


def _is_audio_name(name: str) -> bool:
    """True for a visible file whose extension libsndfile decodes."""
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS


def _rejected(file: Path, root: Path, reason: str) -> Outcome:
    """An outcome for a file refused before decoding; a name that is not UTF-8 is kept with its bytes escaped (``\\xff``)."""
    try:
        info = file.stat()
        size, mtime = info.st_size, info.st_mtime_ns
    except OSError:
        size, mtime = -1, -1
    relative = os.fsencode(file.relative_to(root).as_posix()).decode("utf-8", "backslashreplace")
    return Outcome(relative, size, mtime, reason=reason)


def _is_utf8(name: str) -> bool:
    """True unless `name` holds bytes that are not UTF-8 (Python keeps them as lone surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _runs(kept: list[Outcome], longest: int = 64) -> Iterator[tuple[str, int, int]]:
    """``(part, first row, count)`` for each run of consecutive rows of one source, at most `longest` rows."""
    start = 0
    for end in range(1, len(kept) + 1):
        first = kept[start]
        if (
            end == len(kept)
            or end - start == longest
            or kept[end].part != first.part
            or kept[end].row != first.row + end - start
        ):
            yield first.part, first.row, end - start
            start = end


def _group(original_path: str, meta: dict[str, str]) -> str:
    """What a sound's split is drawn from: its manifest group (all renders of one source), else its path."""
    return meta.get("group") or original_path


def _pack_key(split: str, label: str, original_path: str) -> tuple[int, str, str]:
    """Where a row goes in the packed array: by split (train, test, val), then class, then path."""
    return (SPLITS.index(split), label, original_path)


def _row_order(row: dict[str, object]) -> tuple[int, str, str]:
    """`_pack_key` of a samples.csv row."""
    return _pack_key(str(row["split"]), str(row["label"]), str(row["original_path"]))
