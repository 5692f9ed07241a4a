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
- given-map (GIVEN_MAP): a map made elsewhere (a saved result of another tool, one of the
  authors' baseline maps): a region's score is the map's mean over its pixels, the map
  brought to the label map's size by nearest neighbour. No images of its own; not a choice
  of `explain --method` (it needs one map per image: `evaluate --maps`).
"""

from __future__ import annotations

import numpy as np

from .objective import Objective
from .whitebox import WHITE_BOX, WHITE_BOX_OPTIONS, check_white_box_options

# every method of explain(method=...): EAGLE, the black-box baselines here, the white-box
# ones of whitebox.py
METHODS = ("eagle", "occlusion", "rise", *WHITE_BOX)
GIVEN_MAP = "given-map"
METHOD_OPTIONS = {
    "eagle": {},
    "occlusion": {},
    "rise": {"masks": 256, "density": 0.5, "seed": 0},
    GIVEN_MAP: {"map": None},
    **WHITE_BOX_OPTIONS,
}


def check_method(method: str, options: dict) -> dict:
    """The method's options with defaults filled in; raise for an unknown method or option."""
    if method not in METHOD_OPTIONS:
        names = ", ".join(METHOD_OPTIONS)
        raise ValueError(f"method must be one of {names}, got {method!r}")
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
    if method == GIVEN_MAP:
        settings["map"] = checked_map(settings["map"])
    if method in WHITE_BOX:
        check_white_box_options(method, settings)
    return settings


def checked_map(values) -> np.ndarray:
    """A given map as a 2-D float array of finite numbers, or a ValueError saying why not."""
    if values is None:
        raise ValueError(f"method {GIVEN_MAP!r} needs a map: method_options={{'map': array}}")
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"the given map must be numbers, got {type(values).__name__}") from None
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"the given map must be H x W, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"the given map holds {int(np.sum(~np.isfinite(array)))} NaN/inf values")
    return array


def json_options(method: str, options: dict) -> dict:
    """The method's options as an Explanation's extras keep them: a given map by its shape."""
    if method != GIVEN_MAP:
        return dict(options)
    return {"map_shape": list(np.shape(options["map"]))}


def map_region_means(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per region id, the mean of `values` over the region's pixels, the map brought to the
    label map's size by nearest neighbour (a map of that size is used as it is)."""
    values = checked_map(values)
    if labels.ndim != 2:
        raise ValueError(
            f"method {GIVEN_MAP!r} takes an H x W map of one image; a clip's regions are ranked "
            "by eagle, occlusion or rise"
        )
    height, width = labels.shape
    rows = np.minimum((np.arange(height) + 0.5) * values.shape[0] // height, values.shape[0] - 1)
    cols = np.minimum((np.arange(width) + 0.5) * values.shape[1] // width, values.shape[1] - 1)
    sampled = values[rows.astype(int)][:, cols.astype(int)]
    n = int(labels.max()) + 1
    counts = np.bincount(labels.ravel(), minlength=n)
    return np.bincount(labels.ravel(), weights=sampled.ravel(), minlength=n) / counts


def estimated_method_images(method: str, n_regions: int, options: dict) -> int:
    """Images a baseline scores before its ranking is measured (references not counted)."""
    if method == "occlusion":
        return int(n_regions)
    if method == "rise":
        return int(options["masks"])
    return 0


def region_scores(
    method: str, objective: Objective, options: dict, labels: np.ndarray | None = None
) -> np.ndarray:
    """One score per region (higher: more important), from the method's own images; a given
    map's from `labels` (the label map at the image's size; default the objective's)."""
    if method == GIVEN_MAP:
        return map_region_means(options["map"], objective.labels if labels is None else labels)
    if method == "occlusion":
        return occlusion(objective)
    if method == "rise":
        return rise(objective, **options)
    raise ValueError(f"{method!r} is not a black-box baseline; use occlusion or rise")


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
