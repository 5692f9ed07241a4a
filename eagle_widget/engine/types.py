"""The data that crosses the boundary between models, engine and front ends (the model
protocol itself: protocol.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _starts_word(token: str, previous: str | None) -> bool:
    """A token opens a new word after whitespace, or when it or its predecessor is punctuation."""
    if previous is None:
        return True
    if not token.strip():  # whitespace-only or empty (e.g. a decoded special token)
        return False
    if token[0].isspace() or previous[-1:].isspace():
        return True
    punct = lambda s: bool(s.strip()) and not any(ch.isalnum() for ch in s)  # noqa: E731
    return punct(token) or punct(previous)


@dataclass(frozen=True)
class Generation:
    """A model's greedy answer: the ids it produced and their text, token by token.

    `tokens[i]` is the text that token i adds to the answer, so `"".join(tokens) == text`
    for tokenizers that decode incrementally (adapters build it that way).
    """

    prompt: str
    token_ids: list[int]
    tokens: list[str]
    text: str
    image_size: tuple[int, int]  # (height, width)

    def __post_init__(self) -> None:
        if len(self.token_ids) != len(self.tokens):
            raise ValueError(
                f"Generation has {len(self.token_ids)} token ids but {len(self.tokens)} tokens"
            )

    def __len__(self) -> int:
        return len(self.token_ids)

    @property
    def words(self) -> list[tuple[int, int]]:
        """Sub-word tokens grouped into words, as (start, stop) token index ranges."""
        ranges: list[tuple[int, int]] = []
        previous = None
        for i, token in enumerate(self.tokens):
            if _starts_word(token, previous) or not ranges:
                ranges.append((i, i + 1))
            else:
                ranges[-1] = (ranges[-1][0], i + 1)
            previous = token
        return ranges

    def word_of(self, index: int) -> tuple[int, int]:
        """The (start, stop) range of the word that holds token `index`."""
        for start, stop in self.words:
            if start <= index < stop:
                return start, stop
        raise ValueError(f"token index {index} is outside the generation (0..{len(self) - 1})")

    def to_dict(self) -> dict:
        return {
            "prompt": self.prompt,
            "token_ids": list(self.token_ids),
            "tokens": list(self.tokens),
            "text": self.text,
            "image_size": list(self.image_size),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Generation:
        return cls(
            prompt=data["prompt"],
            token_ids=[int(i) for i in data["token_ids"]],
            tokens=list(data["tokens"]),
            text=data["text"],
            image_size=(int(data["image_size"][0]), int(data["image_size"][1])),
        )


@dataclass(frozen=True)
class Step:
    """One region placed by a search, reported as it happens."""

    index: int  # 0-based step number in the order the search made it
    region: int
    chain: str  # "insert": added to the selected set; "remove": dropped from the tail
    insight: float
    necessity: float
    score: float
    probs_insert: np.ndarray = field(repr=False)  # per target, insertion image of S
    probs_delete: np.ndarray = field(repr=False)  # per target, deletion image of S
    area: float  # fraction of the image covered by the regions placed so far
    images_scored: int  # running total

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "region": self.region,
            "chain": self.chain,
            "insight": float(self.insight),
            "necessity": float(self.necessity),
            "score": float(self.score),
            "probs_insert": [float(p) for p in self.probs_insert],
            "probs_delete": [float(p) for p in self.probs_delete],
            "area": float(self.area),
            "images_scored": int(self.images_scored),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Step:
        return cls(
            index=int(data["index"]),
            region=int(data["region"]),
            chain=str(data["chain"]),
            insight=float(data["insight"]),
            necessity=float(data["necessity"]),
            score=float(data["score"]),
            probs_insert=np.asarray(data["probs_insert"], dtype=np.float64),
            probs_delete=np.asarray(data["probs_delete"], dtype=np.float64),
            area=float(data["area"]),
            images_scored=int(data["images_scored"]),
        )


class Cancelled(Exception):
    """A search was stopped between batches by its caller."""
