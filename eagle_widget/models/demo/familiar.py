"""Whether an image looks like the demo model's world, and what to tell a user when it does not.

The demo model has only seen generated scenes (scenes.py): a plain grey background with a few
red, green, blue or yellow shapes. On a photo it still answers, with words of that world
("a blank image", shapes it invents), so the adapter says once what it knows instead.

A drawing in the scenes' own style can still leave that world: shapes much smaller or larger
than its 9 to 23 pixels (of 64), shapes that touch or overlap, more than three of them. There
its captions degrade ("a red circle, a and a red square"), so such an image, or an answer
outside the model's own grammar, gets a warning of its own each time (answer_problem).
"""

from __future__ import annotations

import re

import numpy as np
from PIL import Image

from .scenes import BACKGROUND_RANGE, CAPTION_PROMPT, COLOUR_RGB, COLOURS, SHAPES, SIZE

NOTE = (
    "the demo model only knows generated scenes: one to three red, green, blue or yellow "
    "circles, squares and triangles on a plain grey background, so on this image its answers "
    "and their explanations mean little. For photos load a real model, e.g. "
    'ew.load_model("Qwen/Qwen2.5-VL-3B-Instruct") or --model Qwen/Qwen2.5-VL-3B-Instruct '
    "(install with: pip install 'eagle-widget[models]')"
)
_PALETTE = np.array(list(COLOUR_RGB.values()), dtype=np.int16)
_GREY_CHROMA = 30  # max - min channel of a grey pixel, with noise and jitter
_GREY_SPREAD = 20  # a plain background: every grey pixel this close to the border's level
_COLOUR_SPREAD = 50  # per channel, around a palette colour (jitter 18, noise, resizing)
# Measured on 500 scenes: every border pixel is background, at least 99.9% of all pixels fit
# (99.2% for a scene scaled up 8 times); a photo, a screenshot or noise fits far less.
_BORDER_SHARE = 0.97
_FIT_SHARE = 0.97


class UnfamiliarImageWarning(UserWarning):
    """The demo model was given an image unlike the scenes it was trained on."""


def looks_like_a_scene(image: np.ndarray) -> bool:
    """True when `image` (H x W x 3 uint8) is a plain grey background with palette shapes."""
    if image.shape[:2] != (SIZE, SIZE):  # compare at the size the model sees
        image = np.asarray(Image.fromarray(image).resize((SIZE, SIZE), Image.BILINEAR))
    pixels = image.astype(np.int16)
    chroma = pixels.max(axis=-1) - pixels.min(axis=-1)
    grey = pixels.mean(axis=-1)
    border = np.zeros(grey.shape, dtype=bool)
    border[[0, -1], :] = border[:, [0, -1]] = True  # objects keep off it: it is background
    level = float(np.median(grey[border]))
    background = (chroma <= _GREY_CHROMA) & (np.abs(grey - level) <= _GREY_SPREAD)
    low, high = BACKGROUND_RANGE
    if not low - _GREY_SPREAD <= level <= high + _GREY_SPREAD:
        return False
    if background[border].mean() < _BORDER_SHARE:
        return False
    shape = (np.abs(pixels[:, :, None, :] - _PALETTE).max(axis=-1) <= _COLOUR_SPREAD).any(-1)
    return float((background | shape).mean()) >= _FIT_SHARE


# Objects of the scenes, at the model's size: 1 to 3 of them, each 9 to 23 pixels across
# (measured on 500 scenes), a little slack for resizing.
_OBJECT_EXTENT = (8, 26)
_MAX_OBJECTS = 3
_OBJECT_AREA = 75  # pixels at SIZE x SIZE: the smallest of 1,000 scenes' shapes has 81
_OBJECT = rf"a ({'|'.join(COLOURS)}) ({'|'.join(SHAPES)})"
_CAPTION = re.compile(rf"a blank image|{_OBJECT}(?:(?:, {_OBJECT})* and {_OBJECT})?")
_QUESTION = re.compile(rf"is there {_OBJECT}\?")
_NO_PAIR_TWICE = re.compile(rf"\b({_OBJECT})\b.*\b\1\b")


def object_problem(image: np.ndarray) -> str | None:
    """What about the image's coloured shapes the scenes never had, or None."""
    from skimage.measure import label, regionprops

    # at the image's own size: a shape too small to survive the resize is still one
    scale = SIZE / max(image.shape[:2])
    pixels = image.astype(np.int16)
    coloured = pixels.max(axis=-1) - pixels.min(axis=-1) > _GREY_CHROMA
    shapes = [p for p in regionprops(label(coloured, connectivity=2)) if p.area * scale**2 >= 2]
    extents = [round(max(p.bbox[2] - p.bbox[0], p.bbox[3] - p.bbox[1]) * scale) for p in shapes]
    low, high = _OBJECT_EXTENT
    if len(shapes) > _MAX_OBJECTS:
        return f"{len(shapes)} shapes (its scenes hold 1 to 3)"
    areas = [round(p.area * scale**2) for p in shapes]
    if any(e < low for e in extents) or any(a < _OBJECT_AREA for a in areas):
        return (
            f"a shape of {min(areas)} pixels, {min(extents)} across, at {SIZE} x {SIZE} "
            f"(its have {_OBJECT_AREA} or more, 9 to 23 across)"
        )
    if any(e > high for e in extents):
        return (
            f"a shape (or shapes that touch) {max(extents)} pixels across at {SIZE} x {SIZE} "
            "(its are 9 to 23, apart)"
        )
    return None


def answer_problem(image: np.ndarray, prompt: str, answer: str) -> str | None:
    """Why the demo model's answer to one of its own prompts is not to be trusted, or None:
    an answer outside its grammar, or an image whose shapes its scenes never had."""
    text = answer.strip()
    if prompt.strip() == CAPTION_PROMPT:
        if not _CAPTION.fullmatch(text) or _NO_PAIR_TWICE.search(text):
            return f"its caption {text!r} is not one of its world's captions"
    elif _QUESTION.fullmatch(prompt.strip().lower()):
        if text.split()[:1] not in (["yes"], ["no"]):
            return f"its answer {text!r} to a yes/no question is neither"
    else:
        return None  # a prompt of the user's own: no grammar to hold it to
    found = object_problem(image)
    return None if found is None else f"the image has {found}"
