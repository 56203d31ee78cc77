"""Tests for `torch_threads`: the count inside the block, and the old one restored even after an error."""

from __future__ import annotations

import pytest
import torch

from dkvae.core.threads import torch_threads


def test_the_count_holds_inside_and_is_restored_after_an_error() -> None:
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError), torch_threads(1):
        assert torch.get_num_threads() == 1
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before
    with torch_threads(None):
        assert torch.get_num_threads() == before
