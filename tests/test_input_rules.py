"""What a new user gives: phone photos, folders, blank prompts, absurd region counts, words
the tokenizer does not know, images too small for the model. One rule each, before model work."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from synthetic import VisibilityModel, additive, block_image
from test_hallucination import IMAGE as YES_IMAGE
from test_hallucination import PriorModel
from widget_models import caption_model

import eagle_widget as ew
from eagle_widget import cli
from eagle_widget.engine import DEFAULT_PROMPT, to_rgb_array
from eagle_widget.engine.explainer import MAX_REGIONS, CostWarning
from eagle_widget.engine.search import estimated_images

BLOCKS = np.repeat(np.repeat(np.arange(24).reshape(4, 6), 8, 0), 8, 1)  # 32 x 48
UPRIGHT = block_image(4, 6, cell=8, seed=2)


def block_model(object_map=BLOCKS, **kwargs):
    """' red' rests on block 3, ' square' on block 10 of `object_map`."""
    n = int(object_map.max()) + 1
    red, square = np.zeros(n), np.zeros(n)
    red[3], square[min(10, n - 1)] = 0.8, 0.7
    return VisibilityModel(
        object_map,
        [lambda v: 0.0, additive(red), additive(square)],
        base=[0.9, 0.1, 0.05],
        words=["a", " red", " square"],
        **kwargs,
    )


def never_load(spec, device, dtype):
    raise AssertionError("the model must not load for input that can be refused before")


@pytest.fixture(scope="module")
def demo():
    return ew.load_demo_model()


# -- row 1: EXIF orientation ------------------------------------------------------------------
def phone_photo(path: Path, orientation: int = 6) -> Path:
    """A JPEG whose stored pixels are turned 90 degrees counter-clockwise, tagged 6 (turn them
    clockwise to show them), as phones store portrait photos."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(np.rot90(UPRIGHT, k=1)).save(path, quality=98, subsampling=0, exif=exif)
    return path


def test_a_phone_photo_is_explained_upright_and_the_result_says_the_orientation_was_applied(
    tmp_path,
):
    path = phone_photo(tmp_path / "portrait.jpg")
    with Image.open(path) as stored:
        assert stored.size == (32, 48)  # width x height as stored: sideways
        assert to_rgb_array(stored).shape == (32, 48, 3)  # a PIL image is turned too
    array = to_rgb_array(path)
    assert array.shape == UPRIGHT.shape
    assert np.abs(array.astype(int) - UPRIGHT).mean() < 3  # only JPEG's loss
    result = ew.explain(block_model(), path, targets="red", n_regions=24)  # the model's map
    assert result.image.shape == UPRIGHT.shape  # is upright, so a sideways image fails it
    assert result.extras["image"]["exif_orientation"] == 6
    assert BLOCKS[result.labels == result.order[0]].tolist().count(3) > 0.9 * 64
    plain = tmp_path / "upright.png"
    Image.fromarray(UPRIGHT).save(plain)
    assert "exif_orientation" not in ew.explain(block_model(), plain, n_regions=24).extras["image"]
    model = block_model()
    widget = ew.EagleWidget(model, path, explainer=ew.Explainer(model, n_regions=24))
    try:
        widget.explain("red")
        assert widget.wait(60) and widget.status == "done", widget.error
        assert widget.explanation.extras["image"]["exif_orientation"] == 6
    finally:
        widget.close()


def test_the_cli_result_files_record_the_exif_orientation_as_the_api_does(tmp_path, capsys):
    """Issue 23 s2 row 5: `explain IMAGE` and `explain --batch` kept no exif_orientation."""
    path = phone_photo(tmp_path / "portrait.jpg")

    def load(spec, device, dtype):
        return block_model()

    fast = ["--regions", "24", "--targets", "red"]
    assert cli.main(["explain", str(path), "--out", str(tmp_path / "one"), *fast], load=load) == 0
    (tmp_path / "m.jsonl").write_text('{"image": "portrait.jpg", "id": "p"}\n')
    argv = ["explain", "--batch", str(tmp_path / "m.jsonl"), "--out", str(tmp_path / "many")]
    assert cli.main([*argv, *fast], load=load) == 0, capsys.readouterr().err
    for folder in (tmp_path / "one", tmp_path / "many" / "p"):
        data = json.loads((folder / "result.json").read_text())
        assert data["extras"]["image"]["exif_orientation"] == 6, folder
        assert ew.Explanation.load(folder / "result.npz").extras["image"]["exif_orientation"] == 6


# -- row 8: a folder given as the image ---------------------------------------------------------
def test_a_folder_given_as_the_image_is_called_a_folder_in_api_cli_and_widget(tmp_path, capsys):
    with pytest.raises(ValueError, match="is a folder, not an image file"):
        ew.explain(block_model(), tmp_path)
    # the command line reads a folder as a clip's frames (issue 24) before any model loads:
    # an empty one is named a folder, and refused as a usage error
    code = cli.main(["explain", str(tmp_path), "--out", str(tmp_path / "out")], load=never_load)
    err = capsys.readouterr().err
    assert code == 2 and "the folder" in err and "holds no image files" in err, err
    assert "not found" not in err
    with pytest.raises(ValueError, match="is a folder, not an image file"):
        ew.EagleWidget(caption_model(), tmp_path)


# -- row 9: one rule for prompts ------------------------------------------------------------------
@pytest.mark.parametrize("blank", ["", "   ", "\n"])
def test_a_blank_prompt_is_an_error_everywhere_and_none_means_the_default(blank, tmp_path, capsys):
    model = block_model()
    with pytest.raises(ValueError, match="prompt must be a non-empty string"):
        ew.explain(model, UPRIGHT, blank)
    with pytest.raises(ValueError, match="prompt must be a non-empty string"):
        ew.EagleWidget(caption_model(), UPRIGHT, prompt=blank)
    with pytest.raises(ValueError, match="prompt must be a non-empty string"):
        ew.diagnose(PriorModel(), YES_IMAGE, blank, correct="no")
    image = tmp_path / "x.png"
    Image.fromarray(UPRIGHT).save(image)
    argv = ["explain", str(image), "--prompt", blank, "--out", str(tmp_path / "out")]
    assert cli.main(argv, load=never_load) == 2  # refused before the model loads
    assert "--prompt: prompt must be a non-empty string" in capsys.readouterr().err
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(f'{{"image": "x.png", "prompt": "{blank.strip()}"}}\n')
    assert "prompt must be a non-empty string" in cli.read_manifest(manifest)[0]["error"]


def test_no_prompt_means_the_default_prompt(tmp_path):
    assert ew.explain(block_model(), UPRIGHT, n_regions=4).generation.prompt == DEFAULT_PROMPT
    widget = ew.EagleWidget(caption_model(), block_image(4, 4, cell=12, seed=3), prompt=None)
    try:
        assert widget.prompt == DEFAULT_PROMPT
    finally:
        widget.close()


# -- row 10: the correct answer of a diagnosis -----------------------------------------------------
def test_a_correct_word_the_tokenizer_does_not_know_is_a_clear_error(demo):
    scene = ew.scenes.make_scene(seed=1, objects=[("red", "circle"), ("blue", "square")])
    with pytest.raises(ValueError, match="does not know 'maybe'.*unknown token"):
        ew.diagnose(demo, scene.image, "Is there a blue square?", correct="maybe")
    assert demo.encode("No") == demo.encode("no")  # known words still encode


def test_a_correct_answer_equal_to_the_given_answer_says_so():
    model = PriorModel()
    assert model.generate(YES_IMAGE, "Is there a cat?").text == "yes"
    with pytest.raises(ValueError, match="already starts with the correct token 'yes'"):
        ew.diagnose(model, YES_IMAGE, "Is there a cat?", correct="yes", n_regions=4)
    assert ew.diagnose(model, YES_IMAGE, "Is there a cat?", correct="no", n_regions=4).explanation


# -- row 12: images smaller than the model can use -------------------------------------------------
def test_an_image_below_the_models_minimum_size_is_refused_before_any_model_call(demo):
    model = block_model()
    model.min_image_size = 40  # the protocol's optional attribute
    with pytest.raises(ValueError, match=r"32 x 48 pixels.*needs at least 40 x 40"):
        ew.explain(model, UPRIGHT)
    assert model.calls == []
    tiny = np.full((1, 1, 3), 200, np.uint8)
    assert demo.min_image_size == 8
    with pytest.raises(ValueError, match="needs at least 8 x 8"):
        ew.explain(demo, tiny)
    with pytest.raises(ValueError, match="needs at least 8 x 8"):
        demo.generate(tiny, "Describe the image.")
    with pytest.raises(ValueError, match="needs at least 8 x 8"):
        ew.EagleWidget(demo, tiny)


@pytest.mark.parametrize(
    "builder, least, side",
    [("build_qwen2_vl", 28, None), ("build_llava", 14, 56), ("build_idefics3", 8, None)],
)
def test_each_adapter_family_knows_its_minimum_and_input_size(builder, least, side):
    import tiny_models

    model, processor = getattr(tiny_models, builder)()
    adapter = ew.HFModel(model, processor)
    assert (adapter.min_image_size, adapter.input_size) == (least, side)
    small = np.full((least - 1, 64, 3), 90, np.uint8)
    with pytest.raises(ValueError, match=f"needs at least {least} x {least}"):
        adapter.generate(small, "Describe the image.")


# -- row 7: absurd region counts ----------------------------------------------------------------
def test_too_many_regions_is_refused_with_the_cost_before_anything_runs(tmp_path, capsys):
    with pytest.raises(ValueError, match=rf"more than {MAX_REGIONS}.*about [\d,]+ images"):
        ew.Explainer(block_model(), n_regions=10_000)
    assert ew.Explainer(block_model(), n_regions=MAX_REGIONS).n_regions == MAX_REGIONS
    image = tmp_path / "x.png"
    Image.fromarray(UPRIGHT).save(image)
    argv = ["explain", str(image), "--regions", "10000", "--out", str(tmp_path / "out")]
    assert cli.main(argv, load=never_load) == 2
    assert "images" in capsys.readouterr().err


def test_a_search_that_needs_very_many_images_warns_with_the_figure_before_it_starts():
    image = block_image(12, 12, cell=10, seed=4)  # 144 flat blocks
    model = block_model(np.repeat(np.repeat(np.arange(144).reshape(12, 12), 10, 0), 10, 1))
    with pytest.warns(CostWarning, match=r"score about [\d,]+ images"):
        run = ew.Explainer(model, n_regions=144, search="greedy").start(image)
    assert run.n_regions > 100 and model.calls == []  # nothing scored yet
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", CostWarning)
        ew.Explainer(model, n_regions=144, search="lazy").start(image)  # affordable: silent


@pytest.mark.parametrize("search", ["greedy", "efficient", "lazy"])
def test_the_cost_estimate_is_near_what_a_search_scores(search):
    result = ew.explain(block_model(), UPRIGHT, n_regions=24, search=search, early_stop=False)
    estimate = estimated_images(search, result.n_regions)
    assert abs(estimate - result.images_scored) <= 0.1 * result.images_scored
    stopped = ew.explain(block_model(), UPRIGHT, n_regions=24, search=search, early_stop=True)
    assert stopped.images_scored <= result.images_scored  # an early stop only saves
