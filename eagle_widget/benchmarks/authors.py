"""The authors' own rules where they differ from ours, as options (docs/authors-lists.md).

- AMCR (`--amcr-rule authors`): their correction sweep tests the full image first, then the
  regions ranked last removed in growing amounts, and counts an answer as corrected when
  its text starts with the label word, whatever follows ("Not ..." counts as "No"). Ours
  starts with one region removed and compares the answer's first token id with the
  correct token's.
- Polygon masks (`--mask-rule authors`): coco.authors_polygon_mask.
"""

from __future__ import annotations

import numpy as np

from ..engine.hallucination import REGENERATE_BATCH
from ..engine.images import resize, to_rgb_array
from ..engine.masking import compose, fill_image
from ..engine.protocol import GeneratesBatch, supports
from ..engine.regions import downscale_labels, region_areas


def starts_with_label(text: str, label: str) -> bool:
    """The authors' test of a regenerated answer: its text, stripped and lower-cased, starts
    with the label word ("Not sure" starts with "no")."""
    return str(text).strip().lower().startswith(str(label).strip().lower())


def first_correction(texts, areas, label: str) -> tuple[bool, float]:
    """(corrected, removed area) of a sweep by the authors' rule: `texts[k]` is the answer with
    `areas[k]` of the image removed, `texts[0]` the full image's (area 0). The first answer
    that starts with the label word counts; 1.0 when none does."""
    texts, areas = list(texts), [float(a) for a in areas]
    if len(texts) != len(areas) or not texts:
        raise ValueError(f"{len(texts)} answers for {len(areas)} areas")
    if areas[0] != 0:
        raise ValueError("the authors' sweep starts with the full image (area 0)")
    for text, area in zip(texts, areas):
        if starts_with_label(text, label):
            return True, area
    return False, 1.0


def authors_correction(
    model, image, prompt: str, explanation, label: str, max_area: float = 1.0, fill=0,
    max_new_tokens: int = 8,
) -> tuple[bool, float]:  # fmt: skip
    """The authors' AMCR sweep on a model: the full image, then the regions `explanation`
    ranks last removed one more at a time up to `max_area`, regenerated in batches until an
    answer starts with `label`."""
    if not 0 < max_area <= 1:
        raise ValueError(f"max_area must be in (0, 1], got {max_area!r}")
    array = to_rgb_array(image)
    labels = explanation.labels
    shape = tuple(explanation.extras.get("image", {}).get("working_size", array.shape[:2]))
    if shape != array.shape[:2]:  # the images the search scored
        array = resize(array, shape)
        labels = downscale_labels(labels, *shape)
    worst_first = np.asarray(explanation.order)[::-1]
    removed = np.cumsum(region_areas(labels, explanation.n_regions)[worst_first])
    steps = max(1, int(np.searchsorted(removed, max_area + 1e-9, side="right")))
    keep = np.ones((steps + 1, explanation.n_regions), dtype=bool)
    for k in range(1, steps + 1):
        keep[k, worst_first[:k]] = False
    images = list(compose(array, fill_image(array, fill), labels, keep))
    areas = [0.0, *map(float, removed[:steps])]
    batched = supports(model, GeneratesBatch)
    size = REGENERATE_BATCH if batched else 1
    for lo in range(0, len(images), size):
        chunk = images[lo : lo + size]
        if batched:
            answers = list(model.generate_batch(chunk, prompt, max_new_tokens=max_new_tokens))
        else:
            answers = [model.generate(chunk[0], prompt, max_new_tokens=max_new_tokens)]
        for answer, area in zip(answers, areas[lo : lo + len(chunk)]):
            if starts_with_label(answer.text, label):
                return True, area
    return False, 1.0
