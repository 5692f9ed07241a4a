"""A clip's film strip in a real host (issue 24): the kernel code and the page checks that
tests/browser/test_clip_browser.py (JupyterLab, Notebook 7) and test_clip_vscode.py (VS
Code's renderer) share.

The clip is tests/test_video.py's: F frames of flat blocks, a red square in frame KEY, and
its synthetic scorer, whose answer is the share of red still shown. The kernel imports them
from tests/ as the other browser tests import tests/widget_models.py.
"""

from __future__ import annotations

import time
from pathlib import Path

from legibility import AA, described, over_canvas, text_contrast

TESTS = Path(__file__).resolve().parents[1]
F, KEY = 4, 2
N_REGIONS = 16  # a 2 x 2 grid in each of the F frames

SETUP = f"""\
import sys, time
sys.path.insert(0, {str(TESTS)!r})
import eagle_widget as ew
from test_video import ClipScorer, clip_with_red
clip = clip_with_red({F}, key={KEY})"""

# a finished result, shown without a model
SHOWN = """\
result = ew.explain(ClipScorer(), clip, regions="grid", grid=(2, 2), search="greedy")
result.show()"""


# a live widget on the same clip and search, slowed down enough to watch the steps arrive
LIVE = """\
class SlowClipScorer(ClipScorer):
    def token_probs(self, images, generation, positions, token_ids=None):
        time.sleep(0.5)  # 15 passes in all: 7.5 s to watch
        return super().token_probs(images, generation, positions, token_ids)

slow = SlowClipScorer()
w_live = ew.EagleWidget(slow, list(clip), explainer=ew.Explainer(
    slow, regions="grid", grid=(2, 2), search="greedy"))
w_live"""

CAPTIONS = "[data-role=frame-caption]"
FRAMES = "[data-role=frames]"
TEXTS = f"{CAPTIONS}, [data-role=frames-all]"  # what is drawn over the image


def caption_texts(widget) -> list[str]:
    return widget.locator(CAPTIONS).evaluate_all("els => els.map((e) => e.textContent)")


def wait_captions(widget, timeout: float = 60.0) -> None:
    """Wait until the widget draws its F captions (the frames trait arrived and was drawn)."""
    end = time.monotonic() + timeout
    while widget.locator(CAPTIONS).count() < F:
        assert time.monotonic() < end, "the strip's captions did not appear"
        time.sleep(0.1)


def wait_frame(page, widget, frame: str) -> None:
    """Wait for the strip's shown frame: "" for the whole strip, else the frame's index."""
    page.wait_for_function(
        "([el, f]) => el.querySelector('[data-role=frames]').dataset.frame === f",
        arg=[widget.element_handle(), frame],
        timeout=10_000,
    )


def check_strip(widget) -> None:
    """F captions "Frame 1".."Frame F", left to right, F - 1 dividers, the whole strip shown."""
    assert caption_texts(widget) == [f"Frame {i}" for i in range(1, F + 1)]
    lefts = widget.locator(CAPTIONS).evaluate_all(
        "els => els.map((e) => e.getBoundingClientRect().left)"
    )
    assert lefts == sorted(lefts) and len(set(lefts)) == F, lefts
    assert widget.locator("[data-role=frame-divider]").count() == F - 1
    assert widget.locator(FRAMES).get_attribute("data-frame") == ""
    width, height = canvas_size(widget)
    assert abs(width / height - F) < 0.05, (width, height)  # F square frames side by side


def canvas_size(widget) -> tuple[int, int]:
    return tuple(widget.locator("[data-role=mask-canvas]").evaluate("c => [c.width, c.height]"))


def check_zoomed(widget, frame: int) -> None:
    """Frame `frame` alone, large: its caption pressed, the others hidden, a square canvas."""
    on = widget.locator(f"{CAPTIONS}[aria-pressed=true]")
    assert on.count() == 1 and on.text_content() == f"Frame {frame + 1}"
    assert (
        widget.locator(CAPTIONS).evaluate_all(
            "els => els.filter((e) => e.getBoundingClientRect().width > 0).length"
        )
        == 1
    )
    width, height = canvas_size(widget)
    assert width == height, (width, height)
    assert widget.locator("[data-role=frame-divider]").count() == 0


def captions_legibility(widget, minimum: float = AA) -> list[str]:
    """What fails among the visible captions, as text: against what contrast.js sees behind
    them (their ancestors' backgrounds) and against the image pixels they are drawn over.
    Fails when no caption is visible, so it cannot pass vacuously."""
    overlay = widget.locator(FRAMES)
    rows = text_contrast(overlay)
    assert any(r["role"] == "frame-caption" for r in rows), rows
    bad = [f"backdrop: {described([r])}" for r in rows if r["ratio"] < minimum]
    over_image = over_canvas(widget.locator("[data-role=mask-canvas]"), TEXTS)
    assert over_image and all(r["pixels"] > 0 for r in over_image), over_image
    low = [r for r in over_image if r["ratio"] < minimum]
    bad += [f"over the image: {r['text']!r} {r['ratio']:.2f}" for r in low]
    return bad
