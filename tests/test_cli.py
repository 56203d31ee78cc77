from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from dkvae.cli import app

runner = CliRunner()


def run_dkvae(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the real entry point in a subprocess (exit codes and stderr as a user sees them)."""
    return subprocess.run([sys.executable, "-m", "dkvae", *args], capture_output=True, text=True, timeout=120)


def test_preprocess_then_info(small_bank: Path) -> None:
    result = runner.invoke(app, ["preprocess", str(small_bank), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "12 sounds in 2 classes, 0 skipped" in result.output
    result = runner.invoke(app, ["info", str(small_bank)])
    assert result.exit_code == 0, result.output
    assert "kick" in result.output and "snare" in result.output
    assert '"sample_rate": 44100' in result.output


def test_info_on_an_unprocessed_bank_says_how_to_process_it(small_bank: Path) -> None:
    result = runner.invoke(app, ["info", str(small_bank)])
    assert result.exit_code == 0
    assert "12 audio files, not processed" in result.output
    assert "dkvae preprocess" in result.output


def test_user_errors_print_one_line_and_exit_2(tmp_path: Path, small_bank: Path) -> None:
    missing = run_dkvae("preprocess", str(tmp_path / "nowhere"))
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [f"error: bank folder not found: {tmp_path / 'nowhere'}"]
    assert "Traceback" not in missing.stderr
    preset = run_dkvae("preprocess", str(small_bank), "--preset", "huge")
    assert preset.returncode == 2 and "unknown preset 'huge'" in preset.stderr
