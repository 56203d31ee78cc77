"""The package's pipeline layers hold (import-linter's contract in pyproject.toml), and an upward import breaks them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Run lint-imports on the package under ``root/src`` with ``root/pyproject.toml``'s contract."""
    environment = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root, env=environment, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_every_stage_imports_only_the_stages_below_it() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_an_import_back_up_the_pipeline_breaks_the_contract(tmp_path: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    errors = tmp_path / "src/dkvae/core/errors.py"
    errors.write_text(errors.read_text() + "\n\ndef _upward() -> None:\n    from dkvae.inference.machine import DrumMachine  # noqa: F401\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "dkvae.core.errors -> dkvae.inference.machine" in result.stdout
