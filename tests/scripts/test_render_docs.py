"""`scripts/render_docs.py`: the docs' result tables agree with docs/results/*.json, a table edited by hand
fails `--check` by name, specs render as expected, and a bench's `--out` file merges into the table."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "scripts" / "render_docs.py"


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def render_docs():
    return load(SCRIPT, "render_docs")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False
    )  # fmt: skip


def copy_docs(root: Path) -> Path:
    """README.md, docs/*.md and docs/results/ in a temporary repository."""
    (root / "docs").mkdir(parents=True)
    shutil.copy(ROOT / "README.md", root / "README.md")
    for page in (ROOT / "docs").glob("*.md"):
        shutil.copy(page, root / "docs" / page.name)
    shutil.copytree(ROOT / "docs" / "results", root / "docs" / "results")
    return root


def test_every_table_in_the_repository_agrees_with_its_json() -> None:
    result = run("--check")
    assert result.returncode == 0, result.stdout + result.stderr
    for page, name in (("README.md", "models"), ("docs/performance.md", "performance")):
        assert f"<!-- table: {name} -->" in (ROOT / page).read_text(encoding="utf-8")


def test_a_table_edited_by_hand_fails_the_check_by_name_and_rendering_restores_it(tmp_path: Path) -> None:
    root = copy_docs(tmp_path)
    page = root / "docs" / "performance.md"
    original = page.read_text(encoding="utf-8")
    assert "| **6.4×** the seed's pipeline" in original
    page.write_text(original.replace("| **6.4×** the seed's pipeline", "| **9.9×** the seed's pipeline"), "utf-8")

    result = run("--check", "--root", str(root))
    assert result.returncode == 1
    assert "docs/performance.md: table 'performance' differs from docs/results/performance.json" in result.stdout
    assert "README.md" not in result.stdout  # only the edited table is named
    assert "9.9×" in result.stderr  # the difference is shown
    assert "9.9×" in page.read_text(encoding="utf-8")  # --check changes nothing

    assert run("--root", str(root)).returncode == 0
    assert page.read_text(encoding="utf-8") == original
    assert run("--check", "--root", str(root)).returncode == 0


def test_a_figure_changed_in_the_json_fails_the_check_of_its_table(tmp_path: Path) -> None:
    root = copy_docs(tmp_path)
    results = root / "docs" / "results" / "models.json"
    document = json.loads(results.read_text(encoding="utf-8"))
    document["models"]["cgan"]["generation"]["overall"]["accuracy"]["model"] = 0.69
    results.write_text(json.dumps(document), encoding="utf-8")
    result = run("--check", "--root", str(root))
    assert result.returncode == 1
    assert "README.md: table 'models' differs from docs/results/models.json" in result.stdout
    assert "performance" not in result.stdout
    assert run("--root", str(root)).returncode == 0
    assert "| **0.69** |" in (root / "README.md").read_text(encoding="utf-8")  # now the better one


def test_an_unknown_table_name_is_refused(tmp_path: Path) -> None:
    root = copy_docs(tmp_path)
    with (root / "docs" / "data.md").open("a", encoding="utf-8") as page:
        page.write("\n<!-- table: nonesuch -->\n<!-- /table -->\n")
    result = run("--check", "--root", str(root))
    assert result.returncode != 0
    assert "docs/data.md: no table named 'nonesuch'" in result.stderr


def test_an_entries_spec_renders_a_small_json(render_docs) -> None:
    spec = {
        "kind": "entries",
        "columns": [("figure", "title"), ("result", "result"), ("target", "target"), ("command", "command")],
        "footnote": "Machine: {machine}.",
    }
    machine = "2 CPU cores, no GPU"
    document = {
        "entries": [
            {"id": "a", "title": "speed", "figure": 6.4, "unit": "×", "note": "the seed's (5 runs)",
             "target": "≥ 4×", "command": "python bench/a.py", "machine": machine},
            {"id": "b", "title": "latency", "label": "cached", "figure": {"p50": 6.4, "p99": -10.25}, "unit": "ms",
             "note": "; uncached slower", "target": None, "command": "python bench/b.py", "command_note": "3 times",
             "machine": machine},
            {"id": "c", "title": "runs | pipes", "figure": [7, 7.5], "unit": "×", "note": "", "target": None,
             "command": ["x", "y"], "machine": "a GPU"},
            {"id": "d", "title": "range", "figure": {"from": 1.1, "to": 1.2}, "unit": "s", "note": "over runs",
             "target": "< 2 s", "command": "z", "machine": machine},
        ]
    }  # fmt: skip
    assert render_docs.render_table(spec, document) == (
        "| figure | result | target | command |\n"
        "|---|---|---|---|\n"
        "| speed | **6.4×** the seed's (5 runs) | ≥ 4× | `python bench/a.py` |\n"
        "| latency | cached **p50 6.4 ms, p99 −10.25 ms**; uncached slower | – | `python bench/b.py` (3 times) |\n"
        "| runs \\| pipes (on a GPU) | **7× and 7.5×** | – | `x`, then `y` |\n"
        "| range | **1.1–1.2 s** over runs | < 2 s | `z` |\n"
        "\n"
        "Machine: 2 CPU cores, no GPU.\n"
        "\n"
    )


def test_a_metrics_spec_renders_a_small_json(render_docs) -> None:
    spec = {
        "kind": "metrics",
        "columns": [
            {"title": "metric"},
            {"title": "floor", "model": "a", "set": "noise"},
            {"title": "A", "model": "a", "set": "model", "contest": True},
            {"title": "B", "model": "b", "set": "model", "contest": True},
            {"title": "C (floor / ceiling)", "model": "c", "set": "model", "brackets": ["noise", "real"]},
        ],
        "rows": [
            {"title": "accuracy", "values": "generation.overall.accuracy", "format": ".2f", "better": "higher"},
            {"title": "KID", "values": "generation.overall.kid", "better": "lower"},
            {"title": "LSD", "unit": "dB", "better": "lower", "notes": {"noise": "alone"},
             "values": {"model": "reconstruction.audio.lsd", "noise": "reconstruction.inversion.lsd"}},
        ],
        "footnote": "Reports: {commands}.",
    }  # fmt: skip
    figures = {"accuracy": {"noise": 0.1, "model": 0.7, "real": 0.9}, "kid": {"noise": 2.0, "model": -0.014, "real": 0}}
    document = {
        "models": {
            "a": {"title": "model A", "command": "dkvae evaluate a", "generation": {"overall": figures},
                  "reconstruction": {"audio": {"lsd": 2.7}, "inversion": {"lsd": 1.1}}},
            "b": {"command": ["dkvae train b", "dkvae evaluate b"], "command_note": "judged as A",
                  "generation": {"overall": {"accuracy": {"model": 0.68}, "kid": {"model": -0.007}}},
                  "reconstruction": None, "missing": {"reconstruction": "(no encoder)"}},
            "c": {"command": "dkvae evaluate c", "missing": {"generation.overall.accuracy.model": "unconditional"},
                  "generation": {"overall": {"accuracy": {"noise": 0.14, "model": None, "real": 0.62},
                                             "kid": {"noise": 1.77, "model": 10.1, "real": -0.02}}},
                  "reconstruction": {"audio": {"lsd": 37.0}, "inversion": {"lsd": 1.2}}},
        }
    }  # fmt: skip
    assert render_docs.render_table(spec, document) == (
        "| metric | floor | A | B | C (floor / ceiling) |\n"
        "|---|---|---|---|---|\n"
        "| accuracy | 0.10 | **0.70** | 0.68 | – unconditional (0.14 / 0.62) |\n"
        "| KID | 2.0 | **−0.014** | −0.007 | 10.1 (1.77 / −0.02) |\n"
        "| LSD | 1.1 dB (alone) | 2.7 dB | – (no encoder) | 37.0 dB (1.2 dB) |\n"
        "\n"
        "Reports: model A: `dkvae evaluate a`; b: `dkvae train b`, then `dkvae evaluate b` (judged as A); "
        "c: `dkvae evaluate c`.\n"
        "\n"
    )


def test_the_bold_figure_follows_the_direction_dkvae_judges_each_metric_by(render_docs) -> None:
    from dkvae.measures.metrics import BETTER

    for row in render_docs.TABLES["models"]["rows"]:
        path = row["values"] if isinstance(row["values"], str) else row["values"]["model"]
        metric = path.rsplit(".", 1)[-1]
        assert row["better"] == BETTER[metric], row["title"]


def test_a_bench_out_file_has_the_table_s_shape_and_merges_in_by_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = load(ROOT / "bench" / "record.py", "record")
    out = tmp_path / "serve.json"
    monkeypatch.setattr(sys, "argv", ["bench/serve.py", "--clients", "2", "--out", str(out)])
    entry = record.entry("serve", "`dkvae serve` load", {"p50": 5.0, "p99": 9.5}, "ms", "; uncached slower",
                         {"raw": 1}, "cached p50 30 ms", label="cached")  # fmt: skip
    assert entry["command"] == "python bench/serve.py --clients 2"
    assert entry["bench"] == "serve" and "CPU cores" in entry["machine"]
    record.write(out, entry)

    root = copy_docs(tmp_path / "repo")
    committed = json.loads((root / "docs" / "results" / "performance.json").read_text(encoding="utf-8"))
    for committed_entry in committed["entries"]:  # the committed entries have the keys a bench writes
        assert {"id", "bench", "title", "figure", "unit", "note", "target", "command", "machine"} <= set(committed_entry)
    assert run("--merge", str(out), "--root", str(root)).returncode == 0
    merged = json.loads((root / "docs" / "results" / "performance.json").read_text(encoding="utf-8"))
    assert [e["id"] for e in merged["entries"]] == [e["id"] for e in committed["entries"]]  # replaced in place
    page = (root / "docs" / "performance.md").read_text(encoding="utf-8")
    assert "| `dkvae serve` load | cached **p50 5.0 ms, p99 9.5 ms**; uncached slower | cached p50 30 ms |" in page
    assert run("--check", "--root", str(root)).returncode == 0
