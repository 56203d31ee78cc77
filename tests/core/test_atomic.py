from __future__ import annotations

from pathlib import Path

import pytest

from dkvae.core.atomic import atomic_path, atomic_paths, write_text


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


def test_files_written_together_change_together_or_not_at_all(tmp_path: Path) -> None:
    first, second = tmp_path / "weights", tmp_path / "config"
    first.write_text("old weights")
    second.write_text("old config")
    with pytest.raises(OSError), atomic_paths(first, second) as (new_first, new_second):
        new_first.write_text("new weights")
        raise OSError(28, "No space left on device")  # the second file's write fails
    assert (first.read_text(), second.read_text()) == ("old weights", "old config")
    with atomic_paths(first, second) as (new_first, new_second):
        new_first.write_text("new weights")
        new_second.write_text("new config")
    assert (first.read_text(), second.read_text()) == ("new weights", "new config")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config", "weights"]


def test_a_write_error_names_the_file_the_user_asked_for(tmp_path: Path) -> None:
    with pytest.raises(OSError) as raised, atomic_path(tmp_path / "kit.wav"):
        raise OSError(28, "No space left on device")
    assert raised.value.filename == str(tmp_path / "kit.wav")
