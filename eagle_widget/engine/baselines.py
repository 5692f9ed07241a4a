"""Black-box methods the paper compares EAGLE with, scored per region on the same footing.

Each method gives one score per region of the explanation's label map (higher: more
important). The engine then ranks the regions by that score and measures the insertion and
deletion curves itself (`search.ranked`: 2N images in one batch), so every method's AUCs,
maps and pointing game are computed one way. Both need only the model protocol, so served
models get them too.

- occlusion: leave one region out (filled); its score is how much the targets' mean
  probability drops. N images beside the full image.
- rise: random region subsets, each region kept with probability `density`; a region's
  score is the mean probability of the subsets that keep it, weighted as in RISE
  (sum of p(M) * M over masks, divided by masks x density). The masks are sets of the same
  regions (not RISE's upsampled grid cells), so the map lives on the regions it is
  ranked over. Seeded: the same seed gives the same masks.
"""

from __future__ import annotations

import numpy as np

from .objective import Objective

METHODS = ("eagle", "occlusion", "rise")
METHOD_OPTIONS = {
    "eagle": {},
    "occlusion": {},
    "rise": {"masks": 256, "density": 0.5, "seed": 0},
}


def check_method(method: str, options: dict) -> dict:
    """The method's options with defaults filled in; raise for an unknown method or option."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    unknown = set(options) - set(METHOD_OPTIONS[method])
    if unknown:
        takes = ", ".join(METHOD_OPTIONS[method]) or "none"
        raise ValueError(
            f"method {method!r} has no option(s) {', '.join(sorted(unknown))}; it takes {takes}"
        )
    settings = {**METHOD_OPTIONS[method], **options}
    if method == "rise":
        masks, density, seed = settings["masks"], settings["density"], settings["seed"]
        if isinstance(masks, bool) or not isinstance(masks, (int, np.integer)) or masks < 1:
            raise ValueError(f"masks must be a positive int, got {masks!r}")
        if isinstance(density, bool) or not isinstance(density, (int, float)):
            raise ValueError(f"density must be a number in (0, 1), got {density!r}")
        if not 0 < density < 1:
            raise ValueError(f"density must be in (0, 1), got {density!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seed must be an int, got {seed!r}")
    return settings


def estimated_method_images(method: str, n_regions: int, options: dict) -> int:
    """Images a baseline scores before its ranking is measured (references not counted)."""
    if method == "occlusion":
        return int(n_regions)
    if method == "rise":
        return int(options["masks"])
    return 0


def region_scores(method: str, objective: Objective, options: dict) -> np.ndarray:
    """One score per region (higher: more important), from the method's own images."""
    if method == "occlusion":
        return occlusion(objective)
    if method == "rise":
        return rise(objective, **options)
    raise ValueError(f"{method!r} is not a baseline; use one of {', '.join(METHODS[1:])}")


def occlusion(objective: Objective) -> np.ndarray:
    """Drop of the targets' mean probability when each region alone is filled."""
    n = objective.n_regions
    p_full = objective.references()[0].mean()
    without_each = ~np.eye(n, dtype=bool)
    return p_full - objective.keep_probs(without_each).mean(axis=1)


def rise(objective: Objective, masks: int, density: float, seed: int) -> np.ndarray:
    """RISE's estimator over random region subsets: E[p(M) M] / density per region."""
    rng = np.random.default_rng(seed)
    keep = rng.random((int(masks), objective.n_regions)) < density
    probs = objective.keep_probs(keep).mean(axis=1)
    return (probs[:, None] * keep).sum(axis=0) / (int(masks) * density)
