"""The scored sound sets: generated sounds and noise bursts, analysed as the bank analyses its own."""

from __future__ import annotations

import numpy as np
import pytest

from dkvae.core.config import OUTPUT_SAMPLE_RATE
from dkvae.evaluation.sounds import NOISE_PEAK_DB, analyse, generated_set, noise_bursts, noise_set
from dkvae.inference.machine import DrumMachine
from dkvae.sound.audio import prepare_sound

from ..conftest import TINY_AUDIO


def test_noise_bursts_decay_from_an_instant_attack_at_a_fixed_peak() -> None:
    bursts = noise_bursts(6, TINY_AUDIO, seed=3)
    assert bursts.shape == (6, TINY_AUDIO.num_samples) and bursts.dtype == np.float32
    np.testing.assert_allclose(np.abs(bursts).max(axis=1), 10 ** (NOISE_PEAK_DB / 20), rtol=1e-5)
    quarter = TINY_AUDIO.num_samples // 4
    assert (np.abs(bursts[:, :quarter]).mean(axis=1) > np.abs(bursts[:, -quarter:]).mean(axis=1)).all()
    np.testing.assert_array_equal(bursts, noise_bursts(6, TINY_AUDIO, seed=3))


def test_analysis_is_the_banks_and_silence_counts_as_unusable() -> None:
    bursts = noise_bursts(3, TINY_AUDIO, seed=0)
    audio = np.concatenate([bursts, np.zeros((1, TINY_AUDIO.num_samples), np.float32)])
    spectrograms, unusable = analyse(audio, TINY_AUDIO.sample_rate, TINY_AUDIO)
    assert spectrograms.shape == (4, *TINY_AUDIO.shape) and unusable == 1
    np.testing.assert_array_equal(spectrograms[1], prepare_sound(bursts[1], TINY_AUDIO.sample_rate, TINY_AUDIO))
    assert not spectrograms[3].any()


def test_noise_set_labels_count_sounds_per_class() -> None:
    noise = noise_set(4, 3, TINY_AUDIO, seed=1)
    assert noise.spectrograms.shape == (12, *TINY_AUDIO.shape)
    np.testing.assert_array_equal(noise.labels, np.repeat([0, 1, 2], 4))


def test_generated_sounds_are_the_machines_own_rendered_and_analysed(trained_run) -> None:
    machine = DrumMachine.load(trained_run)
    calls = []
    made = generated_set(machine, 3, seed=5, progress=lambda *call: calls.append(call))
    classes = len(machine.instruments)
    assert made.spectrograms.shape == (3 * classes, *TINY_AUDIO.shape)
    np.testing.assert_array_equal(made.labels, np.repeat(np.arange(classes), 3))
    assert calls[-1] == (3 * classes, 3 * classes)
    snare = machine.instruments.index("snare")
    expected = prepare_sound(machine.generate("snare", 3, seed=5)[2], OUTPUT_SAMPLE_RATE, machine.config.audio)
    np.testing.assert_array_equal(made.spectrograms[3 * snare + 2], expected)
    np.testing.assert_array_equal(made.audio[3 * snare + 2], machine.generate("snare", 3, seed=5)[2])
    assert made.audio.shape[0] == 3 * classes and noise_set(2, 2, TINY_AUDIO, seed=0).audio is None


@pytest.mark.parametrize("flow", [True, False], ids=["flow prior", "no prior"])
def test_a_codec_is_asked_classes_exactly_when_it_has_a_flow_prior(tmp_path, flow: bool) -> None:
    from ..inference.test_export_codec import write_codec

    machine = DrumMachine.load(write_codec(tmp_path / "codec", flow=flow))
    made = generated_set(machine, 2, seed=3)
    classes = len(machine.instruments)
    assert machine.generates_by_class == flow and len(made.labels) == 2 * classes
    if flow:
        np.testing.assert_array_equal(made.labels, np.repeat(np.arange(classes), 2))
        np.testing.assert_array_equal(made.audio[2 * 1 + 1], machine.generate(machine.instruments[1], 2, seed=3)[1])
    else:
        assert (made.labels == -1).all()
        np.testing.assert_array_equal(made.audio[:2], machine.render(machine.sample_latents(2 * classes, 3), "")[:2])
