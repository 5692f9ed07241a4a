"""A text-only model's result in the front ends (issue 26): the wire state without image
traits, the figure's chips and curves with no image panel, the offline page in chromium
(chips, no map, a click re-colours the chips), the live widget of a text-only scorer, and
the command line: a tiny text model explained with no IMAGE, --region-kind none with one,
and the usage errors. The scorer's answers rest on known words: token 0 on "red", token 1
on "circle"."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest
from matplotlib.image import AxesImage
from PIL import Image
from synthetic import SpanScorer, block_image
from test_prompt_regions import TextScorer

import eagle_widget as ew
from eagle_widget import cli
from eagle_widget.widget import EagleWidget, show_explanation
from eagle_widget.wire import explanation_state

PROMPT = "Is there a red circle? Look closely."
WORDS = ["Is", "there", "a", "red", "circle", "Look", "closely"]
RED, CIRCLE, LOOK = WORDS.index("red"), WORDS.index("circle"), WORDS.index("Look")


def two_answers(v, shown):
    """Token 0 rests on "red" (0.6), token 1 on "circle" (0.5): over both, "red" leads."""
    return [0.05 + 0.6 * ("red" in shown), 0.1 + 0.5 * ("circle" in shown)]


def scorer() -> TextScorer:
    return TextScorer(two_answers, words=[" yes", " sure"])


@pytest.fixture(scope="module")
def result():
    return ew.explain(scorer(), None, prompt=PROMPT, prompt_regions="word", search="greedy")


# -- the wire state -----------------------------------------------------------------------------
def test_the_state_of_a_text_only_result_has_no_image_and_spans_from_id_0(result):
    state = explanation_state(result)
    assert state["has_image"] is False
    assert state["image_png"] == b"" and state["labels"] == b"" and state["labels_shape"] == []
    sent = state["prompt_spans"]
    assert sent["n_image_regions"] == 0 and state["n_regions"] == len(WORDS)
    assert [s["text"] for s in sent["spans"]] == WORDS
    assert [s["region"] for s in sent["spans"]] == list(range(len(WORDS)))
    np.testing.assert_allclose(
        state["result"]["source_reliance"]["shares"], result.source_reliance, atol=1e-6
    )
    image, prompt, prior = state["result"]["source_reliance"]["shares"][0]
    assert image == 0 and prompt == pytest.approx(0.6 / 0.65, abs=1e-5)
    # the explained tokens' own prior / prompt split colours the caption
    assert state["reliance"]["prior"] == pytest.approx([0.05, 0.1])
    assert state["reliance"]["visual"] == pytest.approx([0.6, 0.5])
    # an image's result says it has one
    image_result = ew.explain(SpanScorer(lambda v, s: 0.2 + 0.5 * ("red" in s)), block_image(4, 4),
                              prompt=PROMPT, regions=None, prompt_regions="word")  # fmt: skip
    assert explanation_state(image_result)["has_image"] is True


def test_show_gives_a_widget_with_the_state_and_no_image(result):
    widget = result.show()
    try:
        assert widget.has_image is False and widget.image_png == b"" and widget.labels == b""
        assert widget.prompt_spans == explanation_state(result)["prompt_spans"]
        assert widget.result["order"] == explanation_state(result)["result"]["order"]
        # its saved picture is the figure (the widget's output where no view renders)
        assert widget._snapshot_png().startswith(b"\x89PNG")
    finally:
        widget.close()


# -- the figure ---------------------------------------------------------------------------------
def test_the_figure_draws_the_chips_and_the_curves_and_no_image(result):
    from matplotlib.colors import to_rgb

    from eagle_widget.figures import importance_cmap

    figure = result.figure()
    gids = [ax.get_gid() for ax in figure.axes]
    assert "prompt-chips" in gids and "curves" in gids and "caption" in gids
    assert "image" not in gids and "map" not in gids
    assert not any(isinstance(a, AxesImage) for ax in figure.axes for a in ax.get_children())
    chips = {t.get_gid(): t for t in figure.axes[gids.index("prompt-chips")].texts}
    assert [chips[f"span-{i}"].get_text().strip() for i in range(len(WORDS))] == WORDS
    cmap = importance_cmap()
    values = result.span_values("rank")
    for i in range(len(WORDS)):
        face = chips[f"span-{i}"].get_bbox_patch().get_facecolor()
        np.testing.assert_allclose(face[:3], to_rgb(cmap(values[i])), atol=1e-6)
    assert values[RED] == 1.0
    # a token's own figure: "circle" is the second word's top span
    own = result.figure(target=1, map_kind="gain")
    texts = {t.get_gid(): t for ax in own.axes for t in ax.texts if t.get_gid()}
    face = texts[f"span-{CIRCLE}"].get_bbox_patch().get_facecolor()
    np.testing.assert_allclose(face[:3], to_rgb(cmap(1.0)), atol=1e-6)
    # the curves are the result's, against the spans' token shares
    curves = figure.axes[gids.index("curves")]
    insertion = next(line for line in curves.lines if line.get_gid() == "insertion")
    np.testing.assert_allclose(insertion.get_xdata(), result.areas)
    np.testing.assert_allclose(insertion.get_ydata(), result.insertion_curve.mean(axis=1))
    assert "prompt" in curves.get_xlabel()
    with pytest.raises(ValueError, match="boxes are drawn on an image"):
        result.figure(boxes=[(0, 0, 1, 1)])


# -- the offline page ---------------------------------------------------------------------------
_READ_CHIPS = """() => Array.from(document.querySelectorAll('[data-role=prompt-chips] .ew-chip'))
  .map((c) => ({text: c.textContent, value: c.dataset.value, kept: c.dataset.kept}))"""


@pytest.mark.browser
def test_the_offline_page_shows_chips_and_no_map_and_a_click_recolours_them(
    browser, result, tmp_path
):
    from offline_page import OfflinePage

    page = OfflinePage(browser, result.to_html(tmp_path / "text.html"))
    try:
        p = page.page
        p.wait_for_selector("[data-role=prompt-chips][data-ready=true]")
        assert not p.locator("[data-role=mask-canvas]").is_visible()
        assert not p.locator("[data-role=colorbar]").is_visible()
        assert not p.locator("[data-role=map-mode]").is_visible()
        assert p.locator("[data-role=no-image]").is_visible()
        assert p.locator("[data-role=curves]").is_visible()
        assert "colours of the prompt" in p.locator("[data-role=hint]").inner_text()
        chips = p.evaluate(_READ_CHIPS)
        assert [c["text"] for c in chips] == WORDS
        values = [float(c["value"]) for c in chips]
        np.testing.assert_allclose(values, result.span_values("gain"), atol=1e-3)
        assert max(values) == values[RED] == 1.0
        assert f"step {len(WORDS)}/{len(WORDS)}" in p.locator(".eagle-widget").inner_text()
        sources = p.locator("[data-role=source-reliance]")
        assert "image 0%" in sources.inner_text()

        page.click_word(1)  # "sure" rests on "circle": the chips are coloured for it alone
        values = [float(c["value"]) for c in p.evaluate(_READ_CHIPS)]
        np.testing.assert_allclose(values, result.span_values("gain", target=1), atol=1e-3)
        assert values[CIRCLE] == 1.0 and values[RED] == 0.0

        # the slider steps through the spans: at k = 1 the top span alone is kept
        p.evaluate(
            "() => { const s = document.querySelector('[data-role=slider]'); s.value = '1';"
            " s.dispatchEvent(new Event('input', {bubbles: true})); }"
        )
        p.wait_for_timeout(150)
        kept = [c["text"] for c in p.evaluate(_READ_CHIPS) if c["kept"] == "true"]
        assert kept == [WORDS[result.order[0]]]
        label = p.locator("[data-role=slider]").locator("xpath=..").inner_text()
        assert re.search(r"top 1 of 7 spans · \d+% of the prompt", label), label
        assert page.errors == []
    finally:
        page.close()


# -- the live widget ------------------------------------------------------------------------------
def test_a_live_widget_explains_a_text_only_model_by_its_prompt(result):
    widget = EagleWidget(scorer(), None, prompt=PROMPT, prompt_regions="word")
    try:
        assert widget.has_image is False and widget.image_png == b""
        assert widget.wait(30) and widget.tokens == [" yes", " sure"]
        widget.explain()
        assert widget.wait(60)
        assert widget.status == "done" and widget.labels == b"" and widget.labels_shape == []
        assert widget.explanation.image is None
        assert widget.explanation.order[0] == RED == result.order[0]
        assert [s["text"] for s in widget.prompt_spans["spans"]] == WORDS
        assert widget.reliance["visual"] == pytest.approx([0.6, 0.5])
        with pytest.raises(ValueError, match="diagnose removes regions of the image"):
            widget.diagnose("no")
        # the finished result shows as the live run did
        shown = show_explanation(widget.explanation)
        assert shown.prompt_spans == widget.prompt_spans and shown.has_image is False
    finally:
        widget.close()
    with pytest.raises(ValueError, match="prompt must be a non-empty string"):
        EagleWidget(scorer(), None, prompt_regions="word")  # a text model has no default
    with pytest.raises(ValueError, match="reads text only: give image=None"):
        EagleWidget(scorer(), block_image(4, 4), prompt=PROMPT, prompt_regions="word")
    with pytest.raises(ValueError, match="EagleWidget needs an image"):
        EagleWidget(SpanScorer(two_answers), None, prompt=PROMPT, prompt_regions="word")


# -- the command line ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def text_checkpoint(tmp_path_factory):
    import tiny_text_models

    folder = tmp_path_factory.mktemp("tiny-llama")
    return tiny_text_models.save("llama", folder)


def text_loader(calls):
    def load(spec, device, dtype):
        from eagle_widget.models import load_model

        calls.append(spec)
        return load_model(spec, device="cpu", dtype="float32")

    return load


def run(argv, capsys, loader):
    code = cli.main([str(a) for a in argv], load=loader)
    out, err = capsys.readouterr()
    return code, out, err


def test_the_cli_explains_a_text_only_model_with_no_image(text_checkpoint, tmp_path, capsys):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    calls = []
    out = tmp_path / "out"
    argv = ["explain", "--model", text_checkpoint, "--prompt", "Is there a red cat?",
            "--prompt-regions", "word", "--max-new-tokens", "3", "--search", "greedy",
            "--out", out]  # fmt: skip
    code, stdout, err = run(argv, capsys, text_loader(calls))
    assert code == 0, err
    assert calls == [text_checkpoint]
    assert sorted(p.name for p in out.iterdir()) == sorted(cli.OUTPUTS)
    saved = ew.Explanation.load(out / "result.npz")
    assert saved.image is None and [s.text for s in saved.spans] == ["Is", "there", "a", "red",
                                                                      "cat"]  # fmt: skip
    data = json.loads((out / "result.json").read_text())
    assert data["image_size"] is None and data["regions"] == {"kind": "none"}
    assert data["order"] == saved.order and sorted(saved.order) == list(range(5))
    page = (out / "explanation.html").read_text()
    assert '"has_image":false' in page
    with Image.open(out / "figure.png") as figure:
        assert figure.width > 500
    assert "0 image regions + 5 prompt spans" in stdout


def test_the_cli_region_kind_none_explains_an_image_by_its_prompt(tmp_path, capsys):
    image = tmp_path / "scene.png"
    Image.fromarray(block_image(4, 4, cell=8)).save(image)
    out = tmp_path / "out"

    def load(spec, device, dtype):
        return SpanScorer(lambda v, shown: 0.1 + 0.6 * ("red" in shown) + 0.2 * v[5])

    argv = ["explain", image, "--prompt", PROMPT, "--prompt-regions", "word", "--region-kind",
            "none", "--search", "greedy", "--out", out]  # fmt: skip
    code, stdout, err = run(argv, capsys, load)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == sorted(cli.OUTPUTS)
    saved = ew.Explanation.load(out / "result.npz")
    assert saved.has_image and saved.n_image_regions == 0 and saved.regions == {"kind": "none"}
    assert saved.spans[saved.order[0]].text == "red"
    assert saved.source_reliance[0][0] == 0  # the image is never taken away


def refusing(spec, device, dtype):
    raise AssertionError("the model must not load for a usage error")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["explain", "--prompt", PROMPT, "--prompt-regions", "word"], "either an IMAGE"),
        (["explain", "--model", "{ckpt}", "--prompt-regions", "word"], "has no default prompt"),
        (["explain", "--model", "{ckpt}", "--prompt", PROMPT], "give --prompt-regions"),
        (
            [
                "explain",
                "--model",
                "{ckpt}",
                "--prompt",
                PROMPT,
                "--prompt-regions",
                "word",
                "--grid",
                "2x2",
            ],
            "--grid: a text-only model reads no image",
        ),  # fmt: skip
        (
            [
                "explain",
                "{image}",
                "--model",
                "{ckpt}",
                "--prompt",
                PROMPT,
                "--prompt-regions",
                "word",
            ],
            "reads text only: leave IMAGE",
        ),  # fmt: skip
        (["explain", "{image}", "--region-kind", "none"], "give --prompt-regions"),
        (
            [
                "explain",
                "{image}",
                "--region-kind",
                "none",
                "--prompt-regions",
                "word",
                "--grid",
                "2x2",
            ],
            "does not go with --region-kind none",
        ),  # fmt: skip
    ],
)
def test_cli_usage_errors_come_before_the_model_loads(
    argv, message, text_checkpoint, tmp_path, capsys
):
    image = tmp_path / "scene.png"
    Image.fromarray(block_image(4, 4, cell=8)).save(image)
    filled = [a.format(ckpt=text_checkpoint, image=image) for a in argv]
    code, _, err = run([*filled, "--out", tmp_path / "out"], capsys, refusing)
    assert code == 2 and message in err, err
