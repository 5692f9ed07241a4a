"""Which generated tokens to explain: all of them, some indices, or the tokens of a word."""

from __future__ import annotations

import re

import numpy as np

from .types import Generation


def resolve_targets(generation: Generation, targets) -> list[int]:
    """Token indices to explain. None: every token; ints: those tokens; str: a word's tokens."""
    length = len(generation)
    if length == 0:
        raise ValueError("the generation has no tokens to explain")
    if targets is None:
        return list(range(length))
    if isinstance(targets, str):
        return _tokens_of_text(generation, targets)
    if _is_int(targets):
        targets = [targets]
    if not isinstance(targets, (list, tuple, range, np.ndarray)):
        raise TypeError(
            "targets must be None, a token index, a list of token indices or a word, "
            f"got {type(targets).__name__}"
        )
    indices = list(targets)
    if not indices:
        raise ValueError("targets is empty: give at least one token index, a word, or None")
    for index in indices:
        if not _is_int(index):
            raise TypeError(f"token indices must be ints, got {index!r}")
        if not 0 <= index < length:
            raise ValueError(
                f"target token index {index} is out of range: the answer has {length} tokens "
                f"(0..{length - 1})"
            )
    if len(set(indices)) != len(indices):
        raise ValueError(f"targets repeat a token index: {indices}")
    return [int(i) for i in indices]


def resolve_target_ids(generation: Generation, positions: list[int], target_ids) -> list[int]:
    """Ids scored at the positions: the generated ones, or counterfactual ids given per position."""
    if target_ids is None:
        return [int(generation.token_ids[p]) for p in positions]
    if _is_int(target_ids):
        target_ids = [target_ids]
    ids = list(target_ids)
    if len(ids) != len(positions):
        raise ValueError(
            f"target_ids has {len(ids)} ids but there are {len(positions)} target positions"
        )
    for token_id in ids:
        if not _is_int(token_id) or token_id < 0:
            raise ValueError(f"target ids must be non-negative ints, got {token_id!r}")
    return [int(i) for i in ids]


def _tokens_of_text(generation: Generation, text: str) -> list[int]:
    """Tokens overlapping the first match of `text`: a whole word before a part of one, the
    exact case before any case ("Red" finds "red" before the "red" inside "bored")."""
    if not text.strip():
        raise ValueError("targets is an empty word: give a word of the answer")
    answer = "".join(generation.tokens)
    needle = re.escape(text.strip())
    whole = rf"(?<!\w){needle}(?!\w)"
    tries = ((whole, 0), (whole, re.IGNORECASE), (needle, 0), (needle, re.IGNORECASE))
    match = next((m for p, f in tries if (m := re.search(p, answer, flags=f))), None)
    if match is None:
        raise ValueError(f"{text!r} does not occur in the answer {generation.text!r}")
    starts = np.cumsum([0] + [len(t) for t in generation.tokens])
    return [
        i
        for i in range(len(generation))
        if starts[i] < match.end() and starts[i + 1] > match.start()
    ]


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
