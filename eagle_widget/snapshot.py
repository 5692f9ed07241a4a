"""A widget's output where no live widget renders it: a picture of what the widget shows.

GitHub, nbviewer, `jupyter nbconvert --to html` (without saved widget state) and VS Code
with no kernel cannot draw a widget view; they show the next mimetype of the output
they know. So the widget's output carries, beside its view, `image/png` (the finished
result as a figure: the map and the caption, or the diagnosis; the image while nothing is
finished) and a `text/plain` line that says what it shows.

The output has a display id. When a run ends the kernel refreshes it (update_display_data)
so that a notebook run headless (nbclient, `jupyter nbconvert --execute`) holds the final
result, not the empty widget it started as. Live front ends (JupyterLab, Notebook 7, VS Code)
rank the widget view first and keep showing the live widget; but JupyterLab re-creates a
widget view whose output is updated (a flicker, and the view's own choices, such as its map
mode, lost), so where a front end draws live views the kernel sends no refresh: there the
saved picture is the one from when the widget was displayed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from contextlib import contextmanager

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PNG = "image/png"
SNAPSHOT_DPI = 100  # a 7-inch map figure is 700 px wide, about the live widget's width


def figure_png(explanation) -> bytes:
    """The figure of a finished result as PNG: the diagnosis where it has one (what the
    widget shows after one), else the map over the image with the caption; a Comparison's
    (engine/method_comparison.py) a row per method."""
    if hasattr(explanation, "explanations"):  # a Comparison: one figure of its own kind
        options = {}
    else:
        options = {"kind": "hallucination" if explanation.mitigation is not None else "map"}
    with _quiet_font_fallback():
        figure = explanation.figure(**options)
        figure.set_dpi(SNAPSHOT_DPI)
        return figure._repr_png_()


@contextmanager
def _quiet_font_fallback():
    """The font chain lacks bold faces for some scripts and matplotlib logs one line per
    face; in a notebook those lines would land in the widget's cell on every refresh."""
    font_log = logging.getLogger("matplotlib.font_manager")
    level = font_log.level
    font_log.setLevel(max(level, logging.ERROR))
    try:
        yield
    finally:
        font_log.setLevel(level)


def _shell():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


_views_drawn = False  # a front end has drawn a live view of a widget in this kernel


def note_live_view() -> None:
    """A front end says it draws a live view (the widget's "view" message)."""
    global _views_drawn
    _views_drawn = True


def _live_front_end() -> bool:
    """A front end draws live widgets for this kernel: one said so, or a widget manager
    opened the widgets' control channel (JupyterLab and Notebook 7 do when they connect,
    before any view reports; nbclient and nbconvert never do either)."""
    from ipywidgets import Widget

    return _views_drawn or getattr(Widget, "_control_comm", None) is not None


class SnapshotOutput:
    """The outputs that show one widget, under one display id, and their refreshes."""

    def __init__(self) -> None:
        self.display_id = uuid.uuid4().hex
        self._shown = False

    @property
    def shown(self) -> bool:
        return self._shown

    def show(self, data: dict, metadata: dict) -> None:
        """Display the bundle as a new output under this display id."""
        from IPython.display import display

        display(data, metadata=metadata, raw=True, display_id=self.display_id)
        self._shown = True

    def refresh(self, bundle: Callable[[], tuple[dict, dict]]) -> None:
        """Bring every output of this display id up to date with `bundle()`: only where no
        live front end draws the widget (and nothing before it is shown)."""
        if not self._shown or _shell() is None or _live_front_end():
            return
        from IPython.display import update_display

        data, metadata = bundle()
        update_display(data, metadata=metadata, raw=True, display_id=self.display_id)
