from __future__ import annotations

import json

import numpy as np
import soundfile as sf

from dkvae.generation import write_generated
from dkvae.machine import DrumMachine


def test_generated_files_match_the_machine_and_their_sidecars_recall_them(trained_run, tmp_path) -> None:
    paths = write_generated(trained_run, "snare", 3, 11, tmp_path / "out")
    assert [p.name for p in paths] == ["snare_11_000.wav", "snare_11_001.wav", "snare_11_002.wav"]
    machine = DrumMachine.load(trained_run)
    expected = machine.generate("snare", 3, 11)
    for index, path in enumerate(paths):
        written, rate = sf.read(path, dtype="float32")
        assert rate == machine.sample_rate
        peak = max(float(np.max(np.abs(expected[index]))), 1.0)
        np.testing.assert_allclose(written, expected[index] / peak, atol=1 / 32768 + 1e-6)
        sidecar = json.loads(path.with_suffix(".json").read_text())
        assert sidecar["model_id"] == machine.directory.model_id and sidecar["index"] == index
        latent = np.array(sidecar["latent"], dtype=np.float32)
        decoded = machine.decode_spectrograms(latent[None], sidecar["instrument"])
        np.testing.assert_allclose(decoded, machine.decode_spectrograms(machine.sample_latents(3, 11)[index : index + 1], "snare"), atol=1e-4)
