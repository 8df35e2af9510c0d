"""``results/vis.ipynb`` runs from top to bottom on tiny results (nbclient, the project's Python)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "results" / "vis.ipynb"


def _kernel_for_this_python(root: Path) -> Path:
    """A ``python3`` kernelspec that starts THIS interpreter (the venv), whatever is on PATH."""
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (oceane2e tests)",
        "language": "python",
    }))
    return root


def test_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    assert any("OCEANE2E_RESULTS" in c.source for c in code)


def test_notebook_executes_on_tiny_results(evaluated, tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(_kernel_for_this_python(tmp_path / "jupyter")))
    monkeypatch.setenv("OCEANE2E_RESULTS", str(evaluated.results))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "['Good', 'Noisy']" in text  # the models it found in the tiny results
    assert "mhw_case_maps.png" in text and "skill_vs_lead.png" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 4  # skill curves, maps, and the two figures of the evaluation
