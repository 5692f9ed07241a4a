"""Synthetic captioning models with known answers for the widget tests (no torch).

A scene is a grid of flat colour blocks (superpixels find exactly the blocks). The model
captions it "A red square on blue." whose word probabilities rest on known blocks:
" red" on block RED, " square" on blocks RED and SQUARE together, " blue" on block BLUE;
"A", " on" and "." are language priors that the image does not change.
"""

from __future__ import annotations

import base64
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


YES, NO = 1, 2
DRIVER = 6  # the block whose sight makes YesNoModel say "yes" although the object is absent


class YesNoModel:
    """Answers a presence question "yes" or "no" (one token); the sight of block DRIVER (a
    co-occurring object) pushes it to a wrong "yes": P(yes) = 0.25 + 0.6 * shown share of
    DRIVER. The answer is the likelier of the two; `encode` maps the words to their ids."""

    def __init__(self, rows: int = 4, cols: int = 4, cell: int = 8, delay: float = 0.0):
        self.blocks = blocks(rows, cols, cell)
        self.delay = delay
        self.generated = 0

    def p_yes(self, image) -> float:
        shown = np.asarray(image).any(axis=2)
        return 0.25 + 0.6 * float(shown[self.blocks == DRIVER].mean())

    def encode(self, text: str) -> list[int]:
        return {"yes": [YES], "no": [NO]}.get(text.strip().lower(), [])

    def generate(self, image, prompt, max_new_tokens=64):
        from eagle_widget.engine import Generation

        self.generated += 1
        word = "yes" if self.p_yes(image) > 0.5 else "no"
        ids = [YES if word == "yes" else NO]
        return Generation(prompt, ids, [word], word, np.asarray(image).shape[:2])

    def token_probs(self, images, generation, positions, token_ids=None):
        if self.delay:
            time.sleep(self.delay)
        ids = token_ids or [generation.token_ids[p] for p in positions]
        p = np.array([self.p_yes(im) for im in images])
        return np.stack([p if i == YES else 1 - p for i in ids], axis=1)


def yes_no_scene(rows: int = 4, cols: int = 4, cell: int = 8, seed: int = 3) -> np.ndarray:
    return block_image(rows, cols, cell=cell, seed=seed)


def jsonable(value):
    """Trait state as JSON for node: bytes become {"b64": ...}, as the JS tests decode them."""
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


# JS for node: reads a jsonable() state file (argv[2]) into `raw`, bytes back as DataViews
# (needs `readFileSync` from "node:fs" imported by the script).
READ_STATE = """\
const bytes = (b64) => {
  const b = Buffer.from(b64, "base64");
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
};
const raw = JSON.parse(readFileSync(process.argv[2], "utf8"), (k, v) =>
  v && typeof v === "object" && "b64" in v ? bytes(v.b64) : v);
"""
