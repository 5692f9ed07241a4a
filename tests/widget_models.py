"""Synthetic captioning models with known answers for the widget tests (no torch).

A scene is a grid of flat colour blocks (superpixels find exactly the blocks). The model
captions it "A red square on blue." whose word probabilities rest on known blocks:
" red" on block RED, " square" on blocks RED and SQUARE together, " blue" on block BLUE;
"A", " on" and "." are language priors that the image does not change.
"""

from __future__ import annotations

import threading
import time

import numpy as np
from synthetic import VisibilityModel, additive, block_image

WORDS = ["A", " red", " square", " on", " blue", "."]
RED, SQUARE, BLUE = 5, 6, 10  # block ids in a 4 x 4 grid


def blocks(rows: int = 4, cols: int = 4, cell: int = 12) -> np.ndarray:
    """The block id of every pixel, rows x cols blocks of cell x cell pixels."""
    grid = np.arange(rows * cols).reshape(rows, cols)
    return np.repeat(np.repeat(grid, cell, 0), cell, 1)


def scene(rows: int = 4, cols: int = 4, cell: int = 12, seed: int = 3) -> np.ndarray:
    return block_image(rows, cols, cell=cell, seed=seed)


def caption_model(rows: int = 4, cols: int = 4, cell: int = 12, delay: float = 0.0):
    """'A red square on blue.' with known evidence per word (see the module docstring)."""
    n = rows * cols
    red, square, blue = np.zeros(n), np.zeros(n), np.zeros(n)
    red[RED] = 0.8
    square[RED], square[SQUARE] = 0.3, 0.5
    blue[BLUE] = 0.7
    none = additive(np.zeros(n))
    return VisibilityModel(
        blocks(rows, cols, cell),
        [none, additive(red), additive(square), none, additive(blue), none],
        base=[0.9, 0.1, 0.05, 0.6, 0.2, 0.95],
        words=WORDS,
        delay=delay,
    )


def long_caption_model(n_words: int, rows: int = 4, cols: int = 4, cell: int = 12):
    """A caption of `n_words` tokens, token i resting on block i mod (rows * cols)."""
    n = rows * cols
    effects = []
    for i in range(n_words):
        w = np.zeros(n)
        w[i % n] = 0.6
        effects.append(additive(w))
    return VisibilityModel(
        blocks(rows, cols, cell),
        effects,
        base=np.full(n_words, 0.2),
        words=[f" w{i}" for i in range(n_words)],
    )


class FlakyModel:
    """Wraps a model; token_probs raises RuntimeError while `failing` is set."""

    def __init__(self, model, fail_after: int = 0):
        self.model = model
        self.fail_after = fail_after
        self.failing = threading.Event()
        self.failing.set()
        self.calls = 0

    def generate(self, image, prompt, max_new_tokens=64):
        return self.model.generate(image, prompt, max_new_tokens)

    def token_probs(self, images, generation, positions, token_ids=None):
        self.calls += 1
        if self.failing.is_set() and self.calls > self.fail_after:
            raise RuntimeError("simulated model failure (out of memory)")
        return self.model.token_probs(images, generation, positions, token_ids)


class Slowed:
    """Wraps a model; every token_probs call takes at least `delay` seconds longer.

    Lets a browser test watch a fast model (the demo model) stream step by step.
    """

    def __init__(self, model, delay: float):
        self.model = model
        self.delay = delay

    def generate(self, image, prompt, max_new_tokens=64):
        return self.model.generate(image, prompt, max_new_tokens)

    def token_probs(self, images, generation, positions, token_ids=None):
        time.sleep(self.delay)
        return self.model.token_probs(images, generation, positions, token_ids)
