"""COCO segmentations as masks: polygons and run-length encodings (RLE), without pycocotools.

Our own decoder rather than pycocotools: it is a C extension built against numpy, often
missing where this package runs, and we only ever need one direction (segmentation to an
H x W mask at the image's size). A polygon covers the pixels whose centres lie inside it
(even-odd rule); pycocotools rasterises a little differently, so masks can differ by a
pixel along the outline, never inside.
"""

from __future__ import annotations

import numpy as np


def segmentation_mask(segmentation, shape: tuple[int, int], rule: str = "coco") -> np.ndarray:
    """H x W bool mask of a COCO segmentation: a list of flat [x, y, x, y, ...] polygons, or an
    RLE dict {"size": [h, w], "counts": list or compressed string}. `rule` draws polygons:
    "coco" (pixel centres inside, as pycocotools) or "authors" (`authors_polygon_mask`: the
    polygon filled on rounded vertices with its outline, about one pixel fatter)."""
    if rule not in ("coco", "authors"):
        raise ValueError(f"rule must be 'coco' or 'authors', got {rule!r}")
    if isinstance(segmentation, dict):
        mask = rle_decode(segmentation)
        if mask.shape != tuple(shape):
            raise ValueError(f"the RLE is of size {mask.shape} but the image is {tuple(shape)}")
        return mask
    if not isinstance(segmentation, list) or not segmentation:
        raise ValueError(f"segmentation must be polygons or an RLE dict, got {segmentation!r:.60}")
    mask = np.zeros(shape, dtype=bool)
    draw = polygon_mask if rule == "coco" else authors_polygon_mask
    for polygon in segmentation:
        mask |= draw(polygon, shape)
    return mask


def polygon_mask(polygon, shape: tuple[int, int]) -> np.ndarray:
    """Pixels whose centres lie inside one flat [x, y, x, y, ...] polygon (even-odd rule)."""
    try:
        points = np.asarray(polygon, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"a polygon must be a flat list of numbers, got {polygon!r:.60}") from None
    if points.ndim != 1 or len(points) < 6 or len(points) % 2 or not np.all(np.isfinite(points)):
        raise ValueError(
            f"a polygon must be a flat [x, y, x, y, ...] list of at least 3 points, "
            f"got {len(points) if points.ndim == 1 else points.shape} numbers"
        )
    xs, ys = points[0::2], points[1::2]
    height, width = shape
    cy = np.arange(height)[:, None] + 0.5
    cx = np.arange(width)[None, :] + 0.5
    inside = np.zeros(shape, dtype=bool)
    for x0, y0, x1, y1 in zip(xs, ys, np.roll(xs, -1), np.roll(ys, -1)):
        if y0 == y1:
            continue  # a horizontal edge crosses no horizontal ray
        spans = (y0 <= cy) != (y1 <= cy)  # rows whose centre line the edge crosses
        at = x0 + (cy - y0) * (x1 - x0) / (y1 - y0)
        inside ^= spans & (cx < at)
    return inside


def authors_polygon_mask(polygon, shape: tuple[int, int]) -> np.ndarray:
    """One polygon as the authors' evaluation draws it: vertices rounded to whole pixels, the
    polygon filled and its outline included (a vertex (x, y) is the pixel in column x, row y).
    A polygon along pixel edges [0, 0, 4, 0, 4, 4, 0, 4] covers 5 x 5 pixels here, 4 x 4 by
    the COCO rule."""
    from PIL import Image, ImageDraw

    polygon_mask(polygon, (1, 1))  # the same checks and messages as the COCO rule
    points = np.rint(np.asarray(polygon, dtype=np.float64)).astype(np.int64)
    height, width = shape
    canvas = Image.new("1", (width, height), 0)
    xy = [(int(x), int(y)) for x, y in zip(points[0::2], points[1::2])]
    ImageDraw.Draw(canvas).polygon(xy, fill=1, outline=1)
    return np.asarray(canvas, dtype=bool)


def rle_decode(rle: dict) -> np.ndarray:
    """H x W bool mask of a COCO RLE: runs of 0s and 1s alternately (0s first), column by
    column; counts as a list or as COCO's compressed string."""
    try:
        height, width = (int(v) for v in rle["size"])
        counts = rle["counts"]
    except (KeyError, TypeError, ValueError):
        raise ValueError('an RLE must be {"size": [h, w], "counts": ...}') from None
    if isinstance(counts, (str, bytes)):
        counts = _counts_from_string(counts if isinstance(counts, str) else counts.decode())
    runs = np.asarray(counts, dtype=np.int64)
    if runs.ndim != 1 or np.any(runs < 0) or runs.sum() != height * width:
        raise ValueError(
            f"the RLE counts cover {int(runs.sum()) if runs.ndim == 1 else '?'} pixels, "
            f"not {height} x {width}"
        )
    values = np.arange(len(runs)) % 2 == 1
    flat = np.repeat(values, runs)
    return flat.reshape(width, height).T  # column-major


def rle_encode(mask: np.ndarray, compressed: bool = True) -> dict:
    """The COCO RLE of a mask (what annotation files hold): compressed string or counts list."""
    flat = np.asarray(mask, dtype=bool).T.ravel()  # column-major
    edges = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], edges, [flat.size]])
    runs = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        runs = [0, *runs]  # counts start with a run of 0s
    size = [int(mask.shape[0]), int(mask.shape[1])]
    return {"size": size, "counts": _counts_to_string(runs) if compressed else runs}


def _counts_from_string(text: str) -> list[int]:
    """COCO's compressed counts: each count (after the second, as the difference to the count
    two before) in 5-bit groups, low first, as characters from '0'; 0x20 marks "more
    groups", 0x10 in the last group the sign."""
    counts: list[int] = []
    position = 0
    while position < len(text):
        value, shift, more = 0, 0, True
        while more:
            if position >= len(text):
                raise ValueError("the RLE string ends inside a count")
            code = ord(text[position]) - 48
            if not 0 <= code < 64:
                raise ValueError(f"the RLE string holds an invalid character {text[position]!r}")
            value |= (code & 0x1F) << shift
            more = bool(code & 0x20)
            position += 1
            shift += 5
            if not more and code & 0x10:
                value -= 1 << shift  # negative: sign-extend
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


def _counts_to_string(counts: list[int]) -> str:
    out = []
    for i, count in enumerate(counts):
        value = count - counts[i - 2] if i > 2 else count
        more = True
        while more:
            code = value & 0x1F
            value >>= 5
            more = value != -1 if code & 0x10 else value != 0
            out.append(chr((code | (0x20 if more else 0)) + 48))
    return "".join(out)
