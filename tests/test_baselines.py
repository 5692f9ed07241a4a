"""Black-box baselines: their region scores on scorers whose answer is known, and the engine's
one way of measuring every method's ranking."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import VisibilityModel, additive, block_image, interacting
from test_engine_explainer import BLOCKS, IMAGE, two_word_model

import eagle_widget as ew
from eagle_widget.engine.regions import grid_regions

WEIGHTS = np.array([0.0, 0.5, 0.0, 0.3, 0.0, 0.0, 0.1, 0.0, 0.05])  # 3 x 3 blocks
ORDER_BY_WEIGHT = [1, 3, 6, 8]


def additive_model():
    blocks = grid_regions(24, 24, 9)
    return VisibilityModel(blocks, [additive(WEIGHTS)], base=[0.02], words=[" w"])


@pytest.mark.parametrize("method", ["occlusion", "rise"])
def test_a_baseline_ranks_additive_regions_by_their_weight(method):
    options = {"masks": 2000} if method == "rise" else {}
    result = ew.explain(
        additive_model(),
        block_image(3, 3, cell=8, seed=1),
        n_regions=9,
        method=method,
        method_options=options,
    )
    assert result.order[:4] == ORDER_BY_WEIGHT
    scores = np.array(result.extras["method"]["region_scores"])
    if method == "occlusion":  # leaving a region out drops p by its weight exactly
        np.testing.assert_allclose(scores, WEIGHTS, atol=1e-12)
    else:  # RISE's estimate: the weight plus the mean of the rest, up to sampling noise
        assert np.corrcoef(scores, WEIGHTS)[0, 1] > 0.99


@pytest.mark.parametrize("method", ["occlusion", "rise"])
def test_each_word_gets_its_own_object_from_a_baseline(method):
    model = two_word_model()
    for word, block in (("red", 5), ("square", 10)):
        result = ew.explain(model, IMAGE, targets=word, n_regions=16, method=method)
        assert np.array_equal(result.labels == result.order[0], BLOCKS == block)
        assert result.attribution_map("method")[BLOCKS == block].min() == 1.0


def test_the_engine_measures_a_baselines_ranking_as_it_measures_eagles():
    model = two_word_model()
    eagle = ew.explain(model, IMAGE, targets="red", n_regions=16, search="greedy")
    occlusion = ew.explain(model, IMAGE, targets="red", n_regions=16, method="occlusion")
    # same regions, same curve ends; one additive target: the same best order and curves
    assert np.array_equal(eagle.labels, occlusion.labels)
    np.testing.assert_allclose(occlusion.p_full, eagle.p_full)
    assert occlusion.order[0] == eagle.order[0]
    assert occlusion.insertion_auc == pytest.approx(eagle.insertion_auc, abs=1e-12)
    assert occlusion.deletion_auc == pytest.approx(eagle.deletion_auc, abs=1e-12)
    cost = occlusion.extras["method"]
    assert cost["name"] == "occlusion" and cost["images"] == 16
    # the ranking is the prefixes' insertion and deletion images, the full set cached
    assert cost["ranking_images"] == occlusion.images_scored - 16
    assert cost["ranking_images"] <= 2 * 16 + 2
    assert occlusion.search == "ranked"


def test_occlusion_gives_each_part_of_a_pair_the_whole_drop():
    """Where two regions matter only together, leaving either out loses all of it: occlusion
    scores both with the pair's whole weight (their sum overstates it twice), and both it and
    EAGLE place the pair first."""
    blocks = grid_regions(24, 24, 9)
    model = VisibilityModel(blocks, [interacting(2, 7, 0.9)], base=[0.05], words=[" w"])
    image = block_image(3, 3, cell=8, seed=2)
    occlusion = ew.explain(model, image, n_regions=9, method="occlusion")
    scores = np.array(occlusion.extras["method"]["region_scores"])
    assert scores[2] == pytest.approx(0.9) and scores[7] == pytest.approx(0.9)
    assert set(occlusion.order[:2]) == {2, 7}
    eagle = ew.explain(model, image, n_regions=9, search="greedy")
    assert set(eagle.order[:2]) == {2, 7}


def test_rise_is_seeded_and_batched():
    model = two_word_model()
    a = ew.explain(model, IMAGE, targets="red", n_regions=16, method="rise")
    calls = list(model.calls)
    b = ew.explain(model, IMAGE, targets="red", n_regions=16, method="rise")
    c = ew.explain(
        model, IMAGE, targets="red", n_regions=16, method="rise", method_options={"seed": 1}
    )
    assert a.extras["method"]["region_scores"] == b.extras["method"]["region_scores"]
    assert a.extras["method"]["region_scores"] != c.extras["method"]["region_scores"]
    assert a.extras["method"]["images"] == 256
    assert max(calls) > 1 and len(calls) < 256  # many masked images per model call


def test_a_baselines_result_saves_and_loads_with_its_map(tmp_path):
    result = ew.explain(two_word_model(), IMAGE, targets="red", n_regions=16, method="rise")
    loaded = ew.Explanation.load(result.save(tmp_path / "rise.npz"))
    assert loaded.extras["method"] == result.extras["method"]
    assert np.array_equal(loaded.attribution_map("method"), result.attribution_map("method"))


def test_an_eagle_result_has_no_method_map():
    result = ew.explain(two_word_model(), IMAGE, targets="red", n_regions=16)
    with pytest.raises(ValueError, match="map of a baseline"):
        result.attribution_map("method")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"method": "gradcam"}, "method must be one of eagle, occlusion, rise"),
        ({"method": "occlusion", "method_options": {"masks": 3}}, "has no option"),
        ({"method": "rise", "method_options": {"density": 1.5}}, r"density must be in \(0, 1\)"),
        ({"method": "rise", "method_options": {"masks": 0}}, "masks must be a positive int"),
    ],
)
def test_bad_methods_are_refused_before_any_model_call(kwargs, message):
    model = two_word_model()
    with pytest.raises(ValueError, match=message):
        ew.Explainer(model, n_regions=16, **kwargs)
    assert model.calls == []


@pytest.mark.parametrize("method", ["eagle", "rise"])
def test_on_the_demo_model_a_colour_word_points_at_its_object(method):
    model = ew.load_demo_model()
    scene = ew.scenes.make_scene(seed=4, objects=[("red", "circle"), ("blue", "square")])
    for word, obj in (("red", scene.objects[0]), ("blue", scene.objects[1])):
        result = ew.explain(model, scene.image, targets=word, n_regions=24, method=method)
        top = result.labels == result.order[0]
        assert obj.mask[top].mean() > 0.5, (word, obj.mask[top].mean())


def test_occlusion_is_blind_where_one_region_alone_changes_nothing():
    """The demo model still says "blue" with any one region of the square gone (p stays near 1):
    every leave-one-out drop is tiny and occlusion's top region misses the square, while the
    circle's "red" rests on fewer regions and is found."""
    model = ew.load_demo_model()
    scene = ew.scenes.make_scene(seed=4, objects=[("red", "circle"), ("blue", "square")])
    red = ew.explain(model, scene.image, targets="red", n_regions=24, method="occlusion")
    blue = ew.explain(model, scene.image, targets="blue", n_regions=24, method="occlusion")
    assert scene.objects[0].mask[red.labels == red.order[0]].mean() > 0.5
    assert max(blue.extras["method"]["region_scores"]) < 0.01
    assert scene.objects[1].mask[blue.labels == blue.order[0]].mean() < 0.5


def test_the_command_line_explains_with_a_baseline(tmp_path, capsys):
    from PIL import Image
    from test_cli import IMAGE as CLI_IMAGE
    from test_cli import load as cli_load
    from test_cli import run

    image = tmp_path / "scene.png"
    Image.fromarray(CLI_IMAGE).save(image)
    out = tmp_path / "out"
    code, stdout, err = run(
        ["explain", image, "--out", out, "--regions", "16", "--method", "occlusion"],
        capsys,
        loader=cli_load,
    )
    assert code == 0, err
    saved = ew.Explanation.load(out / "result.npz")
    assert saved.extras["method"]["name"] == "occlusion" and saved.extras["method"]["images"] == 16
    assert (
        "16 regions (superpixels), occlusion: 16 images, then at most 34 to measure its ranking"
        in err
    )
    assert "16 regions, occlusion | insertion AUC" in stdout
