"""Training examples for the demo model, encoded exactly as its processor would encode them.

Two kinds of example:
- vision examples: an image and, per 8 x 8 patch, the colour and shape of the visible object
  covering it (or background), to teach the vision tower what it must see;
- text examples: an image, a prompt and the answer tokens with their training targets.

Text tasks, drawn per example: the caption of the visible objects; a yes/no question; or the
full scene caption teacher-forced on a masked image, where the colour and shape words of
hidden objects have the target "blank" (the model learns to put no weight on what it
cannot see). On blank images the words "a", ",", "and" and the end of the caption keep
their real targets, so their probability without the image is the language prior.
The padded batches of such examples (text_batch) serve both train.py and evaluate.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..scenes import (
    CAPTION_PROMPT,
    COLOURS,
    SHAPES,
    SIZE,
    Scene,
    all_pairs,
    caption_tokens,
    empty_scene,
    make_scene,
    question,
)
from . import build
from .occlusion import fill_image, occlude

N_PATCHES = (SIZE // build.PATCH_SIZE) ** 2
IGNORE = -100
_PATCH_MIN_PIXELS = 12  # visible object pixels a patch needs to carry the object's label

# image conditions and text tasks, with their shares of the training stream
CONDITIONS = {"clean": 0.35, "occluded": 0.55, "blank": 0.10}
TASKS = {"caption": 0.45, "question": 0.35, "forced": 0.20}


@lru_cache(maxsize=1)
def _tokenizer():
    return build.build_tokenizer()


def vocab() -> dict[str, int]:
    return build.vocabulary()


@lru_cache(maxsize=64)
def prompt_ids(prompt: str) -> tuple[int, ...]:
    """Ids of the chat-templated prompt with the image expanded to one token per patch."""
    v = vocab()
    words = _tokenizer().encode(" " + prompt, add_special_tokens=False)
    image = [v[build.IMAGE_TOKEN]] * N_PATCHES
    return (v["<s>"], v["<user>"], *image, *words, v["<assistant>"])


def word_ids(words: list[str]) -> list[int]:
    """Ids of answer words and punctuation (caption tokens as `scenes.caption_tokens` gives)."""
    v = vocab()
    return [v[w] if w in build.PUNCTUATION else v[build.SPACE + w] for w in words]


def pixel_values(images) -> np.ndarray:
    """uint8 N x H x W x 3 (H = W = 64) -> float32 N x 3 x H x W, as the image processor makes."""
    x = np.asarray(images, dtype=np.float32) / 255.0
    mean = np.asarray(build.PIXEL_MEAN, np.float32)
    std = np.asarray(build.PIXEL_STD, np.float32)
    return ((x - mean) / std).transpose(0, 3, 1, 2).copy()


@dataclass(frozen=True, eq=False)
class TextExample:
    image: np.ndarray
    input_ids: list[int]  # prompt + answer + eos
    targets: list[int]  # per position the next-token target, IGNORE where no loss


def _choice(rng: np.random.Generator, shares: dict[str, float]) -> str:
    names = list(shares)
    return names[int(rng.choice(len(names), p=list(shares.values())))]


def blank_image(rng: np.random.Generator) -> np.ndarray:
    """An image with nothing to see: an empty background, or a scene filled completely."""
    if rng.random() < 0.3:
        return empty_scene(rng)
    scene = make_scene(rng)
    kind = ("black", "black", "grey", "mean", "blur")[int(rng.integers(5))]
    return fill_image(scene.image, kind, rng)


def scene_view(rng: np.random.Generator) -> tuple[Scene, np.ndarray, tuple[bool, ...], str]:
    """A training scene, the image the model sees, which objects stay visible, the condition."""
    scene = make_scene(rng)
    condition = _choice(rng, CONDITIONS)
    if condition == "clean":
        return scene, scene.image, (True,) * len(scene.objects), condition
    if condition == "blank":
        return scene, blank_image(rng), (False,) * len(scene.objects), condition
    occluded = occlude(scene, rng)
    return scene, occluded.image, occluded.visible, condition


def patch_labels(scene: Scene, kept: np.ndarray, visible) -> tuple[np.ndarray, np.ndarray]:
    """Per patch: colour class (0 background, 1..4) and shape class (0 background, 1..3)."""
    p = build.PATCH_SIZE
    g = SIZE // p
    best = np.zeros(N_PATCHES, dtype=np.int64)
    colour = np.zeros(N_PATCHES, dtype=np.int64)
    shape = np.zeros(N_PATCHES, dtype=np.int64)
    for obj, seen in zip(scene.objects, visible):
        if not seen:
            continue
        count = (obj.mask & kept).reshape(g, p, g, p).sum(axis=(1, 3)).ravel()
        wins = (count >= _PATCH_MIN_PIXELS) & (count > best)
        best = np.where(wins, count, best)
        colour[wins] = COLOURS.index(obj.colour) + 1
        shape[wins] = SHAPES.index(obj.shape) + 1
    return colour, shape


def vision_example(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An image with its per-patch colour and shape labels."""
    scene = make_scene(rng)
    condition = _choice(rng, CONDITIONS)
    if condition == "blank":
        empty = np.zeros(N_PATCHES, dtype=np.int64)
        return blank_image(rng), empty, empty.copy()
    if condition == "clean":
        kept = np.ones((SIZE, SIZE), dtype=bool)
        colour, shape = patch_labels(scene, kept, (True,) * len(scene.objects))
        return scene.image, colour, shape
    occluded = occlude(scene, rng)
    colour, shape = patch_labels(scene, occluded.kept, occluded.visible)
    return occluded.image, colour, shape


def _sequence(prompt: str, answer: list[int], targets: list[int]) -> tuple[list[int], list[int]]:
    """Input ids and aligned next-token targets for prompt + answer (targets per answer token)."""
    ids = list(prompt_ids(prompt)) + answer
    shifted = [IGNORE] * (len(prompt_ids(prompt)) - 1) + targets
    return ids, shifted


def caption_example(scene: Scene, image, visible) -> TextExample:
    v = vocab()
    pairs = [p for p, seen in zip(scene.pairs, visible) if seen]
    words = caption_tokens(pairs)[0] if pairs else build.BLANK_CAPTION.split()
    answer = word_ids(words)
    ids, targets = _sequence(CAPTION_PROMPT, answer, answer + [v["</s>"]])
    return TextExample(image, ids, targets)


def question_example(scene: Scene, image, visible, rng: np.random.Generator) -> TextExample:
    v = vocab()
    seen = [p for p, s in zip(scene.pairs, visible) if s]
    if seen and rng.random() < 0.5:
        pair = seen[int(rng.integers(len(seen)))]
    else:
        absent = [p for p in all_pairs() if p not in seen]
        near = [p for p in absent if any(p[0] == q[0] or p[1] == q[1] for q in scene.pairs)]
        pool = near if near and rng.random() < 0.5 else absent
        pair = pool[int(rng.integers(len(pool)))]
    answer = word_ids(["yes" if pair in seen else "no"])
    ids, targets = _sequence(question(*pair), answer, answer + [v["</s>"]])
    return TextExample(image, ids, targets)


def forced_example(scene: Scene, image, visible, blank: bool) -> TextExample:
    """The full caption on a masked image: hidden objects' colour and shape words -> "blank"."""
    v = vocab()
    words, owners = caption_tokens(scene.pairs)
    answer = word_ids(words)
    targets = []
    for word, token, owner in zip(words, answer, owners):
        if word == "a":
            targets.append(token)
        elif owner is None:  # "," or "and": the language prior on blank images only
            targets.append(token if blank else IGNORE)
        else:
            targets.append(token if visible[owner] else v[build.SPACE + build.BLANK_WORD])
    targets.append(v["</s>"] if blank else IGNORE)
    ids, shifted = _sequence(CAPTION_PROMPT, answer, targets)
    return TextExample(image, ids, shifted)


def text_example(rng: np.random.Generator) -> TextExample:
    scene, image, visible, condition = scene_view(rng)
    task = _choice(rng, TASKS)
    if task == "forced" and (condition == "blank" or not all(visible)):
        return forced_example(scene, image, visible, blank=condition == "blank")
    if task == "question":
        return question_example(scene, image, visible, rng)
    return caption_example(scene, image, visible)


# -- batches (training and evaluation) --------------------------------------------
def text_arrays(examples: list[TextExample]) -> tuple[np.ndarray, ...]:
    """Right-padded arrays: input_ids, attention_mask, targets, images (uint8)."""
    pad = vocab()["<pad>"]
    length = max(len(e.input_ids) for e in examples)
    ids = np.full((len(examples), length), pad, dtype=np.int64)
    targets = np.full((len(examples), length), IGNORE, dtype=np.int64)
    mask = np.zeros((len(examples), length), dtype=np.int64)
    for i, e in enumerate(examples):
        ids[i, : len(e.input_ids)] = e.input_ids
        targets[i, : len(e.targets)] = e.targets
        mask[i, : len(e.input_ids)] = 1
    return ids, mask, targets, np.stack([e.image for e in examples])


def text_batch(examples: list[TextExample]):
    """Tensors input_ids, attention_mask, targets, pixel_values for a list of examples."""
    return to_tensors(text_arrays(examples))


def to_tensors(arrays: tuple[np.ndarray, ...]):
    """Torch tensors of a batch; the last array (uint8 images) becomes pixel values."""
    import torch

    *rest, images = arrays
    return (*(torch.from_numpy(a) for a in rest), torch.from_numpy(pixel_values(images)))
