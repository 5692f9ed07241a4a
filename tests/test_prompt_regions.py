"""Prompt spans searched beside the image's regions (issue 26): splitting, the search over
both kinds against scorers whose answer rests on a known span and a known region, the
three-way split on a hand-made scorer, the demo model end to end, bad input. The front
ends' prompt chips: tests/test_prompt_chips.py."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from synthetic import SpanScorer, VisibilityModel, block_image

import eagle_widget as ew
from eagle_widget.engine.prompt_spans import PROMPT_SHARE, source_reliance, split_prompt
from eagle_widget.engine.regions import grid_regions

PROMPT = "Is there a red circle? Look closely."
BLOCKS = grid_regions(32, 32, 16)  # 16 blocks of 8 x 8, the image regions of every run here
IMAGE = block_image(4, 4, cell=8)


def explain(model, **options):
    options = {"regions": BLOCKS, "search": "greedy", **options}
    return ew.explain(model, IMAGE, prompt=PROMPT, **options)


# -- spans --------------------------------------------------------------------------------------
def test_the_prompt_splits_into_words_sentences_or_one_message_that_slice_back_to_it():
    words = split_prompt(PROMPT, "word")
    assert [PROMPT[a:b] for a, b in words] == ["Is", "there", "a", "red", "circle", "Look",
                                              "closely"]  # fmt: skip
    sentences = split_prompt(PROMPT, "sentence")
    assert [PROMPT[a:b] for a, b in sentences] == ["Is there a red circle?", "Look closely."]
    assert split_prompt("  Hi there.  ", "message") == [(2, 11)]
    assert split_prompt(PROMPT, [(11, 14), (15, 21)]) == [(11, 14), (15, 21)]


@pytest.mark.parametrize(
    "given, message",
    [
        ("phrase", "one of word, sentence, message"),
        ([(5, 2)], r"not inside the prompt's 36 characters"),
        ([(0, 99)], "not inside"),
        ([(0, 8), (6, 10)], "overlaps or comes before"),
        ([(2, 3)], "only whitespace"),
        ([], "empty list"),
        ([("a", 2)], "character ranges"),
    ],
)
def test_bad_prompt_regions_are_clear_errors_before_any_model_call(given, message):
    model = SpanScorer(lambda v, shown: 0.5)
    with pytest.raises(ValueError, match=message):
        explain(model, prompt_regions=given)
    assert model.calls == [] and model.hidden_calls == 0


def test_a_model_that_cannot_hide_spans_and_a_baseline_are_refused_at_once():
    plain = VisibilityModel(BLOCKS, [lambda v: 0.5])
    with pytest.raises(ValueError, match="cannot hide spans of the prompt.*MasksPromptSpans"):
        ew.Explainer(plain, prompt_regions="word")
    with pytest.raises(ValueError, match="searched by EAGLE"):
        ew.Explainer(SpanScorer(lambda v, s: 0.5), prompt_regions="word", method="occlusion")


# -- one search over both kinds -------------------------------------------------------------------
def test_the_search_finds_the_span_and_the_region_the_answer_rests_on_in_their_order():
    # the answer needs block 5 (0.55 of it) and the word "red" (0.3); nothing else matters
    def effect(v, shown):
        return 0.05 + 0.55 * v[5] + 0.3 * ("red" in shown)

    result = explain(SpanScorer(effect), prompt_regions="word")
    spans = result.spans
    assert [s.text for s in spans] == ["Is", "there", "a", "red", "circle", "Look", "closely"]
    assert [s.region for s in spans] == list(range(16, 23))  # ids follow the image's 16
    assert all(PROMPT[s.start : s.stop] == s.text for s in spans)
    red = next(s.region for s in spans if s.text == "red")
    assert result.order[:2] == [5, red]
    assert result.n_image_regions == 16 and result.n_regions == 23
    # the x-axis: the image's area weighs 1 - PROMPT_SHARE, the spans PROMPT_SHARE
    steps = np.diff(result.areas)
    assert steps[0] == pytest.approx((1 - PROMPT_SHARE) / 16)
    assert result.areas[-1] == pytest.approx(1.0)
    values = result.span_values("gain")  # the rank map gives the second place 0 here
    assert values.argmax() == spans.index(next(s for s in spans if s.text == "red"))
    assert result.attribution_map().shape == BLOCKS.shape
    assert result.attribution_map()[BLOCKS == 5].min() == 1.0


def test_a_word_and_a_region_that_only_count_together_are_found_first_both():
    def effect(v, shown):  # "circle" and block 9 together, or nothing
        return 0.05 + 0.9 * v[9] * ("circle" in shown)

    result = explain(SpanScorer(effect), prompt_regions="word")
    circle = next(s.region for s in result.spans if s.text == "circle")
    assert set(result.order[:2]) == {9, circle}


def test_sentence_spans_and_the_users_own_ranges_are_searched_alike():
    def effect(v, shown):
        return 0.05 + 0.6 * v[0] + 0.3 * any("Look" in text for text in shown)

    by_sentence = SpanScorer(lambda v, shown: effect(v, {t for s in shown for t in s.split()}))
    result = explain(by_sentence, prompt_regions="sentence")
    assert [s.text for s in result.spans] == ["Is there a red circle?", "Look closely."]
    assert result.order[:2] == [0, 17]
    own = explain(SpanScorer(effect), prompt_regions=[(23, 27)])  # "Look"
    assert [s.text for s in own.spans] == ["Look"] and own.order[:2] == [0, 16]


# -- three-way reliance -------------------------------------------------------------------------
def test_source_reliance_splits_image_prompt_and_prior_by_their_shapley_shares():
    # p = 0.1 + 0.5 (image) + 0.3 (prompt): full 0.9, no image 0.4, no prompt 0.6, none 0.1
    shares = source_reliance([0.9], [0.4], [0.6], [0.1])
    np.testing.assert_allclose(shares, [[0.5 / 0.9, 0.3 / 0.9, 0.1 / 0.9]])

    def effect(v, shown):
        return 0.1 + 0.5 * v.mean() + 0.3 * ("red" in shown)

    result = explain(SpanScorer(effect), prompt_regions="word")
    np.testing.assert_allclose(result.source_reliance, [[0.5 / 0.9, 0.3 / 0.9, 0.1 / 0.9]])
    # an answer the prompt alone makes: its share is the prompt's
    prompt_only = explain(SpanScorer(lambda v, s: 0.05 + 0.9 * ("red" in s)), prompt_regions="word")
    image, prompt, prior = prompt_only.source_reliance[0]
    assert image == pytest.approx(0) and prompt > 0.9
    with pytest.raises(ValueError, match="prompt_regions="):
        explain(SpanScorer(effect)).source_reliance  # noqa: B018


def test_a_result_with_spans_saves_and_loads_and_lists_them_in_its_json(tmp_path):
    result = explain(SpanScorer(lambda v, s: 0.05 + 0.5 * v[3] + 0.4 * ("a" in s)),
                     prompt_regions="word")  # fmt: skip
    back = ew.Explanation.load(result.save(tmp_path / "spans.npz"))
    assert back.spans == result.spans and back.order == result.order
    np.testing.assert_allclose(back.source_reliance, result.source_reliance)
    np.testing.assert_allclose(back.areas, result.areas)
    data = result.to_dict()
    assert [s["text"] for s in data["prompt"]["spans"]][:3] == ["Is", "there", "a"]
    assert data["prompt"]["masking"] == "replace" and len(data["source_reliance"]) == 1


def test_without_prompt_regions_nothing_changes():
    def effect(v, shown):
        return 0.05 + 0.55 * v[5] + 0.3 * ("red" in shown)

    model = SpanScorer(effect)
    result = explain(model)
    assert result.spans == [] and result.prompt is None and result.n_regions == 16
    assert model.hidden_calls == 0


# -- the demo model -----------------------------------------------------------------------------
def test_the_demo_models_yes_rests_on_the_object_and_its_no_on_the_question():
    """The demo model answers its own yes/no questions: for a present object the image and
    the question share the "yes"; for an absent one "no" needs no image at all."""
    from eagle_widget.models.demo.scenes import make_scene, question

    demo = ew.load_demo_model()
    scene = make_scene(5, objects=[("red", "circle"), ("blue", "square")])
    yes = ew.explain(demo, scene.image, prompt=question("red", "circle"), targets=[0],
                     n_regions=16, search="lazy", prompt_regions="word")  # fmt: skip
    assert yes.generation.tokens[0].strip() == "yes"
    assert [s.text for s in yes.spans] == ["Is", "there", "a", "red", "circle"]
    circle = scene.objects[0].mask if scene.objects[0].colour == "red" else scene.objects[1].mask
    top_image = next(r for r in yes.order if r < yes.n_image_regions)
    assert (yes.labels == top_image)[circle].mean() > 0.5 or circle[
        yes.labels == top_image
    ].mean() > 0.5
    image, prompt, prior = yes.source_reliance[0]
    assert image > 0.3 and prompt > 0.3 and prior < 0.05  # both needed
    no = ew.explain(demo, scene.image, prompt=question("green", "triangle"), targets=[0],
                    n_regions=16, search="lazy", prompt_regions="word")  # fmt: skip
    assert no.generation.tokens[0].strip() == "no"
    image, prompt, prior = no.source_reliance[0]
    assert prompt > 0.9 and image < 0.05


def test_the_command_line_ranks_prompt_spans_beside_the_image(tmp_path, capsys):
    from PIL import Image

    from eagle_widget import cli
    from eagle_widget.models.demo.scenes import make_scene, question

    Image.fromarray(make_scene(5, objects=[("red", "circle")]).image).save(tmp_path / "s.png")
    argv = ["explain", tmp_path / "s.png", "--prompt", question("red", "circle"),
            "--targets", "0", "--regions", "12", "--out", tmp_path / "out",
            "--prompt-regions", "word"]  # fmt: skip
    assert cli.main([str(a) for a in argv]) == 0
    out = capsys.readouterr().out
    saved = json.loads((tmp_path / "out" / "result.json").read_text())
    images = len(saved["order"]) - 5
    assert f"{images} image regions + 5 prompt spans (image " in out, out
    assert [s["text"] for s in saved["prompt"]["spans"]] == ["Is", "there", "a", "red", "circle"]
    assert np.sum(saved["source_reliance"][0]) == pytest.approx(1)
    argv[-1] = "phrase"
    assert cli.main([str(a) for a in argv]) == 2  # argparse's choices, before any loading
    assert "invalid choice: 'phrase'" in capsys.readouterr().err


# -- the prompt alone (regions=None), text-only models, attention masking ----------------------
class TextScorer(SpanScorer):
    """SpanScorer of a text-only model: no image (protocol.ReadsTextOnly), every row None."""

    text_only = True

    def generate(self, image, prompt, max_new_tokens=64):
        assert image is None
        return replace(super().generate(np.zeros((1, 1, 3), np.uint8), prompt), image_size=(0, 0))

    def span_token_probs(self, images, generation, positions, token_ids, spans, keep):
        assert all(image is None for image in images)
        shown = np.ones((len(images), 32, 32, 3), np.uint8)  # what effect sees: no region
        return super().span_token_probs(list(shown), generation, positions, token_ids, spans, keep)


class AttentionScorer(SpanScorer):
    """A SpanScorer that declares attention masking and records the way each call asked."""

    prompt_maskings = ("replace", "attention")

    def __init__(self, effect):
        super().__init__(effect)
        self.maskings = []

    def span_token_probs(self, images, generation, positions, token_ids, spans, keep,
                         masking="replace"):  # fmt: skip
        self.maskings.append(masking)
        return super().span_token_probs(images, generation, positions, token_ids, spans, keep)


def test_regions_none_searches_the_prompt_alone_with_the_image_kept_whole():
    seen = []

    def effect(v, shown):  # the image's blocks are all shown in every scored row
        seen.append(v.min())
        return 0.05 + 0.3 * v[5] + 0.5 * ("red" in shown) + 0.1 * ("circle" in shown)

    result = ew.explain(SpanScorer(effect), IMAGE, prompt=PROMPT, regions=None,
                        prompt_regions="word", search="greedy")  # fmt: skip
    assert min(seen) == 1.0  # never a region filled
    assert result.n_image_regions == 0 and result.n_regions == 7
    assert [s.region for s in result.spans] == list(range(7))
    texts = {s.region: s.text for s in result.spans}
    assert [texts[r] for r in result.order[:2]] == ["red", "circle"]
    assert result.regions == {"kind": "none"}
    assert result.attribution_map().shape == IMAGE.shape[:2]
    assert not result.attribution_map().any() and not result.attribution_map("gain").any()
    assert result.areas[-1] == pytest.approx(1.0)
    tokens = {s.region: s.tokens for s in result.spans}  # the x-axis: the spans' tokens alone
    total = sum(tokens.values())
    np.testing.assert_allclose(np.diff(result.areas), [tokens[r] / total for r in result.order])
    image, prompt, prior = result.source_reliance[0]
    # the image is never removed: its share is 0 and its effect is in the prior
    assert (
        image == 0 and prompt == pytest.approx(0.6 / 0.95) and prior == pytest.approx(0.35 / 0.95)
    )


def test_regions_none_without_prompt_regions_and_an_image_less_vlm_are_refused():
    model = SpanScorer(lambda v, s: 0.5)
    with pytest.raises(ValueError, match="regions=None explains by the prompt alone"):
        ew.Explainer(model, regions=None)
    with pytest.raises(ValueError, match='grid= goes with regions="grid"'):
        ew.Explainer(model, regions=None, grid=(2, 2), prompt_regions="word")
    with pytest.raises(ValueError, match="image is None, but SpanScorer reads images"):
        ew.explain(model, None, prompt=PROMPT, regions=None, prompt_regions="word")
    with pytest.raises(ValueError, match='reliance="all"'):
        ew.explain(model, IMAGE, prompt=PROMPT, regions=None, prompt_regions="word",
                   reliance="all")  # fmt: skip
    assert model.calls == [] and model.hidden_calls == 0


def test_a_text_only_model_is_explained_by_its_prompt_and_its_result_saves(tmp_path):
    model = TextScorer(lambda v, shown: 0.1 + 0.7 * ("Look" in shown) + 0.1 * ("a" in shown))
    result = ew.explain(model, None, prompt=PROMPT, prompt_regions="word", search="greedy")
    texts = {s.region: s.text for s in result.spans}
    assert [texts[r] for r in result.order[:2]] == ["Look", "a"]
    assert result.image is None and result.labels is None and not result.has_image
    assert result.n_image_regions == 0 and result.generation.image_size == (0, 0)
    np.testing.assert_allclose(result.source_reliance, [[0, 0.8 / 0.9, 0.1 / 0.9]])
    with pytest.raises(ValueError, match="no image map"):
        result.attribution_map()
    # the front ends draw its prompt's chips and no image (tests/test_text_front.py)
    assert "prompt-chips" in {ax.get_gid() for ax in result.figure().axes}
    assert result.span_values().argmax() == result.order[0]
    data = result.to_dict()
    assert data["image_size"] is None and "labels" not in data
    back = ew.Explanation.load(result.save(tmp_path / "text.npz"))
    assert back.image is None and back.spans == result.spans and back.order == result.order
    np.testing.assert_allclose(back.source_reliance, result.source_reliance)
    with pytest.raises(ValueError, match="reads text only: give image=None"):
        ew.explain(model, IMAGE, prompt=PROMPT, prompt_regions="word")


def test_attention_masking_is_asked_of_the_model_recorded_and_refused_where_unsupported():
    def effect(v, shown):
        return 0.05 + 0.55 * v[5] + 0.3 * ("red" in shown)

    model = AttentionScorer(effect)
    result = explain(model, prompt_regions="word", prompt_masking="attention")
    assert set(model.maskings) == {"attention"} and result.prompt["masking"] == "attention"
    assert result.to_dict()["prompt"]["masking"] == "attention"
    assert result.order[:2] == [5, next(s.region for s in result.spans if s.text == "red")]
    with pytest.raises(ValueError, match=r"hides prompt spans by replace only, not by 'attention'"):
        ew.Explainer(SpanScorer(effect), prompt_regions="word", prompt_masking="attention")
    with pytest.raises(ValueError, match="prompt_masking must be one of"):
        ew.Explainer(model, prompt_regions="word", prompt_masking="zero")
    plain = AttentionScorer(effect)
    explain(plain, prompt_regions="word")  # the default, "replace", is not passed at all
    assert set(plain.maskings) == {"replace"}


def test_evaluate_ranks_each_items_prompt_spans_and_reports_their_shares(tmp_path):
    from benchmark_data import QUESTION_TEMPLATE, run_cli, write_dataset

    demo = ew.load_demo_model()
    data = write_dataset(tmp_path / "data", demo, 2)
    listing = tmp_path / "mmvp.json"
    assert run_cli(["prepare", "mmvp", "--annotations", data["mmvp"], "--images",
                    data["mmvp_images"], "--prompt", QUESTION_TEMPLATE, "--out", listing],
                   demo) == (0, ["demo"])  # fmt: skip
    out = tmp_path / "run"
    args = ["evaluate", "mmvp", "--list", listing, "--images", data["mmvp_images"], "--prompt",
            QUESTION_TEMPLATE, "--regions", "9", "--search", "lazy", "--limit", "2", "--out",
            out, "--prompt-regions", "word"]  # fmt: skip
    assert run_cli(args, demo)[0] == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["options"]["prompt_regions"] == "word"
    header, *lines = (out / "metrics.csv").read_text().splitlines()
    names = header.split(",")
    assert {"image_share", "prompt_share", "prior_share"} <= set(names) and len(lines) == 2
    for line in lines:
        cells = dict(zip(names, line.split(",")))
        shares = [float(cells[k]) for k in ("image_share", "prompt_share", "prior_share")]
        assert sum(shares) == pytest.approx(1) and all(0 <= s <= 1 for s in shares)
        item = ew.Explanation.load(out / cells["id"] / "result.npz")
        np.testing.assert_allclose(shares, np.mean(item.source_reliance, axis=0), atol=1e-6)
        assert item.spans and item.prompt["masking"] == "replace"
    assert "image / prompt / prior " in (out / "report.html").read_text()
    args += ["--method", "occlusion"]
    assert run_cli(args, demo)[0] == 2  # refused before any loading
