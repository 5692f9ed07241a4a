"""The text-only adapter (TextModel, issue 26) against ground truth, on tiny offline causal
language models of three families, each loaded from a saved folder through ew.load_model.

Ground truth is transformers' own greedy `generate` on the tokenizer's chat path (or the
bare prompt, for a family without a template), whose per-step logits give every generated
token's probability; a hidden span is checked against a direct forward of the ids with the
span's tokens replaced, or with the span's attention-mask entries at 0."""

from __future__ import annotations

import itertools
import os
import re

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np
import pytest
import tiny_text_models
import torch

import eagle_widget as ew
from eagle_widget.models import TextModel, load_model

torch.set_num_threads(1)

PROMPT = "Is there a red cat on the mat? Describe it."
N_NEW = 5
TOL = 1e-5


@pytest.fixture(scope="module", autouse=True)
def offline():
    import huggingface_hub.constants

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
        yield


def official_inputs(tokenizer, prompt: str) -> dict:
    """The ids transformers itself builds: the chat template's, or the bare prompt's."""
    if tokenizer.chat_template:
        messages = [{"role": "user", "content": prompt}]
        return tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True, return_dict=True,
            return_tensors="pt",
        )  # fmt: skip
    return dict(tokenizer(prompt, return_tensors="pt"))


class TextFamily:
    def __init__(self, name: str, folder):
        self.name = name
        tiny_text_models.save(name, folder)
        self.adapter = load_model(str(folder), device="cpu", dtype="float32")
        inputs = official_inputs(self.adapter.tokenizer, PROMPT)
        with torch.no_grad():
            out = self.adapter.model.generate(
                **inputs, max_new_tokens=N_NEW, do_sample=False, num_beams=1,
                output_logits=True, return_dict_in_generate=True,
            )  # fmt: skip
        self.inputs = inputs
        self.ids = out.sequences[0, inputs["input_ids"].shape[1] :].tolist()
        self.probs = torch.stack([torch.softmax(s[0].float(), -1) for s in out.logits]).numpy()
        self.generation = self.adapter.generate(None, PROMPT, max_new_tokens=N_NEW)
        self.words = [(m.start(), m.end()) for m in re.finditer(r"\w+", PROMPT)]

    def direct(self, ids: torch.Tensor, attention: torch.Tensor | None = None) -> np.ndarray:
        """P(each generated token) from one plain forward of the prompt's `ids` (and
        attention mask) followed by the answer, positions as the model makes them."""
        gen = self.generation
        answer = torch.tensor(gen.token_ids[:-1])
        full = torch.cat([ids, answer])[None]
        mask = torch.ones_like(full)
        if attention is not None:
            mask[0, : len(ids)] = attention
        with torch.no_grad():
            logits = self.adapter.model(input_ids=full, attention_mask=mask).logits[0].float()
        rows = logits[len(ids) - 1 : len(ids) - 1 + len(gen)]
        return torch.softmax(rows, -1)[torch.arange(len(gen)), torch.tensor(gen.token_ids)].numpy()


@pytest.fixture(scope="module", params=tiny_text_models.TEXT_FAMILIES)
def family(request, tmp_path_factory) -> TextFamily:
    return TextFamily(request.param, tmp_path_factory.mktemp(request.param))


def test_load_model_gives_a_text_model_that_answers_as_transformers_generate(family):
    adapter, gen = family.adapter, family.generation
    assert isinstance(adapter, TextModel) and adapter.text_only
    assert gen.token_ids == family.ids and len(gen) == N_NEW and gen.prompt == PROMPT
    assert "".join(gen.tokens) == gen.text
    assert adapter.prompt_ids(None, PROMPT) == family.inputs["input_ids"][0].tolist()


def test_teacher_forcing_equals_the_logits_of_generate(family):
    gen = family.generation
    positions = list(range(len(gen)))
    probs = family.adapter.token_probs([None], gen, positions)[0]
    expected = family.probs[np.arange(len(gen)), gen.token_ids]
    assert np.abs(probs - expected).max() < TOL
    # a counterfactual id at one position: its own probability from the same logits
    other = (gen.token_ids[2] + 1) % family.probs.shape[1]
    alt = family.adapter.token_probs([None], gen, [2], [other])[0, 0]
    assert abs(alt - family.probs[2, other]) < TOL


@pytest.mark.parametrize("masking", ["replace", "attention"])
def test_a_batch_of_masked_prompts_equals_them_one_by_one(family, masking):
    adapter, gen = family.adapter, family.generation
    rng = np.random.default_rng(3)
    keep = rng.random((5, len(family.words))) < 0.6
    keep[0] = True
    positions = list(range(len(gen)))
    batch = adapter.span_token_probs([None] * 5, gen, positions, None, family.words, keep, masking)
    alone = np.concatenate(
        [
            adapter.span_token_probs([None], gen, positions, None, family.words, row[None], masking)
            for row in keep
        ]  # fmt: skip
    )
    assert np.abs(batch - alone).max() < TOL
    assert np.abs(batch[0] - adapter.token_probs([None], gen, positions)[0]).max() < TOL
    assert np.abs(batch[1:] - batch[0]).max() > 1e-6  # hiding words changes the answer's p


def test_a_hidden_span_is_its_tokens_replaced_or_unattended_as_a_direct_forward(family):
    """Each word's tokens decode back to it; hiding one equals the official ids with those
    tokens set to the pad id, or with their attention-mask entries at 0 (positions kept: a
    plain forward counts them 0..L-1 for these families)."""
    adapter, gen = family.adapter, family.generation
    ids = family.inputs["input_ids"][0]
    places = adapter.prompt_span_positions(PROMPT, family.words)
    assert [len(p) for p in places] == adapter.span_token_counts(gen, family.words)
    for (a, b), place in zip(family.words, places):
        text = adapter.tokenizer.decode(ids[place].tolist()).strip().lower()
        assert PROMPT[a:b].lower() in text and len(text) <= b - a + 1, (text, PROMPT[a:b])
    positions = list(range(len(gen)))
    for hidden in (0, 3):  # the first word (at position 0 without a template) and "red"
        keep = np.ones((1, len(family.words)), dtype=bool)
        keep[0, hidden] = False
        replaced = ids.clone()
        replaced[places[hidden]] = adapter.prompt_mask_id
        by_id = adapter.span_token_probs([None], gen, positions, None, family.words, keep)
        assert np.abs(by_id[0] - family.direct(replaced)).max() < TOL
        attention = torch.ones_like(ids)
        attention[places[hidden]] = 0
        unattended = adapter.span_token_probs(
            [None], gen, positions, None, family.words, keep, "attention"
        )
        assert np.all(np.isfinite(unattended))
        assert np.abs(unattended[0] - family.direct(ids, attention)).max() < TOL
        assert np.abs(unattended[0] - by_id[0]).max() > 1e-7  # two different ways


@pytest.mark.parametrize("masking", ["replace", "attention"])
def test_the_search_over_the_prompt_alone_matches_exhaustive_ground_truth(family, masking):
    """Three sentence-sized spans of a real model: every one of the 8 shown sets scored
    directly; greedy's first span is the best single set by the objective, its second the
    best pair with it, and the three-way split is read from the same numbers."""
    adapter, gen = family.adapter, family.generation
    spans = [(0, 9), (10, 29), (30, 43)]  # "Is there", "a red cat on the mat", "Describe it."
    result = ew.explain(adapter, None, prompt=PROMPT, prompt_regions=spans, search="greedy",
                        targets=[0, 1], prompt_masking=masking)  # fmt: skip
    subsets = np.array(list(itertools.product([False, True], repeat=3)))
    probs = adapter.span_token_probs([None] * 8, gen, [0, 1], None, spans, subsets, masking)
    p = {tuple(row): value for row, value in zip(subsets, probs)}

    def score(shown):
        kept = tuple(i in shown for i in range(3))
        removed = tuple(i not in shown for i in range(3))
        return p[kept].mean() + (1 - p[removed]).mean()

    first = max(range(3), key=lambda s: score({s}))
    second = max((s for s in range(3) if s != first), key=lambda s: score({first, s}))
    assert result.order[:2] == [first, second]
    assert result.n_image_regions == 0 and [s.region for s in result.spans] == [0, 1, 2]
    assert result.image is None and result.prompt["masking"] == masking
    np.testing.assert_allclose(result.p_full, p[(True,) * 3], atol=TOL)
    np.testing.assert_allclose(result.p_blank, p[(False,) * 3], atol=TOL)
    image, prompt, prior = result.source_reliance.T
    full, none = p[(True,) * 3], p[(False,) * 3]
    expected_prompt = np.clip(full - none, 0, None) / (np.clip(full - none, 0, None) + none)
    np.testing.assert_allclose(prompt, expected_prompt, atol=1e-6)
    assert np.all(image == 0)
    assert result.areas[-1] == pytest.approx(1.0)  # the spans alone make the whole x-axis


def test_a_text_model_refuses_an_image_and_needs_prompt_regions(family):
    adapter = family.adapter
    picture = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match="reads text only: give image=None"):
        ew.explain(adapter, picture, prompt=PROMPT, prompt_regions="word")
    with pytest.raises(ValueError, match="explained by its prompt: give prompt_regions"):
        ew.Explainer(adapter)
    with pytest.raises(ValueError, match="no image regions"):
        ew.Explainer(adapter, regions="grid", prompt_regions="word")
    with pytest.raises(ValueError, match="prompt must be a non-empty string"):
        ew.explain(adapter, None, prompt_regions="word")  # no default prompt for text
    with pytest.raises(ValueError, match="masking must be one of"):
        adapter.span_token_probs([None], family.generation, [0], None, [(0, 2)], [[False]], "x")
