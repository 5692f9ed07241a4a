"""A widget's output where no live widget renders it: a picture of what the widget shows.

GitHub, nbviewer, `jupyter nbconvert --to html` (without saved widget state) and VS Code
with no kernel cannot draw a widget view; they show the next mimetype of the output
they know. So the widget's output carries, beside its view, `image/png` (the finished
result as a figure: the map and the caption, or the diagnosis; the image while nothing is
finished) and a `text/plain` line that says what it shows.

The output has a display id. When a run ends the kernel refreshes it (update_display_data)
so that a notebook saved afterwards holds the final result, not the empty widget it
started as. Live front ends (JupyterLab, Notebook 7, VS Code) rank the widget view first,
so they keep showing the live widget. One case needs care: JupyterLab re-creates a widget
view whose output is updated while the cell that displayed it still runs (a flicker, and
the view's own choices lost), so under a live front end such a refresh waits for the next
cell; JupyterLab ignores it then, VS Code and nbclient keep it.
"""

from __future__ import annotations

import logging
import threading
import uuid
from contextlib import contextmanager

log = logging.getLogger(__name__)

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PNG = "image/png"
SNAPSHOT_DPI = 100  # a 7-inch map figure is 700 px wide, about the live widget's width


def figure_png(explanation) -> bytes:
    """The figure of a finished result as PNG: the diagnosis where it has one (what the
    widget shows after one), else the map over the image with the caption."""
    kind = "hallucination" if explanation.mitigation is not None else "map"
    with _quiet_font_fallback():
        figure = explanation.figure(kind=kind)
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


def _request_id(shell) -> str | None:
    """The id of the request the kernel handles now (from another thread: the latest one)."""
    header = getattr(getattr(shell, "display_pub", None), "parent_header", None) or {}
    return header.get("msg_id") if isinstance(header, dict) else None


def _live_front_end() -> bool:
    """A widget manager talks to this kernel (JupyterLab, Notebook 7 and VS Code open the
    widgets' control channel when they connect; nbclient and nbconvert do not)."""
    from ipywidgets import Widget

    return getattr(Widget, "_control_comm", None) is not None


class SnapshotOutput:
    """The outputs that show one widget, under one display id, and their refreshes."""

    def __init__(self) -> None:
        self.display_id = uuid.uuid4().hex
        self._shown_in: str | None = None  # the request that displayed it last
        self._shown = False
        self._waiting: tuple[dict, dict] | None = None  # a refresh held for the next cell
        self._lock = threading.Lock()

    @property
    def shown(self) -> bool:
        return self._shown

    def show(self, data: dict, metadata: dict) -> None:
        """Display the bundle as a new output under this display id."""
        from IPython.display import display

        display(data, metadata=metadata, raw=True, display_id=self.display_id)
        with self._lock:
            self._shown = True
            self._shown_in = _request_id(_shell())

    def refresh(self, data: dict, metadata: dict) -> None:
        """Bring every output of this display id up to date (nothing before it is shown)."""
        shell = _shell()
        if shell is None or not self._shown:
            return
        with self._lock:
            if _live_front_end() and _request_id(shell) == self._shown_in:
                first = self._waiting is None
                self._waiting = (data, metadata)
                if first:
                    shell.events.register("pre_execute", self._send_waiting)
                return
            self._waiting = None
        self._update(data, metadata)

    def _send_waiting(self) -> None:
        shell = _shell()
        with self._lock:
            waiting, self._waiting = self._waiting, None
        if shell is not None:
            shell.events.unregister("pre_execute", self._send_waiting)
        if waiting is not None:
            self._update(*waiting)

    def _update(self, data: dict, metadata: dict) -> None:
        from IPython.display import update_display

        update_display(data, metadata=metadata, raw=True, display_id=self.display_id)
