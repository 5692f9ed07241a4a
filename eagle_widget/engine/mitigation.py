"""The record of a mitigation: what was removed to make the answer start with another word."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .types import Generation

# the keys every saved record has (what to_dict writes, in every schema version)
_REQUIRED = ("corrected", "original", "answer", "removed_regions", "removed_area")


@dataclass
class Mitigation:
    """The outcome of removing the regions that drive a wrong answer (engine.hallucination)."""

    original: Generation
    corrected: bool
    answer: Generation | None  # the first revised answer that starts with the correct token
    removed_regions: list[int]  # filled when the answer flipped (all tried ones otherwise)
    removed_area: float  # AMCR of this sample: the area removed when corrected, else 1
    areas: np.ndarray = field(repr=False)  # removed area after each step
    p_correct: np.ndarray = field(repr=False)  # P(correct first token) after each step
    correct_id: int | None = None  # the correct first token the answers were checked for
    max_area: float | None = None  # the most area the sweep was allowed to remove
    correct: str | None = None  # the correct answer as a word, when known (for labels)
    fill: Any = 0  # the fill of the removed regions (as Explainer's fill)
    counterfactual: bool = False  # no one said `correct` is right: "what makes it say it"
    # the text of every answer regenerated, in cut order, up to the corrected one (all cuts
    # when none was): what the authors' result files keep as "revised answers"
    revised: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-able; answers as text, the revised one also token by token."""
        fill = self.fill
        return {
            "correct_id": self.correct_id,
            "correct": self.correct,
            "counterfactual": self.counterfactual,
            "max_area": self.max_area,
            "corrected": self.corrected,
            "answer": self.answer.text if self.answer else None,
            "answer_generation": self.answer.to_dict() if self.answer else None,
            "original": self.original.text,
            "removed_regions": [int(r) for r in self.removed_regions],
            "removed_area": float(self.removed_area),
            "areas": np.asarray(self.areas, dtype=float).tolist(),
            "p_correct": np.asarray(self.p_correct, dtype=float).tolist(),
            "fill": fill if isinstance(fill, (int, float, str)) else np.asarray(fill).tolist(),
            "revised": [str(text) for text in self.revised],
        }

    @classmethod
    def from_dict(cls, data: dict, original: Generation) -> Mitigation:
        """The record `to_dict` wrote for an answer to `original` (also the schema-1 form kept
        in extras["mitigation"], which held the revised answer as text only: it comes back
        as one token, the correct one)."""
        if not isinstance(data, dict):
            raise ValueError(f"a mitigation record must be a dict, got {type(data).__name__}")
        missing = [k for k in _REQUIRED if k not in data]
        if missing:
            raise ValueError(f"the mitigation record lacks {', '.join(missing)}")
        regions = data["removed_regions"]
        if not isinstance(regions, list) or not all(
            isinstance(r, int) and not isinstance(r, bool) for r in regions
        ):
            raise ValueError(f"mitigation removed_regions must be region ids, got {regions!r:.80}")
        corrected = bool(data["corrected"])
        correct_id = data.get("correct_id")
        answer = None
        if data.get("answer_generation"):
            answer = Generation.from_dict(data["answer_generation"])
        elif data["answer"]:
            text = str(data["answer"])
            ids = [int(correct_id)] if correct_id is not None else [-1]
            answer = Generation(original.prompt, ids, [text], text, original.image_size)
        if corrected and answer is None:
            raise ValueError("a corrected mitigation must hold the corrected answer")
        correct = data.get("correct")
        areas = np.asarray(data.get("areas", []), dtype=float)
        p_correct = np.asarray(data.get("p_correct", []), dtype=float)
        if areas.shape != p_correct.shape:
            raise ValueError(
                f"mitigation has {areas.size} areas but {p_correct.size} probabilities"
            )
        max_area = data.get("max_area")
        return cls(
            original=original,
            corrected=corrected,
            answer=answer,
            removed_regions=list(regions),
            removed_area=float(data["removed_area"]),
            areas=areas,
            p_correct=p_correct,
            correct_id=None if correct_id is None else int(correct_id),
            max_area=None if max_area is None else float(max_area),
            correct=None if correct is None else str(correct),
            fill=data.get("fill", 0),
            counterfactual=bool(data.get("counterfactual", False)),
            revised=[str(text) for text in data.get("revised", [])],
        )
