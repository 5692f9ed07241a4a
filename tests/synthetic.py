"""Synthetic vision-language models with known answers, implementing the model protocol.

A scene is an image whose pixels are never 0, split into known "objects" (an object map).
The engine fills removed regions with 0, so the model can tell exactly which fraction of
each object is visible, and each target token's probability is a known function of those
fractions. That gives ground truth: which regions matter, and in which order.
"""

from __future__ import annotations

import re
import time

import numpy as np

from eagle_widget.engine import Generation
from eagle_widget.engine.regions import grid_regions


def block_image(rows: int, cols: int, cell: int = 8, seed: int = 0) -> np.ndarray:
    """An image of rows x cols flat blocks of distinct bright colours (SLIC finds the blocks)."""
    rng = np.random.default_rng(seed)
    colours = rng.integers(40, 256, size=(rows * cols, 3), dtype=np.uint8)
    labels = grid_regions(rows * cell, cols * cell, rows * cols)
    return colours[labels]


class VisibilityModel:
    """p_t = clip(base_t + f_t(visible fraction of each object), 0, 1).

    `effects` holds one function per target taking the vector of visible fractions.
    """

    def __init__(self, object_map, effects, base=None, words=None, delay=0.0):
        self.object_map = np.asarray(object_map)
        self.n_objects = int(self.object_map.max()) + 1
        self.effects = list(effects)
        self.base = np.zeros(len(self.effects)) if base is None else np.asarray(base, float)
        self.words = words or [f" w{i}" for i in range(len(self.effects))]
        self.delay = delay
        self.calls: list[int] = []  # batch size of every token_probs call
        self.seen_ids: list[list[int]] = []
        self._sizes = np.bincount(self.object_map.ravel(), minlength=self.n_objects)

    def generate(self, image, prompt: str, max_new_tokens: int = 64) -> Generation:
        tokens = list(self.words)
        return Generation(
            prompt=prompt,
            token_ids=list(range(10, 10 + len(tokens))),
            tokens=tokens,
            text="".join(tokens),
            image_size=tuple(np.asarray(image).shape[:2]),
        )

    def visible(self, image: np.ndarray) -> np.ndarray:
        shown = np.asarray(image).any(axis=2)
        counts = np.bincount(
            self.object_map.ravel(), weights=shown.ravel(), minlength=self.n_objects
        )
        return counts / self._sizes

    def token_probs(self, images, generation, positions, token_ids=None):
        self.calls.append(len(images))
        self.seen_ids.append(list(token_ids) if token_ids is not None else None)
        if self.delay:
            time.sleep(self.delay)
        out = np.empty((len(images), len(positions)))
        for i, image in enumerate(images):
            v = self.visible(image)
            for j, position in enumerate(positions):
                out[i, j] = self.base[position] + self.effects[position](v)
        return np.clip(out, 0.0, 1.0)


def additive(weights) -> callable:
    weights = np.asarray(weights, float)
    return lambda v: float(weights @ v)


def interacting(a: int, b: int, weight: float = 0.8) -> callable:
    """Both objects are needed: the product of their visibilities."""
    return lambda v: weight * v[a] * v[b]


def redundant(a: int, b: int, weight: float = 0.8) -> callable:
    """Either object suffices: the larger visibility."""
    return lambda v: weight * max(v[a], v[b])


def object_parts(a: int, b: int, c: int, weight: float = 0.9) -> callable:
    """An object in three parts: two show a little of it, the third completes it. Alone, c
    adds nothing next to a; next to a and b, it adds most of the probability."""
    return lambda v: weight * v[a] * v[b] * (0.1 + 0.9 * v[c])


def bumpy(effect: callable, amplitude: float, seed: int) -> callable:
    """Add a fixed pseudo-random bump per visible set, like the uneven response of a real model."""

    def with_bumps(v):
        key = hash((seed, np.round(v, 3).tobytes())) % 1_000_003 / 1_000_003
        return effect(v) + amplitude * (2 * key - 1)

    return with_bumps


def scorer_family(n_objects: int, seed: int) -> list[callable]:
    """A varied set of targets: additive, interacting, redundant, and mixtures."""
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.ones(n_objects) * 0.3) * 0.9
    a, b, c, d = rng.choice(n_objects, size=4, replace=False)
    w2 = rng.dirichlet(np.ones(n_objects) * 0.3) * 0.5
    pairs = rng.choice(n_objects, size=(6, 2))
    pair_w = rng.dirichlet(np.ones(6)) * 0.9
    return [
        additive(w),
        interacting(a, b),
        redundant(c, d),
        lambda v: 0.5 * v[a] * v[c] + float(w2 @ v) * 0.5,
        lambda v: float(sum(w * v[i] * v[j] for w, (i, j) in zip(pair_w, pairs))),
    ]


class SpanScorer(VisibilityModel):
    """p = f(visible share of each block, which of the prompt's words are shown): a scorer
    whose answer rests on known regions and known words (prompt spans, issue 26).

    `effect(visible, shown words by text)` gives one p for every generated token, or a
    sequence of one p per token of `words` (their answers rest on different words)."""

    def __init__(self, effect, blocks=None, words=None):
        blocks = grid_regions(32, 32, 16) if blocks is None else blocks
        words = words or [" w0"]
        super().__init__(blocks, [lambda v: 0.0] * len(words), words=words)
        self.effect = effect
        self.hidden_calls = 0

    def span_token_counts(self, generation, spans):
        return [len(generation.prompt[a:b]) // 3 + 1 for a, b in spans]  # any positive count

    def token_probs(self, images, generation, positions, token_ids=None):
        spans = [(m.start(), m.end()) for m in re.finditer(r"\w+", generation.prompt)]
        keep = np.ones((len(images), len(spans)), dtype=bool)
        return self.span_token_probs(images, generation, positions, token_ids, spans, keep)

    def span_token_probs(self, images, generation, positions, token_ids, spans, keep):
        self.hidden_calls += int((~np.asarray(keep)).any())
        rows = []
        for image, row in zip(images, keep):
            shown = {generation.prompt[a:b] for (a, b), k in zip(spans, row) if k}
            p = self.effect(self.visible(image), shown)
            rows.append([p[i] for i in positions] if np.ndim(p) else [p] * len(positions))
        return np.array(rows)
