"""A clip in the widget and the offline page (issue 24): one film strip.

The F frames go to the front end side by side, left to right in frame order, as one image
and one label map, so every view of an image shows a clip unchanged. Ground truth: the
strip is np.concatenate of the frames (and of their label maps), a per-frame region lies in
its frame's columns only, and the red square (tests/test_video.py's scorer) is where its
frame's columns say. The browser test reads the captions and the selected frame off the
page in chromium.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from offline_page import OfflinePage
from PIL import Image
from test_video import ClipScorer, clip_with_red, red

import eagle_widget as ew
from eagle_widget.batch.explain import OUTPUTS, write_outputs
from eagle_widget.widget import EagleWidget, show_explanation
from eagle_widget.wire import explanation_state

F, SIZE, KEY = 4, 32, 2


def png_pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def strip_labels(state: dict) -> np.ndarray:
    return labels_of(state["labels"], state["labels_shape"])


def labels_of(data: bytes, shape) -> np.ndarray:
    return np.frombuffer(data, dtype="<u2").reshape(shape)


@pytest.fixture(scope="module")
def clip_result():
    return ew.explain(ClipScorer(), clip_with_red(F, key=KEY), regions="grid", grid=(2, 2))


def test_a_clip_is_sent_as_one_strip_of_its_frames_in_order(clip_result):
    state = explanation_state(clip_result)
    image = png_pixels(state["image_png"])
    assert image.shape == (SIZE, F * SIZE, 3)
    assert np.array_equal(image, np.concatenate(list(clip_result.image), axis=1))
    labels = strip_labels(state)
    assert labels.shape == (SIZE, F * SIZE)
    assert np.array_equal(labels, np.concatenate(list(clip_result.labels), axis=1))
    assert state["n_regions"] == clip_result.n_regions == 16
    assert state["frames"] == {
        "count": F,
        "labels": ["Frame 1", "Frame 2", "Frame 3", "Frame 4"],
        "details": ["", "", "", ""],
    }
    # a per-frame region of frame k covers columns k*W..(k+1)*W only
    for region in range(clip_result.n_regions):
        columns = np.nonzero((labels == region).any(axis=0))[0]
        k = int(np.argmax(clip_result.region_frames()[region]))
        assert columns.min() >= k * SIZE and columns.max() < (k + 1) * SIZE, region
    # the region ranked first holds the red square, in frame KEY's part of the strip
    top = labels == clip_result.order[0]
    assert red(image)[top].any() and np.nonzero(top.any(axis=0))[0].min() == KEY * SIZE


def test_an_image_has_no_frames():
    from test_widget import IMAGE, caption_model

    state = explanation_state(ew.explain(caption_model(), IMAGE, n_regions=16))
    assert state["frames"] == {}
    assert png_pixels(state["image_png"]).shape[:2] == IMAGE.shape[:2]


def test_the_frames_order_is_kept_from_the_clip_to_the_strip():
    clip = clip_with_red(F, key=KEY)
    order = [3, 0, 2, 1]
    forward = explanation_state(ew.explain(ClipScorer(), clip, regions="grid", grid=(2, 2)))
    shuffled = ew.explain(ClipScorer(), clip[order], regions="grid", grid=(2, 2))
    state = explanation_state(shuffled)
    image = png_pixels(state["image_png"])
    assert not np.array_equal(image, png_pixels(forward["image_png"]))
    for slot, source in enumerate(order):  # slot `slot` of the strip shows frame `source`
        assert np.array_equal(image[:, slot * SIZE : (slot + 1) * SIZE], clip[source])
    # the red frame (KEY) is now in slot order.index(KEY), and so is the top region
    top = strip_labels(state) == shuffled.order[0]
    assert np.nonzero(top.any(axis=0))[0].min() == order.index(KEY) * SIZE


def test_frame_names_come_from_the_folder_the_clip_was_read_from(tmp_path):
    clip = clip_with_red(3, key=1)
    for i, name in enumerate(["a1.png", "a2.png", "a10.png"]):
        Image.fromarray(clip[i]).save(tmp_path / name)
    result = ew.explain(ClipScorer(), tmp_path, regions="grid", grid=(1, 2))
    frames = explanation_state(result)["frames"]
    assert frames["labels"] == ["Frame 1", "Frame 2", "Frame 3"]
    assert frames["details"] == ["a1.png", "a2.png", "a10.png"]


def test_show_and_a_live_widget_take_the_strip(clip_result):
    shown = show_explanation(clip_result)
    assert shown.frames["count"] == F and shown.labels_shape == [SIZE, F * SIZE]
    assert clip_result.show().frames == shown.frames
    clip = clip_with_red(F, key=KEY)
    scorer = ClipScorer()
    explainer = ew.Explainer(scorer, regions="grid", grid=(2, 2))
    live = EagleWidget(scorer, list(clip), explainer=explainer)
    try:
        assert live.wait(60)
        assert live.frames == shown.frames and png_pixels(live.image_png).shape == (32, 128, 3)
        live.explain()
        assert live.wait(60) and live.status == "done"
        ex = live.explanation
        assert ex.is_clip and ex.frames["source"] == "list" and ex.order == clip_result.order
        assert live.labels_shape == [SIZE, F * SIZE]
        assert np.array_equal(
            labels_of(live.labels, live.labels_shape),
            np.concatenate(list(ex.labels), axis=1),
        )
    finally:
        live.close()


def test_a_clips_folder_gets_its_page_too(clip_result, tmp_path):
    written = write_outputs(clip_result, tmp_path / "out")
    assert [p.name for p in written] == list(OUTPUTS)
    assert all(p.is_file() for p in written)
    page = (tmp_path / "out" / "explanation.html").read_text()
    assert '"frames":{"count":4,"labels":["Frame 1"' in page


def test_the_page_of_a_clip_draws_a_caption_per_frame_and_the_arrow_keys_pick_one(
    browser, clip_result, tmp_path
):
    page = OfflinePage(browser, clip_result.to_html(tmp_path / "clip.html"))
    try:
        p = page.page
        p.wait_for_selector("[data-role=frame-caption]")
        captions = p.eval_on_selector_all(
            "[data-role=frame-caption]", "els => els.map(e => e.textContent)"
        )
        assert captions == [f"Frame {i}" for i in range(1, F + 1)]
        lefts = p.eval_on_selector_all(
            "[data-role=frame-caption]", "els => els.map(e => e.getBoundingClientRect().left)"
        )
        assert lefts == sorted(lefts) and len(set(lefts)) == F  # left to right
        assert p.locator("[data-role=frame-divider]").count() == F - 1
        figure = p.locator("[data-role=frames]")
        assert figure.get_attribute("data-frame") == ""  # the whole strip
        p.focus("[data-role=mask-canvas]")
        p.keyboard.press("ArrowRight")
        p.wait_for_function(
            "() => document.querySelector('[data-role=frames]').dataset.frame === '1'"
        )
        on = p.locator("[data-role=frame-caption][aria-pressed=true]")
        assert on.count() == 1 and on.text_content() == "Frame 2"
        # shown large: the canvas now holds frame 2 alone (square, not the 4:1 strip)
        size = p.evaluate(
            "() => { const c = document.querySelector('[data-role=mask-canvas]');"
            " return [c.width, c.height]; }"
        )
        assert size[0] == size[1]
        p.keyboard.press("ArrowRight")  # two keys before one redraw: frame 4
        p.keyboard.press("ArrowRight")
        p.wait_for_function(
            "() => document.querySelector('[data-role=frames]').dataset.frame === '3'"
        )
        p.keyboard.press("Escape")
        p.wait_for_function(
            "() => document.querySelector('[data-role=frames]').dataset.frame === ''"
        )
        assert p.locator("[data-role=frame-divider]").count() == F - 1  # the strip again
        p.click("[data-role=frame-caption] >> nth=2")
        p.wait_for_function(
            "() => document.querySelector('[data-role=frames]').dataset.frame === '2'"
        )
        p.click("[data-role=frames-all]")
        p.wait_for_function(
            "() => document.querySelector('[data-role=frames]').dataset.frame === ''"
        )
        assert not page.errors, page.errors
    finally:
        page.close()


def test_a_strip_shrunk_for_display_keeps_each_frames_regions_in_its_share_of_the_width():
    """A strip wider than wire.DISPLAY_MAX_SIDE is sent shrunk: the column at display x
    then still belongs to frame floor((x + 0.5) * F / width), as js/src/frames.js reads it."""
    frames, width = 6, 240
    clip = np.stack([np.full((64, width, 3), 40 + 30 * f, np.uint8) for f in range(frames)])
    clip[4, 10:30, 10:60] = (255, 10, 10)
    result = ew.explain(ClipScorer(), clip, regions="grid", grid=(2, 3))
    state = explanation_state(result)
    labels = strip_labels(state)
    assert labels.shape == (46, 1024)  # 64 x 1440 shrunk to at most 1024 a side
    assert png_pixels(state["image_png"]).shape == (46, 1024, 3)
    shares = result.region_frames()
    for x in range(labels.shape[1]):
        frame = int((x + 0.5) * frames // labels.shape[1])
        assert all(shares[r, frame] == 1.0 for r in np.unique(labels[:, x])), x


@pytest.mark.browser
@pytest.mark.parametrize("theme", ["page default", "page dark"])
def test_the_captions_of_a_clips_page_are_legible_in_both_page_themes(
    browser, clip_result, tmp_path, theme
):
    """White on a dark plate: legible against the widget's surface (contrast.js) and over
    every pixel of the frame beneath (over_canvas.js), in the strip and one frame large."""
    from legibility import AA, described, illegible, over_canvas, text_contrast
    from test_host_themes import THEMES, themed

    page = themed(browser, clip_result.to_html(tmp_path / "clip.html"), theme)
    try:
        p = page.page
        p.wait_for_selector("[data-role=frame-caption]")
        assert p.locator(".eagle-widget").get_attribute("data-scheme") == (
            "dark" if THEMES[theme] else "light"
        )
        overlay, canvas = p.locator("[data-role=frames]"), p.locator("[data-role=mask-canvas]")
        texts = "[data-role=frame-caption], [data-role=frames-all]"
        for view, shown in (("strip", [f"Frame {i}" for i in range(1, F + 1)]),
                            ("frame 3", ["Frame 3", "All frames"])):  # fmt: skip
            if view == "frame 3":
                p.click("[data-role=frame-caption] >> nth=2")
                p.wait_for_function(
                    "() => document.querySelector('[data-role=frames]').dataset.frame === '2'"
                )
            assert sorted(r["text"] for r in text_contrast(overlay)) == sorted(shown)
            assert not (bad := illegible(overlay)), f"{theme}, {view}: {described(bad)}"
            rows = over_canvas(canvas, texts)
            assert sorted(r["text"] for r in rows) == sorted(shown)
            assert all(r["pixels"] > 0 for r in rows), rows  # each is drawn over the image
            assert [r for r in rows if r["ratio"] < AA] == [], f"{theme}, {view}: {rows}"
        assert not page.errors, page.errors
    finally:
        page.close()
