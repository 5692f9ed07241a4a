"""Explainer: prepares a run (caption, regions, targets) and drives a search over it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np

from .explanation import Explanation
from .images import to_rgb_array
from .masking import fill_image
from .objective import Objective
from .regions import superpixels
from .search import EARLY_STOP_TOL, check_options, max_images, run_search
from .targets import resolve_target_ids, resolve_targets
from .types import Cancelled, Generation, Step

DEFAULT_PROMPT = "Describe the image."


class Explainer:
    """Explains a vision-language model's tokens by ordering image regions (EAGLE)."""

    def __init__(
        self,
        model,
        n_regions: int = 50,
        search: str = "lazy",
        lambda1: float = 1.0,
        lambda2: float = 1.0,
        fill=0,
        early_stop: bool | float = False,
        batch_size: int | None = None,
        max_new_tokens: int = 64,
        **search_options,
    ):
        for method in ("generate", "token_probs"):
            if not callable(getattr(model, method, None)):
                raise TypeError(
                    f"model must have a {method}() method (the model protocol of "
                    f"eagle_widget), got {type(model).__name__}"
                )
        if isinstance(n_regions, bool) or not isinstance(n_regions, (int, np.integer)):
            raise TypeError(f"n_regions must be an int, got {type(n_regions).__name__}")
        if n_regions < 1:
            raise ValueError(f"n_regions must be at least 1, got {n_regions}")
        check_options(search, **search_options)  # now, not at the first step
        for name, value in (("lambda1", lambda1), ("lambda2", lambda2)):
            if not isinstance(value, (int, float, np.number)) or not np.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if batch_size is not None and (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or batch_size < 1
        ):
            raise ValueError(f"batch_size must be None or a positive int, got {batch_size!r}")
        fill_image(np.zeros((1, 1, 3), np.uint8), fill)  # validates fill now, not mid-run
        self.model = model
        self.n_regions = int(n_regions)
        self.search = search
        self.lambda1 = float(lambda1)
        self.lambda2 = float(lambda2)
        self.fill = fill
        self.early_stop = _early_stop_tolerance(early_stop)
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.search_options = search_options

    def start(
        self, image, prompt=None, targets=None, generation=None, target_ids=None
    ) -> ExplanationRun:
        """Prepare a run: generate (unless given), segment, resolve targets; iterate it."""
        array = to_rgb_array(image)
        if prompt is not None and (not isinstance(prompt, str) or not prompt.strip()):
            raise ValueError(f"prompt must be a non-empty string or None, got {prompt!r}")
        if generation is None:
            generation = self.model.generate(
                array, prompt or DEFAULT_PROMPT, max_new_tokens=self.max_new_tokens
            )
            if not isinstance(generation, Generation):
                raise TypeError(
                    f"model.generate must return an eagle_widget Generation, "
                    f"got {type(generation).__name__}"
                )
        elif not isinstance(generation, Generation):
            raise TypeError(f"generation must be a Generation, got {type(generation).__name__}")
        elif prompt is not None and prompt != generation.prompt:
            raise ValueError(
                f"prompt {prompt!r} is not the prompt the generation answered "
                f"({generation.prompt!r}); give one of them, or both the same"
            )
        if tuple(generation.image_size) != array.shape[:2]:
            raise ValueError(
                f"the generation was made for an image of size {tuple(generation.image_size)} "
                f"(height, width) but the image is {array.shape[:2]}"
            )
        positions = resolve_targets(generation, targets)
        ids = resolve_target_ids(generation, positions, target_ids)
        return ExplanationRun(self, array, generation, positions, ids)

    def stream(self, image, prompt=None, targets=None, generation=None, target_ids=None):
        """Yield one Step per search step as it happens."""
        return iter(self.start(image, prompt, targets, generation, target_ids))

    def explain(
        self, image, prompt=None, targets=None, generation=None, target_ids=None
    ) -> Explanation:
        """Run the whole search and return the Explanation."""
        run = self.start(image, prompt, targets, generation, target_ids)
        for _ in run:
            pass
        return run.explanation()

    def token_reliance(self, image, generation: Generation) -> tuple[np.ndarray, np.ndarray]:
        """(prior, visual) of every generated token from two images: full and fully filled."""
        array = to_rgb_array(image)
        positions = list(range(len(generation)))
        objective = Objective(
            self.model,
            generation,
            positions,
            [int(generation.token_ids[p]) for p in positions],
            array,
            fill_image(array, self.fill),
            np.zeros(array.shape[:2], dtype=np.int32),
            batch_size=self.batch_size,
        )
        p_full, p_blank = objective.references()
        return p_blank, p_full - p_blank


class ExplanationRun:
    """One explanation in progress: iterate it for Steps, cancel it from any thread."""

    def __init__(self, explainer: Explainer, image, generation, positions, target_ids):
        self.explainer = explainer
        self.image = image
        self.generation = generation
        self.positions = positions
        self.target_ids = target_ids
        self.labels = superpixels(image, explainer.n_regions)
        self.n_regions = int(self.labels.max()) + 1
        self._cancel = threading.Event()
        self._objective = Objective(
            explainer.model,
            generation,
            positions,
            target_ids,
            image,
            fill_image(image, explainer.fill),
            self.labels,
            explainer.lambda1,
            explainer.lambda2,
            explainer.batch_size,
            should_stop=self._cancel.is_set,
        )
        # a paid API says what the run may cost, and refuses it now rather than half-way
        plan = getattr(explainer.model, "plan", None)
        if callable(plan):
            plan(max_images(self.n_regions), generation, positions, target_ids)
        self._usage = dict(getattr(explainer.model, "usage", None) or {})
        self._steps: list[Step] = []
        self._started = False
        self._finished = False
        self._seconds = 0.0
        self._references = None

    @property
    def total_steps(self) -> int:
        return self.n_regions

    @property
    def images_scored(self) -> int:
        return self._objective.images_scored

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Ask the search to stop at the next batch boundary (safe from any thread)."""
        self._cancel.set()

    def anchors(self) -> tuple[np.ndarray, np.ndarray]:
        """(p_full, p_blank) per target: the curves' two ends, scored once (the search reuses
        them), so a front end can show them before the first step."""
        if self._references is None:
            self._references = self._objective.references()
        return self._references

    def __iter__(self) -> Iterator[Step]:
        if self._started:
            raise RuntimeError("an ExplanationRun can be iterated once; start a new one")
        self._started = True
        return self._iterate()

    def _iterate(self) -> Iterator[Step]:
        began = time.perf_counter()
        try:
            self.anchors()
            search = run_search(
                self.explainer.search,
                self._objective,
                self.explainer.early_stop,
                **self.explainer.search_options,
            )
            for step in search:
                self._steps.append(step)
                yield step
                if self._cancel.is_set():
                    raise Cancelled("search stopped by the caller")
        finally:
            self._seconds += time.perf_counter() - began
        self._finished = True

    def explanation(self) -> Explanation:
        if not self._finished:
            raise ValueError("the run has not finished: iterate it to the end first")
        front = [s for s in self._steps if s.chain == "insert"]
        back = [s for s in self._steps if s.chain == "remove"][::-1]
        p_full, p_blank = self._references
        model = self.explainer.model
        extras = {}
        if self._usage:  # requests this run sent (cached images cost none)
            usage = {k: v - self._usage.get(k, 0) for k, v in model.usage.items()}
            extras["requests"] = usage.get("requests", 0)
            if usage.get("values"):
                extras["floored_share"] = usage.get("floored", 0) / usage["values"]
        return Explanation(
            image=self.image,
            labels=self.labels,
            generation=self.generation,
            positions=self.positions,
            target_ids=self.target_ids,
            steps=front + back,
            p_full=p_full,
            p_blank=p_blank,
            search=self.explainer.search,
            lambda1=self.explainer.lambda1,
            lambda2=self.explainer.lambda2,
            images_scored=self.images_scored,
            seconds=self._seconds,
            scoring=getattr(model, "scoring", None) or "exact",
            extras=extras,
        )


def explain(model, image, prompt=None, targets=None, **explainer_kwargs) -> Explanation:
    """Shortcut: Explainer(model, **explainer_kwargs).explain(image, prompt, targets)."""
    keys = ("generation", "target_ids")
    run_kwargs = {k: explainer_kwargs.pop(k) for k in keys if k in explainer_kwargs}
    return Explainer(model, **explainer_kwargs).explain(image, prompt, targets, **run_kwargs)


def _early_stop_tolerance(early_stop) -> float | None:
    if early_stop is False or early_stop is None:
        return None
    if early_stop is True:
        return EARLY_STOP_TOL
    if isinstance(early_stop, (int, float)) and 0 <= early_stop < 1:
        return float(early_stop)
    raise ValueError(f"early_stop must be True, False or a tolerance in [0, 1), got {early_stop!r}")
