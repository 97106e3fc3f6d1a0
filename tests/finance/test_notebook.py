"""The example notebook runs top to bottom in a real Jupyter kernel and shows tables and charts."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "walkthrough.ipynb"


def test_walkthrough_notebook_executes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # the paths Jupyter will use, no warning
    monkeypatch.setenv("SAAS_LICENSE_WORKSPACE", str(tmp_path / "never-used.db"))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code"), (
        "commit the notebook without outputs"
    )
    NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert 'data-table="entitlements"' in html and 'data-table="models"' in html
    assert 'data-table="remediation"' in html and "report written" in html
    svg = "".join(o.get("data", {}).get("image/svg+xml", "") for o in outputs)
    assert 'data-chart="utilisation"' in svg and 'data-chart="activity"' in svg
    assert svg.count('data-series="owned"') >= 2  # Roadmaps and Develop have rights
    assert "true_up_cost" in html  # the pandas frame rendered
    assert not (tmp_path / "never-used.db").exists()
