"""Import a folder of loose sample files (a messy personal library) into a bank, one folder per drum class.

Backs ``dkvae import folder SOURCE --out BANK [--copy] [--model DIR]``. Each audio file is classified by
its own name first, then by the names of the folders above it (nearest first, up to the source folder).
Without a model nothing is guessed: a file whose names give no class, or an unclear one, is listed in
``BANK/unsorted.csv`` with the reason. With a trained classifier (``dkvae train BANK --model
classifier``), the files whose names say nothing or name several classes are classified by their
sound, and imported when the classifier is confident enough; a name that says "not a drum" is
believed. The manifest's `labelled_by` column says which rows the classifier labelled. The user's
files are never changed: the bank holds symbolic links to them (absolute paths), or copies with
``copy=True``.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import secrets
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from dkvae.core.atomic import atomic_path
from dkvae.core.classes import classify_name, is_non_drum_name, name_words
from dkvae.core.config import AUDIO_EXTENSIONS
from dkvae.core.errors import DkvaeError
from dkvae.core.names import safe_name
from dkvae.core.progress import Progress
from dkvae.data.bank import processed_dir_for
from dkvae.data.layout import BankWriter, relative_path
from dkvae.data.preprocess import SourceFile, process_files
from dkvae.importers.licenses import write_licenses
from dkvae.importers.one_shot import one_shot_problem
from dkvae.importers.report import ImportReport
from dkvae.models.checkpoint import ModelDirectory, load_model_dir

#: The `source` column of rows this importer writes.
FOLDER_SOURCE = "folder"
#: Files left unsorted, with the reason, beside the manifest.
UNSORTED_NAME = "unsorted.csv"
UNSORTED_COLUMNS = ["file", "reason"]
#: Joins the folder names and file name of a source file into one bank file name.
PATH_SEPARATOR = "__"
#: Hex digits of the path hash that tells apart two files whose safe names collide.
COLLISION_HASH_LENGTH = 8

NO_CLASS_REASON = "no class in its name"
SEVERAL_CLASSES_REASON = "name matches several classes"
NON_DRUM_REASON = "name says it is not a drum"
BROKEN_LINK_REASON = "a broken link"

#: A file the classifier labels is imported when its softmax confidence is at least this.
CLASSIFIER_THRESHOLD = 0.8
#: Files whose spectrograms the classifier sees at once.
CLASSIFIER_BATCH = 64
#: The `labelled_by` of rows classified by name; classifier rows read "classifier:<confidence>".
BY_NAME = "name"
BY_CLASSIFIER = "classifier"


def _audio_files(source: Path, excluded: set[Path]) -> list[Path]:
    """Visible audio files under `source` (by extension), as paths relative to it, sorted.

    Hidden files and folders, and the `excluded` folders (the bank itself, when inside `source`),
    are skipped; folder links are not followed, so a link loop cannot trap the walk.
    """
    files: list[Path] = []
    for root, dirs, names in os.walk(source):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (here / d).resolve() not in excluded)
        for name in sorted(names):
            if not name.startswith(".") and Path(name).suffix.lower() in AUDIO_EXTENSIONS:
                files.append((here / name).relative_to(source))
    return files


def _names(relative: Path) -> list[str]:
    """The names that classify a file, most telling first: its stem, then its folders from the nearest up."""
    return [relative.stem, *reversed(relative.parent.parts)]


def _word_classes(name: str) -> list[str]:
    """The classes that single words (or adjacent word pairs) of `name` point at, sorted."""
    words = name_words(name)
    candidates = words + [first + second for first, second in itertools.pairwise(words)]
    return sorted({label for word in candidates if (label := classify_name(word))})


def _says_something(name: str) -> bool:
    """Whether `name` decides a classification on its own (it holds a keyword), even if it decides None."""
    # A name without keywords defers to the next name, so two different fallbacks give two answers.
    return classify_name(name, "kick") == classify_name(name, "snare")


def unsorted_reason(names: list[str]) -> str:
    """Why ``classify_name(*names)`` gives no class: no keyword at all, several classes, or a non-drum word.

    >>> unsorted_reason(["bass synth", "Misc"]), unsorted_reason(["snare&hat", "Misc"])
    ('name says it is not a drum', 'name matches several classes: hihat, snare')
    """
    for name in names:
        if not _says_something(name):
            continue
        if is_non_drum_name(name):
            return NON_DRUM_REASON
        labels = _word_classes(name)
        if len(labels) > 1:
            return f"{SEVERAL_CLASSES_REASON}: {', '.join(labels)}"
        return NON_DRUM_REASON  # a keyword that rules drums out ("bass" alone)
    return NO_CLASS_REASON


def bank_file_name(relative: Path) -> str:
    """The stable, file-name-safe bank name of source file `relative`: its path with '/' as '__'.

    >>> bank_file_name(Path("Drums/808 Kit/BD 01.WAV"))
    'Drums__808_Kit__BD_01.wav'
    """
    parts = [safe_name(part) for part in relative.parent.parts] + [safe_name(relative.stem)]
    return PATH_SEPARATOR.join(parts) + relative.suffix.lower()


def _unique_name(relative: Path, taken: set[str]) -> str:
    """`bank_file_name(relative)`, with a hash of the path added when another file already took it."""
    name = bank_file_name(relative)
    if name.casefold() in taken:
        digest = hashlib.sha1(relative.as_posix().encode("utf-8")).hexdigest()[:COLLISION_HASH_LENGTH]
        stem, suffix = os.path.splitext(name)
        name = f"{stem}-{digest}{suffix}"
    taken.add(name.casefold())
    return name


def _link(target: Path, source_file: Path) -> None:
    """Make `target` a symbolic link to `source_file`, atomically (a temporary link, then a rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.parent / f".{target.name}.{secrets.token_hex(8)}.tmp"
    try:
        os.symlink(source_file, temporary)
        os.replace(temporary, target)
    finally:
        if temporary.is_symlink():
            temporary.unlink()


def _write_unsorted(out: Path, unsorted: list[tuple[str, str]]) -> None:
    """Write ``BANK/unsorted.csv`` (file, reason) atomically; an empty file keeps its header."""
    with atomic_path(out / UNSORTED_NAME) as tmp:
        pd.DataFrame(unsorted, columns=UNSORTED_COLUMNS).to_csv(tmp, index=False)


def load_classifier(model: str | os.PathLike[str]) -> ModelDirectory:
    """The trained classifier in the model directory `model`; DkvaeError if it is missing or another kind."""
    directory = load_model_dir(model)
    kind = directory.config.model.kind
    if kind != "classifier":
        raise DkvaeError(
            f"{model} holds a {kind} model, not a classifier; train one with `dkvae train BANK --model classifier`"
        )
    return directory


def classify_files(classifier: ModelDirectory, paths: list[Path]) -> list[tuple[str, float] | str]:
    """The classifier's (class, softmax confidence in 0..1) for each file, or why the file cannot be read.

    Each file becomes a normalized spectrogram ``(freq, frames)`` exactly as a bank's preprocessor
    makes one for training (`process_files` with the model's audio settings); all go through the
    model as one batch.
    """
    sources = []
    for path in paths:
        status = path.stat()
        sources.append(SourceFile(str(path), str(path), status.st_size, status.st_mtime_ns))
    spectrograms, outcomes = process_files(sources, classifier.config.audio)
    confidences, indices = np.zeros(0), np.zeros(0, dtype=int)
    if len(spectrograms):
        with torch.inference_mode():
            logits = classifier.model(torch.from_numpy(spectrograms.astype(np.float32)))
            best = torch.softmax(logits, dim=1).max(dim=1)
        confidences, indices = best.values.numpy(), best.indices.numpy()
    return [
        (classifier.class_names[indices[o.row]], float(confidences[o.row])) if o.kept else o.reason for o in outcomes
    ]


def _classifier_verdict(prediction: tuple[str, float] | str, threshold: float) -> tuple[str | None, str]:
    """(class or None, labelled_by or the unsorted reason's classifier part) of one prediction."""
    if isinstance(prediction, str):
        return None, f"{BY_CLASSIFIER}: {prediction}"
    label, confidence = prediction
    if confidence >= threshold:
        return label, f"{BY_CLASSIFIER}:{confidence:.2f}"
    return None, f"{BY_CLASSIFIER}: {confidence:.2f} {label} < {threshold:.2f}"


def import_folder(
    out: str | os.PathLike[str],
    source: str | os.PathLike[str],
    copy: bool = False,
    progress: Progress | None = None,
    model: str | os.PathLike[str] | None = None,
    threshold: float = CLASSIFIER_THRESHOLD,
) -> ImportReport:
    """Import the audio files under `source` into the bank at `out` and return what was imported and left out.

    Each classified file becomes ``BANK/<class>/<path__with__folders>.<ext>``: a symbolic link to
    the original (absolute path), or a copy when `copy` is True. With `model` (a classifier's model
    directory), files whose names say nothing or name several classes are classified by sound in
    batches of `CLASSIFIER_BATCH`: imported when the softmax confidence is at least `threshold`,
    else left unsorted with it ("no class in its name; classifier: 0.62 snare < 0.80"); files it
    cannot decode stay unsorted too. The manifest's `labelled_by` is "name" or
    "classifier:<confidence>". Files left out are listed in ``BANK/unsorted.csv`` and in
    ``report.unsorted`` as (path relative to `source`, reason). Rerunning updates the bank in place.
    `progress(done, total)` is called after each audio file.

    Raises DkvaeError if `source` is not a folder or holds no audio files, or `model` is not a
    classifier's model directory (before anything is written).
    """
    out_dir = Path(out).expanduser()
    source_dir = Path(source).expanduser()
    if not source_dir.is_dir():
        raise DkvaeError(f"sample folder not found: {source_dir}")
    classifier = load_classifier(model) if model is not None else None
    source_dir = source_dir.resolve()
    excluded = {out_dir.resolve(), processed_dir_for(out_dir.resolve())}
    files = _audio_files(source_dir, excluded)
    if not files:
        extensions = ", ".join(sorted(AUDIO_EXTENSIONS))
        raise DkvaeError(f"no audio files in {source_dir} (looked for {extensions})")

    report = ImportReport()
    kits: set[str] = set()
    taken: set[str] = set()
    with BankWriter(out_dir) as writer:
        for start in range(0, len(files), CLASSIFIER_BATCH):
            batch = files[start : start + CLASSIFIER_BATCH]
            decisions = _decide(source_dir, batch, classifier, threshold)
            for done, (relative, (label, note)) in enumerate(zip(batch, decisions), start=start + 1):
                posix = relative.as_posix()
                if label is None:
                    (report.skipped if note == BROKEN_LINK_REASON else report.unsorted).append((posix, note))
                else:
                    name, meta = _unique_name(relative, taken), _manifest_fields(relative, labelled_by=note)
                    if copy:
                        writer.copy_file(label, name, source_dir / relative, **meta)
                    else:
                        _link(out_dir / relative_path(label, name), source_dir / relative)
                        writer.record(label, name, **meta)
                    report.counts[label] += 1
                    if len(relative.parts) > 1:
                        kits.add(relative.parts[0])
                if progress:
                    progress(done, len(files))
    report.kits = len(kits)
    _write_unsorted(out_dir, report.unsorted)
    write_licenses(out_dir)
    return report


def _decide(
    source_dir: Path, batch: list[Path], classifier: ModelDirectory | None, threshold: float
) -> list[tuple[str | None, str]]:
    """(class, labelled_by) of each file of `batch`, or (None, why it is left out: `BROKEN_LINK_REASON`
    or the reason it stays unsorted).

    The classifier sees only the files whose names say nothing or name several classes, and of
    those only the ones that sound like a single hit (`one_shot_problem`).
    """
    decisions: list[tuple[str | None, str]] = []
    asking: list[int] = []
    for relative in batch:
        if not (source_dir / relative).exists():
            decisions.append((None, BROKEN_LINK_REASON))
            continue
        names = _names(relative)
        label = classify_name(*names)
        if label is not None:
            decisions.append((label, BY_NAME))
            continue
        reason = unsorted_reason(names)
        decisions.append((None, reason))
        if classifier is not None and reason != NON_DRUM_REASON:
            asking.append(len(decisions) - 1)
    if classifier is not None and asking:
        problems = {index: one_shot_problem(source_dir / batch[index]) for index in asking}
        for index, problem in problems.items():
            if problem is not None:
                decisions[index] = (None, f"{decisions[index][1]}; {BY_CLASSIFIER} not asked: {problem}")
        asking = [index for index in asking if problems[index] is None]
    if classifier is not None and asking:
        predictions = classify_files(classifier, [source_dir / batch[index] for index in asking])
        for index, prediction in zip(asking, predictions):
            label, note = _classifier_verdict(prediction, threshold)
            decisions[index] = (label, note) if label is not None else (None, f"{decisions[index][1]}; {note}")
    return decisions


def _manifest_fields(relative: Path, labelled_by: str) -> dict[str, str]:
    """The manifest fields of source file `relative` (its path inside the source folder)."""
    posix = relative.as_posix()
    return {
        "source": FOLDER_SOURCE,
        "kit": relative.parts[0] if len(relative.parts) > 1 else "",
        "instrument": relative.stem,
        "license": "",
        "group": posix,
        "original": posix,
        "labelled_by": labelled_by,
    }
