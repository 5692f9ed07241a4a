"""Insertion and deletion images of region sets, composed from the label map on demand."""

from __future__ import annotations

import numpy as np


def fill_image(image: np.ndarray, fill) -> np.ndarray:
    """The image a removed region shows: a colour, the per-channel mean, or a blurred copy
    (of a clip: the mean over all its frames, each frame blurred alone)."""
    if isinstance(fill, str):
        if fill == "mean":
            colour = np.round(image.reshape(-1, 3).mean(axis=0)).astype(np.uint8)
            return np.broadcast_to(colour, image.shape)
        if fill == "blur":
            return _blur(image)
        raise ValueError(f"fill must be a number, an RGB triple, 'mean' or 'blur', got {fill!r}")
    colour = np.asarray(fill)
    if colour.ndim == 0:
        colour = np.repeat(colour, 3)
    if (
        colour.shape != (3,)
        or not np.issubdtype(colour.dtype, np.number)
        or not np.all(np.isfinite(colour))
        or np.any(colour != np.round(colour))  # 127.5 would be cut to 127 without a word
        or colour.min() < 0
        or colour.max() > 255
    ):
        raise ValueError(f"fill must be a whole value or an RGB triple in 0..255, got {fill!r}")
    return np.broadcast_to(colour.astype(np.uint8), image.shape)


def compose(
    image: np.ndarray, filler: np.ndarray, labels: np.ndarray, keep: np.ndarray
) -> np.ndarray:
    """Images that keep the regions marked in each row of `keep` (k x N bool) and fill the rest.

    Each copy is filler + kept * (image - filler) in uint8, whose arithmetic wraps modulo 256
    and so gives back the image exactly where a region is kept: two passes over the pixels,
    2 to 4 times faster than a three-way select.
    """
    difference = image - filler
    pixels = labels.astype(np.intp, copy=False)  # an index numpy need not convert per row
    out = np.empty((len(keep), *image.shape), dtype=np.uint8)
    for copy, kept in zip(out, np.asarray(keep, dtype=np.uint8)):
        np.multiply(difference, kept[pixels][..., None], out=copy)
        copy += filler
    return out


def _blur(image: np.ndarray) -> np.ndarray:
    from skimage.filters import gaussian

    if image.ndim == 4:  # a clip: each frame alone (a blur across frames would mix them)
        return np.stack([_blur(frame) for frame in image])
    sigma = max(image.shape[:2]) / 20
    blurred = gaussian(image.astype(np.float32) / 255, sigma=sigma, channel_axis=-1)
    return np.clip(np.round(blurred * 255), 0, 255).astype(np.uint8)
