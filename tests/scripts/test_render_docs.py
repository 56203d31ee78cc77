"""`scripts/render_docs.py`: the docs' result tables agree with docs/results/*.json, a table edited by hand
fails `--check` by name, specs render as expected, and a bench's `--out` file merges into its table."""

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


RESULTS_TABLES = ("bundled", "vae-bundled", "compared", "seed-vae", "kl-weight", "temperature", "onset-scratch", "onset-finetune", "balance")


def test_every_table_in_the_repository_agrees_with_its_json() -> None:
    result = run("--check")
    assert result.returncode == 0, result.stdout + result.stderr
    placed = [("README.md", "two-stage"), ("docs/results.md", "models"), ("docs/performance.md", "performance")]
    for page, name in placed + [("docs/results.md", name) for name in RESULTS_TABLES]:
        assert f"<!-- table: {name} -->" in (ROOT / page).read_text(encoding="utf-8")


def test_every_table_of_figures_in_the_results_page_is_rendered_from_json(render_docs) -> None:
    text = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    outside = render_docs.BLOCK.sub("", text)
    assert not [line for line in outside.splitlines() if line.startswith("|")]
    for name in RESULTS_TABLES:  # and each table names the recipe behind each of its runs that has one
        document = json.loads((ROOT / "docs" / "results" / render_docs.TABLES[name]["json"]).read_text("utf-8"))
        for entry in document["entries"]:
            assert "command" in entry, (name, entry["id"])
            if entry.get("recipe"):
                assert (ROOT / entry["recipe"]).is_file()
                assert f"`{entry['recipe']}`" in text


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
    assert "docs/results.md: table 'models' differs from docs/results/models.json" in result.stdout
    assert "performance" not in result.stdout and "README.md" not in result.stdout
    assert run("--root", str(root)).returncode == 0
    assert "| **0.69** |" in (root / "docs" / "results.md").read_text(encoding="utf-8")  # now the better one


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
    grids = [spec for spec in render_docs.TABLES.values() if spec["kind"] == "grid"]
    for row in (row for spec in grids for row in spec["rows"] if "better" in row):
        paths = render_docs.listed(row["path"])
        directions = row["better"] if isinstance(row["better"], list) else [row["better"]] * len(paths)
        for path, direction in zip(paths, directions, strict=True):
            metric = path.rsplit(".", 1)[-1]
            assert direction == BETTER.get(metric, "higher" if path.startswith("accuracy_per_class") else None), path


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


def test_a_grid_spec_renders_a_small_json(render_docs) -> None:
    """Rows or columns as entries; figures by path, joined by " / "; bold by direction among the contest columns
    (ties all), by name or whole; brackets, missing notes and the footnote's recipes."""
    spec = {
        "kind": "grid",
        "json": "study.json",
        "columns": [
            {"title": "metric (floor)", "label": True, "entry": "a", "brackets": ["noise"]},
            {"title": "A", "entry": "a", "path": "model", "contest": True},
            {"title": "B", "entry": "b", "path": "model", "contest": True, "bold": ["x"]},
            {"title": "C", "entry": "c", "path": ["noise", "model"], "bold": ["model"]},
        ],
        "rows": [
            {"title": "x", "path": "x", "format": ".2f", "better": "higher"},
            {"title": "y / z", "path": ["y", "z"], "unit": "dB", "better": ["lower", "one"]},
            {"title": "w", "path": "w", "parts": ["model"], "brackets": {"label": "alone", "parts": ["real"]}},
        ],
        "footnote": "Figures: {json}; recipes: {recipes}.",
    }
    document = {
        "entries": [
            {"id": "a", "title": "run A", "recipe": "experiments/a.json",
             "figures": {"x": {"noise": 0.1, "model": 0.7}, "y": {"model": 2.0}, "z": {"model": 0.9},
                         "w": {"model": 3.6, "real": 1.4}}},
            {"id": "b", "title": "run B", "figures": {"x": {"model": 0.6}, "y": {"model": -1.5}, "z": {"model": 1.2}},
             "missing": {"w": "no encoder"}},
            {"id": "c", "title": "run C", "recipe": "experiments/c.json", "missing": {"x.model": "unconditional"},
             "figures": {"x": {"noise": 0.14, "model": None}, "w": {"model": {"from": 1, "to": 2}}}},
        ]
    }  # fmt: skip
    assert render_docs.render_table(spec, document) == (
        "| metric (floor) | A | B | C |\n"
        "|---|---|---|---|\n"
        "| x (0.10) | **0.70** | **0.60** | 0.14 / **–** (unconditional) |\n"
        "| y / z | 2.0 dB / **0.9 dB** | **−1.5 dB** / 1.2 dB | – |\n"
        "| w | 3.6 (alone 1.4) | – (no encoder) | **1–2** |\n"
        "\n"
        "Figures: [results/study.json](results/study.json); recipes: run A: `experiments/a.json`; "
        "run C: `experiments/c.json`.\n"
        "\n"
    )
    rows_as_entries = {
        "kind": "grid",
        "columns": [{"title": "run", "label": True}, {"title": "x", "path": "x.model", "format": ".1f"}],
        "rows": [{"entry": "a", "bold": ["label"]}, {"entry": "b", "title": "B, renamed", "bold": True}],
    }
    assert render_docs.render_table(rows_as_entries, document) == (
        "| run | x |\n|---|---|\n| **run A** | 0.7 |\n| **B, renamed** | **0.6** |\n\n"
    )


def test_a_study_bench_s_out_file_merges_into_its_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """bench/temperature.py's entries (medians over seeds of `haze.summary`'s figures) replace the committed
    rows of docs/results/temperature.json by id, and the table in docs/results.md shows their figures."""
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    temperature = load(ROOT / "bench" / "temperature.py", "temperature")
    monkeypatch.setattr(sys, "argv", ["bench/temperature.py", "data/drums", "--temperatures", "1", "--out", "x.json"])

    def report(seed: int, accuracy: float) -> dict:
        generation = {"accuracy": accuracy, "frechet_distance_mel": 10.04, "frechet_distance_classifier": 0.9,
                      "ndb_fraction": 0.2, "diversity_ratio": 0.8, "novelty_ratio": None}
        return {"seed": seed, "generation": generation, "accuracy_per_class": {"perc": 0.3, "kick": 0.9}}  # fmt: skip

    entries = temperature.table_entries({1.0: [report(0, 0.6), report(1, 0.9), report(2, 0.7)]})
    assert [(e["id"], e["title"], e["bench"]) for e in entries] == [("t1", "1 (default)", "temperature")]
    assert entries[0]["figures"]["generation"]["accuracy"] == 0.7  # the median over the seeds
    assert entries[0]["figures"]["generation"]["novelty_ratio"] is None
    assert entries[0]["command"] == "python bench/temperature.py data/drums --temperatures 1"
    assert len(entries[0]["measured"]) == 3
    out = tmp_path / "temperature.json"
    record = load(ROOT / "bench" / "record.py", "record")
    record.write(out, *entries, table="temperature")

    root = copy_docs(tmp_path / "repo")
    assert run("--merge", str(out), "--root", str(root)).returncode == 0
    merged = json.loads((root / "docs" / "results" / "temperature.json").read_text(encoding="utf-8"))
    assert [e["id"] for e in merged["entries"]] == ["t0.5", "t0.75", "t1", "t1.25", "t1.5"]  # replaced in place
    page = (root / "docs" / "results.md").read_text(encoding="utf-8")
    assert "| **1 (default)** | **0.70** | **10.0** | **0.90** | **0.20** | **0.80** | **–** | **0.30** |" in page
    assert run("--check", "--root", str(root)).returncode == 0

    haze = {"format": "dkvae-results", "version": 1, "table": "haze", "entries": [dict(entries[0], id="gate-none")]}
    (tmp_path / "haze.json").write_text(json.dumps(haze), encoding="utf-8")
    assert run("--merge", str(tmp_path / "haze.json"), "--root", str(root)).returncode == 0  # a new table's JSON
    created = json.loads((root / "docs" / "results" / "haze.json").read_text(encoding="utf-8"))
    assert created["table"] == "haze" and [e["id"] for e in created["entries"]] == ["gate-none"]


#: Scripts under bench/ that measure nothing themselves: the shared writer and memory sampler, and the fuzzer,
#: whose findings libFuzzer reports (a crash and its input) as it stops the process.
NOT_BENCHES = {"record.py", "memory.py", "fuzz_loader.py"}


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "bench").glob("*.py") if p.name not in NOT_BENCHES))
def test_every_bench_writes_its_figures_as_json_with_out(script: str) -> None:
    source = (ROOT / "bench" / script).read_text(encoding="utf-8")
    assert "record.add_out(parser" in source or 'add_argument("--out"' in source


def test_a_grid_footnote_links_its_json_from_the_page_it_is_on(render_docs, tmp_path: Path) -> None:
    root = copy_docs(tmp_path)
    block = "<!-- table: two-stage -->\n<!-- /table -->\n"
    readme, _ = render_docs.render_page(block, root, {}, "README.md")
    results, _ = render_docs.render_page(block, root, {}, "docs/results.md")
    assert "(docs/results/two_stage.json)" in readme and "(results/two_stage.json)" not in readme
    assert "(results/two_stage.json)" in results
    assert (root / "docs" / "results" / "two_stage.json").is_file()
