"""The callbacks long jobs report their progress through, so the CLI can draw bars and a notebook can ignore them."""

from __future__ import annotations

from collections.abc import Callable

#: ``progress(done, total)``: items done so far out of `total`.
Progress = Callable[[int, int], None]
#: ``progress(stage, done, total)``: the same, within a named stage of a job that has several.
StageProgress = Callable[[str, int, int], None]
