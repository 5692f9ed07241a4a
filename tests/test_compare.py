"""Several methods on one image (ew.compare): one generation, one label map, every method's
result as it would be alone; the figure, the widget's state and the offline page of it."""

from __future__ import annotations

import io

import numpy as np
import pytest
from offline_page import OfflinePage
from PIL import Image
from synthetic import VisibilityModel, block_image
from test_baselines import ORDER_BY_WEIGHT, additive_model
from widget_models import caption_model, scene

import eagle_widget as ew
from eagle_widget.engine.explainer import Explainer
from eagle_widget.snapshot import figure_png
from eagle_widget.wire import comparison_state, explanation_state, result_state

IMAGE = block_image(3, 3, cell=8, seed=1)
METHODS = ("eagle", "occlusion", "rise")
RISE = {"masks": 2000}


class CountingModel(VisibilityModel):
    """The additive scorer, counting its generate calls."""

    def __init__(self, base: VisibilityModel):
        super().__init__(base.object_map, base.effects, base.base, base.words)
        self.generated = 0

    def generate(self, image, prompt, max_new_tokens=64):
        self.generated += 1
        return super().generate(image, prompt, max_new_tokens)


@pytest.fixture(scope="module")
def counted():
    model = CountingModel(additive_model())
    comparison = ew.compare(
        model, IMAGE, methods=METHODS, n_regions=9, method_options={"rise": RISE}
    )
    return model, comparison


def test_every_method_ranks_the_same_regions_of_one_generation(counted):
    model, comparison = counted
    assert model.generated == 1  # one answer, reused by every method
    assert comparison.methods == list(METHODS)
    first = comparison["eagle"]
    for name, result in comparison:
        assert np.array_equal(result.labels, first.labels)
        assert result.generation.token_ids == first.generation.token_ids
        assert result.positions == first.positions and result.target_ids == first.target_ids
        # the region worth 0.5 of the target's probability comes first with every method
        assert result.order[:4] == ORDER_BY_WEIGHT, name
    assert "method" not in first.extras
    assert comparison["rise"].extras["method"]["options"]["masks"] == RISE["masks"]
    # occlusion's own score of a region is the probability it carries, exactly
    np.testing.assert_allclose(
        comparison["occlusion"].extras["method"]["region_scores"],
        [0.0, 0.5, 0.0, 0.3, 0.0, 0.0, 0.1, 0.0, 0.05],
        atol=1e-12,
    )


def test_the_regions_are_made_once(monkeypatch):
    made = []
    region_maps = Explainer.region_maps

    def counting(self, working, shape):
        made.append(self.method)
        return region_maps(self, working, shape)

    monkeypatch.setattr(Explainer, "region_maps", counting)
    ew.compare(additive_model(), IMAGE, methods=("occlusion", "eagle"), n_regions=9)
    assert made == ["occlusion"]


def test_each_result_is_what_the_method_gives_alone(counted):
    _, comparison = counted
    for method in METHODS:
        options = RISE if method == "rise" else None
        alone = ew.explain(
            additive_model(), IMAGE, n_regions=9, method=method, method_options=options
        )
        shared = comparison[method]
        assert shared.order == alone.order
        assert shared.insertion_auc == pytest.approx(alone.insertion_auc, abs=1e-12)
        assert shared.deletion_auc == pytest.approx(alone.deletion_auc, abs=1e-12)
        assert shared.images_scored == alone.images_scored


def test_the_table_holds_each_methods_aucs_and_cost(counted):
    _, comparison = counted
    lines = comparison.table().splitlines()
    assert len(lines) == 2 + len(METHODS)
    for line, (name, result) in zip(lines[2:], comparison):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[:4] == [
            name, f"{result.insertion_auc:.4f}", f"{result.deletion_auc:.4f}",
            str(result.images_scored),
        ]  # fmt: skip
    rows = {row["method"]: row for row in comparison.rows()}
    assert rows["occlusion"]["method_images"] == 9  # one image per region left out
    assert rows["eagle"]["method_images"] == comparison["eagle"].images_scored


def test_bad_requests_fail_before_the_model_runs():
    model = CountingModel(additive_model())
    with pytest.raises(ValueError, match="method must be one of"):
        ew.compare(model, IMAGE, methods=("eagle", "nope"), n_regions=9)
    with pytest.raises(ValueError, match="not compared"):
        ew.compare(model, IMAGE, methods=("eagle",), method_options={"rise": RISE})
    with pytest.raises(ValueError, match="give methods="):
        ew.compare(model, IMAGE, method="rise")
    with pytest.raises(ValueError, match="tam"):  # the scorer gives no image tokens
        ew.compare(model, IMAGE, methods=("eagle", "tam"), n_regions=9)
    assert model.generated == 0


def test_a_comparison_refuses_results_of_other_targets(counted):
    _, comparison = counted
    other = ew.explain(
        additive_model(),
        block_image(3, 3, cell=8, seed=2),
        n_regions=9,
        method="rise",
        method_options=RISE,
    )
    assert ew.Comparison({"eagle": comparison["eagle"], "rise": comparison["rise"]})
    with pytest.raises(ValueError, match="differ in their image"):
        ew.Comparison({"eagle": comparison["eagle"], "occlusion": comparison["occlusion"],
                       "rise": other})  # fmt: skip
    with pytest.raises(ValueError, match="result of method 'eagle'"):
        ew.Comparison({"rise": comparison["eagle"]})


def test_the_figure_has_a_row_per_method_on_one_colour_scale(counted):
    _, comparison = counted
    figure = comparison.figure()
    gids = {a.get_gid() for a in figure.findobj() if a.get_gid()}
    for name, result in comparison:
        assert {f"map-{name}", f"curves-{name}", f"attribution-{name}", f"head-{name}"} <= gids
        head = next(a for a in figure.findobj() if a.get_gid() == f"head-{name}").get_text()
        assert head.startswith(f"{name}: insertion AUC {result.insertion_auc:.3f}")
        overlay = next(a for a in figure.findobj() if a.get_gid() == f"attribution-{name}")
        assert overlay.get_clim() == (0, 1)
        np.testing.assert_array_equal(overlay.get_array(), result.attribution_map("rank"))
    assert sum(g == "map-colorbar" for g in gids) == 1
    # the map rows stack top to bottom in the order asked
    tops = [
        next(a for a in figure.axes if a.get_gid() == f"map-{n}").get_position().y1
        for n in comparison.methods
    ]
    assert tops == sorted(tops, reverse=True)


# -- the widget's state, the widget and the offline page --------------------------------------
CELL = 16
SCENE = scene(cell=CELL)


@pytest.fixture(scope="module")
def shown():
    """EAGLE and a RISE of few masks, which ranks the caption's regions worse: the two
    methods' top regions differ."""
    return ew.compare(
        caption_model(cell=CELL), SCENE, methods=("eagle", "rise"), n_regions=16,
        search="greedy", method_options={"rise": {"masks": 6}},
    )  # fmt: skip


def test_the_wire_state_carries_every_methods_result(shown):
    state = comparison_state(shown)
    assert set(state) == set(explanation_state(shown["eagle"]))
    assert explanation_state(shown["eagle"])["methods"] == {}
    methods = state["methods"]
    assert methods["names"] == ["eagle", "rise"] and methods["active"] == "eagle"
    for name, result in shown:
        entry = methods["states"][name]
        assert entry["result"] == result_state(result, 0)
        assert entry["run"]["targets"] == list(result.positions)
        order = np.frombuffer(entry["result"]["order"], dtype="<i4").tolist()
        assert order == result.order
    assert shown["eagle"].order[:4] != shown["rise"].order[:4]
    assert state["result"] == methods["states"]["eagle"]["result"]  # the first is shown first


def test_show_gives_a_widget_of_the_comparison(shown, tmp_path):
    widget = shown.show()
    try:
        assert widget.comparison is shown and widget.explanation is shown["eagle"]
        assert widget.methods == comparison_state(shown)["methods"]
        assert not widget.has_model
        # where no live view renders, the output's picture is the comparison's figure
        picture = Image.open(io.BytesIO(widget._snapshot_png()))
        assert picture.size == Image.open(io.BytesIO(figure_png(shown))).size
        assert picture.height > Image.open(io.BytesIO(figure_png(shown["eagle"]))).height
        path = widget.to_html(tmp_path / "widget.html")
        assert '"names":["eagle","rise"]' in path.read_text(encoding="utf-8")
    finally:
        widget.close()
    with pytest.raises(TypeError, match="expected a Comparison"):
        ew.EagleWidget.from_comparison(shown["eagle"])


def _auc_text(page) -> str:
    return page.page.locator("[data-role=auc]").inner_text()


@pytest.mark.browser
def test_the_page_switches_methods_and_shows_each_ones_map_and_aucs(browser, shown, tmp_path):
    alone = {}
    for name, result in shown:  # each method's own page: what its button must show
        page = OfflinePage(browser, result.to_html(tmp_path / f"{name}.html"))
        try:
            alone[name] = page.canvas()
        finally:
            page.close()
    assert np.abs(alone["eagle"] - alone["rise"]).sum() > 100  # their top regions differ
    page = OfflinePage(browser, shown.to_html(tmp_path / "comparison.html"))
    try:
        buttons = page.page.locator("[data-role=methods] button")
        assert buttons.all_inner_texts() == ["eagle", "rise"]
        pressed = "[data-role=methods] [data-method={}][aria-pressed=true]"
        assert page.page.locator(pressed.format("eagle")).count() == 1
        np.testing.assert_allclose(page.canvas(), alone["eagle"], atol=2)
        assert f"insertion AUC {shown['eagle'].insertion_auc:.3f}" in _auc_text(page)
        page.page.click("[data-role=methods] [data-method=rise]")
        page.page.wait_for_selector(pressed.format("rise"))
        page.page.wait_for_timeout(150)  # one animation frame at least
        np.testing.assert_allclose(page.canvas(), alone["rise"], atol=2)
        assert f"insertion AUC {shown['rise'].insertion_auc:.3f}" in _auc_text(page)
        assert f"deletion AUC {shown['rise'].deletion_auc:.3f}" in _auc_text(page)
        # a word clicked while rise is shown: rise's own curves of that word
        page.click_word(1)
        auc = float(page.page.locator("[data-role=curves]").get_attribute("data-insertion-auc"))
        col = shown["rise"].positions.index(1)
        assert auc == pytest.approx(shown["rise"].insertion_auc_per_target[col], abs=1e-3)
        page.page.click("[data-role=methods] [data-method=eagle]")
        page.page.wait_for_selector(pressed.format("eagle"))
        page.page.wait_for_timeout(150)
        auc = float(page.page.locator("[data-role=curves]").get_attribute("data-insertion-auc"))
        assert auc == pytest.approx(shown["eagle"].insertion_auc_per_target[col], abs=1e-3)
        page.page.screenshot(path=str(tmp_path / "comparison.png"), full_page=True)
        assert page.errors == []
    finally:
        page.close()
