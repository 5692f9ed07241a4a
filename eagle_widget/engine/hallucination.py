"""Hallucination diagnosis and mitigation (docs/method.md section 7), through the model protocol.

diagnose: per-token reliance (language prior vs visual evidence) and, given the correct
answer, an explanation of that answer's token as a counterfactual target. mitigate: fill the
regions ranked last for the correct answer, a growing number at a time, and regenerate until
the answer starts with the correct word.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from .explainer import Explainer
from .explanation import Explanation
from .images import resize, to_rgb_array
from .masking import compose, fill_image
from .mitigation import Mitigation
from .protocol import Encodes, GeneratesBatch, resolve_prompt, supports
from .regions import downscale_labels, region_areas
from .types import Cancelled, Generation

# A token "rests on the language prior" when the blank image alone gives it at least this
# probability and the image adds at most VISUAL_LIFT on top.
PRIOR_THRESHOLD = 0.5
VISUAL_LIFT = 0.1
# Cuts regenerated per call of a model that can generate in batches (generate_batch): a few
# answers past the first corrected one are wasted, many calls are saved.
REGENERATE_BATCH = 8


@dataclass
class Diagnosis:
    """What an answer rests on, token by token, and why the correct answer lost."""

    generation: Generation
    prior: np.ndarray  # per generated token: p with the image fully filled
    visual: np.ndarray  # per generated token: p_full - p_blank
    prior_driven: list[int]  # token indices produced by the language prior
    explanation: Explanation | None = None  # of the correct token, when `correct` was given
    correct_id: int | None = None

    @property
    def hallucination_map(self) -> np.ndarray:
        """Regions that drive the wrong answer: 1 - the correct answer's attribution map."""
        if self.explanation is None:
            raise ValueError("no correct answer was given: call diagnose(..., correct=...)")
        return 1.0 - self.explanation.attribution_map("rank")

    def report(self) -> list[dict]:
        return [
            {
                "index": i,
                "token": token,
                "prior": float(self.prior[i]),
                "visual": float(self.visual[i]),
                "prior_driven": i in self.prior_driven,
            }
            for i, token in enumerate(self.generation.tokens)
        ]


def correct_token_id(model, correct) -> int:
    """The id of the correct answer's first token: given as an id, or as text."""
    if isinstance(correct, (int, np.integer)) and not isinstance(correct, bool):
        return int(correct)
    if not isinstance(correct, str) or not correct.strip():
        raise ValueError(f"correct must be a word of the answer or a token id, got {correct!r}")
    if not supports(model, Encodes):
        raise TypeError(
            f"{type(model).__name__} has no encode(text) method: pass correct as a token id"
        )
    ids = model.encode(correct)  # an adapter raises when its tokenizer does not know the word
    if not ids:
        raise ValueError(f"the model's tokenizer gives no token for {correct!r}")
    return int(ids[0])


def check_wrong_answer(generation: Generation, correct_id: int, correct) -> None:
    """Raise when the answer already starts with the correct token: nothing to diagnose."""
    if generation.token_ids[:1] == [correct_id]:
        raise ValueError(
            f"the answer {generation.text.strip()!r} already starts with the correct "
            f"token {correct!r}: there is no wrong answer to diagnose"
        )


def diagnose(
    model,
    image,
    question: str,
    correct=None,
    generation: Generation | None = None,
    max_new_tokens: int = 16,
    **explainer_kwargs,
) -> Diagnosis:
    """Generate (unless given) the answer; say which tokens the language prior produced; with
    `correct` (e.g. "No"), explain the correct token at the answer's first position."""
    explainer = Explainer(model, max_new_tokens=max_new_tokens, **explainer_kwargs)
    question = resolve_prompt(question, default=None)
    correct_id = None if correct is None else correct_token_id(model, correct)
    array = to_rgb_array(image)
    explainer.check_image(array)
    if generation is None:
        generation = model.generate(array, question, max_new_tokens=max_new_tokens)
    if correct_id is not None:
        check_wrong_answer(generation, correct_id, correct)
    prior, visual = explainer.token_reliance(array, generation)
    driven = [
        i
        for i in range(len(generation))
        if prior[i] >= PRIOR_THRESHOLD and visual[i] <= VISUAL_LIFT
    ]
    diagnosis = Diagnosis(generation, prior, visual, driven)
    if correct_id is not None:
        diagnosis.correct_id = correct_id
        # reliance="all": the answer's own reliance, for figures and pages (the run scores
        # the correct id)
        diagnosis.explanation = explainer.explain(
            array,
            targets=[0],
            generation=generation,
            target_ids=[diagnosis.correct_id],
            reliance="all",
        )
    return diagnosis


def mitigate(
    model,
    image,
    prompt: str,
    explanation: Explanation,
    max_area: float = 0.5,
    fill=0,
    max_new_tokens: int = 8,
    should_stop: Callable[[], bool] | None = None,
) -> Mitigation:
    """Fill the regions ranked last for the correct answer, one more per step, and regenerate
    after each until the answer starts with the correct token (explanation.target_ids[0]).

    A model with `generate_batch(images, prompt, max_new_tokens)` regenerates REGENERATE_BATCH
    cuts per call; others one at a time. `should_stop` is asked between calls (Cancelled).
    The outcome is also recorded as `explanation.mitigation`, so that figures, the widget
    and saved files can show it.
    """
    if not 0 < max_area <= 1:
        raise ValueError(f"max_area must be in (0, 1], got {max_area!r}")
    array = to_rgb_array(image)
    if array.shape[:2] != explanation.labels.shape:
        raise ValueError(
            f"the image is {array.shape[:2]} but the explanation is of {explanation.labels.shape}"
        )
    stop = should_stop or (lambda: False)
    correct_id = int(explanation.target_ids[0])
    original = scored = explanation.generation
    labels = explanation.labels
    shape = tuple(explanation.extras.get("image", {}).get("working_size", array.shape[:2]))
    if shape != array.shape[:2]:  # cut and regenerate the images the search scored
        array = resize(array, shape)
        labels = downscale_labels(labels, *shape)
        scored = replace(original, image_size=shape)
    areas_of = region_areas(labels, explanation.n_regions)
    worst_first = explanation.order[::-1]
    removed_area = np.cumsum(areas_of[worst_first])
    steps = max(1, int(np.searchsorted(removed_area, max_area + 1e-9, side="right")))
    keep = np.ones((steps, explanation.n_regions), dtype=bool)
    for k in range(steps):
        keep[k, worst_first[: k + 1]] = False
    images = compose(array, fill_image(array, fill), labels, keep)
    # P(correct first token) for every cut, in one batch
    p_correct = np.asarray(model.token_probs(list(images), scored, [0], [correct_id]), dtype=float)[
        :, 0
    ]
    found = None  # (cut index, answer)
    revised: list[str] = []
    for lo, answers in _regenerations(model, images, prompt, max_new_tokens, stop):
        hit = next((i for i, a in enumerate(answers) if a.token_ids[:1] == [correct_id]), None)
        revised += [a.text for a in answers[: len(answers) if hit is None else hit + 1]]
        if hit is not None:
            found = (lo + hit, answers[hit])
            break
    cut = found[0] if found else steps - 1
    outcome = Mitigation(
        original=original,
        corrected=found is not None,
        answer=found[1] if found else None,
        removed_regions=list(map(int, worst_first[: cut + 1])),
        removed_area=float(removed_area[cut]) if found else 1.0,
        areas=removed_area[:steps],
        p_correct=p_correct,
        correct_id=correct_id,
        max_area=float(max_area),
        fill=fill,
        revised=revised,
    )
    explanation.mitigation = outcome
    return outcome


def _regenerations(model, images, prompt, max_new_tokens, stop):
    """(first cut index, answers) per model call, in cut order; Cancelled when told to stop."""
    batched = supports(model, GeneratesBatch)
    size = REGENERATE_BATCH if batched else 1
    for lo in range(0, len(images), size):
        if stop():
            raise Cancelled("mitigation stopped by the caller")
        chunk = list(images[lo : lo + size])
        if batched:
            answers = list(model.generate_batch(chunk, prompt, max_new_tokens=max_new_tokens))
            if len(answers) != len(chunk):
                raise ValueError(
                    f"generate_batch returned {len(answers)} answers for {len(chunk)} images"
                )
        else:
            answers = [model.generate(chunk[0], prompt, max_new_tokens=max_new_tokens)]
        yield lo, answers


def hallucination_metrics(
    mitigations: Sequence[Mitigation], explanations: Sequence[Explanation] = ()
) -> dict:
    """Dataset-level figures: AMCR (never-corrected samples count 1), CSR@10% (never-corrected
    samples stay in the denominator), and the correct token's insertion/deletion AUCs."""
    if not mitigations:
        raise ValueError("no samples: give at least one Mitigation")
    areas = np.array([m.removed_area if m.corrected else 1.0 for m in mitigations])
    corrected_within = np.array([m.corrected and m.removed_area <= 0.10 for m in mitigations])
    metrics = {
        "samples": len(mitigations),
        "amcr": float(areas.mean()),
        "csr_at_10": float(corrected_within.mean()),
        "corrected": int(sum(m.corrected for m in mitigations)),
    }
    if explanations:
        metrics["insertion_auc"] = float(np.mean([e.insertion_auc for e in explanations]))
        metrics["deletion_auc"] = float(np.mean([e.deletion_auc for e in explanations]))
    return metrics
