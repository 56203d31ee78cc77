from __future__ import annotations

from pathlib import Path

import pytest

from dkvae.atomic import atomic_path, write_text


def test_atomic_path_replaces_on_success(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")
    write_text(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_atomic_path_keeps_the_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_files_get_the_mode_a_plain_open_would_give_them(tmp_path) -> None:
    with atomic_path(tmp_path / "kit.zip") as temporary:
        temporary.write_bytes(b"x")
    (tmp_path / "plain").write_bytes(b"x")
    assert (tmp_path / "kit.zip").stat().st_mode & 0o777 == (tmp_path / "plain").stat().st_mode & 0o777
