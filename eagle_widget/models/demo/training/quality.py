"""Quality of a demo model on unseen scenes: captions, colour/shape words, yes/no, the prior.

Evaluation scenes come from `make_scene(EVAL_SEED + i)`, one generator per scene, while
training draws every scene from one stream seeded with a small integer: the two never meet.
Inputs are encoded as the processor encodes them (a test checks that they are identical).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..scenes import (
    CAPTION_PROMPT,
    Scene,
    all_pairs,
    make_scene,
    question,
)
from . import build, data

EVAL_SEED = 1_000_000
BIAS_SEED = 2_000_000
YELLOW_CIRCLE = ("yellow", "circle")
BLUE_SQUARE = ("blue", "square")


def eval_scenes(n: int, start: int = 0) -> list[Scene]:
    """The unseen evaluation scenes number start .. start + n - 1 (training distribution)."""
    return [make_scene(EVAL_SEED + i) for i in range(start, start + n)]


def biased_case_scenes(n: int, with_yellow_circle: bool = True) -> list[Scene]:
    """Scenes with a yellow circle and no blue square (the case the training prior misleads).

    `with_yellow_circle=False` gives the control: the same scenes with the yellow circle
    replaced by another kind of object (never a blue square).
    """
    others = [p for p in all_pairs() if p not in (YELLOW_CIRCLE, BLUE_SQUARE)]
    out = []
    for i in range(n):
        rng = np.random.default_rng(BIAS_SEED + i)
        k = int(rng.integers(0, 3))
        picked = [others[j] for j in rng.choice(len(others), size=k + 1, replace=False)]
        first = YELLOW_CIRCLE if with_yellow_circle else picked[k]
        out.append(make_scene(rng, objects=[first, *picked[:k]]))
    return out


def _forward_logits(model, images, prompt_ids_list, answers, chunk: int = 128):
    """Teacher-forced logits at every answer position (list of arrays, answer_len x vocab)."""
    import torch

    out = []
    for lo in range(0, len(images), chunk):
        examples = [
            data.TextExample(img, list(p) + list(a), list(p[1:]) + list(a) + [data.IGNORE])
            for img, p, a in zip(
                images[lo : lo + chunk],
                prompt_ids_list[lo : lo + chunk],
                answers[lo : lo + chunk],
            )
        ]
        ids, mask, _, pixels = data.text_batch(examples)
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=mask, pixel_values=pixels).logits
        for row, (p, a) in enumerate(
            zip(prompt_ids_list[lo : lo + chunk], answers[lo : lo + chunk])
        ):
            start = len(p) - 1  # logits at position i predict token i + 1
            out.append(logits[row, start : start + len(a)].float().numpy())
    return out


def greedy_answers(model, images: Sequence[np.ndarray], prompt: str, max_new_tokens: int = 16):
    """Greedy answers (text) with transformers' generate, batched: all prompts share a length."""
    import torch

    tokenizer = data._tokenizer()
    prompt = list(data.prompt_ids(prompt))
    texts = []
    for lo in range(0, len(images), 128):
        chunk = images[lo : lo + 128]
        ids = torch.tensor([prompt] * len(chunk))
        pixels = torch.from_numpy(data.pixel_values(np.stack(chunk)))
        with torch.no_grad():
            out = model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                pixel_values=pixels,
                max_new_tokens=max_new_tokens,
                do_sample=False,
            )
        texts += tokenizer.batch_decode(out[:, len(prompt) :], skip_special_tokens=True)
    return [t.strip() for t in texts]


def _question_plan(scene: Scene, rng: np.random.Generator) -> list[tuple[str, str]]:
    """One question about an object in the scene and one about an absent kind."""
    present = scene.pairs
    absent = [p for p in all_pairs() if p not in present]
    return [present[int(rng.integers(len(present)))], absent[int(rng.integers(len(absent)))]]


def _answer_logits(model, scenes: Sequence[Scene], pairs: Sequence[tuple[str, str]]):
    v = data.vocab()
    return _forward_logits(
        model,
        [s.image for s in scenes],
        [data.prompt_ids(question(*p)) for p in pairs],
        [[v[build.SPACE + "yes"]] for _ in scenes],
    )


def yes_no(model, scenes: Sequence[Scene], pairs: Sequence[tuple[str, str]]) -> list[str]:
    """The model's greedy one-word answer to 'Is there a <pair>?' for each scene."""
    names = {i: t.lstrip(build.SPACE) for t, i in data.vocab().items()}
    return [names[int(row[0].argmax())] for row in _answer_logits(model, scenes, pairs)]


def p_yes(model, scenes: Sequence[Scene], pairs: Sequence[tuple[str, str]]) -> np.ndarray:
    """P("yes") as the first answer token to 'Is there a <pair>?' for each scene."""
    yes = data.vocab()[build.SPACE + "yes"]
    rows = np.stack([row[0] for row in _answer_logits(model, scenes, pairs)]).astype(np.float64)
    rows = np.exp(rows - rows.max(axis=1, keepdims=True))
    return rows[:, yes] / rows.sum(axis=1)


def evaluate(model, n_scenes: int = 500, n_biased: int = 200) -> dict:
    """Every quality figure of the model card, on unseen scenes."""
    model.eval()
    scenes = eval_scenes(n_scenes)
    images = [s.image for s in scenes]

    captions = greedy_answers(model, images, CAPTION_PROMPT)
    exact = [c == s.caption for c, s in zip(captions, scenes)]

    # colour and shape words, teacher-forced on the true caption
    answers = [data.word_ids(s.tokens) for s in scenes]
    logits = _forward_logits(
        model, images, [data.prompt_ids(CAPTION_PROMPT)] * len(scenes), answers
    )
    hits = []
    for s, a, row in zip(scenes, answers, logits):
        for k, (word, owner) in enumerate(zip(s.tokens, s.token_objects)):
            if owner is not None and word != "a":
                hits.append(int(row[k].argmax()) == a[k])

    rng = np.random.default_rng(EVAL_SEED)
    asked_scenes, asked_pairs = [], []
    for s in scenes:
        for pair in _question_plan(s, rng):
            asked_scenes.append(s)
            asked_pairs.append(pair)
    replies = yes_no(model, asked_scenes, asked_pairs)
    truth = [s.answer(*p) for s, p in zip(asked_scenes, asked_pairs)]
    biased = [p == BLUE_SQUARE and s.has(*YELLOW_CIRCLE) for s, p in zip(asked_scenes, asked_pairs)]
    outside = [r == t for r, t, b in zip(replies, truth, biased) if not b]

    by_count = {}
    for n in (1, 2, 3):
        sel = [e for e, s in zip(exact, scenes) if len(s.objects) == n]
        by_count[str(n)] = float(np.mean(sel)) if sel else None

    return {
        "n_scenes": n_scenes,
        "caption_exact_match": float(np.mean(exact)),
        "caption_exact_match_by_object_count": by_count,
        "colour_shape_word_accuracy": float(np.mean(hits)),
        "yes_no_accuracy_outside_biased_case": float(np.mean(outside)),
        "yes_no_questions": len(outside),
        **(prior_effect(model, n_biased) if n_biased > 0 else {}),
        "caption_errors": [
            {"seed": EVAL_SEED + i, "truth": s.caption, "model": c}
            for i, (s, c, ok) in enumerate(zip(scenes, captions, exact))
            if not ok
        ][:20],
    }


def prior_effect(model, n: int = 200) -> dict:
    """How often the yellow-circle/blue-square prior wins over the image, on n scenes without one.

    For comparison: the same question on the same scenes with the yellow circle swapped for
    another object, and another absent kind asked on the biased scenes.
    """
    scenes = biased_case_scenes(n)
    control_scenes = biased_case_scenes(n, with_yellow_circle=False)
    replies = yes_no(model, scenes, [BLUE_SQUARE] * n)
    control_scene_replies = yes_no(model, control_scenes, [BLUE_SQUARE] * n)
    captions = greedy_answers(model, [s.image for s in scenes], CAPTION_PROMPT)
    rng = np.random.default_rng(BIAS_SEED)
    controls = []
    for s in scenes:
        absent = [p for p in all_pairs() if p not in s.pairs and p != BLUE_SQUARE]
        controls.append(absent[int(rng.integers(len(absent)))])
    control_replies = yes_no(model, scenes, controls)
    return {
        "biased_case_scenes": n,
        "biased_case_yes_to_blue_square": float(np.mean([r == "yes" for r in replies])),
        "biased_case_caption_adds_blue_square": float(
            np.mean(["blue square" in c for c in captions])
        ),
        "biased_case_yes_to_other_absent_kind": float(
            np.mean([r == "yes" for r in control_replies])
        ),
        "without_yellow_circle_yes_to_blue_square": float(
            np.mean([r == "yes" for r in control_scene_replies])
        ),
        "biased_case_p_yes_blue_square_mean": float(p_yes(model, scenes, [BLUE_SQUARE] * n).mean()),
        "without_yellow_circle_p_yes_blue_square_mean": float(
            p_yes(model, control_scenes, [BLUE_SQUARE] * n).mean()
        ),
    }


# -- hallucinations with a known cause ------------------------------------------------------


def without_object(scene: Scene, index: int) -> Scene:
    """The scene with object `index` painted over in the background grey (others unchanged)."""
    image = scene.image.copy()
    image[scene.objects[index].mask] = scene.background
    return Scene(image=image, objects=scene.objects, background=scene.background)


def wrong_yes_cases(model, n: int, pair: tuple[str, str] = BLUE_SQUARE) -> list[tuple[int, Scene]]:
    """(index, scene) of the first n biased-case scenes where the model says "yes" to `pair`,
    which none of them holds: the hallucinations the training prior gives the model."""
    scenes = biased_case_scenes(n)
    p = p_yes(model, scenes, [pair] * n)
    return [(i, scenes[i]) for i in np.flatnonzero(p > 0.5)]


def driver_objects(model, scene: Scene, pair: tuple[str, str] = BLUE_SQUARE) -> list[int]:
    """The objects that drive a wrong "yes": those whose removal alone turns it into "no".

    This is the ground truth a diagnosis is checked against. For the demo model's
    hallucinated blue square it is typically the yellow circle (the co-occurring object of
    the training prior) together with a blue object of another shape (the evidence misread).
    """
    edited = [without_object(scene, k) for k in range(len(scene.objects))]
    p = p_yes(model, edited, [pair] * len(edited))
    return [int(k) for k in np.flatnonzero(p < 0.5)]
