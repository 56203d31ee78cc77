"""Tests for writing generated sounds: files, sidecars, and re-rendering a sound bit for bit from its sidecar."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from dkvae.core.config import OUTPUT_FADE_SECONDS, OUTPUT_SAMPLE_RATE, InversionConfig
from dkvae.core.errors import DkvaeError
from dkvae.inference.generation import (
    SIDECAR_FORMAT,
    disk_bytes_per_sound,
    read_sidecar,
    render_sidecar,
    write_generated,
    write_interpolation,
    write_reconstructions,
    write_variations,
)
from dkvae.inference.machine import DrumMachine

from ..conftest import drum_hit


@pytest.fixture(scope="module")
def machine(trained_run) -> DrumMachine:
    return DrumMachine.load(trained_run)


@pytest.fixture
def sounds(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    sf.write(folder / "my kick.wav", drum_hit("tone", 0.4, 48000, seed=2), 48000)
    sf.write(folder / "snare.flac", drum_hit("noise", 0.4, 44100, seed=4), 44100)
    sf.write(folder / "silent.wav", np.zeros(4000, np.float32), 44100)
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00")
    return folder


def test_generated_files_match_the_machine(machine, tmp_path) -> None:
    paths = write_generated(machine, "snare", 3, 11, tmp_path / "out")
    assert [p.name for p in paths] == ["snare_11_000.wav", "snare_11_001.wav", "snare_11_002.wav"]
    expected = machine.generate("snare", 3, 11)
    for index, path in enumerate(paths):
        written, rate = sf.read(path, dtype="float32")
        assert rate == OUTPUT_SAMPLE_RATE and sf.info(path).subtype == "PCM_16"
        body = len(written) - round(OUTPUT_FADE_SECONDS * OUTPUT_SAMPLE_RATE)  # then the trimmed tail's fade
        np.testing.assert_allclose(written[:body], expected[index][:body], atol=1 / 32768 + 1e-6)
        sidecar = read_sidecar(path.with_suffix(".json"))
        assert sidecar["format"] == SIDECAR_FORMAT and sidecar["model_id"] == machine.model_id
        assert (sidecar["instrument"], sidecar["seed"], sidecar["index"]) == ("snare", 11, index)
        np.testing.assert_array_equal(np.float32(sidecar["latent"]), machine.sample_latents(3, 11, "snare")[index])


def test_sounds_at_another_temperature_get_their_own_names_and_recall(machine, tmp_path) -> None:
    usual = write_generated(machine, "snare", 2, 11, tmp_path / "out")
    typical = write_generated(machine, "snare", 2, 11, tmp_path / "out", temperature=0.5)
    assert [p.name for p in typical] == ["snare_11_t0.5_000.wav", "snare_11_t0.5_001.wav"]
    assert all(path.exists() for path in usual) and usual[0].read_bytes() != typical[0].read_bytes()
    sidecar = read_sidecar(typical[1].with_suffix(".json"))
    assert sidecar["details"] == {"temperature": 0.5} and read_sidecar(usual[0].with_suffix(".json"))["details"] == {
        "temperature": 1.0
    }
    np.testing.assert_array_equal(np.float32(sidecar["latent"]), machine.sample_latents(2, 11, "snare", 0.5)[1])
    assert render_sidecar(typical[1].with_suffix(".json"), tmp_path / "again").read_bytes() == typical[1].read_bytes()


def test_render_recreates_every_kind_of_sound_bit_for_bit(machine, sounds, tmp_path) -> None:
    made = (
        write_generated(machine, "kick", 2, 4, tmp_path / "gen", bit_depth=24)
        + write_reconstructions(machine, [sounds / "my kick.wav"], tmp_path / "rec")[0]
        + write_interpolation(machine, sounds / "my kick.wav", sounds / "snare.flac", 3, tmp_path / "morph")
        + write_variations(machine, sounds / "snare.flac", 2, 0.4, 5, tmp_path / "vary")
    )
    for path in made:
        again = render_sidecar(path.with_suffix(".json"), tmp_path / "again" / path.parent.name)
        assert again.name == path.name
        assert again.read_bytes() == path.read_bytes(), path


def test_render_refuses_another_model_and_bad_sidecars(machine, trained_run, tmp_path) -> None:
    path = write_generated(machine, "kick", 1, 0, tmp_path / "gen")[0]
    sidecar = json.loads(path.with_suffix(".json").read_text())
    sidecar["model_id"] = "000000000000"
    (tmp_path / "other.json").write_text(json.dumps(sidecar))
    with pytest.raises(DkvaeError, match="made by model 000000000000"):
        render_sidecar(tmp_path / "other.json", tmp_path / "out")
    (tmp_path / "foreign.json").write_text('{"hello": 1}')
    with pytest.raises(DkvaeError, match="not a dkvae sound sidecar"):
        render_sidecar(tmp_path / "foreign.json", tmp_path / "out")
    with pytest.raises(DkvaeError, match="cannot read sidecar"):
        render_sidecar(tmp_path / "missing.json", tmp_path / "out")
    moved = tmp_path / "moved model"
    shutil.copytree(trained_run, moved)
    assert render_sidecar(path.with_suffix(".json"), tmp_path / "out", model=moved).read_bytes() == path.read_bytes()


def test_render_uses_the_inversion_the_sidecar_records(machine, tmp_path) -> None:
    default = write_generated(machine, "snare", 1, 3, tmp_path / "default")[0]
    more = machine.with_inversion(dataclasses.replace(machine.config.inversion, iterations=24))
    longer = write_generated(more, "snare", 1, 3, tmp_path / "longer")[0]
    assert machine.config.inversion.iterations == InversionConfig().iterations  # the original machine is left as it was
    assert read_sidecar(longer.with_suffix(".json"))["inversion"]["iterations"] == 24
    assert longer.read_bytes() != default.read_bytes()
    assert render_sidecar(longer.with_suffix(".json"), tmp_path / "again").read_bytes() == longer.read_bytes()

    sidecar = json.loads(longer.with_suffix(".json").read_text())
    del sidecar["inversion"]  # a sidecar that records none renders with the model's own settings
    (tmp_path / "old.json").write_text(json.dumps(sidecar))
    assert render_sidecar(tmp_path / "old.json", tmp_path / "old").read_bytes() == default.read_bytes()
    for inversion in ({"method": "pghi", "iterations": -1, "momentum": 0.99}, {"iterations": 8, "colour": 1}, [8]):
        sidecar["inversion"] = inversion
        (tmp_path / "bad.json").write_text(json.dumps(sidecar))
        with pytest.raises(DkvaeError, match="unusable inversion settings"):
            render_sidecar(tmp_path / "bad.json", tmp_path / "bad")


def test_reconstruct_skips_unusable_files_with_reasons(machine, sounds, tmp_path) -> None:
    files = sorted(sounds.iterdir())
    written, skipped = write_reconstructions(machine, files, tmp_path / "rec")
    assert sorted(p.name for p in written) == ["my kick.wav", "snare.wav"]
    reasons = {name.rsplit("/", 1)[-1]: reason for name, reason in skipped}
    assert "silent" in reasons["silent.wav"] and "cannot read" in reasons["broken.wav"]
    assert not (tmp_path / "rec" / "silent.wav").exists()


def test_interpolation_sidecars_record_the_class_blend(machine, sounds, tmp_path) -> None:
    paths = write_interpolation(machine, sounds / "my kick.wav", sounds / "snare.flac", 4, tmp_path / "morph", "linear")
    assert [p.name for p in paths] == [f"morph_{i:02d}.wav" for i in range(4)]
    documents = [read_sidecar(p.with_suffix(".json")) for p in paths]
    assert all(d["details"]["method"] == "linear" for d in documents)
    blends = [d["class_weights"] for d in documents]
    if blends[0] is not None:  # the two inputs were heard as different classes
        assert all(abs(sum(w) - 1) < 1e-5 for w in blends) and blends[0] != blends[-1]


def test_a_count_whose_sounds_would_not_fit_on_the_disk_is_refused_before_writing(machine, sounds, tmp_path) -> None:
    per_sound = disk_bytes_per_sound(machine, 16)
    written = write_generated(machine, "kick", 2, 0, tmp_path / "fits")
    assert all(path.stat().st_size + path.with_suffix(".json").stat().st_size <= per_sound for path in written)
    full = io.BytesIO()
    silence = np.zeros(round(machine.config.audio.duration * machine.sample_rate), np.float32)
    sf.write(full, silence, machine.sample_rate, "PCM_16", format="WAV")
    assert per_sound >= len(full.getvalue()) and disk_bytes_per_sound(machine, 24) > per_sound
    too_many = 2 * shutil.disk_usage(tmp_path).free // per_sound  # twice: other processes free space too
    out = tmp_path / "new" / "folder"
    with pytest.raises(DkvaeError, match=rf"{too_many} sounds need up to [\d.]+ [MGT]B, but only [\d.]+ [MGT]B are free"):
        write_generated(machine, "kick", too_many, 0, out)
    with pytest.raises(DkvaeError, match="are free"):
        write_variations(machine, sounds / "snare.flac", too_many, 0.3, 0, out)
    with pytest.raises(DkvaeError, match="are free"):
        write_interpolation(machine, sounds / "my kick.wav", sounds / "snare.flac", too_many, out)
    assert not (tmp_path / "new").exists()
