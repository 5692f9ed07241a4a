"""Explainer and Explanation: targets, streaming, cancelling, maps, reliance, files."""

import dataclasses
import json
import threading
from pathlib import Path

import numpy as np
import pytest
from synthetic import VisibilityModel, additive, block_image

import eagle_widget as ew
from eagle_widget.engine import Cancelled, Explanation, Generation, superpixels
from eagle_widget.engine.images import Picture

BLOCKS = np.repeat(np.repeat(np.arange(16).reshape(4, 4), 8, 0), 8, 1)


def two_word_model(**kwargs):
    """' red' rests on block 5, ' square' on block 10; ' a' is a language prior."""
    w_red, w_square = np.zeros(16), np.zeros(16)
    w_red[5], w_square[10] = 0.8, 0.7
    return VisibilityModel(
        BLOCKS,
        [lambda v: 0.0, additive(w_red), additive(w_square)],
        base=[0.9, 0.1, 0.05],
        words=["a", " red", " square"],
        **kwargs,
    )


IMAGE = block_image(4, 4, cell=8, seed=7)


def test_targets_by_index_word_and_all():
    explainer = ew.Explainer(two_word_model(), n_regions=16, search="greedy")
    assert explainer.start(IMAGE).positions == [0, 1, 2]
    assert explainer.start(IMAGE, targets=2).positions == [2]
    assert explainer.start(IMAGE, targets=[1, 2]).positions == [1, 2]
    assert explainer.start(IMAGE, targets="square").positions == [2]
    assert explainer.start(IMAGE, targets="red square").positions == [1, 2]


def test_a_word_target_prefers_whole_words_and_the_exact_case():
    from eagle_widget.engine import Generation
    from eagle_widget.engine.targets import resolve_targets

    words = ["A", " bored", " Red", " red", " hat", "red"]
    gen = Generation("p", list(range(6)), words, "".join(words), (4, 4))
    assert resolve_targets(gen, "red") == [3]  # the word, not the part of " bored"
    assert resolve_targets(gen, "Red") == [2]  # the exact case first
    assert resolve_targets(gen, "RED") == [2]  # then any case, still a whole word
    assert resolve_targets(gen, "ore") == [1]  # a part of a word when no word matches
    assert resolve_targets(gen, "HAT") == [4]


@pytest.mark.parametrize(
    "targets, error, message",
    [
        ([], ValueError, "empty"),
        ([3], ValueError, "out of range"),
        ([-1], ValueError, "out of range"),
        ("circle", ValueError, "does not occur"),
        ("  ", ValueError, "empty word"),
        ([1, 1], ValueError, "repeat"),
        ([1.5], TypeError, "ints"),
        ({1: 2}, TypeError, "targets must be"),
    ],
)
def test_bad_targets_are_rejected(targets, error, message):
    explainer = ew.Explainer(two_word_model(), n_regions=16)
    with pytest.raises(error, match=message):
        explainer.start(IMAGE, targets=targets)


def test_each_word_is_explained_by_its_own_object():
    model = two_word_model()
    explainer = ew.Explainer(model, n_regions=16, search="lazy")
    red = explainer.explain(IMAGE, targets="red")
    square = explainer.explain(IMAGE, targets="square")
    assert red.order[0] != square.order[0]
    for result, block in ((red, 5), (square, 10)):
        top = result.order[0]
        assert np.array_equal(result.labels == top, BLOCKS == block)
        assert result.attribution_map("gain")[BLOCKS == block].min() == 1.0


def test_sentence_level_run_gives_per_token_maps_from_its_columns():
    result = ew.explain(two_word_model(), IMAGE, n_regions=16, search="greedy")
    for token, block in ((1, 5), (2, 10)):
        for kind in ("gain", "rank"):  # rank: by the token's own gains, not the shared order
            heat = result.attribution_map(kind, target=token)
            assert heat[BLOCKS == block].min() == 1.0, (kind, token)
            assert heat[BLOCKS != block].max() < 0.2, (kind, token)
    with pytest.raises(ValueError, match="not explained"):
        ew.explain(two_word_model(), IMAGE, targets=1, n_regions=16).attribution_map(target=2)


def test_a_rank_map_whose_gain_is_all_in_the_top_region_marks_that_region_alone():
    # ' red' rests on block 5 only: every other region adds nothing, so it is 1 there and 0
    # elsewhere (no ramp over regions of no effect)
    red = ew.explain(two_word_model(), IMAGE, targets="red", n_regions=16, search="greedy")
    rank = red.region_values("rank")
    assert rank[red.order[0]] == 1.0
    assert np.array_equal(red.labels == red.order[0], BLOCKS == 5)
    assert np.delete(rank, red.order[0]).max() == 0.0


def test_curves_start_and_end_at_the_reference_images_and_maps_are_normalised():
    result = ew.explain(two_word_model(), IMAGE, n_regions=16, search="efficient")
    n, t = result.n_regions, result.n_targets
    assert result.insertion_curve.shape == (n + 1, t) == result.deletion_curve.shape
    np.testing.assert_allclose(result.insertion_curve[0], result.p_blank)
    np.testing.assert_allclose(result.insertion_curve[-1], result.p_full)
    np.testing.assert_allclose(result.deletion_curve[0], result.p_full)
    np.testing.assert_allclose(result.deletion_curve[-1], result.p_blank)
    assert result.areas[0] == 0 and result.areas[-1] == pytest.approx(1.0)
    for kind in ("rank", "gain"):
        heat = result.attribution_map(kind)
        assert heat.shape == IMAGE.shape[:2]
        assert heat.min() >= 0 and heat.max() == pytest.approx(1.0)
    rank = result.region_values("rank")
    assert rank[result.order[0]] == 1.0 and rank[result.order[-1]] == 0.0
    assert result.insertion_auc > result.deletion_auc


def test_reliance_separates_language_prior_from_visual_evidence():
    result = ew.explain(two_word_model(), IMAGE, n_regions=16)
    prior, visual = result.reliance.T
    np.testing.assert_allclose(prior, [0.9, 0.1, 0.05])
    np.testing.assert_allclose(visual, [0.0, 0.8, 0.7])
    explainer = ew.Explainer(two_word_model(), n_regions=16)
    gen = two_word_model().generate(IMAGE, "q")
    prior_all, visual_all = explainer.token_reliance(IMAGE, gen)
    np.testing.assert_allclose(prior_all, prior)
    np.testing.assert_allclose(visual_all, visual)


def test_a_run_asked_for_every_tokens_reliance_finishes_its_own_result():
    model = two_word_model()
    explainer = ew.Explainer(model, n_regions=16)
    gen = model.generate(IMAGE, "q")
    prior, visual = explainer.token_reliance(IMAGE, gen)  # as the widget shows it first
    calls = len(model.calls)
    picture = Picture(IMAGE, {"exif_orientation": 6})  # an image read once by the caller
    result = explainer.explain(picture, targets=[1], generation=gen, reliance="all")
    np.testing.assert_allclose(result.generated_reliance[0], prior)  # all three tokens
    np.testing.assert_allclose(result.generated_reliance[1], visual)
    assert result.extras["image"]["exif_orientation"] == 6
    # the run's search called the model; the reliance it had already measured was not paid again
    rerun = ew.Explainer(two_word_model(), n_regions=16)
    rerun.explain(IMAGE, targets=[1], generation=gen)
    assert len(model.calls) - calls == len(rerun.model.calls)
    # the default measures the targets only, as before
    assert explainer.explain(IMAGE, targets=[1], generation=gen).generated_reliance is None
    with pytest.raises(ValueError, match="reliance must be one of"):
        explainer.start(IMAGE, targets=[1], generation=gen, reliance="every")


def test_counterfactual_target_ids_reach_the_model():
    model = two_word_model()
    result = ew.explain(model, IMAGE, targets=[2], target_ids=[99], n_regions=16)
    assert result.target_ids == [99]
    assert all(ids == [99] for ids in model.seen_ids)
    with pytest.raises(ValueError, match="target_ids has 2 ids"):
        ew.explain(model, IMAGE, targets=[2], target_ids=[1, 2], n_regions=16)


def test_stream_yields_the_steps_that_explain_returns():
    explainer = ew.Explainer(two_word_model(), n_regions=16, search="lazy")
    streamed = list(explainer.stream(IMAGE))
    result = explainer.explain(IMAGE)
    assert [s.region for s in streamed] == result.order
    assert [s.index for s in streamed] == list(range(16))
    running = [s.images_scored for s in streamed]
    assert running == sorted(running) and running[-1] == result.images_scored


def test_a_runs_anchors_are_scored_once_and_are_its_curves_ends():
    explainer = ew.Explainer(two_word_model(), n_regions=16)
    run = explainer.start(IMAGE, targets=[1, 2])
    p_full, p_blank = run.anchors()
    assert run.images_scored == 2  # the full and the blank image, before any step
    assert p_full == pytest.approx([0.1 + 0.8, 0.05 + 0.7])
    assert p_blank == pytest.approx([0.1, 0.05])
    for _ in run:
        pass
    result = run.explanation()
    assert result.images_scored == explainer.explain(IMAGE, targets=[1, 2]).images_scored
    assert result.insertion_curve[-1] == pytest.approx(p_full)
    assert result.insertion_curve[0] == pytest.approx(p_blank)


def test_masked_images_go_to_the_model_in_batches():
    model = two_word_model()
    ew.explain(model, IMAGE, n_regions=16, search="greedy", batch_size=8)
    assert max(model.calls) == 8
    assert (
        sum(model.calls)
        == ew.explain(two_word_model(), IMAGE, n_regions=16, search="greedy").images_scored
    )
    model = two_word_model()
    ew.explain(model, IMAGE, n_regions=16, search="greedy")
    assert model.calls[1] == 32  # the first full step: 16 candidates x 2 images, one call


def test_cancel_from_another_thread_stops_and_the_explainer_stays_usable():
    model = two_word_model(delay=0.02)
    explainer = ew.Explainer(model, n_regions=16, search="greedy", batch_size=4)
    run = explainer.start(IMAGE)
    seen = []
    threading.Timer(0.15, run.cancel).start()
    with pytest.raises(Cancelled):
        for step in run:
            seen.append(step)
    assert len(seen) < 16
    calls_after_cancel = len(model.calls)
    with pytest.raises(ValueError, match="not finished"):
        run.explanation()
    assert len(model.calls) == calls_after_cancel
    model.delay = 0
    again = explainer.explain(IMAGE)
    assert sorted(again.order) == list(range(16))


def test_a_misbehaving_model_is_named():
    class WrongShape:
        generate = two_word_model().generate

        def token_probs(self, images, generation, positions, token_ids=None):
            return np.zeros((len(images), len(positions) + 1))

    class NaNs(WrongShape):
        def token_probs(self, images, generation, positions, token_ids=None):
            return np.full((len(images), len(positions)), np.nan)

    with pytest.raises(ValueError, match="returned shape"):
        ew.explain(WrongShape(), IMAGE, n_regions=4)
    with pytest.raises(ValueError, match="NaN"):
        ew.explain(NaNs(), IMAGE, n_regions=4)
    with pytest.raises(TypeError, match="generate"):
        ew.Explainer(object())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_regions": 0}, "n_regions"),
        ({"search": "beam"}, "search must be one of"),
        ({"lambda1": float("nan")}, "lambda1"),
        ({"fill": "grey"}, "fill"),
        ({"batch_size": 0}, "batch_size"),
        ({"early_stop": 2}, "early_stop"),
        ({"early_stop": "yes"}, "early_stop"),
        ({"search": "greedy", "search_scope": 4}, "no option"),
        ({"fill": float("nan")}, "fill"),
        ({"fill": 127.5}, "whole value"),
        ({"lazy_batch": 0}, "lazy_batch must be a positive int"),  # at once, not at step 1
        ({"noise_tolerance": float("nan")}, "noise_tolerance"),
        ({"search": "efficient", "search_scope": 2.5}, "search_scope"),
    ],
)
def test_bad_explainer_settings_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ew.Explainer(two_word_model(), **kwargs)


def test_lazy_stops_early_by_default_and_the_result_says_so(tmp_path):
    model = two_word_model()
    assert ew.Explainer(model).early_stop == 0.01  # lazy, the default search
    assert ew.Explainer(model, search="greedy").early_stop is None  # the paper's, to the end
    assert ew.Explainer(model, search="efficient").early_stop is None
    assert ew.Explainer(model, search="greedy", early_stop=True).early_stop == 0.01
    assert ew.Explainer(model, early_stop=False).early_stop is None
    stopped = ew.explain(model, IMAGE, n_regions=4)
    assert stopped.extras["early_stop"] == 0.01
    assert ew.Explanation.load(stopped.save(tmp_path / "r.npz")).extras["early_stop"] == 0.01
    assert "early_stop" not in ew.explain(model, IMAGE, n_regions=4, early_stop=False).extras


def test_a_prompt_must_be_text_and_agree_with_a_given_generation():
    explainer = ew.Explainer(two_word_model(), n_regions=4)
    gen = explainer.model.generate(IMAGE, "Describe the image.")
    with pytest.raises(ValueError, match="is not the prompt the generation answered"):
        explainer.start(IMAGE, prompt="Is there a dog?", generation=gen)
    assert explainer.start(IMAGE, prompt="Describe the image.", generation=gen).positions
    for bad in ("", "  "):
        with pytest.raises(ValueError, match="prompt must be a non-empty string"):
            explainer.start(IMAGE, prompt=bad)
    with pytest.raises(TypeError, match="prompt must be a str"):
        explainer.start(IMAGE, prompt=3)
    assert ew.Explainer(two_word_model(), batch_size=np.int64(4)).batch_size == 4
    result = explainer.explain(IMAGE)
    for bad in (True, 1.0):
        with pytest.raises(TypeError, match="generated-token index"):
            result.attribution_map(target=bad)


def test_a_generation_for_another_image_size_is_rejected():
    gen = Generation("q", [1], [" red"], " red", (10, 10))
    with pytest.raises(ValueError, match="image of size"):
        ew.Explainer(two_word_model()).start(IMAGE, generation=gen)


def test_save_and_load_round_trip_exactly(tmp_path):
    result = ew.explain(two_word_model(), IMAGE, n_regions=16, search="efficient")
    path = result.save(tmp_path / "r.npz")
    back = Explanation.load(path)
    np.testing.assert_array_equal(back.image, result.image)
    np.testing.assert_array_equal(back.labels, result.labels)
    assert back.order == result.order and back.generation == result.generation
    assert [s.to_dict() for s in back.steps] == [s.to_dict() for s in result.steps]
    np.testing.assert_array_equal(back.insertion_curve, result.insertion_curve)
    np.testing.assert_array_equal(back.attribution_map("gain"), result.attribution_map("gain"))
    assert back.images_scored == result.images_scored and back.search == "efficient"
    json.dumps(result.to_dict())  # JSON-able


def test_saved_file_is_compact_and_versioned(tmp_path):
    rng = np.random.default_rng(0)
    # a photo-like 640 x 480 image: smooth gradients with mild noise
    yy, xx = np.mgrid[0:480, 0:640]
    image = np.dstack([xx / 640 * 255, yy / 480 * 255, (xx + yy) / 1120 * 255])
    image = np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)

    class Brightness(VisibilityModel):  # cheap: p = how much of the image is shown
        def token_probs(self, images, generation, positions, token_ids=None):
            shown = np.stack(images)[:, ::8, ::8].any(axis=3).mean(axis=(1, 2))
            return np.repeat(shown[:, None], len(positions), axis=1)

    labels = superpixels(image, 64)
    model = Brightness(labels, [None] * 3, words=["a", " b", " c"])
    result = ew.explain(model, image, n_regions=64, search="efficient")
    assert result.n_regions >= 48
    path = result.save(tmp_path / "big.npz")
    assert path.stat().st_size < 1_000_000
    data = dict(np.load(path))
    meta = json.loads(bytes(data["meta"]))
    meta["schema_version"] = 99
    data["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(tmp_path / "future.npz", **data)
    with pytest.raises(ValueError, match="schema version 99"):
        Explanation.load(tmp_path / "future.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not an eagle-widget explanation"):
        Explanation.load(tmp_path / "junk.npz")


def test_the_json_summary_of_a_photo_sized_result_stays_small_and_keeps_its_labels():
    result = ew.explain(two_word_model(), IMAGE, n_regions=16, search="efficient")
    scale = 2000 // IMAGE.shape[1]  # a photo 2,000 pixels a side: 4 million labels
    photo = dataclasses.replace(
        result,
        image=IMAGE.repeat(scale, axis=0).repeat(scale, axis=1),
        labels=result.labels.repeat(scale, axis=0).repeat(scale, axis=1),
    )
    text = json.dumps(photo.to_dict())
    assert len(text) < 100_000  # as a list of lists: 12 MB
    labels = Explanation.labels_from_dict(json.loads(text))
    np.testing.assert_array_equal(labels, photo.labels)
    assert "labels" not in result.to_dict(include_labels=False)


def _damaged(path: Path, how: str) -> Path:
    """A copy of the saved explanation at `path`, damaged in one way."""
    out = path.with_name(f"{how}.npz")
    data = dict(np.load(path))
    meta = json.loads(bytes(data["meta"]))
    if how == "empty":
        out.write_bytes(b"")
        return out
    if how == "truncated":
        out.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        return out
    if how == "plain array":
        np.save(out.with_suffix(".npy"), np.arange(5))
        return out.with_suffix(".npy")
    if how == "meta is a list":
        data["meta"] = np.frombuffer(b"[1, 2]", np.uint8)
    elif how == "no step numbers":
        del data["step_numbers"]
    elif how == "steps short":
        for key in ("step_numbers", "step_index", "regions", "removed", "step_images",
                    "probs_insert", "probs_delete"):  # fmt: skip
            data[key] = data[key][:-1]
    elif how == "image damaged":
        data["image_png"] = data["image_png"][:40]
    elif how == "p_full too long":
        data["p_full"] = np.append(data["p_full"], 0.5)
    elif how == "probs too short":
        data["probs_insert"] = data["probs_insert"][:, :1]
    data["meta"] = data.get("meta", np.frombuffer(json.dumps(meta).encode(), np.uint8))
    np.savez(out, **data)
    return out


@pytest.mark.parametrize(
    "how",
    ["empty", "truncated", "plain array", "meta is a list", "no step numbers", "steps short",
     "image damaged", "p_full too long", "probs too short"],
)  # fmt: skip
def test_a_damaged_or_foreign_file_is_a_clear_error_at_load(tmp_path, how):
    result = ew.explain(two_word_model(), IMAGE, n_regions=16, search="greedy")
    path = _damaged(result.save(tmp_path / "good.npz"), how)
    with pytest.raises(ValueError, match="not an eagle-widget explanation file, or it is damaged"):
        Explanation.load(path)


def test_words_group_sub_word_tokens():
    gen = Generation(
        "q", list(range(7)), ["a", " tri", "angle", ",", " and", " a", " cat"], "", (1, 1)
    )
    assert gen.words == [(0, 1), (1, 3), (3, 4), (4, 5), (5, 6), (6, 7)]
    assert gen.word_of(2) == (1, 3)
