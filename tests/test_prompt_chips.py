"""The prompt's spans in the front ends (issue 26): the wire state of a result with spans,
the front end's chip values against the engine's span_values, the live widget's
prompt_regions=, the offline page's chips in chromium, and the figure's row of chips. The
scorer's answers rest on known words: token 0 on "red", token 1 on "circle"."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from synthetic import SpanScorer, block_image
from widget_models import READ_STATE, jsonable

import eagle_widget as ew
from eagle_widget.engine.regions import grid_regions
from eagle_widget.palette import importance_rgb
from eagle_widget.widget import EagleWidget, show_explanation
from eagle_widget.wire import explanation_state

JS_SRC = Path(__file__).resolve().parents[1] / "js" / "src"
PROMPT = "Is there a red circle? Look closely."
WORDS = ["Is", "there", "a", "red", "circle", "Look", "closely"]
BLOCKS = grid_regions(32, 32, 16)
IMAGE = block_image(4, 4, cell=8)


def two_answers(v, shown):
    """Token 0 rests on "red" (0.6) and block 5 (0.2), token 1 on "circle" (0.4) and block 5:
    over both, "red" is the top span; each token's own top span is its word."""
    return [
        0.05 + 0.2 * v[5] + 0.6 * ("red" in shown),
        0.05 + 0.2 * v[5] + 0.4 * ("circle" in shown),
    ]


def scorer() -> SpanScorer:
    return SpanScorer(two_answers, BLOCKS, words=[" yes", " sure"])


@pytest.fixture(scope="module")
def result():
    return ew.explain(scorer(), IMAGE, prompt=PROMPT, regions=BLOCKS, search="greedy",
                      prompt_regions="word")  # fmt: skip


def span_index(text: str) -> int:
    return WORDS.index(text)


# -- the wire state -----------------------------------------------------------------------------
def test_a_result_with_spans_sends_them_once_with_ids_after_the_images(result):
    state = explanation_state(result)
    sent = state["prompt_spans"]
    assert sent["n_image_regions"] == 16 == result.n_image_regions
    assert [s["text"] for s in sent["spans"]] == WORDS
    assert [s["region"] for s in sent["spans"]] == list(range(16, 23))
    assert all(PROMPT[s["start"] : s["stop"]] == s["text"] for s in sent["spans"])
    assert state["n_regions"] == 23
    # the steps keep their small records: the spans' ids are in them, the texts are not
    assert b"circle" not in state["result"]["steps"]
    # each target's three-way reliance, keyed by its token
    sources = state["result"]["source_reliance"]
    assert sources["targets"] == [0, 1]
    np.testing.assert_allclose(sources["shares"], result.source_reliance, atol=1e-6)
    image, prompt, prior = sources["shares"][0]  # 0.2 image, 0.6 prompt, 0.05 prior of 0.85
    assert prompt == pytest.approx(0.6 / 0.85, abs=1e-5) and image == pytest.approx(0.2 / 0.85)


def test_a_result_without_spans_sends_none():
    plain = ew.explain(scorer(), IMAGE, prompt=PROMPT, regions=BLOCKS, search="greedy")
    state = explanation_state(plain)
    assert state["prompt_spans"] == {} and "source_reliance" not in state["result"]


# -- the front end's values: node reads the state as the widget does -----------------------------
_CHIPS = """
import { readFileSync } from "node:fs";
import { decodeResult } from "%(src)s/codecs.js";
import { readSpans, spanChipValues } from "%(src)s/chips.js";
import { applyResult, startRun, targetColumns } from "%(src)s/state.js";
%(read_state)sconst state = applyResult(startRun(raw.run, raw.n_regions), decodeResult(raw.result));
const spans = readSpans(raw.prompt_spans).spans;
const values = (cols) => spanChipValues(state, spans, "heat", 1, cols).map((v) => v.value);
const ranks = spanChipValues(state, spans, "heat", 0).map((v) => v.rank);
const out = { all: values(null), ranks };
for (const t of raw.run.targets) out[t] = values(targetColumns(state, [t]));
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_chips_take_the_engines_span_values_for_the_whole_answer_and_each_word(
    result, tmp_path
):
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(jsonable(explanation_state(result))))
    script = tmp_path / "chips.mjs"
    script.write_text(_CHIPS % {"src": JS_SRC.as_posix(), "read_state": READ_STATE})
    proc = subprocess.run(
        ["node", str(script), str(state_file)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    np.testing.assert_allclose(out["all"], result.span_values("gain"), atol=1e-5)
    for t in (0, 1):
        np.testing.assert_allclose(out[str(t)], result.span_values("gain", target=t), atol=1e-5)
    # the known answers: "red" is the top span over both, each token's own word its own
    assert np.argmax(out["all"]) == span_index("red")
    assert np.argmax(out["0"]) == span_index("red") and np.argmax(out["1"]) == span_index("circle")
    order = result.order
    assert out["ranks"] == [order.index(16 + i) for i in range(len(WORDS))]


# -- the live widget ------------------------------------------------------------------------------
def test_the_widget_passes_prompt_regions_to_its_explainer_and_sends_the_spans():
    widget = EagleWidget(scorer(), IMAGE, prompt=PROMPT, prompt_regions="word")
    try:
        assert widget.explainer.prompt_regions == "word"
        widget.wait(30)
        widget.explain()
        assert widget.wait(60)
        assert [s["text"] for s in widget.prompt_spans["spans"]] == WORDS
        assert widget.n_regions == widget.prompt_spans["n_image_regions"] + len(WORDS)
        assert widget.explanation.spans[span_index("red")].region == widget.explanation.order[0]
        shares = widget.result["source_reliance"]["shares"]
        np.testing.assert_allclose(shares, widget.explanation.source_reliance, atol=1e-6)
        # a finished result shows its spans as the live run did
        shown = show_explanation(widget.explanation)
        assert shown.prompt_spans == widget.prompt_spans
    finally:
        widget.close()
    with pytest.raises(ValueError, match="prompt_regions is an option of the Explainer"):
        EagleWidget(scorer(), IMAGE, prompt=PROMPT, explainer=ew.Explainer(scorer()),
                    prompt_regions="word")  # fmt: skip
    with pytest.raises(ValueError, match="one of word, sentence, message"):
        EagleWidget(scorer(), IMAGE, prompt=PROMPT, prompt_regions="phrase")


# -- the offline page ---------------------------------------------------------------------------
_READ_CHIPS = """() => Array.from(document.querySelectorAll('[data-role=prompt-chips] .ew-chip'))
  .map((c) => ({text: c.textContent, value: c.dataset.value, kept: c.dataset.kept,
               background: getComputedStyle(c).backgroundColor}))"""


def _rgb(text: str) -> np.ndarray:
    return np.array([float(x) for x in re.findall(r"[\d.]+", text)[:3]])


@pytest.mark.browser
def test_the_offline_page_draws_the_prompt_as_chips_hottest_on_the_answers_word(
    browser, result, tmp_path
):
    from offline_page import OfflinePage

    page = OfflinePage(browser, result.to_html(tmp_path / "spans.html"))
    try:
        page.canvas()  # the image is drawn under the map
        shown = page.page.locator(".eagle-widget").inner_text()
        assert "step 23/23" in shown  # every step of both kinds
        chips = page.page.evaluate(_READ_CHIPS)
        assert [c["text"] for c in chips] == WORDS
        chip_text = page.page.locator("[data-role=prompt-chips]").inner_text()
        assert chip_text.replace("\n", "") == f"Prompt: {PROMPT}"  # the prompt as written
        values = [float(c["value"]) for c in chips]
        np.testing.assert_allclose(values, result.span_values("gain"), atol=1e-3)
        hottest = chips[span_index("red")]
        assert max(values) == values[span_index("red")] == 1.0
        # the hottest chip has the map's hottest colour; a chip of no gain its coldest
        np.testing.assert_allclose(
            _rgb(hottest["background"]), np.asarray(importance_rgb(1.0), float), atol=2
        )
        np.testing.assert_allclose(
            _rgb(chips[span_index("Look")]["background"]),
            np.asarray(importance_rgb(0.0), float),
            atol=2,
        )
        # the three-way reliance of the whole answer
        sources = page.page.locator("[data-role=source-reliance]")
        assert sources.get_attribute("data-ready") == "true"
        image, prompt, prior = result.source_reliance.mean(axis=0)
        assert f"prompt {round(100 * prompt)}%" in sources.inner_text()
        assert f"image {round(100 * image)}%" in sources.inner_text()

        # the second word rests on "circle": clicking it colours the chips for it alone
        page.click_word(1)
        chips = page.page.evaluate(_READ_CHIPS)
        values = [float(c["value"]) for c in chips]
        np.testing.assert_allclose(values, result.span_values("gain", target=1), atol=1e-3)
        assert values[span_index("circle")] == 1.0 and values[span_index("red")] == 0.0
        circle = chips[span_index("circle")]
        np.testing.assert_allclose(
            _rgb(circle["background"]), np.asarray(importance_rgb(1.0), float), atol=2
        )
        _, prompt_1, _ = result.source_reliance[1]
        assert f"prompt {round(100 * prompt_1)}%" in sources.inner_text()

        # the ranking slider steps through both kinds: at k = 1 the top span alone is kept
        page.page.evaluate(
            "() => { const s = document.querySelector('input[type=range]'); s.value = '1';"
            " s.dispatchEvent(new Event('input', {bubbles: true})); }"
        )
        page.page.wait_for_timeout(150)
        chips = page.page.evaluate(_READ_CHIPS)
        kept = [c["text"] for c in chips if c["kept"] == "true"]
        top = result.order[0]
        assert kept == ([WORDS[top - 16]] if top >= 16 else [])
        assert page.errors == []
    finally:
        page.close()


# -- the figure ---------------------------------------------------------------------------------
def test_the_figure_draws_a_row_of_prompt_chips_coloured_like_the_map(result):
    from matplotlib.colors import to_rgb

    from eagle_widget.figures import importance_cmap

    figure = result.figure()
    axes = {ax.get_gid(): ax for ax in figure.axes}
    assert "prompt-chips" in axes
    chips = {t.get_gid(): t for t in axes["prompt-chips"].texts if t.get_gid()}
    assert [chips[f"span-{i}"].get_text().strip() for i in range(len(WORDS))] == WORDS
    cmap = importance_cmap()
    values = result.span_values("rank")
    for i in range(len(WORDS)):
        face = chips[f"span-{i}"].get_bbox_patch().get_facecolor()
        np.testing.assert_allclose(face[:3], to_rgb(cmap(values[i])), atol=1e-6)
    red = chips[f"span-{span_index('red')}"].get_bbox_patch().get_facecolor()
    np.testing.assert_allclose(red[:3], to_rgb(cmap(1.0)), atol=1e-6)  # the top span
    # a token's own figure colours the chips for it: "circle" is the second word's
    own = result.figure(target=1, map_kind="gain")
    texts = {t.get_gid(): t for ax in own.axes for t in ax.texts if t.get_gid()}
    circle = texts[f"span-{span_index('circle')}"].get_bbox_patch().get_facecolor()
    np.testing.assert_allclose(circle[:3], to_rgb(cmap(1.0)), atol=1e-6)
    # without spans the prompt stays one line of text
    plain = ew.explain(scorer(), IMAGE, prompt=PROMPT, regions=BLOCKS, search="greedy")
    assert "prompt-chips" not in {ax.get_gid() for ax in plain.figure().axes}
    assert any(t.get_text() == f"Prompt: {PROMPT}" for t in plain.figure().texts)
