"""Whether an image looks like the demo model's world, and what to tell a user when it does not.

The demo model has only seen generated scenes (scenes.py): a plain grey background with a few
red, green, blue or yellow shapes. On a photo it still answers, with words of that world
("a blank image", shapes it invents), so the adapter says once what it knows instead.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .scenes import BACKGROUND_RANGE, COLOUR_RGB, SIZE

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
