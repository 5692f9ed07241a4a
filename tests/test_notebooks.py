"""The notebooks: all well-formed and committed clean; the demo-model ones run end to end.

The real-model notebooks need a GPU and the hub, so they are only parsed here, and checked to
use public names that exist.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

import eagle_widget as ew

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
QUICKSTART = NOTEBOOKS[0].parent / "01-quickstart.ipynb"
HALLUCINATION = NOTEBOOKS[0].parent / "02-hallucination.ipynb"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def run_notebook(path: Path, scratch: Path, cell_timeout: int = 180) -> list:
    """Execute a copy of a notebook top to bottom in a fresh kernel, in `scratch`: its outputs.

    The copy keeps notebooks/ untouched, whatever the notebook writes.
    """
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    copy = Path(shutil.copy(path, scratch / path.name))
    nb = nbformat.read(copy, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=cell_timeout, kernel_name="python3")
    client.execute(cwd=str(scratch))
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    return outputs


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_valid_clean_and_uses_only_public_names_that_exist(path):
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code, f"{path.name} has no code"
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    for cell in code:
        tree = ast.parse(cell.source)  # a syntax error fails here
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "ew"
            ):
                assert hasattr(ew, node.attr), f"{path.name} uses ew.{node.attr}, which is missing"


def test_the_notebook_list_holds_the_hallucination_notebooks():
    names = {p.name for p in NOTEBOOKS}
    assert {"02-hallucination.ipynb", "qwen2_5_vl_hallucination.ipynb"} <= names


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_quickstart_notebook_runs_top_to_bottom(tmp_path):
    outputs = run_notebook(QUICKSTART, tmp_path, cell_timeout=120)
    views = [o for o in outputs if WIDGET_VIEW in o.get("data", {})]
    assert len(views) == 2  # the live widget and result.show()
    text = "".join(o.get("text", "") for o in outputs)
    assert "insertion AUC" in text and "are on the circle" in text


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_hallucination_notebook_finds_diagnoses_and_corrects_a_real_hallucination(tmp_path):
    outputs = run_notebook(HALLUCINATION, tmp_path)
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "model says: yes" in text  # the question is about a blue square, which is absent
    assert "corrected: True -> no" in text
    assert "blue" in text.split("drivers:")[1].splitlines()[0]  # ground truth of the case
    views = [o for o in outputs if WIDGET_VIEW in o.get("data", {})]
    assert len(views) == 1  # the widget in diagnose mode
    figures = [  # the widget's own output carries a PNG too (eagle_widget/snapshot.py)
        o for o in outputs if "image/png" in o.get("data", {}) and WIDGET_VIEW not in o["data"]
    ]
    assert figures, "the three-panel figure is missing"
