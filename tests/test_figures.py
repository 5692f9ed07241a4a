"""Paper-style figures: checked by content (pixel sizes, token boxes, colours, panels)."""

from __future__ import annotations

import dataclasses
import io
import warnings

import matplotlib
import numpy as np
import pytest
from matplotlib.colors import to_rgba
from PIL import Image
from widget_models import BLUE, RED, blocks, caption_model, scene

import eagle_widget as ew
from eagle_widget import figures
from eagle_widget.engine import Generation
from eagle_widget.engine.hallucination import Mitigation, mitigate

CELL = 16
IMAGE = scene(cell=CELL)


@pytest.fixture(scope="module")
def sentence():
    return ew.explain(caption_model(cell=CELL), IMAGE, n_regions=16, search="greedy")


@pytest.fixture(scope="module")
def word():
    return ew.explain(caption_model(cell=CELL), IMAGE, targets="red", n_regions=16, search="greedy")


def by_gid(figure, gid):
    found = [a for a in figure.findobj() if a.get_gid() == gid]
    assert len(found) == 1, f"{len(found)} artists with gid {gid!r}"
    return found[0]


def token_texts(figure):
    caption = by_gid(figure, "caption")
    return {
        int(t.get_gid().split("-")[1]): t
        for t in caption.texts
        if (t.get_gid() or "").startswith("token-")
    }


def png(figure, dpi):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def block_centre(index, cell=CELL, cols=4):
    row, col = divmod(index, cols)
    return (col + 0.5) * cell - 0.5, (row + 0.5) * cell - 0.5  # x, y in data coordinates


def test_saved_png_has_the_size_of_width_times_dpi(sentence, tmp_path):
    for dpi in (100, 200):
        figure = sentence.figure(width=6.0)
        path = figures.save_figure(figure, tmp_path / f"map{dpi}.png", dpi=dpi)
        with Image.open(path) as img:
            height = figure.get_size_inches()[1]
            assert img.size == (round(6.0 * dpi), int(height * dpi))  # Agg truncates


def test_caption_has_one_box_per_token_coloured_by_reliance(sentence):
    figure = sentence.figure()
    texts = token_texts(figure)
    tokens = sentence.generation.tokens
    assert sorted(texts) == list(range(len(tokens)))
    assert [texts[i].get_text() for i in range(len(tokens))] == [t.strip() for t in tokens]
    faces = {i: np.array(t.get_bbox_patch().get_facecolor()[:3]) for i, t in texts.items()}
    # "A" and "." rest on the language prior (blue), " red" and " blue" on the image (orange)
    for prior_token in (0, 5):
        assert faces[prior_token][2] > faces[prior_token][0] + 0.2
    for visual_token in (1, 4):
        assert faces[visual_token][0] > faces[visual_token][2] + 0.2
    expected = figures.reliance_cmap()((figures.reliance_score(0.9, 0.0) + 1) / 2)
    assert np.allclose(faces[0], expected[:3], atol=1e-6)
    # a sentence-level result highlights no word
    assert all(t.get_bbox_patch().get_linewidth() < 1.5 for t in texts.values())


def test_word_level_result_highlights_the_explained_word(word):
    texts = token_texts(word.figure())
    red = texts[1]
    assert to_rgba(red.get_bbox_patch().get_edgecolor()) == to_rgba(figures.HIGHLIGHT_COLOR)
    assert red.get_fontweight() == "bold"
    for i in (0, 2, 3, 4, 5):
        patch = texts[i].get_bbox_patch()
        assert to_rgba(patch.get_edgecolor()) != to_rgba(figures.HIGHLIGHT_COLOR)
        assert patch.get_facecolor()[3] == 0.0  # not explained: no reliance, no fill
    # with every token's reliance given, the other tokens are coloured too
    prior = np.array([0.9, 0.1, 0.05, 0.6, 0.2, 0.95])
    visual = np.array([0.0, 0.8, 0.0, 0.0, 0.7, 0.0])
    texts = token_texts(word.figure(reliance=(prior, visual)))
    assert all(texts[i].get_bbox_patch().get_facecolor()[3] == 1.0 for i in range(6))
    assert to_rgba(texts[1].get_bbox_patch().get_edgecolor()) == to_rgba(figures.HIGHLIGHT_COLOR)


def test_long_captions_wrap_inside_the_figure():
    n = 60
    model = caption_model(cell=CELL)
    tokens = [f" word{i}" for i in range(n)]
    generation = Generation(
        "Describe the image.", list(range(n)), tokens, "".join(tokens), (64, 64)
    )
    model.effects = model.effects * 10
    model.base = np.tile(model.base, 10)
    result = ew.explain(model, IMAGE, generation=generation, n_regions=16, search="lazy")
    figure = result.figure(width=5.0)
    figure.canvas.draw()
    texts = token_texts(figure)
    assert len(texts) == n
    width_px = figure.get_size_inches()[0] * figure.dpi
    rows = {round(t.get_position()[1], 3) for t in texts.values()}
    assert len(rows) > 3
    for t in texts.values():
        box = t.get_bbox_patch().get_window_extent()
        assert 0 <= box.x0 and box.x1 <= width_px


WORLD_TOKENS = [" café", " 日本語", " 한국어", " 🙂🐶", " हिन्दी ✓", " ไทย→"]  # six, as the model


def test_text_in_any_script_and_emoji_renders_without_missing_glyphs(tmp_path):
    model = caption_model(cell=CELL)
    tokens = WORLD_TOKENS
    generation = Generation(
        "Décris l'image. 描述这张图片 🖼",
        list(range(len(tokens))),
        tokens,
        "".join(tokens),
        IMAGE.shape[:2],
    )
    result = ew.explain(model, IMAGE, generation=generation, n_regions=16, search="greedy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" fails the test
        for kind in ("map", "curves"):
            result.figure(kind=kind, path=tmp_path / f"{kind}.png")
            result.figure(kind=kind, path=tmp_path / f"{kind}.svg")
    assert {"Noto Sans CJK JP", "Noto Emoji"} <= set(figures.font_family())


def test_map_panel_shows_the_attribution_map_with_its_peak_on_the_evidence(word):
    figure = word.figure(alpha=0.6)
    overlay = by_gid(figure, "attribution")
    values = np.asarray(overlay.get_array())
    assert np.array_equal(values, word.attribution_map("rank"))
    assert set(np.unique(blocks(cell=CELL)[values == values.max()])) == {RED}
    # the rendered pixel at the RED block is the top of the colour map over the grey base
    dpi = 100
    img = np.asarray(png(figure, dpi)).astype(float)
    ax = by_gid(figure, "map")
    x, y = ax.transData.transform(block_centre(RED))
    pixel = img[int(round(img.shape[0] - y)), int(round(x))]
    grey = figures._grey(IMAGE)[int(block_centre(RED)[1]), int(block_centre(RED)[0])]
    top = np.array(figures.importance_cmap()(1.0)[:3]) * 255
    assert np.allclose(pixel, 0.6 * top + 0.4 * grey, atol=4)
    assert by_gid(figure, "map-colorbar") is not None
    assert by_gid(figure, "reliance-colorbar") is not None


def test_a_token_map_uses_that_tokens_column(sentence):
    figure = sentence.figure(target=4, map_kind="gain")
    values = np.asarray(by_gid(figure, "attribution").get_array())
    assert np.array_equal(values, sentence.attribution_map("gain", target=4))
    assert set(np.unique(blocks(cell=CELL)[values == 1.0])) == {BLUE}
    texts = token_texts(figure)
    assert to_rgba(texts[4].get_bbox_patch().get_edgecolor()) == to_rgba(figures.HIGHLIGHT_COLOR)


def test_ground_truth_boxes_are_drawn_on_both_panels(word):
    box = (16, 16, 32, 32)  # the RED block
    figure = word.figure(boxes=box)
    rects = [p for ax in figure.axes for p in ax.patches if p.get_gid() == "box-0"]
    assert len(rects) == 2
    for rect in rects:
        assert rect.get_xy() == (15.5, 15.5)
        assert (rect.get_width(), rect.get_height()) == (16, 16)
    with pytest.raises(ValueError, match="x0 < x1"):
        word.figure(boxes=[(10, 10, 5, 20)])
    with pytest.raises(ValueError, match=r"\(x0, y0, x1, y1\)"):
        word.figure(boxes=[(1, 2, 3)])


def test_curves_figure_plots_the_curves_and_their_aucs(sentence):
    figure = sentence.figure(kind="curves", per_target=True)
    ins, dele = by_gid(figure, "insertion"), by_gid(figure, "deletion")
    assert np.allclose(ins.get_xdata(), sentence.areas)
    assert np.allclose(ins.get_ydata(), sentence.insertion_curve.mean(axis=1))
    assert np.allclose(dele.get_ydata(), sentence.deletion_curve.mean(axis=1))
    labels = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert labels == [
        f"insertion  AUC {sentence.insertion_auc:.3f}",
        f"deletion  AUC {sentence.deletion_auc:.3f}",
    ]
    # per-target curves: one thin line per target and chain besides the two means
    assert len(figure.axes[0].lines) == 2 + 2 * sentence.n_targets


def test_svg_and_pdf_files(word, tmp_path):
    figure = word.figure()
    svg = figures.save_figure(figure, tmp_path / "map.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert 'id="token-1"' in svg and 'id="map"' in svg and 'id="caption"' in svg
    pdf = figures.save_figure(figure, tmp_path / "map.pdf", dpi=300).read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 5000
    path = tmp_path / "direct.png"
    word.figure(kind="curves", path=path, dpi=72)
    with Image.open(path) as img:
        assert img.size[0] == round(5.5 * 72)


def test_figures_never_use_latex(word, tmp_path):
    with matplotlib.rc_context({"text.usetex": True}):
        figure = word.figure()
        figures.save_figure(figure, tmp_path / "map.png")
    assert not any(t.get_usetex() for t in figure.findobj(matplotlib.text.Text))


def test_bad_options_are_clear_errors(word, tmp_path):
    figure = word.figure()
    with pytest.raises(ValueError, match=r"\.png, \.svg, \.pdf"):
        figures.save_figure(figure, tmp_path / "map.jpg")
    with pytest.raises(ValueError, match="dpi"):
        figures.save_figure(figure, tmp_path / "map.png", dpi=0)
    with pytest.raises(ValueError, match="kind must be one of map, curves, hallucination"):
        word.figure(kind="heat")
    with pytest.raises(ValueError, match="map_kind"):
        word.figure(map_kind="blur")
    with pytest.raises(ValueError, match="width"):
        word.figure(width=0.5)
    with pytest.raises(ValueError, match="cmap"):
        word.figure(cmap="no-such-map")
    with pytest.raises(ValueError, match="not explained"):
        word.figure(target=3)
    with pytest.raises(ValueError, match="one value per generated token"):
        word.figure(reliance=([0.1, 0.2], [0.3, 0.4]))
    with pytest.raises(TypeError, match="Explanation"):
        figures.explanation_figure("result.npz")


# -- hallucination ------------------------------------------------------------------------------
YES, NO = 1, 2
DRIVER = 9  # the block whose presence makes the model say "Yes"


class YesNoModel:
    """Answers "Yes" while block DRIVER is visible (a hallucination), else "No".

    p("No" at position 0) = 0.2 + 0.7 * (1 - visible fraction of DRIVER); p("Yes") = 1 - that.
    """

    def __init__(self):
        self.object_map = blocks(cell=CELL)
        self.sizes = np.bincount(self.object_map.ravel())

    def visible(self, image):
        shown = np.asarray(image).any(axis=2)
        return np.bincount(self.object_map.ravel(), weights=shown.ravel()) / self.sizes

    def p_no(self, image):
        return 0.2 + 0.7 * (1 - self.visible(image)[DRIVER])

    def generate(self, image, prompt, max_new_tokens=8):
        token, text = (NO, "No") if self.p_no(image) > 0.5 else (YES, "Yes")
        return Generation(prompt, [token], [text], text, tuple(np.asarray(image).shape[:2]))

    def token_probs(self, images, generation, positions, token_ids=None):
        ids = token_ids if token_ids is not None else [generation.token_ids[p] for p in positions]
        out = np.empty((len(images), len(positions)))
        for i, image in enumerate(images):
            p = self.p_no(image)
            out[i] = [p if t == NO else 1 - p for t in ids]
        return out


@pytest.fixture(scope="module")
def mitigated():
    model = YesNoModel()
    question = "Is there a cat?"
    generation = model.generate(IMAGE, question)
    assert generation.text == "Yes"
    explanation = ew.explain(
        model, IMAGE, generation=generation, targets=[0], target_ids=[NO], n_regions=16,
        search="greedy",
    )  # fmt: skip
    outcome = mitigate(model, IMAGE, question, explanation, max_area=0.5)
    assert outcome.corrected and outcome.removed_regions[0] == int(
        explanation.labels[blocks(cell=CELL) == DRIVER][0]
    )
    explanation.mitigation.correct = "No"
    return explanation


def test_hallucination_figure_shows_answer_drivers_and_the_corrected_image(mitigated):
    figure = mitigated.figure(kind="hallucination")
    answer, drivers, fixed = (by_gid(figure, g) for g in ("answer", "drivers", "mitigated"))
    assert "Yes" in answer.get_title()
    drivers_map = np.asarray(drivers.images[-1].get_array())
    assert np.allclose(drivers_map, 1 - mitigated.attribution_map("rank"))
    assert set(np.unique(blocks(cell=CELL)[drivers_map == drivers_map.max()])) == {DRIVER}
    shown = np.asarray(fixed.images[0].get_array())
    hidden = blocks(cell=CELL) == DRIVER
    assert (shown[hidden] == 0).all()
    assert np.array_equal(shown[~hidden], IMAGE[~hidden])
    removed = mitigated.mitigation.removed_area
    assert removed == pytest.approx(1 / 16)
    assert "6% removed: corrected" in fixed.get_title() and "No" in fixed.get_title()
    assert "No" in drivers.get_title()


def test_hallucination_figure_needs_a_mitigation_sweep(word, mitigated):
    with pytest.raises(ValueError, match="no mitigation"):
        word.figure(kind="hallucination")
    sweep = mitigated.mitigation
    try:
        mitigated.mitigation = dataclasses.replace(sweep, removed_regions=[99])
        with pytest.raises(ValueError, match="removed_regions"):
            mitigated.figure(kind="hallucination")
    finally:
        mitigated.mitigation = sweep
    record = {k: v for k, v in sweep.to_dict().items() if k != "original"}
    with pytest.raises(ValueError, match="lacks original"):  # a record read from a file
        Mitigation.from_dict(record, mitigated.generation)


def test_a_figure_shows_itself_as_png_without_pyplot(word):
    figure = word.figure()
    assert figure._repr_png_().startswith(b"\x89PNG")
    assert figure.canvas.get_renderer() is not None  # the Agg canvas, no GUI backend
    source = open(figures.__file__).read()
    assert "import matplotlib.pyplot" not in source and "import pyplot" not in source


def test_a_word_level_figure_logs_no_font_fallbacks_and_its_bold_box_keeps_its_place(word, caplog):
    """Issue 23 s2 row 9: 22 findfont lines per word-level figure, and the bold target's box
    (measured in the regular weight) ran into the next word."""
    tokens = [" an", " enormous", " squarely", "-red", " and", " it"]  # a long bold word
    generation = dataclasses.replace(word.generation, tokens=tokens, text="".join(tokens))
    with caplog.at_level("WARNING", logger="matplotlib.font_manager"):
        figure = dataclasses.replace(word, generation=generation).figure(target=1)
        figure.canvas.draw()
    assert [r.getMessage() for r in caplog.records if "findfont" in r.getMessage()] == []
    texts = token_texts(figure)
    assert texts[1].get_fontweight() == "bold"
    boxes = [texts[i].get_bbox_patch().get_window_extent() for i in range(len(texts))]
    rows = [round(texts[i].get_position()[1], 3) for i in range(len(texts))]
    for i in range(len(boxes) - 1):
        if rows[i] == rows[i + 1]:  # neighbours on one line do not overlap
            assert boxes[i].x1 <= boxes[i + 1].x0 + 0.5, (i, boxes[i], boxes[i + 1])
