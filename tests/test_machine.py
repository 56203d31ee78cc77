from __future__ import annotations

import numpy as np
import pytest

from dkvae import DkvaeError
from dkvae.machine import DrumMachine


def test_a_loaded_model_generates_per_class_without_pickle(trained_run, no_pickle) -> None:
    machine = DrumMachine.load(trained_run)
    assert machine.sample_rate == 8000
    kicks = machine.generate("kick", n=3, seed=5)
    assert kicks.shape == (3, 2048) and kicks.dtype == np.float32 and np.isfinite(kicks).all()
    np.testing.assert_array_equal(kicks, machine.generate("kick", n=3, seed=5))
    assert not np.array_equal(kicks, machine.generate("snare", n=3, seed=5))
    with pytest.raises(DkvaeError, match="unknown instrument 'cowbell'.*kick"):
        machine.generate("cowbell")




def test_asking_for_no_sounds_is_a_user_error(trained_run) -> None:
    machine = DrumMachine.load(trained_run)
    with pytest.raises(DkvaeError, match="at least 1"):
        machine.generate("kick", n=0)
    with pytest.raises(DkvaeError, match="at least 1"):
        machine.render(np.zeros((0, machine.latent_dim), np.float32), "kick")
