"""The widget's output where no live widget renders it (eagle_widget/snapshot.py).

A notebook run headless by nbclient on the demo model (tests/saved_notebook.py) must hold,
for each widget, a PNG of its finished result as GitHub's and nbconvert's renderers take
it; the display id's refresh policy is checked on its own with a recording shell.
"""

from __future__ import annotations

import numpy as np
import pytest
from saved_notebook import (
    DISPLAY_CELLS,
    WIDGET_STATE,
    WIDGET_VIEW,
    executed_notebook,
    nbconvert_html,
    pixels,
    widget_output,
)
from widget_models import caption_model, scene

import eagle_widget as ew
from eagle_widget import snapshot
from eagle_widget.snapshot import PNG, SnapshotOutput, figure_png

RESULTS = {1: ("circle.npz", "circle"), 3: ("square.npz", "square")}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """(folder, notebook) of the notebook run and saved by nbclient with its widget state."""
    pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    folder = tmp_path_factory.mktemp("saved")
    path = executed_notebook(folder)
    return folder, nbformat.read(path, as_version=4)


def mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a.astype(float) - b.astype(float)).mean())


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_saved_notebook_holds_a_picture_of_each_finished_result(saved):
    """What GitHub's renderer takes: the PNG, drawn from the final result, not the image
    the widget started with; cell 2's widget was refreshed by the run in cell 3."""
    from nbconvert.exporters import HTMLExporter

    folder, nb = saved
    priority = HTMLExporter().default_config["NbConvertBase"]["display_data_priority"]
    shown = {}
    for cell in DISPLAY_CELLS:
        data = widget_output(nb, cell)["data"]
        first = next(m for m in priority if m in data and m != WIDGET_VIEW)
        assert first == PNG, f"a renderer without widgets shows {first} of cell {cell + 1}"
        picture = pixels(data[PNG])
        assert picture.std() > 20, "the saved picture is blank"
        file, word = RESULTS[cell]
        truth = pixels(figure_png(ew.Explanation.load(folder / file)))
        assert mean_difference(picture, truth) < 0.5, f"cell {cell + 1} holds another picture"
        assert f"targets='{word}'" in "".join(data["text/plain"])
        shown[cell] = picture
    # the two results differ where their maps do: the check above can tell them apart
    assert mean_difference(shown[1], shown[3]) > 2
    started = ew.scenes.make_scene(seed=7, objects=[("red", "circle"), ("blue", "square")])
    assert shown[1].shape != np.asarray(started.image).shape  # not the image it started as


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_nbconvert_renders_a_notebook_with_widget_state_through_the_cdn_html_manager(
    saved, tmp_path
):
    """With the widget state saved, nbconvert's page embeds it and loads the standard HTML
    manager from a CDN (what docs/widget.md says); without that state it shows the PNG."""
    import nbformat

    folder, nb = saved
    model_ids = [widget_output(nb, cell)["data"][WIDGET_VIEW]["model_id"] for cell in DISPLAY_CELLS]
    assert set(model_ids) <= set(nb.metadata["widgets"][WIDGET_STATE]["state"])
    page = nbconvert_html(folder / "saved_widget.ipynb", tmp_path / "state").read_text()
    assert WIDGET_STATE in page and all(i in page for i in model_ids)
    assert "https://unpkg.com/" in page and "@jupyter-widgets/html-manager@" in page

    stateless = nbformat.from_dict(nb)
    del stateless.metadata["widgets"]
    nbformat.write(stateless, tmp_path / "stateless.ipynb")
    page = nbconvert_html(tmp_path / "stateless.ipynb", tmp_path / "plain").read_text()
    for cell in DISPLAY_CELLS:
        png = "".join(widget_output(nb, cell)["data"][PNG]).replace("\n", "")
        assert f"data:image/png;base64,{png}" in page.replace("\n", "")


# -- the widget's bundle ----------------------------------------------------------------
def test_an_unfinished_widget_shows_its_image_and_a_finished_one_its_figure():
    model = caption_model()
    widget = ew.EagleWidget(model, scene(), explainer=ew.Explainer(model, n_regions=16))
    try:
        widget.wait()
        data, _ = widget._repr_mimebundle_()
        assert WIDGET_VIEW in data
        assert pixels(data[PNG]).shape == pixels(bytes(widget.image_png)).shape
        assert "no word explained yet" in data["text/plain"]
        widget.explain(1)
        widget.wait()
        data, _ = widget._repr_mimebundle_()
        assert mean_difference(pixels(data[PNG]), pixels(figure_png(widget.explanation))) == 0
        assert "targets='red'" in data["text/plain"]
    finally:
        widget.close()


# -- the display id's refreshes -----------------------------------------------------------
class RecordingShell:
    """What SnapshotOutput needs of IPython (a shell), and the display messages it
    publishes: (kind, display id, data)."""

    def __init__(self, monkeypatch):
        import IPython.display

        self.sent: list[tuple[str, str, dict]] = []

        def display(data, *, metadata, raw, display_id):
            assert raw
            self.sent.append(("display", display_id, data))

        def update_display(data, *, metadata, raw, display_id):
            assert raw
            self.sent.append(("update", display_id, data))

        monkeypatch.setattr(IPython.display, "display", display)
        monkeypatch.setattr(IPython.display, "update_display", update_display)
        monkeypatch.setattr(snapshot, "_shell", lambda: self)


def test_a_refresh_updates_the_displayed_outputs_under_their_display_id(monkeypatch):
    shell = RecordingShell(monkeypatch)
    monkeypatch.setattr(snapshot, "_live_front_end", lambda: False)  # nbclient
    output = SnapshotOutput()
    output.refresh(lambda: ({"text/plain": "before"}, {}))
    assert shell.sent == []  # nothing shown yet: nothing to refresh
    output.show({"text/plain": "shown"}, {})
    output.refresh(lambda: ({"text/plain": "done"}, {}))
    assert shell.sent == [
        ("display", output.display_id, {"text/plain": "shown"}),
        ("update", output.display_id, {"text/plain": "done"}),
    ]


def test_no_refresh_reaches_a_live_front_end(monkeypatch):
    """JupyterLab re-creates a widget view whose output is updated: a flicker, and the
    view's own choices lost (tests/browser/test_widget_browser.py's diagnosis test)."""
    shell = RecordingShell(monkeypatch)
    monkeypatch.setattr(snapshot, "_live_front_end", lambda: True)
    output = SnapshotOutput()
    output.show({"text/plain": "shown"}, {})
    drawn = []
    output.refresh(lambda: drawn.append(1) or ({"text/plain": "done"}, {}))
    assert [kind for kind, *_ in shell.sent] == ["display"]
    assert drawn == []  # nor is the figure drawn for nothing


def test_a_live_view_that_reports_itself_stops_the_refreshes(monkeypatch):
    """VS Code opens no control channel: the widget's view says it is drawn."""
    from ipywidgets import Widget

    monkeypatch.setattr(snapshot, "_views_drawn", False)
    monkeypatch.setattr(Widget, "_control_comm", None)
    assert not snapshot._live_front_end()
    model = caption_model()
    widget = ew.EagleWidget(model, scene(), explainer=ew.Explainer(model, n_regions=16))
    try:
        widget._on_message(widget, {"type": "view"}, [])
        assert snapshot._live_front_end()
    finally:
        widget.close()
