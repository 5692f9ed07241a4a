"""The paper's metrics (docs/benchmarks.md), pure numpy: per item from curves and maps, then means.
The one owner of every metric: `Explanation`'s AUCs and the benchmark tables both come from
here.

Curves are (N + 1, T) arrays as `Explanation.insertion_curve` gives them: row k holds the
targets' probabilities after k regions (kept for insertion, removed for deletion); `areas`
is the covered fraction after k regions, from 0 to 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SENSITIVE_MARGIN = 0.2  # a target is "sensitive" when p_full - p_blank exceeds this
CSR_AREA = 0.10  # CSR@10%: corrected with at most this share of the image removed


def _curve(curve, areas) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(curve, dtype=np.float64)
    y = y[:, None] if y.ndim == 1 else y
    x = np.asarray(areas, dtype=np.float64)
    if y.ndim != 2 or x.shape != (len(y),):
        raise ValueError(f"curve {np.shape(curve)} and areas {np.shape(areas)} do not match")
    if len(x) < 2 or x[0] != 0 or not np.isclose(x[-1], 1) or np.any(np.diff(x) < 0):
        raise ValueError("areas must rise from 0 to 1 (the covered fraction after k regions)")
    return y, x


def auc_per_target(curve, areas) -> np.ndarray:
    """(T,): the trapezoid area under each target's column of `curve` over `areas`."""
    y, x = _curve(curve, areas)
    return ((y[1:] + y[:-1]) / 2 * np.diff(x)[:, None]).sum(axis=0)


def curve_auc(curve, areas, targets=None) -> float:
    """Trapezoid area under the curve over `areas`, averaged over the target columns (or the
    columns `targets` selects). Insertion and deletion AUC are both this: the deletion curve
    runs over the removed area, which is the same axis."""
    per_target = auc_per_target(curve, areas)
    if targets is not None:
        per_target = per_target[targets]
    if per_target.size == 0:
        raise ValueError("no targets to average over")
    return float(per_target.mean())


def insertion_auc(curve, areas, targets=None) -> float:
    """From the blank-image score at area 0 to the full-image score at 1; higher is better."""
    return curve_auc(curve, areas, targets)


def deletion_auc(curve, areas, targets=None) -> float:
    """From the full-image score at removed area 0 to the blank-image score at 1; lower is
    better."""
    return curve_auc(curve, areas, targets)


def highest_score(curve, targets=None) -> float:
    """The highest mean target probability along the insertion curve: max_k mean_t ins[k, t]."""
    y = np.asarray(curve, dtype=np.float64)
    y = y[:, None] if y.ndim == 1 else y
    if targets is not None:
        y = y[:, targets]
    if y.size == 0:
        raise ValueError("no targets to average over")
    return float(y.mean(axis=1).max())


def sensitive_targets(p_full, p_blank, margin: float = SENSITIVE_MARGIN) -> np.ndarray:
    """Indices of the targets the image lifts by more than `margin` (the "sensitive" ones)."""
    lift = np.asarray(p_full, dtype=np.float64) - np.asarray(p_blank, dtype=np.float64)
    return np.flatnonzero(lift > margin)


def box_mask(box: Sequence[float], shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask of a box [x1, y1, x2, y2] in pixels: the pixels it touches (x2, y2 are
    edges, so a box of whole pixels [0, 0, 2, 2] holds 4 of them)."""
    if len(box) != 4:
        raise ValueError(f"box must be [x1, y1, x2, y2], got {box!r}")
    x1, y1, x2, y2 = (float(v) for v in box)
    if not (x2 > x1 and y2 > y1):
        raise ValueError(f"box must have x2 > x1 and y2 > y1, got {list(box)}")
    height, width = shape
    mask = np.zeros(shape, dtype=bool)
    rows = slice(max(0, int(np.floor(y1))), min(height, int(np.ceil(y2))))
    cols = slice(max(0, int(np.floor(x1))), min(width, int(np.ceil(x2))))
    mask[rows, cols] = True
    return mask


def pointing_game(attribution, box=None, mask=None, rule: str = "any") -> bool:
    """Whether the map's maximum falls inside the box (or the mask).

    rule "any" (the authors'): the maximum over the box equals the global maximum, i.e. any
    top pixel lies inside; with region maps the maximum is a whole region, so this is lenient.
    rule "mostly": more than half of the top pixels lie inside (the top region is mostly
    inside). The map must have the image's size (upsample it first).
    """
    values = np.asarray(attribution, dtype=np.float64)
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"attribution must be an H x W map, got shape {values.shape}")
    if (box is None) == (mask is None):
        raise ValueError("give exactly one of box or mask")
    if mask is None:
        inside = box_mask(box, values.shape)
    else:
        inside = np.asarray(mask, dtype=bool)
        if inside.shape != values.shape:
            raise ValueError(f"mask is {inside.shape} but the map {values.shape}")
    top = values == values.max()
    if rule == "any":
        return bool(np.any(top & inside))
    if rule == "mostly":
        return bool(np.count_nonzero(top & inside) * 2 > np.count_nonzero(top))
    raise ValueError(f"rule must be 'any' or 'mostly', got {rule!r}")


def amcr(removed_areas: Sequence[float], corrected: Sequence[bool]) -> float:
    """Average minimal correction ratio: the removed area that corrected each item, 1 when
    it never was."""
    areas = np.where(np.asarray(corrected, dtype=bool), np.asarray(removed_areas, float), 1.0)
    if areas.size == 0:
        raise ValueError("no items")
    return float(areas.mean())


def csr(
    removed_areas: Sequence[float],
    corrected: Sequence[bool],
    within: float = CSR_AREA,
    rule: str = "all",
) -> float:
    """Correction success rate: the share of items corrected with at most `within` removed.

    rule "all" (ours): every item in the denominator; "corrected" (the authors'): only the
    items that were corrected at some area. NaN when the denominator is empty.
    """
    ok = np.asarray(corrected, dtype=bool)
    hit = ok & (np.asarray(removed_areas, float) <= within + 1e-12)
    if rule == "all":
        pool = np.ones_like(ok)
    elif rule == "corrected":
        pool = ok
    else:
        raise ValueError(f"rule must be 'all' or 'corrected', got {rule!r}")
    return float(hit[pool].mean()) if pool.any() else float("nan")
