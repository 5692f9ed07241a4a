"""The model protocol: what a model must have to be explained, and what else it may offer.

Any object with `generate` and `token_probs` (VisionLanguageModel) can be explained. Each
optional capability below is a small named Protocol: a model that has its member gets the
behaviour it names, one that lacks it gets the documented fallback. Callers ask by name,
`supports(model, Encodes)` for a method, or an accessor such as `batch_size_of(model)` for a
declared value, and never probe a model's members themselves (tests/test_protocol.py checks
that no other package module does). The adapters in eagle_widget.models show each one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from .types import Generation

DEFAULT_PROMPT = "Describe the image."
# Masked images per token_probs call for a model that declares no batch_size.
DEFAULT_BATCH_SIZE = 32
# How a model's token_probs scores when it does not say (see ReportsScoring).
DEFAULT_SCORING = "exact"


def resolve_prompt(prompt, default: str | None = DEFAULT_PROMPT) -> str:
    """The one rule for prompts everywhere: None means `default` (with no default, a prompt
    is required); a string must hold more than whitespace. Checked before any model work."""
    if prompt is None and default is not None:
        return default
    if prompt is not None and not isinstance(prompt, str):
        raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
    if prompt is None or not prompt.strip():
        or_none = f" or None (for {default!r})" if default is not None else ""
        raise ValueError(f"prompt must be a non-empty string{or_none}, got {prompt!r}")
    return prompt


# -- the core -----------------------------------------------------------------------------


@runtime_checkable
class VisionLanguageModel(Protocol):
    """Anything with these two methods can be explained.

    A visual input is an image (H x W x 3 uint8) or, for a model that declares
    supports_video (TakesClips), a clip (F x H x W x 3 uint8, the frames in order): what
    `generate` gets, and each of the masked `images` that `token_probs` gets. A clip's
    Generation.image_size is the (height, width) of its frames.
    """

    def generate(self, image, prompt: str, max_new_tokens: int = 64) -> Generation: ...

    def token_probs(
        self,
        images: Sequence[np.ndarray],
        generation: Generation,
        positions: Sequence[int],
        token_ids: Sequence[int] | None = None,
    ) -> np.ndarray:
        """P(token at each position | masked image, prompt, generated prefix), teacher-forced.

        Returns a float array of shape (len(images), len(positions)).
        """
        ...


# -- optional methods: ask with supports(model, Capability) --------------------------------


@runtime_checkable
class Plans(Protocol):
    """Says what a run will cost before it starts, and refuses one it will not pay for.

    The engine calls it once per run (ExplanationRun) with the most images the run may
    score; a paid API (OpenAIModel) logs the request bound and raises past max_requests.
    Without it a run starts at once.
    """

    def plan(self, max_images: int, generation: Generation, positions, token_ids=None) -> int: ...


@runtime_checkable
class Encodes(Protocol):
    """Token ids of a text as it would open an answer: how a correct answer given as a word
    (diagnose, mitigate, the widget's and CLI's `correct`, the benchmarks' counterfactuals)
    becomes a target id. Without it the correct answer must be given as a token id."""

    def encode(self, text: str) -> list[int]: ...


@runtime_checkable
class GeneratesBatch(Protocol):
    """Greedy answers for several images of one size in one call. Mitigation and the
    authors' hallucination benchmark regenerate masked images several per call with it,
    one generate() call per image without it."""

    def generate_batch(
        self, images: Sequence[np.ndarray], prompt: str, max_new_tokens: int = 64
    ) -> list[Generation]: ...


@runtime_checkable
class GivesPromptIds(Protocol):
    """The ids the processor builds for an image and a prompt (chat template, image tokens):
    how the benchmarks check that an authors' list of generated ids belongs to this model,
    prompt and image size. The authors' lists cannot be run without it."""

    def prompt_ids(self, image, prompt: str = DEFAULT_PROMPT) -> list[int]: ...


@runtime_checkable
class GivesEosTokenIds(Protocol):
    """Ids that end an answer: where the benchmarks cut an authors' list of generated ids.
    Without it nothing is cut (eos_token_ids_of gives an empty set)."""

    def eos_token_ids(self) -> set[int]: ...


@runtime_checkable
class Decodes(Protocol):
    """The text each token id adds to an answer, as Generation.tokens holds it: how the
    benchmarks spell the answer of an authors' list. Without it they use the list's own
    words, or name each token by its id. (OpenAIModel.decode gives the joined text instead;
    it has no prompt_ids, so the authors' lists never reach it.)"""

    def decode(self, ids: Sequence[int]) -> list[str]: ...


# -- optional values: read with the accessor next to each -----------------------------------


@runtime_checkable
class HasBatchSize(Protocol):
    """Masked images per token_probs call, a positive int. The engine's objective splits
    every batch it scores into chunks of this many (an Explainer's batch_size overrides it);
    DEFAULT_BATCH_SIZE without it."""

    batch_size: int


@runtime_checkable
class HasMinImageSize(Protocol):
    """The smallest side (pixels) the model can use, e.g. one patch of its vision encoder.
    The Explainer (and so the widget, the CLI and diagnose) refuses a smaller image before
    any model work and never shrinks a large one below it. No limit without it."""

    min_image_size: int


@runtime_checkable
class HasInputSize(Protocol):
    """The side of the square the model's processor shrinks (or crops) every image to; None
    where the processor tiles the image or picks a resolution from it. With
    working_size="auto" the Explainer searches at that short side; without it (or with
    None), at a long side of explainer.DEFAULT_WORKING_SIDE."""

    input_size: int | None


@runtime_checkable
class ReportsScoring(Protocol):
    """How token_probs scores: "exact", or "approximate" (a hosted API's top-k log-probs),
    None while not yet known. The Explanation records it; the widget, the figures and the
    offline page say when it is approximate. DEFAULT_SCORING without it."""

    scoring: str | None


@runtime_checkable
class CountsUsage(Protocol):
    """Running counts of what the model has been asked: "requests" sent, probability
    "values" returned and how many were "floored" (below a top-k list). The engine puts what
    one run added into the Explanation's extras (requests, floored_share). None without it."""

    usage: dict[str, int]


@runtime_checkable
class TakesClips(Protocol):
    """True where generate and token_probs take a clip (F x H x W x 3, frames in order) as
    well as an image. The Explainer refuses a clip (a list of frames, a 4-D array, a folder
    or a video file) for a model without it, before any frame is read; an image-only model
    is explained on images as before. False without it."""

    supports_video: bool


@runtime_checkable
class MasksPromptSpans(Protocol):
    """token_probs with spans of the prompt hidden: `spans` are (start, stop) character
    ranges of generation.prompt and `keep` a (len(images), len(spans)) bool array; a hidden
    span's tokens are replaced by a neutral id the adapter chooses (the pad token), their
    positions kept, the template, role and image tokens untouched, the answer teacher-forced
    as always. The Explainer's prompt_regions need it (with CountsSpanTokens); HFModel and
    TextModel have it. Without it prompt_regions is refused before any model call. The
    engine passes `masking=` only for a way other than "replace" (HasPromptMaskings), so a
    model that only replaces needs no such argument."""

    def span_token_probs(
        self, images: Sequence[np.ndarray], generation: Generation, positions, token_ids,
        spans: Sequence[tuple[int, int]], keep: np.ndarray,
    ) -> np.ndarray: ...  # fmt: skip


@runtime_checkable
class CountsSpanTokens(Protocol):
    """How many of the model's prompt tokens each (start, stop) character range of the
    prompt covers (the tokens MasksPromptSpans hides): the prompt spans' share of the
    curves' x-axis, and a span that covers no token of its own is refused."""

    def span_token_counts(
        self, generation: Generation, spans: Sequence[tuple[int, int]]
    ) -> list[int]: ...


@runtime_checkable
class HasPromptMaskings(Protocol):
    """The ways span_token_probs can hide a span (MasksPromptSpans), given to it as
    `masking=`: "replace" (the span's tokens become a neutral id) and, where the model
    allows it, "attention" (their attention-mask entries set to 0, ids and positions kept).
    The Explainer's prompt_masking must be one of them, checked when it is made; ("replace",)
    without it."""

    prompt_maskings: tuple[str, ...]


@runtime_checkable
class ReadsTextOnly(Protocol):
    """True where the model takes no image at all (a causal language model: TextModel).
    generate gets image None, and token_probs / span_token_probs a list of None, one per
    row scored. The Explainer then explains by the prompt alone (regions=None, with
    prompt_regions) and refuses an image; False without it."""

    text_only: bool


@runtime_checkable
class GivesPatchGrid(Protocol):
    """Where the image tokens look: for an image of `image_size` (height, width), the
    (rows, cols) grid of image tokens the model makes of it, row by row, and the box
    (top, left, bottom, right), in the image's pixels, that the grid covers (smaller than
    the image where the processor crops it). A tiled model gives a list of such
    (rows, cols, box) views instead, one per tile and one for the global image, whose
    boxes may overlap one another and reach past the image's edge. The white-box methods
    (engine/whitebox.py) place MapsImageTokens' grids on the image with it. HFModel has it
    and raises ValueError, before any model call, for a family whose geometry it does not
    know."""

    def patch_grid(self, image_size: tuple[int, int]) -> tuple[int, int, tuple] | list: ...


@runtime_checkable
class MapsImageTokens(Protocol):
    """White-box maps over the image tokens: for the answer teacher-forced on `image`, one
    (rows, cols) float map per target position, of the grid GivesPatchGrid gives (a
    targets x rows x cols array; for a tiled model a list of them, one per view, in
    patch_grid's order), made by `method` ("tam", "llava-cam": engine/whitebox.py says
    what each is) with its checked `options`; and what it took ({"forward_passes": n,
    "backward_passes": n}). The engine turns each map into region scores and measures
    their ranking as for any method. HFModel has it (the torch work is in
    models/whitebox.py); without it method="tam" and "llava-cam" are refused when the
    Explainer is made."""

    def image_token_maps(
        self, image: np.ndarray, generation: Generation, positions, token_ids, method: str,
        options: dict,
    ) -> tuple[np.ndarray | list, dict]: ...  # fmt: skip


@runtime_checkable
class MeasuresPeakMemory(Protocol):
    """Peak memory of the model's work: `peak_memory(reset=True)` starts a window, and
    `peak_memory()` says what the window's peak was, as {"peak_bytes": n, "added_bytes": n
    (above the level at the reset), "measured": how}: device memory on CUDA, the process's
    resident memory on the CPU (models/memory.py). The engine records it for every method
    but EAGLE in extras["method"]; without it no memory is recorded."""

    def peak_memory(self, reset: bool = False) -> dict: ...


# Every optional capability, in the order above.
CAPABILITIES = (
    Plans,
    Encodes,
    GeneratesBatch,
    GivesPromptIds,
    GivesEosTokenIds,
    Decodes,
    HasBatchSize,
    HasMinImageSize,
    HasInputSize,
    ReportsScoring,
    CountsUsage,
    TakesClips,
    MasksPromptSpans,
    CountsSpanTokens,
    HasPromptMaskings,
    ReadsTextOnly,
    GivesPatchGrid,
    MapsImageTokens,
    MeasuresPeakMemory,
)


# -- asking -------------------------------------------------------------------------------


def _methods(capability: type) -> list[str]:
    return [name for name, value in vars(capability).items() if callable(value) and name[0] != "_"]


def supports(model, capability: type) -> bool:
    """Whether `model` has every method of `capability` (e.g. Encodes). A member that is
    missing, None or not callable does not count."""
    methods = _methods(capability)
    if not methods:
        raise TypeError(f"{capability.__name__} declares a value: read it with its accessor")
    return all(callable(getattr(model, name, None)) for name in methods)


def check_model(model) -> None:
    """Raise TypeError naming the first core method `model` lacks."""
    for name in _methods(VisionLanguageModel):
        if not callable(getattr(model, name, None)):
            raise TypeError(
                f"model must have a {name}() method (the model protocol of "
                f"eagle_widget), got {type(model).__name__}"
            )


def _positive_int(model, name: str) -> int | None:
    value = getattr(model, name, None)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0:
        return int(value)
    return None


def batch_size_of(model) -> int:
    """The model's batch_size (HasBatchSize) when a positive int, else DEFAULT_BATCH_SIZE."""
    size = getattr(model, "batch_size", None)
    return int(size) if isinstance(size, (int, np.integer)) and size > 0 else DEFAULT_BATCH_SIZE


def min_image_size_of(model) -> int | None:
    """The model's min_image_size (HasMinImageSize) when a positive int, else None."""
    return _positive_int(model, "min_image_size")


def input_size_of(model) -> int | None:
    """The model's input_size (HasInputSize) when a positive int, else None."""
    return _positive_int(model, "input_size")


def scoring_of(model) -> str:
    """The model's scoring (ReportsScoring), DEFAULT_SCORING when it has none or None."""
    return getattr(model, "scoring", None) or DEFAULT_SCORING


def usage_of(model) -> dict[str, int]:
    """A copy of the model's usage counts (CountsUsage), {} when it keeps none."""
    return dict(getattr(model, "usage", None) or {})


def supports_video_of(model) -> bool:
    """Whether the model takes clips (TakesClips): its supports_video is True."""
    return getattr(model, "supports_video", False) is True


def prompt_maskings_of(model) -> tuple[str, ...]:
    """The model's prompt_maskings (HasPromptMaskings) as a tuple of str, else ("replace",)."""
    ways = getattr(model, "prompt_maskings", None)
    if isinstance(ways, (tuple, list)) and ways and all(isinstance(w, str) for w in ways):
        return tuple(ways)
    return ("replace",)


def text_only_of(model) -> bool:
    """Whether the model reads text only (ReadsTextOnly): its text_only is True."""
    return getattr(model, "text_only", False) is True


def eos_token_ids_of(model) -> set[int]:
    """The model's end-of-answer ids (GivesEosTokenIds), the empty set without them."""
    return set(model.eos_token_ids()) if supports(model, GivesEosTokenIds) else set()
