"""A tampered model directory is refused with one clear line (exit 2): nothing unpickled, nothing huge allocated.

The cases tamper with the bundled model, whichever kind it is, through the files every model has (its weights and
config) and the prior file it holds; a Gaussian latent prior's own cases tamper with a VAE's (`trained_run`).
"""

from __future__ import annotations

import hashlib
import json
import resource
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch

from dkvae.cli import main
from dkvae.core.config import Config
from dkvae.core.errors import DkvaeError
from dkvae.inference.machine import DrumMachine, bundled_model_dir
from dkvae.models.checkpoint import CONFIG_NAME, FORMAT, MAX_CONFIG_BYTES, WEIGHTS_NAME, save_model_dir
from dkvae.models.flow_prior import FLOW_PRIOR_NAME
from dkvae.models.latent_prior import LATENT_PRIOR_NAME

#: Address space of the process that loads the huge cases: the bundled model needs about 0.4 GiB.
MEMORY_LIMIT = 2 << 30
#: The bundled model's audio settings, which some refusals quote.
BUNDLED_AUDIO = Config.from_dict(json.loads((bundled_model_dir() / CONFIG_NAME).read_text("utf-8"))["config"]).audio
#: The prior files a model directory may hold (a VAE's Gaussian latent prior, a codec's flow prior), and the words
#: that refuse a damaged one.
PRIOR_FILES = {
    LATENT_PRIOR_NAME: f"{LATENT_PRIOR_NAME} is damaged",
    FLOW_PRIOR_NAME: "has a flow prior that cannot be used",
}
#: The bundled model's prior file (a bundled model has one), and the files of its directory that loading it reads.
BUNDLED_PRIOR = next((name for name in PRIOR_FILES if (bundled_model_dir() / name).is_file()), None)
BUNDLED_FILES = [CONFIG_NAME, WEIGHTS_NAME, *([BUNDLED_PRIOR] if BUNDLED_PRIOR else [])]


def edit_weights(change: Callable[[dict[str, torch.Tensor]], None]) -> Callable[[Path], None]:
    """A tampering that rewrites model.safetensors after `change` edits its tensors in place, and records the new
    file's digest as the model id (as whoever tampers can), so only the weights themselves can give it away."""

    def tamper(directory: Path) -> None:
        tensors = safetensors.torch.load_file(str(directory / WEIGHTS_NAME))
        change(tensors)
        weights = safetensors.torch.save(tensors, metadata={"format": FORMAT})
        (directory / WEIGHTS_NAME).write_bytes(weights)
        edit_config(set_in("model_id", hashlib.blake2b(weights, digest_size=6).hexdigest()))(directory)

    return tamper


def edit_config(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    """A tampering that rewrites config.json after `change` edits the parsed document in place."""

    def tamper(directory: Path) -> None:
        document = json.loads((directory / CONFIG_NAME).read_text(encoding="utf-8"))
        change(document)
        (directory / CONFIG_NAME).write_text(json.dumps(document), encoding="utf-8")

    return tamper


def write_bytes(name: str, data: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    """A tampering that replaces file `name` by `data(its bytes)`."""

    def tamper(directory: Path) -> None:
        (directory / name).write_bytes(data((directory / name).read_bytes()))

    return tamper


def write_prior(mean_shape: str, scale_shape: str, dtype: str = "float32", fill: float = 0.0) -> Callable[[Path], None]:
    """A tampering that replaces the latent prior by zeros of these shapes (the mean's first value `fill`); a shape is
    written as `prior_sizes` fills it in, e.g. ``"classes, latent"``."""

    def tamper(directory: Path) -> None:
        sizes = prior_sizes(directory)
        shapes = [tuple(int(size) for size in shape.format(**sizes).split(",")) for shape in (mean_shape, scale_shape)]
        tensors = {"mean": np.zeros(shapes[0], dtype), "scale_tril": np.zeros(shapes[1], dtype)}
        tensors["mean"].flat[0] = fill
        safetensors.numpy.save_file(tensors, str(directory / LATENT_PRIOR_NAME))

    return tamper


def prior_sizes(directory: Path) -> dict[str, int]:
    """The sizes a latent prior of the model in `directory` has: its classes, its latent_dim and half that."""
    document = json.loads((directory / CONFIG_NAME).read_text(encoding="utf-8"))
    latent = document["config"]["model"]["latent_dim"]
    return {"classes": len(document["class_names"]), "latent": latent, "half": latent // 2}


def first_weight(tensors: dict[str, torch.Tensor]) -> str:
    """The first weight matrix or kernel by name (a dense layer's or a convolution's, whichever the model has)."""
    return min(name for name, tensor in tensors.items() if tensor.ndim >= 2)


def truncate_prior(directory: Path) -> None:
    """A tampering that cuts the directory's prior file (whichever kind it holds) to its first 100 bytes."""
    (name,) = [name for name in PRIOR_FILES if (directory / name).is_file()]
    write_bytes(name, lambda data: data[:100])(directory)


def set_in(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """An edit setting the dotted `path` of a document to `value`."""

    def change(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for key in parents:
            document = document[key]
        document[last] = value

    return change


def huge_header(data: bytes) -> bytes:
    return struct.pack("<Q", 1 << 62) + data[8:]


CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "wrong shape": (
        edit_weights(lambda t: t.update({first_weight(t): torch.zeros(3, 3)})),
        "has shape (3, 3); its config needs",
    ),
    "int tensors": (
        edit_weights(lambda t: t.update({first_weight(t): t[first_weight(t)].to(torch.int32)})),
        "stored as I32",
    ),
    "float64": (edit_weights(lambda t: t.update({k: v.double() for k, v in t.items()})), "stored as F64"),
    "missing key": (edit_weights(lambda t: t.pop(first_weight(t))), "its weights do not fit its config: missing"),
    "extra key": (
        edit_weights(lambda t: t.update({"backdoor.weight": torch.zeros(2)})),
        "unexpected ['backdoor.weight']",
    ),
    "string for a number": (
        edit_config(set_in("config.model.latent_dim", "32")),
        "config.model.latent_dim is '32', not int",
    ),
    "string for a float": (
        edit_config(set_in("config.audio.fade_out", "0.01")),
        "config.audio.fade_out is '0.01', not a number",
    ),
    "bool for a number": (edit_config(set_in("config.model.class_embedding_dim", True)), "is True, not int"),
    "negative size": (
        edit_config(set_in("config.model.channels", [-24, 48, 96, 128, 128])),
        "channels[0] must be a whole number from 1 to 4096; got -24",
    ),
    "negative sample rate": (
        edit_config(set_in("config.audio.sample_rate", -44100)),
        "sample_rate must be a whole number from 8000 to 192000; got -44100",
    ),
    "sample rate of 1 Hz": (
        edit_config(set_in("config.audio.sample_rate", 1)),
        "sample_rate must be a whole number from 8000 to 192000; got 1",
    ),
    "a sound of hours": (
        edit_config(set_in("config.audio.num_samples", 10**9)),
        "num_samples must be a whole number from 1024 to 441000; got 1000000000",
    ),
    "hop of one sample": (
        edit_config(set_in("config.audio.hop_length", 1)),
        f"a spectrogram of {BUNDLED_AUDIO.n_freq} x {1 + BUNDLED_AUDIO.num_samples} bins is more than",
    ),
    "a billion iterations": (
        edit_config(set_in("config.inversion.iterations", 10**9)),
        "inversion iterations must be a whole number from 0 to 512; got 1000000000",
    ),
    "fade of a year": (
        edit_config(set_in("config.audio.fade_out", 3e7)),
        "fade_out must be a number from 0 to 10 (seconds); got 30000000.0",
    ),
    "infinite fade": (
        edit_config(set_in("config.audio.fade_out", float("inf"))),
        "config.audio.fade_out is inf, not a finite number",
    ),
    "NaN dB": (
        edit_config(set_in("config.audio.min_db", float("nan"))),
        "config.audio.min_db is nan, not a finite number",
    ),
    "dB far past full scale": (
        edit_config(set_in("config.audio.max_db", 1e6)),
        "max_db must be a number from -200 to 100 (dB); got 1000000.0",
    ),
    "trim above the peak": (
        edit_config(set_in("config.audio.trim_db", 10.0)),
        "trim_db must be a number from -200 to 0 (dB); got 10.0",
    ),
    "NaN in the training settings": (
        edit_config(set_in("config.train.learning_rate", float("nan"))),
        "config.train.learning_rate is nan, not a finite number",
    ),
    "NaN normalization": (
        edit_config(set_in("normalization.max_value", float("nan"))),
        "normalization.max_value is nan, not a finite number",
    ),
    "normalization far past full scale": (
        edit_config(set_in("normalization.max_value", 1e300)),
        "normalization max_value must be a number from -200 to 100 (dB); got 1e+300",
    ),
    "NaN weights": (
        edit_weights(lambda t: t[first_weight(t)].view(-1).__setitem__(0, float("nan"))),
        "holds NaN or infinite values",
    ),
    "infinite weights": (
        edit_weights(lambda t: t[first_weight(t)].view(-1).__setitem__(0, float("inf"))),
        "holds NaN or infinite values",
    ),
    "deep JSON": (
        write_bytes(
            CONFIG_NAME, lambda data: data.rstrip()[:-1] + b', "deep": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        ),
        "is unreadable: its JSON is nested too deeply",
    ),
    "a class named a path": (
        edit_config(lambda document: document["class_names"].__setitem__(0, "../../../evil")),
        "class name '../../../evil' is not a folder name",
    ),
    "a class name with a newline": (
        edit_config(lambda document: document["class_names"].__setitem__(0, "clap\nline two")),
        "class name 'clap\\nline two' is not a folder name",
    ),
    "an empty class name": (
        edit_config(lambda document: document["class_names"].__setitem__(0, "")),
        "class name '' is not a folder name",
    ),
    "a class named twice": (
        edit_config(lambda document: document["class_names"].__setitem__(0, "kick")),
        "names class 'kick' twice",
    ),
    "no classes": (edit_config(set_in("class_names", [])), "needs 1 to 1024 class names, not 0"),
    "thousands of classes": (
        edit_config(set_in("class_names", [f"c{index}" for index in range(5000)])),
        "needs 1 to 1024 class names, not 5000",
    ),
    "no model id": (edit_config(lambda document: document.pop("model_id")), "config.json has no model_id"),
    "model id a number": (edit_config(set_in("model_id", 5)), "model_id is 5, not str"),
    "list for a dict": (edit_config(set_in("config", [])), "config is [], not an object"),
    "list for a section": (edit_config(set_in("config.audio", [1, 2])), "config.audio is [1, 2], not an object"),
    "list for the normalization": (edit_config(set_in("normalization", [1])), "normalization is [1], not an object"),
    "string normalization": (
        edit_config(set_in("normalization.min_value", "-100")),
        "normalization.min_value is '-100', not a number",
    ),
    "class names a string": (edit_config(set_in("class_names", "kick")), "class_names is 'kick', not a list"),
    "format version a string": (edit_config(set_in("format_version", "1")), "format_version '1'"),
    "huge latent_dim": (
        edit_config(set_in("config.model.latent_dim", 10**6)),
        "latent_dim must be a whole number from 1 to 1024; got 1000000",
    ),
    "absurd latent_dim": (
        edit_config(set_in("config.model.latent_dim", 10**9)),
        "latent_dim must be a whole number from 1 to 1024; got 1000000000",
    ),
    "huge n_fft": (
        edit_config(set_in("config.audio.n_fft", 1 << 24)),
        "n_fft must be a whole number from 16 to 16384; got 16777216",
    ),
    "huge channels": (
        edit_config(set_in("config.model.channels", [10**5] * 5)),
        "channels[0] must be a whole number from 1 to 4096; got 100000",
    ),
    "a stride past any input": (
        edit_config(set_in("config.model.strides", [[2, 2]] * 4 + [[2, 10**9]])),
        "strides[4] must be a whole number from 1 to 8; got 1000000000",
    ),
    "huge header": (
        write_bytes(WEIGHTS_NAME, huge_header),
        "model.safetensors is damaged: Error while deserializing header: header too large",
    ),
    "truncated weights": (
        write_bytes(WEIGHTS_NAME, lambda data: data[: len(data) // 2]),
        "model.safetensors is damaged: Error while deserializing header: incomplete metadata",
    ),
    "no weights": (lambda directory: (directory / WEIGHTS_NAME).unlink(), f"has no {WEIGHTS_NAME}"),
    "huge config": (write_bytes(CONFIG_NAME, lambda data: data + b" " * MAX_CONFIG_BYTES), "larger than"),
    "non-UTF-8 config": (write_bytes(CONFIG_NAME, lambda data: data.replace(b'"kick"', b'"k\xefck"')), "is unreadable"),
    "truncated prior file": (truncate_prior, PRIOR_FILES.get(BUNDLED_PRIOR or "", "")),
}
#: Cases of a Gaussian latent prior (a VAE's): they tamper with a copy of `trained_run`, and their words are written
#: as `prior_sizes` fills them in.
LATENT_PRIOR_CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "prior of another shape": (
        write_prior("{classes}, {half}", "{classes}, {half}, {half}"),
        "latent prior has shape ({classes}, {half})",
    ),
    "prior of mismatched parts": (write_prior("{classes}, {latent}", "{classes}, 3"), "do not match"),
    "prior of integers": (
        write_prior("{classes}, {latent}", "{classes}, {latent}, {latent}", "int64"),
        "not stored as floats",
    ),
    "NaN in the prior": (
        write_prior("{classes}, {latent}", "{classes}, {latent}, {latent}", fill=float("nan")),
        "latent prior holds NaN or infinite values",
    ),
    "infinite prior": (
        write_prior("{classes}, {latent}", "{classes}, {latent}, {latent}", fill=float("-inf")),
        "latent prior holds NaN or infinite values",
    ),
    "truncated prior": (write_bytes(LATENT_PRIOR_NAME, lambda data: data[:100]), "latent_prior.safetensors is damaged"),
}
#: Cases that would allocate gigabytes if the model were built from their config before the weights were checked.
HUGE = ["huge latent_dim", "absurd latent_dim", "huge n_fft", "huge channels", "huge header"]


def model_copy(source: Path, target: Path) -> Path:
    """A copy of the model directory `source`'s model files (config, weights, prior) at `target`."""
    target.mkdir(parents=True)
    for name in (CONFIG_NAME, WEIGHTS_NAME, *PRIOR_FILES):
        if (source / name).is_file():
            shutil.copy2(source / name, target / name)
    return target


def tampered(root: Path, case: str, cases: dict = CASES, source: Path | None = None) -> Path:
    """A copy of the model in `source` (the bundled one unless given) that `cases[case]` tampered with."""
    directory = model_copy(bundled_model_dir() if source is None else source, root / case.replace(" ", "-"))
    cases[case][0](directory)
    return directory


def assert_refused_with_one_clear_line(
    directory: Path, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading `directory` raises one line holding `words`, and `dkvae generate` on it prints that line and exits 2."""
    with pytest.raises(DkvaeError) as raised:
        DrumMachine.load(directory)
    message = str(raised.value)
    assert words in message and "\n" not in message

    out = tmp_path / "out"
    argv = ["dkvae", "generate", "--model", str(directory), "--instrument", "kick", "--count", "1", "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines() == [f"error: {message}"]
    assert not out.exists()


@pytest.mark.parametrize("case", CASES)
def test_a_tampered_model_is_refused_with_one_clear_line(
    case: str, tmp_path: Path, no_pickle: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert CASES[case][1], "the bundled model directory holds no prior file"
    assert_refused_with_one_clear_line(tampered(tmp_path, case), CASES[case][1], tmp_path, capsys, monkeypatch)


@pytest.mark.parametrize("case", LATENT_PRIOR_CASES)
def test_a_tampered_latent_prior_is_refused_with_one_clear_line(
    case: str,
    trained_run: Path,
    tmp_path: Path,
    no_pickle: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert (trained_run / LATENT_PRIOR_NAME).is_file()  # a trained VAE has one: the cases replace it
    directory = tampered(tmp_path, case, LATENT_PRIOR_CASES, trained_run)
    words = LATENT_PRIOR_CASES[case][1].format(**prior_sizes(directory))
    assert_refused_with_one_clear_line(directory, words, tmp_path, capsys, monkeypatch)


#: Loads each directory given through the real CLI under `MEMORY_LIMIT`; prints exit code, stderr and peak memory.
LOAD_UNDER_LIMIT = """
import contextlib, io, json, sys
import torch
from dkvae.cli import main
from dkvae.models import build_model
torch.load = None  # any unpickling would fail
for directory in sys.argv[1:]:
    stderr = io.StringIO()
    sys.argv = ["dkvae", "generate", "--model", directory, "--instrument", "kick", "--count", "1", "--out", directory + "-out"]
    with contextlib.redirect_stderr(stderr):
        try:
            main()
        except SystemExit as exit:
            code = exit.code
    with open("/proc/self/status") as status:  # this process's own peak: ru_maxrss keeps the forking worker's
        peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
    print(json.dumps({"code": code, "stderr": stderr.getvalue(), "peak": peak}), flush=True)
"""


def limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def test_huge_tampered_models_are_refused_without_allocating(tmp_path: Path) -> None:
    directories = [str(tampered(tmp_path, case)) for case in HUGE]
    result = subprocess.run(
        [sys.executable, "-c", LOAD_UNDER_LIMIT, *directories],
        check=False, preexec_fn=limit_memory, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(reports) == len(HUGE)
    for case, report in zip(HUGE, reports):
        lines = report["stderr"].splitlines()
        assert report["code"] == 2 and len(lines) == 1 and CASES[case][1] in lines[0], (case, report)
        assert report["peak"] < MEMORY_LIMIT // 2, (case, report)


@pytest.mark.parametrize(
    ("model", "name"), [*(("bundled", name) for name in BUNDLED_FILES), ("trained_run", LATENT_PRIOR_NAME)]
)
def test_a_fifo_in_a_model_directory_is_refused_without_being_opened(
    model: str, name: str, request: pytest.FixtureRequest, tmp_path: Path, fifo_readers
) -> None:
    source = bundled_model_dir() if model == "bundled" else request.getfixturevalue(model)
    directory = model_copy(source, tmp_path / "model")
    (directory / name).unlink()
    readers = fifo_readers(directory / name)
    with pytest.raises(DkvaeError) as raised:
        DrumMachine.load(directory)
    assert f"{name} is not a regular file" in str(raised.value)
    assert readers.count == 0


def test_a_model_whose_class_names_could_not_be_loaded_is_not_saved(tmp_path: Path) -> None:
    machine = DrumMachine.load()
    with pytest.raises(DkvaeError, match=r"^cannot save this model: class name 'a/b' is not a folder name"):
        save_model_dir(tmp_path / "model", machine.model, machine.config, ["a/b", *machine.instruments[1:]])
    assert not (tmp_path / "model").exists()
