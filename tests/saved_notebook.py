"""A notebook with the widget, run headless by nbclient on the embedded demo model and saved.

Cell 2 displays a widget (it starts empty: the caption is still being generated); cell 3
explains "circle" and waits, so the saved output must have been refreshed from another
cell. Cell 4 displays a second widget and runs it in the same cell. Cell 5 saves both
results, so a test can draw their figures itself and compare them with the saved pictures.
"""

from __future__ import annotations

import base64
import io
import subprocess
import sys
from pathlib import Path

import numpy as np

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
NAME = "saved_widget.ipynb"

CELLS = [
    """\
import eagle_widget as ew
model = ew.load_demo_model()
scene = ew.scenes.make_scene(seed=7, objects=[("red", "circle"), ("blue", "square")])
explainer = ew.Explainer(model, n_regions=16, search="greedy")""",
    """\
w = ew.EagleWidget(model, scene.image, prompt="Describe the image.", explainer=explainer)
w""",
    """\
w.explain("circle")
w.wait()""",
    """\
w_same = ew.EagleWidget(model, scene.image, prompt="Describe the image.", explainer=explainer)
display(w_same)
w_same.explain("square")
w_same.wait()""",
    """\
w.explanation.save("circle.npz")
w_same.explanation.save("square.npz")""",
]
DISPLAY_CELLS = (1, 3)  # the cells whose output is a widget


def executed_notebook(folder: Path, store_widget_state: bool = True) -> Path:
    """Write the notebook into `folder`, run it in a fresh kernel there, save it; its path."""
    import nbclient
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    client = nbclient.NotebookClient(
        nb, timeout=240, kernel_name="python3", store_widget_state=store_widget_state
    )
    client.execute(cwd=str(folder))
    path = folder / NAME
    nbformat.write(nb, path)
    return path


def widget_output(nb, cell: int) -> dict:
    """The one output of `cell` that holds a widget view."""
    (output,) = [o for o in nb.cells[cell].outputs if WIDGET_VIEW in o.get("data", {})]
    return output


def pixels(png) -> np.ndarray:
    """An RGB array of a PNG (bytes or base64 text, as a notebook stores it)."""
    from PIL import Image

    data = base64.b64decode(png) if isinstance(png, str) else png
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def nbconvert_html(notebook: Path, out: Path, *options: str) -> Path:
    """`jupyter nbconvert --to html` of `notebook` into folder `out`: the page's path."""
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", *options,
         "--output-dir", str(out), str(notebook)],
        check=True, capture_output=True, timeout=240,
    )  # fmt: skip
    return out / f"{notebook.stem}.html"
