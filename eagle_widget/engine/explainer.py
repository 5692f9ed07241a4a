"""Explainer: prepares a run (caption, regions, targets) and drives a search over it."""

from __future__ import annotations

import hashlib
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from .baselines import check_method, estimated_method_images, json_options, region_scores
from .clips import is_clip, read_clip
from .explanation import Explanation
from .images import frame_size, read_image, resize
from .masking import fill_image
from .objective import Objective
from .prompt_spans import PROMPT_MASKINGS, PROMPT_REGIONS, PromptSpan, range_pairs, split_prompt
from .protocol import (
    DEFAULT_PROMPT,
    CountsSpanTokens,
    MasksPromptSpans,
    Plans,
    check_model,
    input_size_of,
    min_image_size_of,
    prompt_maskings_of,
    resolve_prompt,
    scoring_of,
    supports,
    supports_video_of,
    text_only_of,
    usage_of,
)
from .regions import RegionPlan, region_plan
from .search import (
    EARLY_STOP_TOL,
    check_options,
    estimated_images,
    max_images,
    ranked,
    run_search,
)
from .targets import resolve_target_ids, resolve_targets
from .types import Cancelled, Generation, Step
from .whitebox import (
    check_white_box_model,
    is_white_box,
    memory_peak,
    patch_grid_of,
    start_memory_window,
    white_box_scores,
)

RELIANCE = ("targets", "all")  # whose prior / visual split a run measures
# More regions than this is an error: greedy would need 66,000 images, lazy about 8,600, and
# each region would be smaller than a few of a vision encoder's patches at its input size.
MAX_REGIONS = 256
# A search estimated to need more images than this warns (with the figure) before it starts.
COST_WARNING_IMAGES = 10_000
# The long side a photo is explained at when the model does not say its input size.
DEFAULT_WORKING_SIDE = 1024


def _checked_prompt_regions(prompt_regions, model, method: str):
    """prompt_regions as given, checked as far as it can be without the prompt."""
    if prompt_regions is None:
        return None
    if isinstance(prompt_regions, str):
        if prompt_regions not in PROMPT_REGIONS:
            raise ValueError(
                f"prompt_regions must be None, one of {', '.join(PROMPT_REGIONS)}, or a list "
                f"of (start, stop) character ranges; got {prompt_regions!r}"
            )
    else:  # ranges: their shape now, their place in the prompt once it is known
        prompt_regions = range_pairs(prompt_regions)
    if method != "eagle":
        raise ValueError(f"prompt_regions are searched by EAGLE; method {method!r} ranks regions")
    missing = [c.__name__ for c in (MasksPromptSpans, CountsSpanTokens) if not supports(model, c)]
    if missing:
        raise ValueError(
            f"{type(model).__name__} cannot hide spans of the prompt (it lacks "
            f"{' and '.join(missing)}, see eagle_widget.engine.protocol): explain the image "
            "alone (prompt_regions=None) or use a model that can"
        )
    return prompt_regions


def _checked_prompt_masking(masking, model, prompt_regions) -> str:
    """prompt_masking as given: one of PROMPT_MASKINGS, and one the model can do where
    spans are searched (protocol.HasPromptMaskings)."""
    if not isinstance(masking, str) or masking not in PROMPT_MASKINGS:
        raise ValueError(f"prompt_masking must be one of {PROMPT_MASKINGS}, got {masking!r}")
    ways = prompt_maskings_of(model)
    if prompt_regions is not None and masking not in ways:
        raise ValueError(
            f"{type(model).__name__} hides prompt spans by {' or '.join(ways)} only, not by "
            f"{masking!r} (see protocol.HasPromptMaskings)"
        )
    return masking


NO_REGIONS = {"kind": "none"}  # the regions record of a run by the prompt alone (regions=None)


class CostWarning(UserWarning):
    """A search that will score very many images (see Explainer's n_regions and search)."""


def check_n_regions(n_regions) -> int:
    """n_regions as an int in 1..MAX_REGIONS, or an error that says what more would cost."""
    if isinstance(n_regions, bool) or not isinstance(n_regions, (int, np.integer)):
        raise TypeError(f"n_regions must be an int, got {type(n_regions).__name__}")
    if n_regions < 1:
        raise ValueError(f"n_regions must be at least 1, got {n_regions}")
    if n_regions > MAX_REGIONS:
        raise ValueError(
            f"n_regions={n_regions} is more than {MAX_REGIONS}: the lazy search would score "
            f"about {estimated_images('lazy', n_regions):,} images (greedy "
            f"{estimated_images('greedy', n_regions):,}); 32 to 64 regions (the paper's) "
            "resolve objects"
        )
    return int(n_regions)


def check_region_count(count: int, what: str) -> None:
    """A user's regions (label map, masks, grid): at most MAX_REGIONS (region_plan holds
    them to at least 2)."""
    if count > MAX_REGIONS:
        raise ValueError(
            f"{what} has {count} regions, more than {MAX_REGIONS}: the lazy search would score "
            f"about {estimated_images('lazy', count):,} images; merge regions (32 to 64, the "
            "paper's, resolve objects)"
        )


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
        early_stop: bool | float | str = "auto",
        batch_size: int | None = None,
        max_new_tokens: int = 64,
        working_size: int | str | None = "auto",
        method: str = "eagle",
        method_options: dict | None = None,
        regions="slic",
        grid: tuple[int, int] | None = None,
        prompt_regions=None,
        prompt_masking: str = "replace",
        **search_options,
    ):
        """regions: "slic" (about `n_regions` superpixels, the default), "grid" (`grid=(rows,
        cols)` blocks, or about `n_regions`), an H x W integer label map of the image (any
        ids >= 0: renumbered 0..N-1 in increasing order, the given ids kept in the result's
        `regions` record), or a list of H x W boolean masks (overlaps: the first mask wins;
        pixels no mask holds form one more region, the last). A label map or masks are of
        the image as given; the search sees them shrunk to the working size (nearest
        neighbour) and the result returns them at full size. For a clip (a model that
        declares supports_video): "slic" and "grid" are per frame (about `n_regions` in all,
        or `grid` blocks in each frame: a region never spans frames), "supervoxels" is SLIC
        over the frames x height x width volume, and label maps and masks are F x H x W.
        See regions.region_plan.

        prompt_regions: None (the image alone, the default), "word", "sentence" or
        "message" spans of the prompt, or a list of (start, stop) character ranges of it:
        searched beside the image's regions in one order (engine/prompt_spans.py), for a
        model that can hide them (protocol.MasksPromptSpans). regions=None with
        prompt_regions explains by the prompt alone: no image region, the image kept whole
        in every scored input (or no image: a text-only model, protocol.ReadsTextOnly,
        whose default regions are None). prompt_masking: how a hidden span is hidden,
        "replace" (its tokens become the adapter's neutral id) or "attention" (its
        attention-mask entries set to 0), where the model can (protocol.HasPromptMaskings)."""
        check_model(model)
        check_n_regions(n_regions)
        self.text_only = text_only_of(model)
        if self.text_only:
            if isinstance(regions, str) and regions == "slic":  # the default: no image here
                regions = None
            elif regions is not None:
                raise ValueError(
                    f"{type(model).__name__} reads text only: it has no image regions "
                    "(leave regions out, or regions=None)"
                )
            if prompt_regions is None:
                raise ValueError(
                    f"{type(model).__name__} reads text only and is explained by its prompt: "
                    f"give prompt_regions ({', '.join(PROMPT_REGIONS)} or character ranges)"
                )
        if regions is None and prompt_regions is None:
            raise ValueError(
                "regions=None explains by the prompt alone and needs prompt_regions "
                f"({', '.join(PROMPT_REGIONS)} or character ranges); give regions to explain "
                "the image"
            )
        self.prompt_regions = _checked_prompt_regions(prompt_regions, model, method)
        self.prompt_masking = _checked_prompt_masking(prompt_masking, model, prompt_regions)
        if regions is None:
            if grid is not None:
                raise ValueError('grid= goes with regions="grid", not regions=None')
            self.regions: RegionPlan | None = None
        else:
            self.regions = region_plan(regions, n_regions, grid)
            if self.regions.count is not None:
                check_region_count(self.regions.count, _what(self.regions.kind))
        check_options(search, **search_options)  # now, not at the first step
        self.method_options = check_method(method, dict(method_options or {}))
        if is_white_box(method):
            check_white_box_model(model, method)
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
        if working_size not in ("auto", None) and (
            isinstance(working_size, bool)
            or not isinstance(working_size, (int, np.integer))
            or working_size < 1
        ):
            raise ValueError(
                f'working_size must be "auto", None or a positive int, got {working_size!r}'
            )
        self.model = model
        self.n_regions = int(n_regions)
        self.search = search
        self.lambda1 = float(lambda1)
        self.lambda2 = float(lambda2)
        self.fill = fill
        self.early_stop = _early_stop_tolerance(early_stop, search)
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.working_size = working_size
        self.search_options = search_options
        self.method = method
        self._last_reliance = None  # (key, (prior, visual)) of _working_reliance

    def check_image(self, image: np.ndarray) -> None:
        """Raise when the image (a clip's frames) is smaller than the model can use (its
        `min_image_size`)."""
        least = min_image_size_of(self.model)
        height, width = frame_size(image)
        if least and min(height, width) < least:
            raise ValueError(
                f"the image is {height} x {width} pixels (height x width); "
                f"{type(self.model).__name__} needs at least {least} x {least}"
            )

    def working_shape(self, height: int, width: int) -> tuple[int, int]:
        """(height, width) the search runs at: never larger than the image.

        "auto": the short side becomes the model's `input_size` (its processor shrinks every
        image to that anyway) or, where the model has none, the long side DEFAULT_WORKING_SIDE;
        an int: the long side at most that; None: the image's own size. Never below the
        model's `min_image_size`.
        """
        if self.working_size is None:
            return height, width
        if self.working_size == "auto":
            side = input_size_of(self.model)
            scale = side / min(height, width) if side else DEFAULT_WORKING_SIDE / max(height, width)
        else:
            scale = self.working_size / max(height, width)
        least = min_image_size_of(self.model) or 1
        scale = min(1.0, max(scale, least / min(height, width)))
        if scale == 1.0:
            return height, width
        return max(1, round(height * scale)), max(1, round(width * scale))

    def start(
        self,
        image,
        prompt=None,
        targets=None,
        generation=None,
        target_ids=None,
        reliance: str = "targets",
        frames: int | None = None,
    ) -> ExplanationRun:
        """Prepare a run: generate (unless given), segment, resolve targets; iterate it.

        `image` is an image, or a clip for a model that takes clips (see read_visual;
        `frames` samples a clip evenly, clips.read_clip).

        A photo larger than the working size (see working_shape) is generated on and searched
        at that size; the Explanation maps it back to the photo's own size. `reliance`:
        "targets" measures the prior / visual split of the explained tokens (the curves'
        ends); "all" also of every generated token (two more images, shared with
        `token_reliance`), kept as the result's generated_reliance.
        """
        if reliance not in RELIANCE:
            raise ValueError(f"reliance must be one of {RELIANCE}, got {reliance!r}")
        if reliance == "all" and self.regions is None:
            raise ValueError(
                'reliance="all" splits every token between prior and image; with regions=None '
                "the image is not searched: see the result's source_reliance"
            )
        if prompt is not None or generation is None:  # a text model has no default prompt
            prompt = resolve_prompt(prompt, None if self.text_only else DEFAULT_PROMPT)
        if image is None or self.text_only:
            return self._start_text(image, prompt, targets, generation, target_ids, frames)
        photo, notes, clip = self.read_visual(image, frames)
        self.check_image(photo)
        size = frame_size(photo)
        shape = self.working_shape(*size)
        array = photo if shape == size else resize(photo, shape)
        maps = self.region_maps(array, photo.shape[:-1])  # a bad label map fails before the model
        if is_white_box(self.method):  # a family without known patch geometry fails here too
            if clip:
                raise ValueError(f"method {self.method!r} maps one image's tokens, not a clip's")
            patch_grid_of(self.model, frame_size(array))
        generation = self._generation(array, prompt, generation)
        if tuple(generation.image_size) not in (size, frame_size(array)):
            raise ValueError(
                f"the generation was made for an image of size {tuple(generation.image_size)} "
                f"(height, width) but the {'frames are' if clip else 'image is'} {size}"
            )
        # the answer to the photo is scored at the working size: the same words, fewer pixels
        generation = replace(generation, image_size=frame_size(array))
        positions = resolve_targets(generation, targets)
        ids = resolve_target_ids(generation, positions, target_ids)
        notes["working_size"] = list(frame_size(array))
        spans = self.prompt_spans(generation)
        run = ExplanationRun(
            self,
            array,
            generation,
            positions,
            ids,
            photo=photo,
            notes=notes,
            reliance=reliance,
            maps=maps,
            frames=clip,
            spans=spans,
        )
        cost = estimated_images(self.search, run.n_regions, **self.search_options)
        if cost > COST_WARNING_IMAGES:
            warnings.warn(
                f"{run.n_regions} regions with the {self.search} search will score about "
                f"{cost:,} images; fewer regions or search='lazy' cost less",
                CostWarning,
                stacklevel=2,
            )
        return run

    def _start_text(self, image, prompt, targets, generation, target_ids, frames):
        """start() of a text-only model: no image, the prompt's spans alone."""
        name = type(self.model).__name__
        if image is not None:
            raise ValueError(f"{name} reads text only: give image=None")
        if not self.text_only:
            raise ValueError(
                f"image is None, but {name} reads images: only a text-only model "
                "(protocol.ReadsTextOnly, e.g. TextModel) is explained without one"
            )
        if frames is not None:
            raise ValueError(f"frames={frames!r} samples a clip; a text model reads no clip")
        generation = self._generation(None, prompt, generation)
        positions = resolve_targets(generation, targets)
        ids = resolve_target_ids(generation, positions, target_ids)
        spans = self.prompt_spans(generation)
        return ExplanationRun(self, None, generation, positions, ids, spans=spans)

    def prompt_spans(self, generation: Generation) -> list[PromptSpan]:
        """The prompt spans of this run (region ids after the image's, given when the run
        knows its image's count), their token counts asked of the model; [] without any."""
        if self.prompt_regions is None:
            return []
        ranges = split_prompt(generation.prompt, self.prompt_regions)
        counts = [int(c) for c in self.model.span_token_counts(generation, ranges)]
        text = generation.prompt
        empty = [text[a:b] for (a, b), c in zip(ranges, counts) if c < 1]
        if empty:
            raise ValueError(
                f"prompt spans {empty!r} cover no token of their own (the tokenizer merges "
                "them with their neighbours): choose wider prompt_regions"
            )
        return [PromptSpan(text[a:b], a, b, -1, c) for (a, b), c in zip(ranges, counts)]

    def _generation(self, visual, prompt, generation) -> Generation:
        """The model's answer to `visual` (None: a text-only model's prompt alone), or the
        given one, checked to be a Generation of this prompt."""
        if generation is None:
            generation = self.model.generate(visual, prompt, max_new_tokens=self.max_new_tokens)
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
        return generation

    def read_visual(
        self, visual, frames: int | None = None
    ) -> tuple[np.ndarray, dict, dict | None]:
        """(pixels, what reading did to them, the clip's frames record or None for an image).

        A clip (a list of frames, an F x H x W x 3 array, a folder of frames, a video file) is
        refused for a model that does not take clips (protocol.TakesClips) before a frame is
        read; `frames` goes with clips only."""
        if is_clip(visual):
            if not supports_video_of(self.model):
                what = "this is a clip"
                if isinstance(visual, (str, Path)) and Path(visual).is_dir():
                    what = f"{str(visual)!r} is a folder, not an image file (a clip's frames)"
                raise ValueError(
                    f"{type(self.model).__name__} takes images only (it does not declare "
                    f"supports_video = True), and {what}: explain one frame of it, or use a "
                    "model that takes clips"
                )
            pixels, record = read_clip(visual, frames)
            return pixels, {}, record
        if frames is not None:
            raise ValueError(f"frames={frames!r} samples a clip, but this is one image")
        photo, notes = read_image(visual)
        return photo, notes, None

    def region_maps(self, working: np.ndarray, shape) -> tuple[np.ndarray, np.ndarray, dict]:
        """(labels of the working image, labels at the image's own `shape`, how they were
        made): the run's regions, checked (see regions.RegionPlan.maps). With regions=None,
        maps of zeros (no region is searched) and the record NO_REGIONS."""
        if self.regions is None:
            return (np.zeros(working.shape[:-1], np.int32), np.zeros(tuple(shape), np.int32),
                    dict(NO_REGIONS))  # fmt: skip
        work, full, record = self.regions.maps(working, shape)
        if self.regions.kind != "slic":
            check_region_count(int(full.max()) + 1, _what(self.regions.kind))
        return work, full, record

    def stream(
        self, image, prompt=None, targets=None, generation=None, target_ids=None, frames=None
    ):
        """Yield one Step per search step as it happens."""
        return iter(self.start(image, prompt, targets, generation, target_ids, frames=frames))

    def explain(
        self,
        image,
        prompt=None,
        targets=None,
        generation=None,
        target_ids=None,
        reliance: str = "targets",
        frames: int | None = None,
    ) -> Explanation:
        """Run the whole search and return the Explanation (see start for `reliance` and
        `frames`)."""
        run = self.start(image, prompt, targets, generation, target_ids, reliance, frames)
        for _ in run:
            pass
        return run.explanation()

    def token_reliance(self, image, generation: Generation) -> tuple[np.ndarray, np.ndarray]:
        """(prior, visual) of every generated token from two images: full and fully filled,
        at the working size as a run scores them."""
        array = self.read_visual(image)[0]
        shape = self.working_shape(*frame_size(array))
        if shape != frame_size(array):
            array = resize(array, shape)
        return self._working_reliance(array, replace(generation, image_size=shape))

    def _working_reliance(self, array: np.ndarray, generation: Generation):
        """token_reliance of an image already at the working size. The last answer is kept:
        the widget shows it before a run and the run's result then holds it, one scoring."""
        key = (
            array.shape,
            hashlib.blake2b(np.ascontiguousarray(array).tobytes(), digest_size=16).digest(),
            generation.prompt,
            tuple(int(t) for t in generation.token_ids),
        )
        if self._last_reliance is not None and self._last_reliance[0] == key:
            prior, visual = self._last_reliance[1]
            return prior.copy(), visual.copy()
        positions = list(range(len(generation)))
        objective = Objective(
            self.model,
            generation,
            positions,
            [int(generation.token_ids[p]) for p in positions],
            array,
            fill_image(array, self.fill),
            np.zeros(array.shape[:-1], dtype=np.int32),
            batch_size=self.batch_size,
        )
        p_full, p_blank = objective.references()
        self._last_reliance = (key, (p_blank, p_full - p_blank))
        return p_blank.copy(), (p_full - p_blank).copy()


class ExplanationRun:
    """One explanation in progress: iterate it for Steps, cancel it from any thread."""

    def __init__(
        self,
        explainer: Explainer,
        image,
        generation,
        positions,
        target_ids,
        photo: np.ndarray | None = None,
        notes: dict | None = None,
        reliance: str = "targets",
        maps: tuple[np.ndarray, np.ndarray, dict] | None = None,
        frames: dict | None = None,
        spans: list[PromptSpan] | None = None,
    ):
        """`image` is what the search scores; `photo` the image given (default: the same),
        which `labels` and the Explanation are of; `notes` go to its extras["image"];
        `reliance` as Explainer.start says; `maps` the explainer's region_maps of them
        (default: made here); `frames` a clip's frames record (clips.read_clip); `spans`
        the prompt spans searched beside the image's regions (Explainer.prompt_spans)."""
        self.explainer = explainer
        self.image = image
        self.photo = image if photo is None else photo
        self.generation = generation
        self.positions = positions
        self.target_ids = target_ids
        self.notes = dict(notes or {})
        self.reliance = reliance
        self.frames = frames
        if maps is None:
            maps = (
                (None, None, dict(NO_REGIONS))
                if image is None
                else explainer.region_maps(image, self.photo.shape[:-1])
            )
        self.work_labels, self.labels, self.region_record = maps
        searched = self.region_record.get("kind") != NO_REGIONS["kind"]  # image regions
        # span ids follow the image's regions (from 0 when the prompt alone is searched)
        first = int(self.work_labels.max()) + 1 if searched else 0
        self.spans = [replace(span, region=first + i) for i, span in enumerate(spans or [])]
        self.n_regions = first + len(self.spans)
        self._cancel = threading.Event()
        self._objective = Objective(
            explainer.model,
            generation,
            positions,
            target_ids,
            image,
            fill_image(image, explainer.fill) if searched else None,
            self.work_labels if searched else None,
            explainer.lambda1,
            explainer.lambda2,
            explainer.batch_size,
            should_stop=self._cancel.is_set,
            spans=[(span.start, span.stop) for span in self.spans],
            span_tokens=[span.tokens for span in self.spans],
            masking=explainer.prompt_masking,
        )
        # a paid API says what the run may cost, and refuses it now rather than half-way
        if supports(explainer.model, Plans):
            explainer.model.plan(self._most_images(), generation, positions, target_ids)
        self._usage = usage_of(explainer.model)
        self._steps: list[Step] = []
        self._started = False
        self._finished = False
        self._seconds = 0.0
        self._references = None
        self._method_cost: dict | None = None  # a baseline's own images and seconds
        self._eagle_measured = False  # whether EAGLE's search opened a peak memory window

    def _most_images(self) -> int:
        if self.explainer.method == "eagle":  # with spans: the split's two other corners
            return max_images(self.n_regions) + (2 if self.spans else 0)
        own = estimated_method_images(
            self.explainer.method, self.n_regions, self.explainer.method_options
        )
        return own + 2 * self.n_regions + 2

    def _steps_of_method(self) -> Iterator[Step]:
        """EAGLE's search, or a baseline's region scores ranked and measured by the engine."""
        explainer = self.explainer
        measured = start_memory_window(explainer.model)
        if explainer.method == "eagle":  # its memory is read when the search has ended
            self._eagle_measured = measured
            return run_search(
                explainer.search, self._objective, explainer.early_stop, **explainer.search_options
            )
        before, began = self.images_scored, time.perf_counter()
        record = {}
        if is_white_box(explainer.method):
            scores, record = white_box_scores(
                explainer.model, explainer.method, explainer.method_options, self.image,
                self.generation, self.positions, self.target_ids, self.work_labels,
            )  # fmt: skip
        else:
            scores = region_scores(
                explainer.method, self._objective, explainer.method_options, labels=self.labels
            )
        self._method_cost = {
            "images": self.images_scored - before,
            "seconds": time.perf_counter() - began,
            "region_scores": [float(v) for v in scores],
            **record,
        }
        if measured:
            self._method_cost["peak_memory"] = memory_peak(explainer.model)
        return ranked(self._objective, scores)

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
            for step in self._steps_of_method():
                self._steps.append(step)
                yield step
                if self._cancel.is_set():
                    raise Cancelled("search stopped by the caller")
            if self.spans:  # the two other corners of the three-way split (prompt_spans.py)
                n = self._objective.n_image_regions
                keep = np.zeros((2, self.n_regions), dtype=bool)
                keep[0, n:] = True  # the prompt alone: every image region filled
                keep[1, :n] = True  # the image alone: every span hidden
                self._corners = self._objective.keep_probs(keep)
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
            usage = {k: v - self._usage.get(k, 0) for k, v in usage_of(model).items()}
            extras["requests"] = usage.get("requests", 0)
            if usage.get("values"):
                extras["floored_share"] = usage.get("floored", 0) / usage["values"]
        if self.notes:
            extras["image"] = dict(self.notes)
        if self.explainer.method != "eagle":  # what the method cost, apart from its ranking
            extras["method"] = {
                "name": self.explainer.method,
                "options": json_options(self.explainer.method, self.explainer.method_options),
                **self._method_cost,
                "ranking_images": self.images_scored - self._method_cost["images"],
            }
        else:
            if self.explainer.early_stop is not None:
                extras["early_stop"] = self.explainer.early_stop
            if self._eagle_measured:  # the whole search's, as a baseline's own work
                extras["peak_memory"] = memory_peak(model)
        prompt = None
        if self.spans:
            prompt = {
                "spans": [span.to_dict() for span in self.spans],
                "masking": self.explainer.prompt_masking,
                "p_no_image": self._corners[0].tolist(),
                "p_no_prompt": self._corners[1].tolist(),
            }
        generated = None
        if self.reliance == "all":
            generated = self.explainer._working_reliance(self.image, self.generation)
        return Explanation(
            image=self.photo,
            labels=self.labels,
            generation=self.generation
            if self.photo is None
            else replace(self.generation, image_size=frame_size(self.photo)),
            positions=self.positions,
            target_ids=self.target_ids,
            steps=front + back,
            p_full=p_full,
            p_blank=p_blank,
            search=self.explainer.search if self.explainer.method == "eagle" else "ranked",
            lambda1=self.explainer.lambda1,
            lambda2=self.explainer.lambda2,
            images_scored=self.images_scored,
            seconds=self._seconds,
            scoring=scoring_of(model),
            regions=dict(self.region_record),
            frames=self.frames,
            prompt=prompt,
            extras=extras,
            generated_reliance=generated,
        )


def explain(model, image, prompt=None, targets=None, **explainer_kwargs) -> Explanation:
    """Shortcut: `Explainer(model, **explainer_kwargs).explain(image, prompt, targets)`."""
    keys = ("generation", "target_ids", "reliance", "frames")
    run_kwargs = {k: explainer_kwargs.pop(k) for k in keys if k in explainer_kwargs}
    return Explainer(model, **explainer_kwargs).explain(image, prompt, targets, **run_kwargs)


def _what(kind: str) -> str:
    return {"labels": "the label map", "masks": "the masks", "supervoxels": "the supervoxels"}.get(
        kind, "the grid"
    )


def _early_stop_tolerance(early_stop, search: str) -> float | None:
    """The tolerance a search stops at, or None. "auto": lazy stops (its AUCs stay within
    0.01 of greedy's on the demo model's benchmarks); greedy and efficient run to the end,
    as the paper and the reference do."""
    if isinstance(early_stop, str) and early_stop == "auto":
        return EARLY_STOP_TOL if search == "lazy" else None
    if early_stop is False or early_stop is None:
        return None
    if early_stop is True:
        return EARLY_STOP_TOL
    if isinstance(early_stop, (int, float)) and 0 <= early_stop < 1:
        return float(early_stop)
    raise ValueError(
        f'early_stop must be "auto", True, False or a tolerance in [0, 1), got {early_stop!r}'
    )
