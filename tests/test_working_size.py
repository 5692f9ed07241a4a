"""A large photo is explained at a working size (what the model would shrink it to anyway) and
its maps, figures and results come back at the photo's own size."""

import numpy as np
import pytest
from synthetic import VisibilityModel, additive, block_image

import eagle_widget as ew
from eagle_widget.engine.explainer import DEFAULT_WORKING_SIDE
from eagle_widget.engine.images import resize

ROWS, COLS = 4, 4
RED, SQUARE = 5, 10


class ScaleFreeModel(VisibilityModel):
    """A VisibilityModel that sees its objects at any image size (as a real model, whose
    processor resizes), declares an input size, and records the sizes it was given."""

    def __init__(self, input_size=None):
        w_red, w_square = np.zeros(ROWS * COLS), np.zeros(ROWS * COLS)
        w_red[RED], w_square[SQUARE] = 0.8, 0.7
        grid = np.arange(ROWS * COLS).reshape(ROWS, COLS)
        super().__init__(grid, [additive(w_red), additive(w_square)], base=[0.1, 0.05])
        if input_size is not None:
            self.input_size = input_size
        self.sizes: set[tuple[int, int]] = set()

    def generate(self, image, prompt, max_new_tokens=64):
        self.sizes.add(np.asarray(image).shape[:2])
        return super().generate(image, prompt, max_new_tokens)

    def visible(self, image):
        image = np.asarray(image)
        self.sizes.add(image.shape[:2])
        height, width = image.shape[:2]
        rows = np.arange(height) * ROWS // height
        cols = np.arange(width) * COLS // width
        objects = self.object_map[rows][:, cols]
        shown = image.any(axis=2)
        counts = np.bincount(objects.ravel(), weights=shown.ravel(), minlength=self.n_objects)
        return counts / np.bincount(objects.ravel(), minlength=self.n_objects)


PHOTO = block_image(ROWS, COLS, cell=96, seed=5)  # 384 x 384


def test_a_photo_is_explained_at_the_models_input_size_and_mapped_back_to_its_own_size():
    model = ScaleFreeModel(input_size=48)
    result = ew.explain(model, PHOTO, n_regions=16, search="greedy")
    assert model.sizes == {(48, 48)}  # every generate and scored image at the working size
    assert result.image.shape == PHOTO.shape and result.labels.shape == PHOTO.shape[:2]
    assert result.attribution_map().shape == PHOTO.shape[:2]
    assert result.generation.image_size == PHOTO.shape[:2]
    assert result.extras["image"] == {"working_size": [48, 48]}
    # ground truth: the red block first; its region covers that block of the photo
    top = result.labels == result.order[0]
    assert top[96:192, 96:192].mean() > 0.9

    explicit = ScaleFreeModel()
    by_hand = ew.explain(explicit, resize(PHOTO, (48, 48)), n_regions=16, search="greedy")
    assert result.order == by_hand.order
    np.testing.assert_allclose(result.insertion_curve, by_hand.insertion_curve)
    assert result.images_scored == by_hand.images_scored


def test_the_working_size_rule_model_size_default_side_override_and_full_size():
    with_size = ew.Explainer(ScaleFreeModel(input_size=448))
    assert with_size.working_shape(3000, 4000) == (448, 597)  # short side: the model's
    assert with_size.working_shape(300, 400) == (300, 400)  # never enlarged
    unknown = ew.Explainer(ScaleFreeModel())
    assert unknown.working_shape(3000, 4000) == (768, DEFAULT_WORKING_SIDE)
    assert ew.Explainer(ScaleFreeModel(), working_size=500).working_shape(3000, 4000) == (375, 500)
    assert ew.Explainer(ScaleFreeModel(), working_size=None).working_shape(3000, 4000) == (
        3000,
        4000,
    )
    small = ScaleFreeModel(input_size=16)
    small.min_image_size = 32
    assert ew.Explainer(small).working_shape(300, 600) == (32, 64)  # not below the minimum
    with pytest.raises(ValueError, match="working_size"):
        ew.Explainer(ScaleFreeModel(), working_size=0)


def test_a_generation_of_the_photo_is_scored_at_the_working_size():
    model = ScaleFreeModel(input_size=48)
    generation = model.generate(PHOTO, "Describe the image.")
    assert generation.image_size == PHOTO.shape[:2]
    explainer = ew.Explainer(model, n_regions=16)
    result = explainer.explain(PHOTO, targets=[0], generation=generation)
    assert model.sizes == {PHOTO.shape[:2], (48, 48)}  # only the given generation was full size
    assert result.labels.shape == PHOTO.shape[:2]
    prior, visual = explainer.token_reliance(PHOTO, generation)
    np.testing.assert_allclose(prior, result.p_blank[:1].tolist() + [0.05])
    np.testing.assert_allclose(prior + visual, [result.p_full[0], 0.75])


@pytest.mark.parametrize("given, expected", [("64", [64, 64]), ("full", [384, 384])])
def test_the_command_line_takes_a_working_size(given, expected, tmp_path, capsys):
    import json

    from PIL import Image

    from eagle_widget import cli

    path = tmp_path / "photo.png"
    Image.fromarray(PHOTO).save(path)
    argv = [
        "explain",
        str(path),
        "--regions",
        "16",
        "--working-size",
        given,
        "--out",
        str(tmp_path),
    ]
    assert cli.main(argv, load=lambda *_: ScaleFreeModel(input_size=48)) == 0
    data = json.loads((tmp_path / "result.json").read_text())
    assert data["extras"]["image"]["working_size"] == expected
    assert data["image_size"] == [384, 384]
    assert cli.main([*argv[:-2], "--working-size", "0", "--out", str(tmp_path)]) == 2
    assert "working-size" in capsys.readouterr().err


def test_a_label_map_scaled_up_and_back_down_is_the_same_map():
    from eagle_widget.engine.regions import downscale_labels, superpixels, upscale_labels

    small = superpixels(block_image(4, 5, cell=9, seed=1), 20)  # 36 x 45
    for shape in ((36, 45), (100, 45), (37, 301), (384, 500)):
        assert np.array_equal(downscale_labels(upscale_labels(small, *shape), 36, 45), small)


def test_mitigation_cuts_and_regenerates_at_the_working_size_of_the_explanation():
    from test_hallucination import IMAGE, PriorModel

    class ScaleFreePrior(PriorModel):
        input_size = 32
        sizes: set = set()

        def p_yes(self, image):
            image = np.asarray(image)
            self.sizes.add(image.shape[:2])
            height, width = image.shape[:2]
            small = image[np.arange(32) * height // 32][:, np.arange(32) * width // 32]
            return super().p_yes(small)

    photo = IMAGE.repeat(8, 0).repeat(8, 1)  # 256 x 256
    model = ScaleFreePrior()
    diagnosis = ew.diagnose(model, photo, "Is there a cat?", correct="no", n_regions=16)
    outcome = ew.mitigate(model, photo, "Is there a cat?", diagnosis.explanation)
    assert outcome.corrected and outcome.answer.text == "no"
    by_hand = ew.diagnose(PriorModel(), IMAGE, "Is there a cat?", correct="no", n_regions=16)
    expected = ew.mitigate(PriorModel(), IMAGE, "Is there a cat?", by_hand.explanation)
    assert outcome.removed_regions == expected.removed_regions
    assert outcome.removed_area == pytest.approx(expected.removed_area)
    assert outcome.original.image_size == (256, 256)
    model.sizes.clear()
    ew.mitigate(model, photo, "Is there a cat?", diagnosis.explanation)
    assert model.sizes == {(32, 32)}
