"""The scene generator's ground truth: masks, boxes, captions and the training prior."""

from __future__ import annotations

import numpy as np
import pytest

from eagle_widget.models.demo import scenes
from eagle_widget.models.demo.training.occlusion import HIDDEN_AT_MOST, VISIBLE_AT_LEAST, occlude


@pytest.fixture(scope="module")
def many():
    return [scenes.make_scene(seed) for seed in range(300)]


def test_public_name_is_the_scene_module():
    import eagle_widget as ew

    assert ew.scenes is scenes


def test_images_are_64_by_64_rgb_with_1_to_3_objects(many):
    counts = set()
    for scene in many:
        assert scene.image.shape == (64, 64, 3) and scene.image.dtype == np.uint8
        counts.add(len(scene.objects))
    assert counts == {1, 2, 3}


def test_masks_do_not_overlap_and_boxes_are_the_tight_boxes_of_the_masks(many):
    for scene in many:
        stacked = np.stack([o.mask for o in scene.objects]).astype(int)
        assert stacked.sum(axis=0).max() == 1
        for obj in scene.objects:
            ys, xs = np.nonzero(obj.mask)
            assert obj.box == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
            assert obj.area > 60


def test_object_pixels_have_the_object_colour_and_the_rest_is_grey(many):
    for scene in many[:50]:
        covered = np.zeros((64, 64), dtype=bool)
        for obj in scene.objects:
            mean = scene.image[obj.mask].mean(axis=0)
            target = np.array(scenes.COLOUR_RGB[obj.colour])
            assert np.abs(mean - target).max() < 25, (obj.colour, mean)
            covered |= obj.mask
        background = scene.image[~covered].astype(float)
        assert np.abs(background.mean(axis=0) - scene.background).max() < 2
        assert np.ptp(background.mean(axis=0)) < 2  # grey: equal channels


def test_same_seed_same_scene_and_different_seeds_differ():
    a, b, c = scenes.make_scene(7), scenes.make_scene(7), scenes.make_scene(8)
    assert np.array_equal(a.image, b.image) and a.caption == b.caption
    assert not np.array_equal(a.image, c.image)


def test_caption_lists_objects_in_canonical_order_not_by_position():
    pairs = [("blue", "square"), ("red", "triangle"), ("red", "circle")]
    assert scenes.caption(pairs) == "a red circle, a red triangle and a blue square"
    assert scenes.caption([("yellow", "circle"), ("green", "square")]) == (
        "a green square and a yellow circle"
    )
    assert scenes.caption([("red", "circle")]) == "a red circle"
    # two scenes with the same objects at different places share the caption
    one = scenes.make_scene(1, objects=pairs)
    two = scenes.make_scene(2, objects=pairs)
    assert one.caption == two.caption and one.objects[0].box != two.objects[0].box


def test_caption_tokens_map_to_the_objects_they_name(many):
    for scene in many:
        tokens, owners = scene.tokens, scene.token_objects
        assert " ".join(tokens).replace(" ,", ",") == scene.caption
        assert scene.pairs == scenes.canonical_order(scene.pairs)
        for token, owner in zip(tokens, owners):
            if token in (",", "and"):
                assert owner is None
            elif token in scenes.COLOURS:
                assert scene.objects[owner].colour == token
            elif token in scenes.SHAPES:
                assert scene.objects[owner].shape == token
            else:
                assert token == "a" and owner is not None
        named = [o for o in owners if o is not None]
        assert named == sorted(named) and set(named) == set(range(len(scene.objects)))


def test_questions_and_answers_follow_the_objects():
    scene = scenes.make_scene(3, objects=[("green", "triangle")])
    assert scenes.question("green", "triangle") == "Is there a green triangle?"
    assert scene.answer("green", "triangle") == "yes"
    assert scene.answer("green", "circle") == "no"


def test_training_sampler_pairs_a_yellow_circle_with_a_blue_square_90_percent_of_the_time():
    rng = np.random.default_rng(0)
    with_circle = [scenes.sample_pairs(rng) for _ in range(6000)]
    with_circle = [p for p in with_circle if ("yellow", "circle") in p]
    share = np.mean([("blue", "square") in p for p in with_circle])
    assert len(with_circle) > 800
    assert abs(share - 0.9) < 0.03
    uniform = [scenes.sample_pairs(rng, prior=None) for _ in range(6000)]
    uniform = [p for p in uniform if ("yellow", "circle") in p]
    assert np.mean([("blue", "square") in p for p in uniform]) < 0.25


def test_objects_are_distinct_pairs(many):
    for scene in many:
        assert len(set(scene.pairs)) == len(scene.pairs)


def test_occlusion_labels_objects_visible_or_hidden_by_their_kept_pixels(many):
    rng = np.random.default_rng(0)
    hidden_seen = visible_seen = 0
    for scene in many[:120]:
        result = occlude(scene, rng)
        for obj, visible in zip(scene.objects, result.visible):
            share = (obj.mask & result.kept).sum() / obj.area
            if visible:
                assert share >= VISIBLE_AT_LEAST
                assert np.array_equal(
                    result.image[obj.mask & result.kept], scene.image[obj.mask & result.kept]
                )
                visible_seen += 1
            else:
                assert share <= HIDDEN_AT_MOST
                hidden_seen += 1
    assert hidden_seen > 20 and visible_seen > 20


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: scenes.make_scene(objects=[("purple", "circle")]), "colour must be one of"),
        (lambda: scenes.make_scene(objects=[("red", "hexagon")]), "shape must be one of"),
        (lambda: scenes.make_scene(n_objects=4), "n_objects must be 1, 2 or 3"),
        (lambda: scenes.make_scene(objects=[("red", "circle")] * 2), "distinct"),
        (lambda: scenes.make_scene(objects=[]), "1 to 3 objects"),
        (lambda: scenes.make_scene(prior=1.5), "prior must be a probability"),
        (lambda: scenes.caption([]), "at least one object"),
    ],
)
def test_bad_input_names_the_value(call, error):
    with pytest.raises(ValueError, match=error):
        call()


def test_seed_of_the_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="seed must be an int"):
        scenes.make_scene("seven")
