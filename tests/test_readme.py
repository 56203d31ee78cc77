"""The README is a user's guide of at most 300 lines whose first 150 cover install, generate, train, play and kits,
and whose Quick start is exactly two commands."""

from __future__ import annotations

import re
from pathlib import Path

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8").splitlines()


def test_the_readme_is_short_and_its_first_150_lines_cover_what_a_new_user_does() -> None:
    assert len(README) <= 300
    headings = {line[3:]: number for number, line in enumerate(README, start=1) if line.startswith("## ")}
    for section in ("Install as a Python package", "Generate", "Train", "Play in the browser", "Kits for samplers"):
        assert headings[section] <= 150, (section, headings[section])


def test_the_quick_start_is_two_commands() -> None:
    start = README.index("## Quick start")
    end = next(number for number in range(start + 1, len(README)) if README[number].startswith("## "))
    block = "\n".join(README[start:end]).split("```")[1]
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]
    assert commands == ["make demo", "make test"]


def test_the_readme_has_no_dated_sentences() -> None:
    assert not [line for line in README if re.search(r"\b20\d\d-\d\d-\d\d\b", line)]
