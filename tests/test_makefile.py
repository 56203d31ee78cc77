"""The Makefile's two installs: `make demo` installs the package alone, `make test` the Debian packages and the dev extras.

The demo must work without what `make test` adds: its commands start no program (Hydrogen, LMMS, xmllint, Chromium),
load no libfluidsynth, read none of the Debian kits and import none of the dev extras.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAKEFILE_INPUTS = ("Makefile", "pyproject.toml", "scripts/install-system-packages.sh")
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def demo_commands() -> list[list[str]]:
    """The `dkvae ...` lines of the Makefile's demo recipe, as argument lists (without the venv's path)."""
    text = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", text, re.MULTILINE)
    assert recipe is not None, "no demo target in the Makefile"
    lines = [shlex.split(line) for line in recipe.group(1).splitlines()]
    commands = [words[1:] for words in lines if words and words[0].endswith("/dkvae")]
    assert commands, "the demo recipe runs no dkvae command"
    return commands


@pytest.fixture
def make_dir(tmp_path: Path) -> Path:
    """A folder with the Makefile and the files its targets depend on, and nothing installed."""
    for name in MAKEFILE_INPUTS:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tmp_path / name)
    # The inputs older than any stamp written below (make compares modification times).
    for name in MAKEFILE_INPUTS:
        os.utime(tmp_path / name, (1_000_000_000, 1_000_000_000))
    return tmp_path


def dry_run(folder: Path, target: str) -> str:
    """What `make TARGET` would run there (`make -n`, nothing run)."""
    # Not a sub-make of a `make test` that runs this, nor one given another venv or Python.
    unset = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "VENV", "PYTHON"}
    env = {name: value for name, value in os.environ.items() if name not in unset}
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", target],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def touch_stamps(folder: Path, *names: str, when: int = 1_000_000_100) -> None:
    """Stamps as the installs leave them, newer than the inputs."""
    (folder / ".venv").mkdir(exist_ok=True)
    for name in names:
        (folder / ".venv" / name).touch()
        os.utime(folder / ".venv" / name, (when, when))


@needs_make
def test_make_demo_installs_the_package_alone(make_dir: Path) -> None:
    commands = dry_run(make_dir, "demo")
    assert "install-system-packages.sh" not in commands
    assert "[dev]" not in commands and "[export]" not in commands
    assert "pip install -q torch==2.13.0" in commands
    assert re.search(r"pip install -q -e \.$", commands, re.MULTILINE)
    assert "--force" in commands  # a second `make demo` replaces the first one's kit


@needs_make
def test_make_test_on_a_fresh_clone_installs_everything(make_dir: Path) -> None:
    commands = dry_run(make_dir, "test").splitlines()
    order = [
        next(i for i, line in enumerate(commands) if text in line)
        for text in ("-m venv", "torch==2.13.0", "install-system-packages.sh", '".[dev]"', "pytest -n 2")
    ]
    assert order == sorted(order), commands


@needs_make
def test_make_test_after_make_demo_adds_the_dev_install(make_dir: Path) -> None:
    touch_stamps(make_dir, ".installed-runtime")
    commands = dry_run(make_dir, "test")
    assert "-m venv" not in commands and "torch==" not in commands
    assert "install-system-packages.sh" in commands and '".[dev]"' in commands
    touch_stamps(make_dir, ".installed-dev")
    assert dry_run(make_dir, "test").strip().splitlines() == [".venv/bin/python -m pytest -n 2 -q"]
    assert "pip" not in dry_run(make_dir, "demo")


@needs_make
def test_a_changed_pyproject_reinstalls_both(make_dir: Path) -> None:
    touch_stamps(make_dir, ".installed-runtime", ".installed-dev")
    os.utime(make_dir / "pyproject.toml", (1_000_000_200, 1_000_000_200))
    commands = dry_run(make_dir, "test")
    assert "pip install -q -e .\n" in commands and '".[dev]"' in commands


def extra_modules() -> set[str]:
    """The top-level modules of the dev and export extras' distributions installed here."""
    tomllib = pytest.importorskip("tomllib")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = {
        re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        for extra in ("dev", "export")
        for requirement in extras[extra]
    } - {"dkvae"}
    modules = {
        module
        for module, distributions in metadata.packages_distributions().items()
        if any(distribution.lower().replace("_", "-") in names for distribution in distributions)
    }
    assert {"pytest", "librosa", "playwright", "onnx"} <= modules, "the dev extras are not installed here"
    return modules


# Runs the demo's dkvae commands in one process and reports, as JSON on the last line of stdout, each program it
# started, each library it opened through ctypes, each file it opened under /usr/share or /usr/lib/lv2, the shared
# libraries mapped at the end, and the top-level modules it imported.
PROBE = r"""
import json, sys
started, opened, libraries = [], [], []
def hook(event, args):
    if event in ("subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn", "os.system", "os.fork"):
        started.append(repr(args)[:300])
    elif event == "ctypes.dlopen":
        libraries.append(str(args[0]))
    elif event == "open" and isinstance(args[0], str) and args[0].startswith(("/usr/share/", "/usr/lib/lv2", "/etc/timidity")):
        opened.append(args[0])
sys.addaudithook(hook)
from dkvae.cli import main
for command in json.loads(sys.argv[1]):
    sys.argv = ["dkvae", *command]
    try:
        main()
    except SystemExit as exit:
        assert not exit.code, (command, exit.code)
mapped = sorted({line.split()[-1] for line in open("/proc/self/maps") if ".so" in line})
print(json.dumps({"started": started, "libraries": libraries, "opened": opened, "mapped": mapped,
                  "modules": sorted({name.split(".")[0] for name in sys.modules})}))
"""


def test_the_demo_needs_no_debian_package_and_no_extra(tmp_path: Path) -> None:
    modules = extra_modules()
    commands = [[word.replace("out/", f"{tmp_path}/") for word in command] for command in demo_commands()]
    assert any("--format" in command and "all" in command and "--demo" in command for command in commands)
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(commands)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["started"] == []
    assert not [name for name in report["libraries"] if "fluidsynth" in name]
    assert not [name for name in report["mapped"] if "fluidsynth" in name]
    assert [
        name for name in report["opened"] if not name.startswith(("/usr/share/zoneinfo", "/usr/share/locale"))
    ] == []
    assert sorted(modules & set(report["modules"])) == []
    written = {path.suffix for path in (tmp_path / "kit").iterdir()}
    assert {".sfz", ".dspreset", ".dslibrary", ".h2drumkit", ".sf2", ".wav", ".mid"} <= written
    assert len(list((tmp_path / "snares").glob("*.wav"))) == 8
