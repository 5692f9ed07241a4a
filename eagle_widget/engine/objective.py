"""The EAGLE objective: sufficiency ("insight") + necessity of region sets, scored in batches.

Every image the engine scores is the image that keeps some region set K and fills the rest:
the insertion image of S keeps S, the deletion image of S keeps the complement of S. So one
cache of P(targets | keep K) serves both, and no set is ever scored twice. With prompt spans
(prompt_spans.py) the region set is the image's regions then the spans: K also says which
spans the prompt shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .masking import compose
from .prompt_spans import unit_areas
from .protocol import VisionLanguageModel, batch_size_of
from .regions import region_areas
from .types import Cancelled, Generation


@dataclass(frozen=True)
class SetScores:
    """Objective values of k region sets (rows)."""

    insight: np.ndarray  # (k,)   mean over targets of p(insertion image)
    necessity: np.ndarray  # (k,) mean over targets of 1 - p(deletion image)
    score: np.ndarray  # (k,)     lambda1 * insight + lambda2 * necessity
    probs_insert: np.ndarray  # (k, T)
    probs_delete: np.ndarray  # (k, T)


class Objective:
    """Scores region sets of one image against one model, counting every image it sends."""

    def __init__(
        self,
        model: VisionLanguageModel,
        generation: Generation,
        positions: list[int],
        token_ids: list[int],
        image: np.ndarray,
        filler: np.ndarray,
        labels: np.ndarray,
        lambda1: float = 1.0,
        lambda2: float = 1.0,
        batch_size: int | None = None,
        should_stop: Callable[[], bool] | None = None,
        spans: list[tuple[int, int]] | None = None,
        span_tokens: list[int] | None = None,
        masking: str = "replace",
    ):
        """`spans`: (start, stop) character ranges of the prompt searched beside the image's
        regions (their ids follow the image's), hidden through model.span_token_probs by
        `masking` (prompt_spans.PROMPT_MASKINGS); `span_tokens` their token counts, their
        weight on the x-axis (prompt_spans). `labels` None: no image regions (regions=None,
        spans only): `image` is scored whole in every row (None for a text-only model)."""
        self.model = model
        self.generation = generation
        self.positions = list(positions)
        self.token_ids = list(token_ids)
        self.image = image
        self.filler = filler
        self.labels = labels
        self.n_image_regions = 0 if labels is None else int(labels.max()) + 1
        self.spans = list(spans or [])
        if not self.n_image_regions and not self.spans:
            raise ValueError("nothing to search: no image regions and no prompt spans")
        self.n_regions = self.n_image_regions + len(self.spans)
        image_areas = np.zeros(0) if labels is None else region_areas(labels, self.n_image_regions)
        self.areas = unit_areas(image_areas, span_tokens or [1] * len(self.spans))
        self.masking = masking
        self.lambda1 = float(lambda1)
        self.lambda2 = float(lambda2)
        self.batch_size = batch_size or batch_size_of(model)
        self.should_stop = should_stop or (lambda: False)
        self.images_scored = 0
        self._cache: dict[bytes, np.ndarray] = {}

    # -- probabilities ---------------------------------------------------------------
    def keep_probs(self, keep: np.ndarray) -> np.ndarray:
        """P(targets | image keeping each row's regions), (k, T); unseen rows go to the model."""
        keep = np.asarray(keep, dtype=bool).reshape(-1, self.n_regions)
        keys = [row.tobytes() for row in keep]
        missing = list(dict.fromkeys(k for k in keys if k not in self._cache))
        if missing:
            rows = np.stack([np.frombuffer(k, dtype=bool) for k in missing])
            for chunk in np.array_split(rows, -(-len(rows) // self.batch_size)):
                # even chunks: 70 rows at 32 go as 24 + 23 + 23, not 32 + 32 + 6 (a small
                # batch costs nearly as much as a full one on a CPU with several cores)
                if self.should_stop():
                    raise Cancelled("search stopped by the caller")
                probs = self._score_rows(chunk)
                for row, p in zip(chunk, probs):
                    self._cache[row.tobytes()] = p
        return np.stack([self._cache[k] for k in keys])

    def _score_rows(self, keep: np.ndarray) -> np.ndarray:
        """The model's probabilities for rows of kept regions (image regions, then spans)."""
        n = self.n_image_regions
        if n:
            images = compose(self.image, self.filler, self.labels, keep[:, :n])
        else:  # the prompt alone is searched: the image whole (or None) in every row
            images = [self.image] * len(keep)
        if not self.spans:
            return self._checked(
                self.model.token_probs(
                    list(images), self.generation, self.positions, self.token_ids
                ),
                len(images),
            )
        # masking= only when not the default: a model that only replaces need not take it
        how = {} if self.masking == "replace" else {"masking": self.masking}
        probs = self.model.span_token_probs(
            list(images), self.generation, self.positions, self.token_ids, self.spans,
            keep[:, n:], **how,
        )  # fmt: skip
        return self._checked(probs, len(images))

    def _checked(self, probs, count: int) -> np.ndarray:
        probs = np.asarray(probs, dtype=np.float64)
        expected = (count, len(self.positions))
        if probs.shape != expected:
            raise ValueError(
                f"model.token_probs returned shape {probs.shape}, expected {expected} "
                "(one row per image, one column per target position)"
            )
        if not np.all(np.isfinite(probs)):
            raise ValueError("model.token_probs returned NaN or infinite probabilities")
        if probs.min() < -1e-6 or probs.max() > 1 + 1e-6:
            raise ValueError(
                f"model.token_probs returned values outside [0, 1]: "
                f"[{probs.min():g}, {probs.max():g}]"
            )
        self.images_scored += count
        return np.clip(probs, 0.0, 1.0)

    # -- objective -------------------------------------------------------------------
    def score_sets(self, sets: np.ndarray) -> SetScores:
        """Insight, necessity and score of each row of `sets` (k x N bool), in one batch."""
        sets = np.asarray(sets, dtype=bool).reshape(-1, self.n_regions)
        both = self.keep_probs(np.concatenate([sets, ~sets]))
        return self.scores_from_probs(both[: len(sets)], both[len(sets) :])

    def scores_from_probs(self, probs_insert: np.ndarray, probs_delete: np.ndarray) -> SetScores:
        insight = probs_insert.mean(axis=1)
        necessity = (1.0 - probs_delete).mean(axis=1)
        return SetScores(
            insight=insight,
            necessity=necessity,
            score=self.lambda1 * insight + self.lambda2 * necessity,
            probs_insert=probs_insert,
            probs_delete=probs_delete,
        )

    def references(self) -> tuple[np.ndarray, np.ndarray]:
        """(p_full, p_blank) per target: the whole image, and the fully filled image."""
        probs = self.keep_probs(
            np.stack([np.ones(self.n_regions, bool), np.zeros(self.n_regions, bool)])
        )
        return probs[0], probs[1]

    def area(self, regions: np.ndarray) -> float:
        """Covered fraction of the image for a boolean region vector."""
        return float(self.areas[np.asarray(regions, dtype=bool)].sum())
