"""The offline HTML page: self-contained, no URL, and interactive in chromium from file://."""

from __future__ import annotations

import base64
import io
import json
import re
import zlib
from pathlib import Path

import numpy as np
import pytest
from offline_page import OfflinePage
from PIL import Image
from widget_models import BLUE, RED, caption_model, scene

import eagle_widget as ew
from eagle_widget.engine import Generation
from eagle_widget.export import explanation_to_html

CELL = 16
IMAGE = scene(cell=CELL)


@pytest.fixture(scope="module")
def sentence():
    return ew.explain(caption_model(cell=CELL), IMAGE, n_regions=16, search="greedy")


@pytest.fixture(scope="module")
def word():
    return ew.explain(caption_model(cell=CELL), IMAGE, targets="red", n_regions=16, search="greedy")


def blocks_of(path: Path) -> dict:
    """The JSON blocks of a page: bundle, state, export."""
    text = path.read_text(encoding="utf-8")
    found = re.findall(r'<script type="application/json" id="([\w-]+)">(.*?)</script>', text, re.S)
    return {name: json.loads(body) for name, body in found}


def test_page_is_one_file_with_no_url_and_nothing_to_fetch(sentence, tmp_path):
    path = sentence.to_html(tmp_path / "page.html")
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"https?://", text, flags=re.I)
    assert not re.search(r"\s(src|href)\s*=", text, flags=re.I)  # no linked resources
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    blocks_ = blocks_of(path)
    bundle = (Path(ew.__file__).parent / "static" / "widget.js").read_text(encoding="utf-8")
    assert blocks_["eagle-bundle"] == bundle  # the widget's own front end, inlined whole
    assert (Path(ew.__file__).parent / "static" / "widget.css").read_text() in text


def test_page_state_is_the_widgets_state_of_the_result(sentence, tmp_path):
    from eagle_widget.wire import explanation_state

    state = blocks_of(explanation_to_html(sentence, tmp_path / "page.html"))["eagle-state"]
    expected = explanation_state(sentence)
    assert state["tokens"] == expected["tokens"] == list(sentence.generation.tokens)
    assert state["run"]["targets"] == list(range(6))
    assert "$deflate" in state["labels"]  # label maps travel compressed
    labels = np.frombuffer(_bytes(state["labels"]), dtype="<u2").reshape(state["labels_shape"])
    assert np.array_equal(labels, sentence.labels)
    image = np.asarray(Image.open(io.BytesIO(_bytes(state["image_png"]))).convert("RGB"))
    assert np.array_equal(image, IMAGE)
    curve = np.frombuffer(_bytes(state["result"]["insertion"]), dtype="<f4").reshape(17, 6)
    assert np.allclose(curve, sentence.insertion_curve, atol=1e-6)


def _bytes(value) -> bytes:
    if "$deflate" in value:
        return zlib.decompress(base64.b64decode(value["$deflate"]))
    return base64.b64decode(value["$bytes"])


def test_text_with_urls_and_script_tags_cannot_break_out(tmp_path):
    tokens = ["see", " http://a.example/x", " </script><b>", " https://b.example"]
    generation = Generation("Describe http://p.example", [1, 2, 3, 4], tokens, "".join(tokens),
                            (64, 64))  # fmt: skip
    model = caption_model(cell=CELL)
    model.effects, model.base = model.effects[:4], model.base[:4]
    result = ew.explain(model, IMAGE, generation=generation, n_regions=16, search="lazy")
    path = result.to_html(tmp_path / "urls.html")
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"https?://", text, flags=re.I)
    assert text.count("</script>") == 4  # three data blocks and the module, nothing else
    assert blocks_of(path)["eagle-state"]["tokens"] == tokens  # the text survives intact


def test_bad_paths_and_inputs_are_clear_errors(sentence, tmp_path):
    with pytest.raises(ValueError, match=r"\.html"):
        sentence.to_html(tmp_path / "page.txt")
    with pytest.raises(ValueError, match="does not exist"):
        sentence.to_html(tmp_path / "missing" / "page.html")
    with pytest.raises(TypeError, match="Explanation"):
        explanation_to_html({"order": []}, tmp_path / "x.html")


def test_live_widget_export_carries_every_tokens_reliance(word, tmp_path):
    model = caption_model(cell=CELL)
    widget = ew.EagleWidget(model, IMAGE, explainer=ew.Explainer(model, n_regions=16))
    try:
        assert widget.wait(30)
        with pytest.raises(ValueError, match="no finished explanation"):
            widget.to_html(tmp_path / "early.html")
        widget.explain(targets=[1])
        assert widget.wait(60) and widget.status == "done"
        state = blocks_of(widget.to_html(tmp_path / "live.html"))["eagle-state"]
    finally:
        widget.close()
    assert state["run"]["targets"] == [1]
    assert state["reliance"]["prior"] == pytest.approx(widget.reliance["prior"])
    assert None not in state["reliance"]["prior"]  # the page of a word-level result colours all
    # a word-level Explanation alone knows only its own token's reliance...
    alone = blocks_of(word.to_html(tmp_path / "word.html"))["eagle-state"]["reliance"]
    assert alone["prior"][1] is not None and alone["prior"][0] is None
    # ... unless it carries every token's reliance (as the command line adds)
    word.generated_reliance = (state["reliance"]["prior"], state["reliance"]["visual"])
    try:
        full = blocks_of(word.to_html(tmp_path / "word2.html"))["eagle-state"]["reliance"]
    finally:
        word.generated_reliance = None
    assert full["prior"] == pytest.approx(state["reliance"]["prior"])


# -- in a real browser, from file://, with the network off ----------------------------------------


def brightest_block(centres: np.ndarray) -> int:
    """The block whose centre is lightest on the heat map (the most important region)."""
    return int(np.argmax(centres @ [0.299, 0.587, 0.114]))


@pytest.mark.browser
def test_page_works_offline_and_clicking_a_word_redraws_its_map(browser, sentence, tmp_path):
    page = OfflinePage(browser, sentence.to_html(tmp_path / "sentence.html"))
    try:
        assert page.page.locator(".ew-token").count() == 6
        assert page.page.locator(".ew-token.is-selected").count() == 6
        # the saved result holds every token's curves: the sentence is offered
        assert page.page.locator("[data-role=explain-sentence]").is_enabled()
        page.show_mode("heat")
        before = page.canvas()
        page.click_word(1)  # " red": its own map peaks on the RED block
        red = page.canvas()
        assert np.abs(red - before).sum() > 100  # the map changed
        assert brightest_block(red) == RED
        assert page.page.locator(".ew-token.is-selected").count() == 1
        status = page.page.locator("[data-role=status]").inner_text()
        assert "word level (1 token)" in status
        page.click_word(4)  # " blue"
        assert brightest_block(page.canvas()) == BLUE
        auc = float(page.page.locator("[data-role=curves]").get_attribute("data-insertion-auc"))
        col = sentence.positions.index(4)
        assert auc == pytest.approx(sentence.insertion_auc_per_target[col], abs=1e-3)
        page.page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
        assert page.errors == []
        assert all(u.startswith(("file:", "blob:")) for u in page.requests), page.requests
    finally:
        page.close()


@pytest.mark.browser
def test_word_level_page_explains_what_it_holds(browser, word, tmp_path):
    page = OfflinePage(browser, word.to_html(tmp_path / "word.html"))
    try:
        assert page.page.locator(".ew-token.is-selected").count() == 1
        page.show_mode("heat")
        assert brightest_block(page.canvas()) == RED
        # a saved word-level result offers only what it holds: no sentence button, no
        # clickable word it did not explain, hints that say what the page can do
        assert page.page.locator("[data-role=explain-sentence]").is_hidden()
        hint = page.page.locator("[data-role=hint]").inner_text()
        assert "Click an explained word to see its map" in hint
        assert "explain it" not in page.page.locator(".eagle-widget").inner_text()
        square = page.page.locator("[data-word-index='2']")
        assert square.get_attribute("role") is None
        assert square.get_attribute("data-unexplained") == "true"
        assert page.page.locator("[data-word-index='1']").get_attribute("role") == "button"
        square.hover()
        page.page.wait_for_timeout(150)
        legend = page.page.locator(".ew-legend-hint").inner_text()
        assert "not explained in this saved result" in legend
        square.click()  # " square" was not explained: nothing happens, no error
        page.page.wait_for_timeout(150)
        assert page.page.locator(".eagle-widget").get_attribute("data-status") == "done"
        assert page.page.locator("[data-role=error]").is_hidden()
        assert page.page.locator(".ew-token.is-pending").count() == 0
        assert page.page.locator(".ew-token.is-selected").count() == 1
        page.click_word(1)
        assert page.page.locator(".eagle-widget").get_attribute("data-status") == "done"
        with page.page.expect_download() as download:
            page.page.click("text=JSON")
        data = json.loads(Path(download.value.path()).read_text())
        assert data["order"] == word.order
        assert data["insertion_auc"] == pytest.approx(word.insertion_auc)
        with page.page.expect_download() as download:  # the map and curves on one canvas
            page.page.click("[data-role=export-png]")
        assert download.value.suggested_filename == "eagle-view.png"
        picture = Image.open(download.value.path())
        map_width = page.page.locator("[data-role=mask-canvas]").evaluate("c => c.width")
        assert picture.format == "PNG" and picture.width > map_width + 100
        assert page.errors == []
    finally:
        page.close()


@pytest.mark.browser
def test_the_reliance_legend_has_an_entry_for_the_hatched_bar(browser, sentence, tmp_path):
    """Issue 23 s2 row 15: a word's bar turns hatched where the image lowers p; say so."""
    page = OfflinePage(browser, sentence.to_html(tmp_path / "sentence.html"))
    try:
        entry = page.page.locator("[data-role=reliance] [data-role=legend-lost]")
        assert entry.count() == 1 and "lowers p" in entry.inner_text()
        swatch, bar = page.page.evaluate(
            """() => {
              const style = (el) => getComputedStyle(el).backgroundImage;
              const probe = document.createElement("span");
              probe.className = "ew-bar-lost";
              document.querySelector(".eagle-widget").append(probe);
              return [style(document.querySelector("[data-role=legend-lost] .ew-swatch")),
                      style(probe)];
            }"""
        )
        assert "repeating-linear-gradient" in swatch and swatch == bar  # the bar's own hatching
        assert page.errors == []
    finally:
        page.close()


def image_centres(image: np.ndarray) -> np.ndarray:
    """The image's own RGB at the centre of each of its 4 x 4 blocks, (16, 3)."""
    h, w = image.shape[:2]
    return np.array(
        [image[int((b // 4 + 0.5) * h / 4), int((b % 4 + 0.5) * w / 4), :3] for b in range(16)],
        dtype=float,
    )


@pytest.mark.browser
def test_default_view_keeps_the_top_regions_own_colours(browser, word, tmp_path):
    """Issue 23: under 60% viridis a blue square reads half yellow; the default view shows the
    top regions untinted (outlined) and dims the rest, so the picture agrees with the caption."""
    page = OfflinePage(browser, word.to_html(tmp_path / "word.html"))
    try:
        assert page.page.locator("[data-role=mask-canvas]").get_attribute("data-mode") == "focus"
        shown, own = page.canvas(), image_centres(IMAGE)
        top = set(word.order[:4])  # the slider's default k: a quarter of the 16 regions
        assert RED in top
        for b in range(16):
            if b in top:  # the image's own colour, exactly (within rounding)
                assert np.abs(shown[b] - own[b]).max() <= 2, (b, shown[b], own[b])
            else:  # dimmed, the same hue: darker in every channel that has light
                assert (shown[b] <= own[b] + 1).all() and shown[b].sum() < 0.6 * own[b].sum() + 3, b
        page.page.screenshot(path=str(tmp_path / "focus.png"), full_page=True)
        page.show_mode("heat")  # the colour map is still there, and it does tint the image
        assert np.abs(page.canvas()[RED] - own[RED]).max() > 30
        assert page.errors == []
    finally:
        page.close()
