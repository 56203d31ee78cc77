"""Tests for a kit made of sounds a user picked: pads by class and measurement, round robins from sidecars."""

from __future__ import annotations

import json
import shutil

import pytest

from dkvae.core.errors import DkvaeError
from dkvae.inference.generation import write_generated, write_interpolation
from dkvae.inference.machine import DrumMachine
from dkvae.kits.measure import decay_seconds
from dkvae.kits.picked import kit_from_folder

from ..conftest import drum_hit


@pytest.fixture(scope="module")
def machine() -> DrumMachine:
    return DrumMachine.load()


@pytest.fixture
def picked(machine, tmp_path):
    folder = tmp_path / "picked"
    write_generated(machine, "hihat", 3, 1, folder)
    write_generated(machine, "kick", 1, 2, folder)
    write_generated(machine, "tom", 2, 2, folder)
    return folder


def test_picked_sounds_go_on_pads_by_class_and_measurement(picked) -> None:
    kit, skipped = kit_from_folder(picked)
    assert [p.pad.name for p in kit.pads] == ["kick", "tom_low", "closed_hat", "pedal_hat", "tom_mid", "open_hat"]
    assert skipped == [] and kit.name == "picked"
    hats = [kit.pad(name).sounds[0].audio for name in ("closed_hat", "pedal_hat", "open_hat")]
    decays = [decay_seconds(audio, kit.sample_rate) for audio in hats]
    assert decays == sorted(decays)
    assert kit.pad("kick").sounds[0].sidecar == json.loads((picked / "kick_2_000.json").read_text())


def test_round_robins_of_picked_sounds_come_from_their_model(picked) -> None:
    kit, _ = kit_from_folder(picked, round_robin=3, name="Mine")
    assert kit.name == "Mine" and all(len(p.sounds) == 3 for p in kit.pads)
    variation = kit.pad("kick").sounds[1].sidecar
    assert variation["details"]["picked"] == "kick_2_000.wav" and variation["details"]["round_robin"] == 2


def test_files_that_cannot_go_on_a_pad_are_skipped_with_a_reason(machine, picked, trained_run, tmp_path) -> None:
    shutil.copy(picked / "kick_2_000.wav", picked / "no sidecar.wav")
    (picked / "broken.wav").write_bytes(b"RIFF")
    (picked / "broken.json").write_text((picked / "kick_2_000.json").read_text())
    import soundfile as sf

    sf.write(tmp_path / "a.wav", drum_hit("tone", 0.3, seed=1), 44100)
    sf.write(tmp_path / "b.wav", drum_hit("noise", 0.3, seed=2), 44100)
    # A morph blends the classes of its ends only on a model told the class (a conditional VAE; a codec's decoder
    # takes none, so its morphs blend none): one from a conditional VAE's whichever model is bundled.
    vae = DrumMachine.load(trained_run)
    assert vae.conditional
    write_interpolation(vae, tmp_path / "a.wav", tmp_path / "b.wav", 3, picked)
    write_generated(machine, "kick", 1, 9, picked)
    kit, skipped = kit_from_folder(picked)
    reasons = {name.rsplit("/", 1)[-1]: reason for name, reason in skipped}
    assert (
        "is not a dkvae sound sidecar" in reasons["no sidecar.wav"]
        or "cannot read sidecar" in reasons["no sidecar.wav"]
    )
    assert "cannot read" in reasons["broken.wav"]
    assert "blends classes" in reasons["morph_01.wav"]
    assert "no kick pad left" in reasons["kick_9_000.wav"]
    assert kit.pad("kick").sounds[0].sidecar["seed"] == 2


def test_a_folder_with_nothing_usable_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(DkvaeError, match="not a folder"):
        kit_from_folder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DkvaeError, match="no dkvae sounds"):
        kit_from_folder(tmp_path / "empty")
