"""The prompt's spans as regions beside the image's, and the three-way split they allow.

With `prompt_regions`, the search orders the image's regions and spans of the user's prompt
in one region set: span ids follow the image regions (an image of N regions has spans N,
N + 1, ...), so an Explanation's order ranks both kinds. A hidden span's tokens are replaced
by a neutral id the adapter names (protocol.MasksPromptSpans), positions kept; the chat
template, role and image tokens never change.

The curves' x-axis is one measure: each kind counts for a fixed share of it, PROMPT_SHARE
for the spans (split by their token counts) and the rest for the image (split by area), so
the x-axis still runs from 0 (nothing shown) to 1 (the whole input).

Three-way reliance, from four measured probabilities per target: the full input, without
the image (all regions filled), without the spans (all hidden), without both. The image's
and the prompt's shares are their Shapley values in that two-player game (the mean of each
one's effect with and without the other), the prior the probability without both; the
three add up to the full input's probability, and are reported as shares of it (a negative
effect counts as none).

With regions=None the prompt alone is searched: the image (if any) is kept whole in every
scored input, so "without the image" is the full input, the image's share is 0 and the prior
is the probability with every span hidden (the image's effect, unmeasured, is in it).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np

PROMPT_REGIONS = ("word", "sentence", "message")
PROMPT_SHARE = 0.5  # of the curves' x-axis when image regions and prompt spans are searched
# How a hidden span is hidden: its tokens replaced by a neutral id, or left out of the
# attention mask (ids and positions kept), where the model allows it (HasPromptMaskings).
PROMPT_MASKINGS = ("replace", "attention")
SOURCES = ("image", "prompt", "prior")

_WORD = re.compile(r"\w+(?:['’-]\w+)*")
_SENTENCE = re.compile(r"[^.!?]+(?:[.!?]+|$)")


@dataclass(frozen=True)
class PromptSpan:
    """One span of the prompt: its text, character range [start, stop), region id, and how
    many of the model's tokens it covers."""

    text: str
    start: int
    stop: int
    region: int
    tokens: int

    def to_dict(self) -> dict:
        return asdict(self)


def split_prompt(prompt: str, how) -> list[tuple[int, int]]:
    """Character ranges of `prompt`'s spans, in order: "word" (runs of letters and digits),
    "sentence" (up to and including . ! or ?), "message" (the whole prompt), or a list of
    the user's own (start, stop) pairs (in order, inside the prompt, not overlapping).
    Whitespace at a span's ends is left out."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("prompt regions need a prompt with some text")
    if isinstance(how, str):
        if how not in PROMPT_REGIONS:
            raise ValueError(
                f"prompt_regions must be None, one of {', '.join(PROMPT_REGIONS)}, or a list "
                f"of (start, stop) character ranges; got {how!r}"
            )
        if how == "word":
            ranges = [m.span() for m in _WORD.finditer(prompt)]
        elif how == "sentence":
            ranges = [_trimmed(prompt, *m.span()) for m in _SENTENCE.finditer(prompt)]
        else:
            ranges = [_trimmed(prompt, 0, len(prompt))]
        ranges = [r for r in ranges if r[1] > r[0]]
        if not ranges:
            raise ValueError(f"the prompt {prompt!r} has no {how} to explain by")
        return ranges
    return check_ranges(prompt, how)


def range_pairs(ranges) -> list[tuple[int, int]]:
    """The user's ranges as (start, stop) int pairs, or an error naming what they are."""
    try:
        pairs = [(int(a), int(b)) for a, b in ranges]
    except (TypeError, ValueError):
        raise ValueError(
            f"prompt_regions must be None, one of {', '.join(PROMPT_REGIONS)}, or a list of "
            f"(start, stop) character ranges; got {ranges!r:.80}"
        ) from None
    if not pairs:
        raise ValueError("prompt_regions is an empty list of ranges")
    return pairs


def check_ranges(prompt: str, ranges) -> list[tuple[int, int]]:
    """The user's (start, stop) character ranges, checked against the prompt."""
    pairs = range_pairs(ranges)
    last = 0
    for start, stop in pairs:
        if not 0 <= start < stop <= len(prompt):
            raise ValueError(
                f"prompt range ({start}, {stop}) is not inside the prompt's {len(prompt)} "
                "characters (start < stop)"
            )
        if start < last:
            raise ValueError(
                f"prompt range ({start}, {stop}) overlaps or comes before the one before it; "
                "give the ranges in order, apart"
            )
        if not prompt[start:stop].strip():
            raise ValueError(f"prompt range ({start}, {stop}) holds only whitespace")
        last = stop
    return pairs


def _trimmed(text: str, start: int, stop: int) -> tuple[int, int]:
    while start < stop and text[start].isspace():
        start += 1
    while stop > start and text[stop - 1].isspace():
        stop -= 1
    return start, stop


def unit_areas(image_areas: np.ndarray, span_tokens) -> np.ndarray:
    """Each region's share of the curves' x-axis: the image regions' areas, then the spans'
    token counts, weighted as the module says (image areas alone when there is no span, the
    spans alone when there is no image region: regions=None)."""
    image_areas = np.asarray(image_areas, dtype=np.float64)
    tokens = np.asarray(list(span_tokens), dtype=np.float64)
    if tokens.size == 0:
        return image_areas
    if image_areas.size == 0:
        return tokens / tokens.sum()
    return np.concatenate([image_areas * (1 - PROMPT_SHARE), tokens / tokens.sum() * PROMPT_SHARE])


def source_reliance(p_full, p_no_image, p_no_prompt, p_none) -> np.ndarray:
    """(T, 3): each target's (image, prompt, prior) shares of its full-input probability."""
    full, no_image, no_prompt, none = (
        np.asarray(p, dtype=np.float64) for p in (p_full, p_no_image, p_no_prompt, p_none)
    )
    image = np.clip(0.5 * ((full - no_image) + (no_prompt - none)), 0, None)
    prompt = np.clip(0.5 * ((full - no_prompt) + (no_image - none)), 0, None)
    parts = np.stack([image, prompt, np.clip(none, 0, None)], axis=1)
    total = parts.sum(axis=1, keepdims=True)
    return np.divide(parts, total, out=np.full_like(parts, np.nan), where=total > 0)
