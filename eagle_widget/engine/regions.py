"""Sub-regions: one H x W label map with labels 0..N-1, from SLIC superpixels."""

from __future__ import annotations

import numpy as np

# SLIC cost grows with pixels; beyond this side length we segment a downscaled copy and
# scale the labels back up (nearest neighbour keeps every region connected).
_MAX_SLIC_SIDE = 512
# Below a few pixels per region SLIC has nothing to cluster: use a regular grid of blocks.
_MIN_PIXELS_PER_REGION = 4


def superpixels(image: np.ndarray, n_regions: int = 50) -> np.ndarray:
    """Split an RGB image into about `n_regions` connected regions (int32 labels 0..N-1)."""
    if isinstance(n_regions, bool) or not isinstance(n_regions, (int, np.integer)):
        raise TypeError(f"n_regions must be an int, got {type(n_regions).__name__}")
    if n_regions < 1:
        raise ValueError(f"n_regions must be at least 1, got {n_regions}")
    height, width = image.shape[:2]
    if n_regions == 1:
        return np.zeros((height, width), dtype=np.int32)
    if n_regions * _MIN_PIXELS_PER_REGION > height * width:
        return grid_regions(height, width, n_regions)
    scale = min(1.0, _MAX_SLIC_SIDE / max(height, width))
    small = image if scale == 1.0 else _resize_nearest(image, scale)
    labels = _slic(small, n_regions)
    if scale != 1.0:
        labels = upscale_labels(labels, height, width)
    return _relabel(labels)


def grid_regions(height: int, width: int, n_regions: int) -> np.ndarray:
    """A grid of about n_regions rectangular blocks (at least one pixel each)."""
    rows = max(1, min(height, round(np.sqrt(n_regions * height / width))))
    cols = max(1, min(width, int(np.ceil(n_regions / rows))))
    row_of = np.minimum(np.arange(height) * rows // height, rows - 1)
    col_of = np.minimum(np.arange(width) * cols // width, cols - 1)
    return _relabel(row_of[:, None] * cols + col_of[None, :])


def region_areas(labels: np.ndarray, n_regions: int) -> np.ndarray:
    """Fraction of the image covered by each region."""
    return np.bincount(labels.ravel(), minlength=n_regions) / labels.size


def region_neighbours(labels: np.ndarray, n_regions: int) -> list[np.ndarray]:
    """For each region, the regions that touch it (4-connected pixels), sorted."""
    pairs = [
        np.stack([labels[:, :-1].ravel(), labels[:, 1:].ravel()], axis=1),
        np.stack([labels[:-1, :].ravel(), labels[1:, :].ravel()], axis=1),
    ]
    pairs = np.concatenate(pairs)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    pairs = np.unique(np.concatenate([pairs, pairs[:, ::-1]]), axis=0)
    starts = np.searchsorted(pairs[:, 0], np.arange(n_regions + 1))
    return [pairs[starts[r] : starts[r + 1], 1] for r in range(n_regions)]


def _slic(image: np.ndarray, n_regions: int) -> np.ndarray:
    from skimage.segmentation import slic

    return slic(
        image,
        n_segments=n_regions,
        slic_zero=True,
        start_label=0,
        enforce_connectivity=True,
        channel_axis=-1,
    )


def _resize_nearest(image: np.ndarray, scale: float) -> np.ndarray:
    height, width = image.shape[:2]
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    rows = np.arange(new_h) * height // new_h
    cols = np.arange(new_w) * width // new_w
    return image[rows][:, cols]


def upscale_labels(labels: np.ndarray, height: int, width: int) -> np.ndarray:
    """The label map at height x width (nearest neighbour: no region is lost or split)."""
    if labels.shape == (height, width):
        return labels
    small_h, small_w = labels.shape
    rows = np.minimum(np.arange(height) * small_h // height, small_h - 1)
    cols = np.minimum(np.arange(width) * small_w // width, small_w - 1)
    return labels[rows][:, cols]


def downscale_labels(labels: np.ndarray, height: int, width: int) -> np.ndarray:
    """The map at height x width that upscale_labels made `labels` from (exactly: each row
    and column read back is one that upscaling filled from it)."""
    big_h, big_w = labels.shape
    rows = (np.arange(height) * big_h + height - 1) // height
    cols = (np.arange(width) * big_w + width - 1) // width
    return labels[rows][:, cols]


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Map the labels in use onto 0..N-1, numbered in order of first appearance."""
    flat = labels.ravel()
    _, first, inverse = np.unique(flat, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int32)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first), dtype=np.int32)
    return rank[inverse].reshape(labels.shape)
