"""The authors' own rules where they differ from ours, as options (docs/authors-lists.md).

- AMCR (`--amcr-rule authors`): their correction sweep tests the full image first, then the
  regions ranked last removed in growing amounts down to one region left (never the blank
  image), and counts an answer as corrected when its text starts with the label word,
  whatever follows ("Not ..." counts as "No"). Ours starts with one region removed, may go
  on to the blank image, and compares the answer's first token id with the correct
  token's. Their code compares "Yes"/"No" case-sensitively on the decoded text; here case
  and leading spaces do not matter (their models answer capitalised; the demo does not).
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
    """(corrected, removed area) of the authors' AMCR sweep (authors_sweep)."""
    corrected, area, _ = authors_sweep(
        model, image, prompt, explanation, label, max_area, fill, max_new_tokens
    )
    return corrected, area


def authors_sweep(
    model, image, prompt: str, explanation, label: str, max_area: float = 1.0, fill=0,
    max_new_tokens: int = 8,
) -> tuple[bool, float, list[str]]:  # fmt: skip
    """The authors' AMCR sweep on a model: the full image, then the regions `explanation`
    ranks last removed one more at a time up to `max_area`, regenerated in batches until an
    answer starts with `label`. Like theirs it stops with one region left: their answers
    are those of the insertion images of 1..N regions, never of the blank image.

    Returns (corrected, removed area, the answers' texts in sweep order, full image first,
    up to the corrected one)."""
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
    steps = int(np.searchsorted(removed, max_area + 1e-9, side="right"))
    steps = min(steps, explanation.n_regions - 1)  # one region always left
    keep = np.ones((steps + 1, explanation.n_regions), dtype=bool)
    for k in range(1, steps + 1):
        keep[k, worst_first[:k]] = False
    images = list(compose(array, fill_image(array, fill), labels, keep))
    areas = [0.0, *map(float, removed[:steps])]
    batched = supports(model, GeneratesBatch)
    size = REGENERATE_BATCH if batched else 1
    texts: list[str] = []
    for lo in range(0, len(images), size):
        chunk = images[lo : lo + size]
        if batched:
            answers = list(model.generate_batch(chunk, prompt, max_new_tokens=max_new_tokens))
        else:
            answers = [model.generate(chunk[0], prompt, max_new_tokens=max_new_tokens)]
        for answer, area in zip(answers, areas[lo : lo + len(chunk)]):
            texts.append(str(answer.text))
            if starts_with_label(answer.text, label):
                return True, area, texts
    return False, 1.0, texts
