"""A tampered sound sidecar, or a class name that is a path, is refused or made harmless: nothing written outside --out."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from dkvae.core.config import SMOOTH_CURVATURE
from dkvae.core.errors import DkvaeError
from dkvae.inference.generation import read_sidecar, render_sidecar, sidecar_inversion, write_generated
from dkvae.inference.machine import DrumMachine


@pytest.fixture(scope="module")
def machine() -> DrumMachine:
    return DrumMachine.load()


@pytest.fixture(scope="module")
def sidecar(machine: DrumMachine, tmp_path_factory: pytest.TempPathFactory) -> dict:
    (wav,) = write_generated(machine, "kick", 1, 0, tmp_path_factory.mktemp("made"))
    return read_sidecar(wav.with_suffix(".json"))


def test_a_class_named_a_path_is_written_inside_out_under_a_safe_name(machine: DrumMachine, tmp_path: Path) -> None:
    tampered = machine.instruments.index("kick")
    machine.instruments[tampered] = "../../../evil"  # as a model directory could name it, were it not refused at load
    try:
        out = tmp_path / "a" / "b" / "c" / "out"
        written = write_generated(machine, "../../../evil", 1, 1, out)
    finally:
        machine.instruments[tampered] = "kick"
    assert written == [out / "evil_1_000.wav"]
    files = sorted(path.relative_to(tmp_path).as_posix() for path in tmp_path.rglob("*") if path.is_file())
    assert files == ["a/b/c/out/evil_1_000.json", "a/b/c/out/evil_1_000.wav"]


@pytest.mark.parametrize("value", [math.nan, math.inf, 1e39], ids=["nan", "inf", "past float32"])
def test_a_latent_that_is_not_finite_is_refused(sidecar: dict, tmp_path: Path, value: float) -> None:
    document = json.loads(json.dumps(sidecar))
    document["latent"][0] = value
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(document))
    with pytest.raises(DkvaeError, match="has a latent with NaN or infinite values"):
        render_sidecar(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_billion_iterations_are_refused_before_rendering(sidecar: dict, machine: DrumMachine, tmp_path: Path) -> None:
    document = json.loads(json.dumps(sidecar))
    document["inversion"]["iterations"] = 10**9
    with pytest.raises(DkvaeError) as raised:
        sidecar_inversion(document, tmp_path / "tampered.json", machine)
    assert str(raised.value).endswith(
        "has unusable inversion settings: inversion iterations must be a whole number from 0 to 512; got 1000000000"
    )


def test_very_deep_json_is_refused_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(DkvaeError, match="its JSON is nested too deeply"):
        read_sidecar(path)


def test_a_sidecar_that_is_not_a_regular_file_is_refused_without_being_opened(tmp_path: Path, fifo_readers) -> None:
    readers = fifo_readers(tmp_path / "x.json")
    with pytest.raises(DkvaeError, match=r"^cannot read sidecar .*x\.json: not a regular file$"):
        render_sidecar(tmp_path / "x.json", tmp_path / "out")
    assert readers.count == 0
    with pytest.raises(DkvaeError, match=r"^cannot read sidecar .*: not a regular file$"):
        read_sidecar(tmp_path)


def test_a_sidecar_past_the_size_cap_is_refused_even_when_its_json_is_valid(sidecar: dict, tmp_path: Path) -> None:
    path = tmp_path / "padded.json"
    text = json.dumps(sidecar)
    path.write_text(text + " " * (16 * 2**20 + 1 - len(text)))  # a byte over 16 MiB: far more than any sidecar
    too_large = r"^cannot read sidecar .*padded\.json: it is over 16 MiB, too large for a sidecar$"
    with pytest.raises(DkvaeError, match=too_large):
        read_sidecar(path)
    path.write_text(text + " " * (16 * 2**20 - len(text)))
    assert read_sidecar(path) == sidecar


@pytest.mark.parametrize(
    ("weights", "found"),
    [([0.5, 0.5], "2"), ([1.0], "1"), (1.0, "1"), ([[1 / 7] * 7] * 2, "2 rows of 7")],
    ids=["two", "one", "a number", "two rows"],
)
def test_class_weights_of_the_wrong_length_are_refused_naming_the_length(
    sidecar: dict, machine: DrumMachine, tmp_path: Path, weights, found: str
) -> None:
    document = json.loads(json.dumps(sidecar))
    document["class_weights"] = weights
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(document))
    count = len(machine.instruments)
    expected = f"the model has {count} classes: class weights must be {count} numbers (a row of them per sound), "
    expected += f"got {found}"
    with pytest.raises(DkvaeError) as raised:
        render_sidecar(path, tmp_path / "out")
    assert str(raised.value) == expected
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("weights", ["kick", [1, [2]], {"kick": 1}], ids=["a name", "ragged", "an object"])
def test_class_weights_that_are_not_numbers_are_refused(sidecar: dict, tmp_path: Path, weights) -> None:
    document = json.loads(json.dumps(sidecar))
    document["class_weights"] = weights
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(document))
    not_numbers = r"^sidecar .*tampered\.json has class weights that are not a list of numbers$"
    with pytest.raises(DkvaeError, match=not_numbers):
        render_sidecar(path, tmp_path / "out")



def test_a_sidecar_from_before_the_smooth_guard_renders_as_it_was_rendered(tmp_path: Path) -> None:
    import dataclasses

    import numpy as np
    import soundfile as sf

    machine = DrumMachine.load()
    [path] = write_generated(machine, "clap", 1, 11, tmp_path / "new")
    document = json.loads(path.with_suffix(".json").read_text())
    assert document["inversion"]["smooth_guard"] is True
    del document["inversion"]["smooth_guard"]
    old = tmp_path / "old" / path.with_suffix(".json").name
    old.parent.mkdir()
    old.write_text(json.dumps(document))
    unguarded = machine.with_inversion(dataclasses.replace(machine.config.inversion, smooth_guard=False))
    expected = unguarded.save_wav(tmp_path / "expected.wav", unguarded.render(np.float32(document["latent"])[None], "clap")[0])
    again = render_sidecar(old, tmp_path / "again")
    assert sidecar_inversion(document, old, machine).config.inversion.smooth_guard is False
    np.testing.assert_array_equal(sf.read(again)[0], sf.read(expected)[0])
    assert not np.array_equal(sf.read(again)[0], sf.read(path)[0])


def test_a_sidecar_from_before_the_smooth_guard_had_a_line_recalls_with_the_line_it_had(tmp_path: Path) -> None:
    machine = DrumMachine.load()
    [path] = write_generated(machine, "snare", 1, 2, tmp_path / "new")
    document = json.loads(path.with_suffix(".json").read_text())
    assert document["inversion"]["smooth_curvature"] == machine.config.inversion.smooth_curvature
    del document["inversion"]["smooth_curvature"]
    assert sidecar_inversion(document, path, machine).config.inversion.smooth_curvature == SMOOTH_CURVATURE == 0.15
