"""A tampered model directory is refused with one clear line (exit 2): nothing unpickled, nothing huge allocated."""

from __future__ import annotations

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
from dkvae.core.errors import DkvaeError
from dkvae.inference.machine import DrumMachine, bundled_model_dir
from dkvae.models.checkpoint import CONFIG_NAME, FORMAT, MAX_CONFIG_BYTES, WEIGHTS_NAME
from dkvae.models.latent_prior import LATENT_PRIOR_NAME

#: Address space of the process that loads the huge cases: the bundled model needs about 0.4 GiB.
MEMORY_LIMIT = 2 << 30


def edit_weights(change: Callable[[dict[str, torch.Tensor]], None]) -> Callable[[Path], None]:
    """A tampering that rewrites model.safetensors after `change` edits its tensors in place."""

    def tamper(directory: Path) -> None:
        tensors = safetensors.torch.load_file(str(directory / WEIGHTS_NAME))
        change(tensors)
        safetensors.torch.save_file(tensors, str(directory / WEIGHTS_NAME), metadata={"format": FORMAT})

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


def write_prior(
    mean_shape: tuple[int, ...], scale_shape: tuple[int, ...], dtype: str = "float32"
) -> Callable[[Path], None]:
    """A tampering that replaces the latent prior by zeros of these shapes."""

    def tamper(directory: Path) -> None:
        tensors = {"mean": np.zeros(mean_shape, dtype), "scale_tril": np.zeros(scale_shape, dtype)}
        safetensors.numpy.save_file(tensors, str(directory / LATENT_PRIOR_NAME))

    return tamper


def first_weight(tensors: dict[str, torch.Tensor]) -> str:
    return min(name for name, tensor in tensors.items() if tensor.ndim == 2)


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
    "negative size": (edit_config(set_in("config.model.channels", [-24, 48, 96, 128, 128])), "negative dimension -24"),
    "negative sample rate": (edit_config(set_in("config.audio.sample_rate", -44100)), "must be positive"),
    "list for a dict": (edit_config(set_in("config", [])), "config is [], not an object"),
    "list for a section": (edit_config(set_in("config.audio", [1, 2])), "config.audio is [1, 2], not an object"),
    "list for the normalization": (edit_config(set_in("normalization", [1])), "normalization is [1], not an object"),
    "string normalization": (
        edit_config(set_in("normalization.min_value", "-100")),
        "normalization.min_value is '-100', not a number",
    ),
    "class names a string": (edit_config(set_in("class_names", "kick")), "class_names is 'kick', not a list"),
    "format version a string": (edit_config(set_in("format_version", "1")), "format_version '1'"),
    "huge latent_dim": (edit_config(set_in("config.model.latent_dim", 10**6)), "its config needs"),
    "absurd latent_dim": (edit_config(set_in("config.model.latent_dim", 10**9)), "its config needs"),
    "huge n_fft": (edit_config(set_in("config.audio.n_fft", 1 << 24)), "its config needs"),
    "huge channels": (edit_config(set_in("config.model.channels", [10**5] * 5)), "its config needs"),
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
    "prior of another shape": (write_prior((7, 16), (7, 16, 16)), "latent prior has shape (7, 16)"),
    "prior of mismatched parts": (write_prior((7, 32), (7, 3)), "do not match"),
    "prior of integers": (write_prior((7, 32), (7, 32, 32), "int64"), "not stored as floats"),
    "truncated prior": (write_bytes(LATENT_PRIOR_NAME, lambda data: data[:100]), "latent_prior.safetensors is damaged"),
}
#: Cases that would allocate gigabytes if the model were built from their config before the weights were checked.
HUGE = ["huge latent_dim", "absurd latent_dim", "huge n_fft", "huge channels", "huge header"]


def tampered(root: Path, case: str) -> Path:
    directory = Path(shutil.copytree(bundled_model_dir(), root / case.replace(" ", "-")))
    CASES[case][0](directory)
    return directory


@pytest.mark.parametrize("case", CASES)
def test_a_tampered_model_is_refused_with_one_clear_line(
    case: str, tmp_path: Path, no_pickle: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tampered(tmp_path, case)
    with pytest.raises(DkvaeError) as raised:
        DrumMachine.load(directory)
    message = str(raised.value)
    assert CASES[case][1] in message and "\n" not in message

    out = tmp_path / "out"
    argv = ["dkvae", "generate", "--model", str(directory), "--instrument", "kick", "--count", "1", "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines() == [f"error: {message}"]
    assert not out.exists()


#: Loads each directory given through the real CLI under `MEMORY_LIMIT`; prints exit code, stderr and peak memory.
LOAD_UNDER_LIMIT = """
import contextlib, io, json, resource, sys
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
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
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
