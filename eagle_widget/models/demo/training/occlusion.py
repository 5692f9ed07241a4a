"""Random occlusions like the masked images of an explanation, for training the demo model.

An explanation fills image regions (superpixels) with black, a grey level, the image mean
or a blurred copy. Training on such images keeps the model's inputs in distribution while
it is being explained. An object counts as visible when most of it survives and as absent
when most of it is filled; occlusions in between are redrawn so that labels stay clear.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..scenes import SIZE, Scene

VISIBLE_AT_LEAST = 0.7  # an object with this share of its pixels kept is named
HIDDEN_AT_MOST = 0.25  # an object with at most this share kept is not
FILLS = ("black", "grey", "mean", "blur")
_FILL_WEIGHTS = (0.45, 0.2, 0.2, 0.15)
_BLUR_SIGMA = SIZE / 20  # the engine's blur fill uses max(H, W) / 20


@dataclass(frozen=True, eq=False)
class Occluded:
    """A masked scene image and, per object of the scene, whether it is still visible."""

    image: np.ndarray
    kept: np.ndarray  # H x W bool, pixels of the original image
    visible: tuple[bool, ...]


def fill_image(image: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """The full-size filler of one kind: black, a random grey, the per-channel mean, a blur."""
    if kind == "black":
        return np.zeros_like(image)
    if kind == "grey":
        return np.full_like(image, int(rng.integers(0, 256)))
    if kind == "mean":
        mean = np.round(image.reshape(-1, 3).mean(axis=0)).astype(np.uint8)
        return np.broadcast_to(mean, image.shape).copy()
    if kind == "blur":
        from skimage.filters import gaussian

        blurred = gaussian(image.astype(np.float32) / 255, sigma=_BLUR_SIGMA, channel_axis=-1)
        return np.clip(np.round(blurred * 255), 0, 255).astype(np.uint8)
    raise ValueError(f"fill kind must be one of {FILLS}, got {kind!r}")


def random_fill(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    kind = FILLS[int(rng.choice(len(FILLS), p=_FILL_WEIGHTS))]
    return fill_image(image, kind, rng)


def random_regions(image: np.ndarray, rng: np.random.Generator, slic_share: float = 0.15):
    """A label map of random regions: SLIC superpixels (as the engine makes) or Voronoi cells."""
    n = int(rng.integers(6, 65))
    if rng.random() < slic_share:
        from skimage.segmentation import slic

        return slic(
            image, n_segments=n, slic_zero=True, start_label=0, enforce_connectivity=True,
            channel_axis=-1,
        )  # fmt: skip
    seeds = rng.uniform(0, SIZE, size=(n, 2))
    ys, xs = np.mgrid[0:SIZE, 0:SIZE]
    d = (ys[..., None] - seeds[:, 0]) ** 2 + (xs[..., None] - seeds[:, 1]) ** 2
    return d.argmin(axis=-1)


def occlude(scene: Scene, rng: np.random.Generator, tries: int = 8) -> Occluded:
    """Fill a random subset of random regions; objects end up clearly visible or clearly hidden.

    Falls back to the unmasked image when no draw within `tries` gives clear labels.
    """
    areas = np.array([o.area for o in scene.objects], dtype=float)
    for _ in range(tries):
        labels = random_regions(scene.image, rng)
        keep_share = rng.uniform(0.15, 0.9)
        kept_regions = rng.random(labels.max() + 1) < keep_share
        kept = kept_regions[labels]
        shares = np.array([(o.mask & kept).sum() for o in scene.objects]) / areas
        if np.all((shares >= VISIBLE_AT_LEAST) | (shares <= HIDDEN_AT_MOST)):
            image = np.where(kept[..., None], scene.image, random_fill(scene.image, rng))
            return Occluded(image, kept, tuple(bool(s >= VISIBLE_AT_LEAST) for s in shares))
    kept = np.ones(scene.image.shape[:2], dtype=bool)
    return Occluded(scene.image.copy(), kept, (True,) * len(scene.objects))
