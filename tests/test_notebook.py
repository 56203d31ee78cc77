"""The tour notebook (examples/tour.ipynb): it runs start to finish on a tiny bank, and is committed cleared."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
kernelspec = pytest.importorskip("jupyter_client.kernelspec")  # jupyter_client comes with nbclient
manager = pytest.importorskip("jupyter_client.manager")

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "tour.ipynb"
#: Seconds one cell may run: the tiny tour takes about half a minute in all.
CELL_TIMEOUT = 120


def kernel_manager(folder: Path, env: dict[str, str]) -> manager.KernelManager:
    """A kernel on this very Python (``sys.executable``), from a kernel spec written into `folder`.

    Nothing is installed: the spec lives only in `folder`, so the test runs the same wherever
    Jupyter's own kernel specs point (another Python, or none at all).
    """
    spec = folder / "kernels" / "python3"
    spec.mkdir(parents=True)
    document = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (dkvae tests)",
        "language": "python",
        "env": env,
    }
    (spec / "kernel.json").write_text(json.dumps(document), encoding="utf-8")
    specs = kernelspec.KernelSpecManager(kernel_dirs=[str(spec.parent)], ensure_native_kernel=False)
    return manager.KernelManager(kernel_name="python3", kernel_spec_manager=specs)


def outputs(notebook) -> list[dict]:
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]


def test_committed_notebook_is_cleared():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code, "the tour has no code cells"
    assert all(not cell.outputs and cell.execution_count is None for cell in code), (
        "commit examples/tour.ipynb with its outputs cleared (jupyter nbconvert --clear-output --inplace)"
    )
    assert any("parameters" in cell.metadata.get("tags", []) for cell in code)


def test_tour_runs_on_a_tiny_bank(tmp_path):
    work = tmp_path / "work"
    env = {"DKVAE_TOUR_SIZE": "tiny", "DKVAE_TOUR_DIR": str(work)}
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        km=kernel_manager(tmp_path, env),
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if any cell fails

    produced = outputs(notebook)
    assert not [output for output in produced if output.output_type == "error"]
    images = [output for output in produced if "image/png" in output.get("data", {})]
    html = "".join(output["data"]["text/html"] for output in produced if "text/html" in output.get("data", {}))
    # Loss curves, spectrogram grid, latent map, morph.
    assert len(images) >= 4
    # Seven classes for two models, a single snare, the morph's two players and the kit's demo.
    assert html.count("<audio") >= 7 * 2 + 1 + 2 + 1
    kit = work / "kit"
    for name in ("demo.wav", "demo.mid", "kit.json", "kit.sfz"):
        assert (kit / name).is_file(), name
    assert list(kit.glob("*.h2drumkit")) and list(kit.glob("*.dspreset")) and list(kit.glob("*.dslibrary"))
    assert len(list((kit / "samples").glob("*.wav"))) >= 14
    assert (work / "runs" / "vae" / "model.safetensors").is_file()
