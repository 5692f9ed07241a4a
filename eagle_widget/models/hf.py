"""The generic adapter: any transformers image-text-to-text model behind the model protocol.

`HFModel` wraps a model and its processor. `generate` renders the model's chat template with
the image and the prompt and decodes greedily with the checkpoint's logits processors off, so
the answer is the model's own argmax. `token_probs` scores a batch of masked copies of the
image in ONE teacher-forced forward pass over prompt + answer, cut after the last target,
computing logits only at the target rows.

A clip (F x H x W x 3) goes through the processor's video path as one video, for the
families in VIDEO_FAMILIES (their adapters declare supports_video).
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import re
import threading
from collections.abc import Sequence

import numpy as np
import torch

from ..engine.images import frame_size, to_rgb_array
from ..engine.protocol import DEFAULT_PROMPT
from ..engine.types import Generation
from .devices import (
    ThreadChooser,
    cpu_threads,
    default_batch_size,
    is_out_of_memory,
    is_small,
    keep_freed_memory,
    parameter_count,
    release_memory,
    resolve_device,
    resolve_dtype,
)
from .memory import PeakMemory
from .patches import PatchGeometry, check_family, patch_geometry
from .pixels import PixelTable, read_pixel_table
from .sizes import MIN_IMAGE_SIDE
from .text import decode_tokens, prompt_token_offsets, span_token_indices
from .tokenizer_basics import TokenizerBasics
from .whitebox import grad_cam_maps, resolved_layer, tam_maps

# Processor outputs aligned with input_ids, and the value each takes on generated text tokens.
# A sequence-aligned key missing here stops token_probs: guessing its value is how results
# go silently wrong (e.g. Qwen's M-RoPE without mm_token_type_ids, Gemma 3 without token_type_ids).
SEQUENCE_FILL = {"attention_mask": 1, "token_type_ids": 0, "mm_token_type_ids": 0}
# model_type of the families whose processor's video path this adapter passes clips through,
# each tested on a tiny offline model (tests/test_video_models.py); others take images only.
VIDEO_FAMILIES = ("qwen2_vl", "qwen2_5_vl", "qwen3_vl", "llava_onevision")
# model_type of the families whose positions are counted from the attention mask (M-RoPE):
# hiding a prompt span from attention would move every later position, so they hide by
# replacement only.
POSITIONS_FROM_MASK = ("qwen2_vl", "qwen2_5_vl", "qwen3_vl")
# Image processors that tile a large image, or pick the resolution from it, have no one
# input size: a larger photo gives them more to see.
_DYNAMIC_RESOLUTION = (
    "do_image_splitting", "crop_to_patches", "do_pan_and_scan", "merge_size",
    "image_grid_pinpoints",
)  # fmt: skip


class HFModel(TokenizerBasics):
    """A transformers vision-language model and its processor, explained through two methods.

    batch_size: masked images per forward pass; None picks one from the device and its free
    memory. A CUDA or MPS out-of-memory error halves it and retries, and the run goes on.
    device, dtype: optional, move the model ("cuda", "float16", ...) before wrapping it.
    threads: torch CPU threads during this adapter's calls; None times a model under 100M
    parameters on the CPU at one thread and at all of torch's and keeps the faster (all on
    idle cores, one beside other jobs: see devices.ThreadChooser), and leaves torch's
    setting otherwise.

    Safety checks, all raising ValueError: a processor that gives a masked copy a different
    token layout than the original (checked per batch and against the generation's prompt);
    a model that ignores the image (checked for free on every batch holding two images that
    differ in at least half their pixels, as the engine's first batch does with the full and
    the blank image; `check_sees_image` runs it on demand); targets outside the generation.
    """

    def __init__(
        self,
        model,
        processor,
        *,
        batch_size: int | None = None,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        threads: int | None = None,
    ):
        if not hasattr(model, "generate") or not callable(model):
            raise TypeError(
                f"model must be a transformers generative model, got {type(model).__name__}"
            )
        if not callable(processor) or not hasattr(processor, "apply_chat_template"):
            raise TypeError(
                "processor must be the model's transformers processor (AutoProcessor), "
                f"got {type(processor).__name__}"
            )
        _check_batch_size(batch_size)
        _check_threads(threads)
        if device is not None or dtype is not None:
            target = resolve_device(device) if device is not None else model.device
            model = model.to(
                device=target, dtype=resolve_dtype(dtype, target) if dtype is not None else None
            )
        self.model = model.eval()
        if self.device.type == "cpu":
            keep_freed_memory()
        self.processor = processor
        self.tokenizer = getattr(processor, "tokenizer", None) or processor
        self._batch_size = batch_size
        self._lock = threading.RLock()
        self._prompt_cache: dict[str, tuple[str, bool]] = {}
        self._layouts: dict[tuple[str, tuple[int, int]], torch.Tensor] = {}
        # per prompt and image size: a table that turns pixels into the model's inputs, or
        # None where the processor does more than map pixel values (it resizes, crops...)
        self._pixel_tables: dict[tuple[str, tuple[int, int]], PixelTable | None] = {}
        self._last_length = 0
        self._auto_batch: int | None = None
        self._threads = threads
        self._chooser = ThreadChooser()
        self._parameters = parameter_count(self.model)  # counted once: read on every call
        # torchvision-backed image processors resize and normalise on the model's device: on
        # a GPU, preprocessing a batch on the CPU would otherwise take longer than its forward
        self._preprocesses_on_device = _takes_device(getattr(processor, "image_processor", None))
        self._geometries: dict[tuple[int, int], PatchGeometry] = {}  # per image size
        self._memory: PeakMemory | None = None

    # -- properties -------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.model.device

    @property
    def dtype(self) -> torch.dtype:
        return self.model.dtype

    @property
    def batch_size(self) -> int:
        """Images per forward pass: as given, halved after an out-of-memory error, or picked."""
        if self._batch_size is not None:
            return self._batch_size
        if not self._last_length:  # no prompt seen yet: a guess, not kept
            return default_batch_size(self.model, 1024)
        if self._auto_batch is None:  # picked once, from the first prompt's length
            self._auto_batch = default_batch_size(self.model, self._last_length)
        return self._auto_batch

    @batch_size.setter
    def batch_size(self, value: int | None) -> None:
        _check_batch_size(value)
        self._batch_size = value
        self._auto_batch = None

    @property
    def threads(self) -> int | None:
        """torch CPU threads during this adapter's calls as given; None: chosen by timing for
        a small model on the CPU (see `thread_choice`), torch's own setting otherwise."""
        return self._threads

    @property
    def thread_choice(self) -> ThreadChooser | None:
        """What picks the threads of each call when `threads` is None, or None."""
        small = is_small(self._parameters)
        if self._threads is not None or self.device.type != "cpu" or not small:
            return None
        return self._chooser

    @threads.setter
    def threads(self, value: int | None) -> None:
        _check_threads(value)
        self._threads = value

    @property
    def min_image_size(self) -> int:
        """The smallest image side the model can use: one patch of its vision encoder (the
        merged patch of Qwen-VL models, whose processors refuse less), at least MIN_IMAGE_SIDE."""
        image_processor = getattr(self.processor, "image_processor", None)
        patch = _largest(getattr(image_processor, "patch_size", None))
        if patch is None:
            vision = getattr(self.model.config, "vision_config", None)
            patch = _largest(getattr(vision, "patch_size", None)) or 1
        merge = _largest(getattr(image_processor, "merge_size", None)) or 1
        return max(MIN_IMAGE_SIDE, patch * merge)

    @property
    def input_size(self) -> int | None:
        """The side of the square every image is shrunk (or cropped) to by the processor;
        None where the processor tiles the image or picks a resolution from it."""
        processor = getattr(self.processor, "image_processor", None)
        if processor is None or any(getattr(processor, k, None) for k in _DYNAMIC_RESOLUTION):
            return None
        crop = getattr(processor, "do_center_crop", False)
        size = getattr(processor, "crop_size" if crop else "size", None)
        height, width = _size_field(size, "height"), _size_field(size, "width")
        if height and width:
            return min(height, width)
        if _size_field(size, "longest_edge") is None:
            return _size_field(size, "shortest_edge")
        return None

    @property
    def supports_video(self) -> bool:
        """Whether generate and token_probs take clips (F x H x W x 3): a family of
        VIDEO_FAMILIES whose processor has a video processor."""
        family = getattr(self.model.config, "model_type", None)
        videos = getattr(self.processor, "video_processor", None)
        return family in VIDEO_FAMILIES and videos is not None

    def __repr__(self) -> str:
        name = type(self.model).__name__
        return f"HFModel({name}, device={self.device}, dtype={self.dtype})"

    # -- the protocol ----------------------------------------------------------------
    def generate(self, image, prompt: str = DEFAULT_PROMPT, max_new_tokens: int = 64) -> Generation:
        """The model's greedy answer to `prompt` about `image`, without the end-of-sequence id."""
        return self.generate_batch([image], prompt, max_new_tokens)[0]

    def generate_batch(
        self, images: Sequence, prompt: str = DEFAULT_PROMPT, max_new_tokens: int = 64
    ) -> list[Generation]:
        """Greedy answers for several images of one size (e.g. masked copies), `batch_size`
        images per `generate` call: same size, same prompt, same token layout, no padding.
        Clips (F x H x W x 3) of one frame count and size, where the model takes clips."""
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError(f"prompt must be a non-empty string, got {prompt!r}")
        if (
            isinstance(max_new_tokens, bool)
            or not isinstance(max_new_tokens, int)
            or max_new_tokens < 1
        ):
            raise ValueError(f"max_new_tokens must be a positive int, got {max_new_tokens!r}")
        arrays = [self._visual(image) for image in images]
        if not arrays:
            raise ValueError("images is empty: give at least one image")
        sizes = {a.shape[:-1] for a in arrays}
        if len(sizes) > 1:
            raise ValueError(f"images of one batch must share a size, got {sorted(sizes)}")
        size = frame_size(arrays[0])
        layout = arrays[0].shape[:-1]  # a clip's layout depends on its frame count too
        least = self.min_image_size
        if min(size) < least:
            raise ValueError(
                f"the image is {size[0]} x {size[1]} pixels (height x width); "
                f"{type(self.model).__name__} needs at least {least} x {least}"
            )
        stops = self.eos_token_ids()

        def answers(chunk: list[np.ndarray]) -> list[Generation]:
            inputs = self._encode(chunk, prompt)
            prompt_length = inputs["input_ids"].shape[1]
            for ids in inputs["input_ids"]:
                self._remember_layout(prompt, layout, ids)
            sequences = self._greedy(inputs, max_new_tokens)
            return [
                self._answer(prompt, row, stops, size)
                for row in sequences[:, prompt_length:].tolist()
            ]

        with torch.inference_mode():
            return [g for part in self._in_batches(arrays, answers, "generate") for g in part]

    def _answer(self, prompt: str, new_ids: list[int], stops: set[int], size) -> Generation:
        for i, token_id in enumerate(new_ids):
            if token_id in stops:  # the end, or padding after the end in a batch
                new_ids = new_ids[:i]
                break
        tokens = decode_tokens(self.tokenizer, new_ids)
        return Generation(
            prompt=prompt, token_ids=new_ids, tokens=tokens, text="".join(tokens), image_size=size
        )

    def token_probs(
        self,
        images: Sequence[np.ndarray],
        generation: Generation,
        positions: Sequence[int],
        token_ids: Sequence[int] | None = None,
    ) -> np.ndarray:
        """P(target id at each position | image, prompt, generated prefix), teacher-forced.

        Returns (len(images), len(positions)) floats; token_ids defaults to the generated ids.
        One forward pass per batch of `batch_size` images.
        """
        if not isinstance(generation, Generation):
            raise TypeError(f"generation must be an ew.Generation, got {type(generation).__name__}")
        positions = _check_positions(positions, len(generation))
        targets = _check_targets(token_ids, positions, generation, self._vocab_size())
        if isinstance(images, np.ndarray) and images.ndim == 3:
            raise ValueError("images must be a sequence of H x W x 3 arrays, got a single image")
        arrays = _check_images([self._visual(image) for image in images], generation.image_size)
        parts = self._in_batches(arrays, lambda c: self._score(c, generation, positions, targets))
        return np.concatenate(parts).astype(np.float64, copy=False)

    # -- prompt spans (engine/prompt_spans.py) ------------------------------------------
    def span_token_counts(self, generation: Generation, spans) -> list[int]:
        """How many of the prompt's tokens each (start, stop) character range covers."""
        return [len(tokens) for tokens in self._span_tokens(generation.prompt, spans)]

    def span_token_probs(
        self,
        images: Sequence[np.ndarray],
        generation: Generation,
        positions: Sequence[int],
        token_ids: Sequence[int] | None,
        spans,
        keep: np.ndarray,
        masking: str = "replace",
    ) -> np.ndarray:
        """token_probs with the prompt spans each row does not keep hidden, positions kept
        (protocol.MasksPromptSpans): masking "replace" puts `prompt_mask_id` in their
        place, "attention" sets their attention-mask entries to 0 (see prompt_maskings)."""
        if masking not in self.prompt_maskings:
            raise ValueError(
                f"masking must be one of {self.prompt_maskings} for "
                f"{type(self.model).__name__}, got {masking!r}"
            )
        if not isinstance(generation, Generation):
            raise TypeError(f"generation must be an ew.Generation, got {type(generation).__name__}")
        positions = _check_positions(positions, len(generation))
        targets = _check_targets(token_ids, positions, generation, self._vocab_size())
        arrays = _check_images([self._visual(image) for image in images], generation.image_size)
        keep = np.asarray(keep, dtype=bool)
        if keep.shape != (len(arrays), len(spans)):
            raise ValueError(
                f"keep must be {(len(arrays), len(spans))} (images x spans), got {keep.shape}"
            )
        tokens = self._span_tokens(generation.prompt, spans)
        hidden = [sorted(t for s in np.flatnonzero(~row) for t in tokens[s]) for row in keep]
        rows = list(zip(arrays, hidden))
        parts = self._in_batches(
            rows,
            lambda c: self._score(
                [a for a, _ in c], generation, positions, targets, [h for _, h in c], masking
            ),
        )
        return np.concatenate(parts).astype(np.float64, copy=False)

    @property
    def prompt_maskings(self) -> tuple[str, ...]:
        """How a prompt span can be hidden (protocol.HasPromptMaskings): "replace" always;
        "attention" where the model's positions are the tokens' places, not counted from
        the attention mask (Qwen-VL's M-RoPE counts them so: a masked span would move
        every later position)."""
        family = getattr(self.model.config, "model_type", None)
        return ("replace",) if family in POSITIONS_FROM_MASK else ("replace", "attention")

    @property
    def prompt_mask_id(self) -> int:
        """The id a hidden prompt token becomes: the pad token, else the unknown token."""
        for name in ("pad_token_id", "unk_token_id"):
            value = getattr(self.tokenizer, name, None)
            if value is not None:
                return int(value)
        raise ValueError(
            "the tokenizer has neither a pad nor an unknown token to hide prompt spans with"
        )

    def prompt_span_positions(self, image, prompt: str, spans) -> list[list[int]]:
        """Per (start, stop) character range of `prompt`, the indices in prompt_ids(image,
        prompt) of the tokens it covers: the tokens span_token_probs hides."""
        ids = self.prompt_ids(image, prompt)
        start = self._prompt_start(ids, prompt)
        return [[start + t for t in tokens] for tokens in self._span_tokens(prompt, spans)]

    def _prompt_tokens(self, prompt: str) -> tuple[list[int], list[tuple[int, int]]]:
        """The template's ids from the prompt's first token to its end, and the character
        offsets, in the prompt, of the tokens that overlap it (text.prompt_token_offsets);
        the image comes before the prompt in every template, so this tail is the tail of
        the processor's ids."""
        text, add_special = self._prompt_text(prompt)
        return prompt_token_offsets(self.tokenizer, text, add_special, prompt)

    def _prompt_start(self, ids: list[int], prompt: str) -> int:
        """Where the prompt's first token sits in the processor's ids."""
        tail = self._prompt_tokens(prompt)[0]
        if ids[-len(tail) :] != tail:
            raise ValueError(
                "the processor's ids do not end with the chat template's tokens of the prompt: "
                f"prompt spans cannot be hidden for {type(self.model).__name__}"
            )
        return len(ids) - len(tail)

    def _span_tokens(self, prompt: str, spans) -> list[list[int]]:
        """Per (start, stop) range, the indices (from the prompt's first token) of the
        tokens it overlaps."""
        return span_token_indices(self._prompt_tokens(prompt)[1], spans)

    def _in_batches(self, items: list, work, label: str = "score") -> list:
        """work(chunk) over chunks of `batch_size` items, in order, on the chosen threads. An
        out-of-memory error halves the batch size (kept for later calls) and retries."""
        parts = []
        start = 0
        chooser = self.thread_choice
        with self._lock, cpu_threads(self._threads):
            while start < len(items):
                chunk = items[start : start + self.batch_size]
                try:
                    if chooser is None:
                        parts.append(work(chunk))
                    else:
                        parts.append(chooser.run(label, len(chunk), lambda c=chunk: work(c)))
                except Exception as error:
                    if not is_out_of_memory(error) or len(chunk) == 1:
                        raise
                    release_memory(self.device)
                    self._batch_size = max(1, len(chunk) // 2)
                    continue
                start += len(chunk)
        return parts

    # -- white-box access (engine/whitebox.py, models/whitebox.py) ----------------------
    def patch_grid(self, image_size):
        """(rows, cols, box): the image tokens' grid for an image of `image_size` (height,
        width) and the box of the image it covers; for a tiled family a list of such views,
        one per tile and the global image (protocol.GivesPatchGrid, models/patches.py)."""
        geometry = self._patch_geometry(tuple(int(s) for s in image_size))
        views = [(v.rows, v.cols, v.box) for v in geometry.views]
        return views if geometry.tiled else views[0]

    def _patch_geometry(self, size: tuple[int, int]) -> PatchGeometry:
        family = getattr(self.model.config, "model_type", None)
        check_family(family, type(self.model).__name__)  # before the processor runs
        if size not in self._geometries:
            blank = np.zeros((*size, 3), np.uint8)
            with self._lock, torch.inference_mode():
                inputs = self._process([blank], DEFAULT_PROMPT)
            image_processor = getattr(self.processor, "image_processor", None)
            self._geometries[size] = patch_geometry(
                self.model.config, image_processor, inputs, size
            )
        return self._geometries[size]

    def image_token_maps(self, image, generation: Generation, positions, token_ids, method: str,
                         options: dict) -> tuple[np.ndarray, dict]:  # fmt: skip
        """One map per target over the image tokens' grid (targets x rows x cols; for a tiled
        family a list of them, one per view of patch_grid), by "tam" or "llava-cam" (what
        each computes: models/whitebox.py), and the passes made (protocol.MapsImageTokens)."""
        if not isinstance(generation, Generation):
            raise TypeError(f"generation must be an ew.Generation, got {type(generation).__name__}")
        positions = _check_positions(positions, len(generation))
        targets = _check_targets(token_ids, positions, generation, self._vocab_size())
        array = _check_images([self._visual(image)], generation.image_size)[0]
        if array.ndim != 3:
            raise ValueError(f"method {method!r} maps one image's tokens, not a clip's")
        geometry = self._patch_geometry(array.shape[:2])
        if method == "llava-cam":
            resolved_layer(self.model, options.get("layer"))  # before any pass
        elif method != "tam":
            raise ValueError(f"method must be 'tam' or 'llava-cam', got {method!r}")
        with self._lock, cpu_threads(self._threads):
            with torch.inference_mode():
                inputs = self._encode([array], generation.prompt)
            fresh = {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
            length = fresh["input_ids"].shape[1]
            extended = _extend(fresh, generation.token_ids[: max(positions)])
            if method == "tam":
                maps, passes = tam_maps(
                    self.model, extended, length, geometry, generation, positions, targets
                )
            else:
                maps, passes = grad_cam_maps(
                    self.model, extended, length, geometry, positions, targets, **options
                )
        grids = geometry.split(maps.numpy().astype(np.float64))
        return (grids if geometry.tiled else grids[0]), passes

    # -- helpers users may call --------------------------------------------------------
    def prompt_ids(self, image, prompt: str = DEFAULT_PROMPT) -> list[int]:
        """The ids the processor builds for `image` and `prompt` (chat template, image tokens),
        the prefix of every sequence generate() returns: how a stored answer is checked to
        belong to this model, image size and prompt."""
        array = self._visual(image)
        with self._lock, torch.inference_mode():
            return self._encode([array], prompt)["input_ids"][0].tolist()

    def check_sees_image(
        self, image, prompt: str = DEFAULT_PROMPT, max_new_tokens: int = 8
    ) -> float:
        """Largest change of the answer's token probabilities between `image` and a black copy.

        Raises ValueError when nothing changes: the model ignores the image (e.g. a projector
        left at zero), so no explanation of it can be meaningful. token_probs runs the same
        check on every batch that holds two very different images (free: the engine's first
        batch holds the full and the blank image).
        """
        image = to_rgb_array(image)
        generation = self.generate(image, prompt, max_new_tokens)
        if len(generation) == 0:
            raise ValueError(
                "the model answered with no tokens; cannot check that it sees the image"
            )
        probs = self.token_probs(
            [image, np.zeros_like(image)], generation, list(range(len(generation)))
        )
        return float(np.abs(probs[0] - probs[1]).max())

    # -- internals -------------------------------------------------------------------
    def _visual(self, value) -> np.ndarray:
        """An image as to_rgb_array reads it, or a clip (a 4-D array) frame by frame, where
        the model takes clips."""
        if not (isinstance(value, np.ndarray) and value.ndim == 4):
            return to_rgb_array(value)
        if not self.supports_video:
            raise ValueError(
                f"{type(self.model).__name__} is explained on images only here (clips go "
                f"through the processor's video path for {', '.join(VIDEO_FAMILIES)})"
            )
        if len(value) == 0:
            raise ValueError("the clip has no frames")
        return np.stack([to_rgb_array(frame) for frame in value])

    def _vocab_size(self) -> int:
        embeddings = self.model.get_output_embeddings()
        if embeddings is not None and hasattr(embeddings, "weight"):
            return int(embeddings.weight.shape[0])
        return int(self.model.config.get_text_config().vocab_size)

    def _prompt_text(self, prompt: str, video: bool = False) -> tuple[str, bool]:
        """The chat-template text for one image (or one video) + prompt, and whether the
        tokenizer adds BOS."""
        key = (prompt, video)
        if key not in self._prompt_cache:
            if not getattr(self.processor, "chat_template", None):
                raise ValueError(
                    f"the processor ({type(self.processor).__name__}) has no chat template; "
                    "set processor.chat_template to the model's template"
                )
            visual = {"type": "video" if video else "image"}
            messages = [{"role": "user", "content": [visual, {"type": "text", "text": prompt}]}]
            text = self.processor.apply_chat_template(
                messages, add_generation_prompt=True, tokenize=False
            )
            bos = self.tokenizer.bos_token
            # as processor.apply_chat_template(tokenize=True): a template that writes BOS itself
            self._prompt_cache[key] = (text, not (bos and text.startswith(bos)))
        return self._prompt_cache[key]

    def _encode(self, images: list[np.ndarray], prompt: str):
        """The processor's inputs for one prompt and several images (one per sample); by table
        lookup where the processor maps pixel values one by one (see pixels.py)."""
        key = (prompt, images[0].shape[:-1])
        table = self._pixel_tables.get(key)
        if table is not None:
            inputs = table.inputs(images)
        else:
            inputs = self._process(images, prompt)
            if key not in self._pixel_tables:
                encode = lambda batch: self._process(batch, prompt)  # noqa: E731
                self._pixel_tables[key] = read_pixel_table(encode, images, inputs)
        self._last_length = int(inputs["input_ids"].shape[1])
        return inputs

    def _process(self, images: list[np.ndarray], prompt: str):
        """The processor's inputs, on the model's device and in its dtype (a clip as one
        video per sample)."""
        clips = images[0].ndim == 4
        text, add_special = self._prompt_text(prompt, video=clips)
        # every frame of a clip is the model's (Qwen3-VL's processor samples frames itself by
        # default: a masked frame it dropped would change nothing)
        visuals = (
            {"videos": list(images), "do_sample_frames": False}
            if clips
            else {"images": [[image] for image in images]}
        )
        inputs = self.processor(
            text=[text] * len(images),
            **visuals,
            return_tensors="pt",
            add_special_tokens=add_special,
            **({"device": self.device} if self._preprocesses_on_device else {}),
        )
        dtype = self.dtype
        moved = {}
        for key, value in inputs.items():
            if isinstance(value, torch.Tensor):
                value = value.to(self.device)
                if value.is_floating_point():
                    value = value.to(dtype)
            moved[key] = value
        return moved

    def _hidden(self, inputs: dict, prompt: str, hide: list[list[int]], masking: str) -> dict:
        """The inputs with each row's listed prompt tokens replaced by prompt_mask_id
        ("replace") or left out of the attention mask ("attention")."""
        ids = inputs["input_ids"]
        start = self._prompt_start(ids[0].tolist(), prompt)
        key = "input_ids" if masking == "replace" else "attention_mask"
        if key not in inputs:
            raise ValueError(f"the processor gave no {key} to hide prompt spans in")
        values = inputs[key].clone()
        value = self.prompt_mask_id if masking == "replace" else 0
        for row, tokens in enumerate(hide):
            if tokens:
                values[row, [start + t for t in tokens]] = value
        return {**inputs, key: values}

    def _remember_layout(self, prompt: str, size: tuple[int, ...], ids: torch.Tensor) -> None:
        key = (prompt, tuple(int(s) for s in size))
        known = self._layouts.get(key)
        if known is None:
            self._layouts[key] = ids.detach().to("cpu")
        elif not torch.equal(known, ids.detach().to("cpu")):
            raise ValueError(
                f"the processor gave a different token layout for an image of size {size} "
                f"({len(ids)} prompt tokens, before {len(known)}): masked copies must be scored "
                "with the same image tokens as the original"
            )

    def _greedy(self, inputs: dict, max_new_tokens: int) -> torch.Tensor:
        """model.generate, greedy, with a clean generation config (no repetition penalty etc.)."""
        from transformers import GenerationConfig

        saved = self.model.generation_config
        eos = sorted(self.eos_token_ids())
        pad = self.tokenizer.pad_token_id
        clean = GenerationConfig(
            bos_token_id=getattr(saved, "bos_token_id", None),
            eos_token_id=eos or None,
            pad_token_id=pad if pad is not None else (eos[0] if eos else None),
            do_sample=False,
            num_beams=1,
            max_new_tokens=max_new_tokens,
        )
        # generate() fills unset fields from model.generation_config: swap it for the call
        self.model.generation_config = clean
        try:
            return self.model.generate(**inputs, generation_config=clean)
        finally:
            self.model.generation_config = saved

    def _score(
        self,
        images: list[np.ndarray],
        generation: Generation,
        positions: list[int],
        targets: list[int],
        hide: list[list[int]] | None = None,
        masking: str = "replace",
    ) -> np.ndarray:
        """One teacher-forced forward pass over a batch; probabilities of `targets`. `hide`:
        per image, indices of the prompt's own tokens to hide, by `masking` (see _hidden)."""
        with torch.inference_mode():
            inputs = self._encode(images, generation.prompt)
            ids = inputs["input_ids"]
            if not torch.equal(ids, ids[:1].expand_as(ids)):
                raise ValueError(
                    "the processor gave the masked images different token layouts; every masked "
                    "copy must have the same size as the original image"
                )
            self._remember_layout(generation.prompt, images[0].shape[:-1], ids[0])
            if hide is not None and any(hide):
                inputs = self._hidden(inputs, generation.prompt, hide, masking)
            prompt_length = ids.shape[1]
            stop = max(positions)  # generated tokens fed as input: those before the last target
            extended = _extend(inputs, generation.token_ids[:stop])
            rows = torch.tensor([prompt_length - 1 + p for p in positions], device=self.device)
            logits = self.model(**extended, logits_to_keep=rows, use_cache=False).logits
            if logits.shape[1] != len(positions):  # a model that ignores logits_to_keep
                logits = logits[:, rows]
            _check_image_matters(images, logits)
            index = torch.tensor(targets, device=logits.device).view(1, -1, 1)
            chosen = logits.gather(-1, index.expand(len(images), -1, -1)).squeeze(-1).float()
            if logits.dtype == torch.float32:
                norm = torch.logsumexp(logits, dim=-1)
            else:  # one image at a time: a float32 copy of all the rows (batch x targets x
                # vocabulary) would be the largest tensor of the whole pass
                norm = torch.stack([torch.logsumexp(row.float(), dim=-1) for row in logits])
            probs = torch.exp(chosen - norm)
        return probs.cpu().numpy().astype(np.float64)


def load_model(
    id_or_path: str | os.PathLike,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    *,
    batch_size: int | None = None,
    threads: int | None = None,
    **from_pretrained_kwargs,
) -> HFModel:
    """Load any image-text-to-text checkpoint (hub id or local folder) and its processor.

    device: None picks cuda, then mps, then cpu. dtype: None picks bfloat16 on CUDA (float16
    where bf16 is unsupported), float16 on MPS and float32 on CPU. Other keyword arguments go
    to `from_pretrained` (e.g. revision=, device_map="auto" to spread a model over GPUs).
    threads: torch CPU threads during the adapter's calls (see HFModel).
    """
    from transformers import AutoModelForImageTextToText, AutoProcessor

    _check_batch_size(batch_size)  # before any loading
    _check_threads(threads)
    if isinstance(id_or_path, os.PathLike):
        id_or_path = os.fspath(id_or_path)
    if not isinstance(id_or_path, str) or not id_or_path:
        raise ValueError(f"id_or_path must be a model id or a folder, got {id_or_path!r}")
    # a hub id ("org/name") never starts like a path: this one meant a folder that is not there
    if id_or_path.startswith(("/", ".", "~")) and not os.path.isdir(os.path.expanduser(id_or_path)):
        raise ValueError(f"model folder {id_or_path!r} does not exist")
    id_or_path = os.path.expanduser(id_or_path)
    device = resolve_device(device)
    dtype = resolve_dtype(dtype, device)
    kwargs = dict(from_pretrained_kwargs)
    placed = "device_map" in kwargs
    if not placed and device.type != "cpu" and importlib.util.find_spec("accelerate"):
        kwargs["device_map"] = str(device)  # load straight onto the device, not via CPU memory
        placed = True
    try:
        model = AutoModelForImageTextToText.from_pretrained(id_or_path, dtype=dtype, **kwargs)
    except ValueError as error:
        raise ValueError(
            f"{id_or_path!r} is not an image-text-to-text model transformers can load: {error}"
        ) from error
    except ImportError as error:
        raise _missing_library(id_or_path, error) from error
    remote = (
        {"trust_remote_code": kwargs["trust_remote_code"]} if "trust_remote_code" in kwargs else {}
    )
    try:
        processor = AutoProcessor.from_pretrained(id_or_path, **remote)
    except ImportError as error:
        raise _missing_library(id_or_path, error) from error
    return HFModel(
        model if placed else model.to(device), processor, batch_size=batch_size, threads=threads
    )


MODELS_EXTRA = "pip install 'eagle-widget[models]'"


def _missing_library(id_or_path: str, error: ImportError) -> ImportError:
    """transformers' many-line "X requires the Y library ..." as one line that names the extra."""
    text = " ".join(str(error).split())
    found = re.search(r"(\w+) requires the (.+?) librar", text)
    if found:
        what = f"{found.group(2)} (for {found.group(1)})"
    elif error.name:
        what = error.name
    else:
        what = text
    return ImportError(
        f"{id_or_path!r} needs {what}, which is not installed: install the packages real "
        f"models use with {MODELS_EXTRA}"
    )


# -- validation and tensor helpers ----------------------------------------------------------


def _takes_device(image_processor) -> bool:
    process = getattr(image_processor, "process_image", None)
    return callable(process) and "device" in inspect.signature(process).parameters


def _largest(value) -> int | None:
    """A size given as an int or as a pair/list (e.g. patch_size [14, 14]): its largest."""
    if isinstance(value, (list, tuple)) and value:
        value = max(value)
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _size_field(size, key: str) -> int | None:
    """A field of an image processor's size (a dict, or a SizeDict with attributes)."""
    value = size.get(key) if isinstance(size, dict) else getattr(size, key, None)
    return int(value) if isinstance(value, int) and value > 0 else None


def _check_batch_size(value) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"batch_size must be a positive int or None, got {value!r}")


def _check_threads(value) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"threads must be a positive int or None, got {value!r}")


def _check_positions(positions: Sequence[int], length: int) -> list[int]:
    if length == 0:
        raise ValueError("the generation has no tokens: there is nothing to explain")
    result = [int(p) for p in positions]
    if not result:
        raise ValueError("positions is empty: give at least one generated-token index")
    bad = [p for p in result if not 0 <= p < length]
    if bad:
        raise ValueError(
            f"target positions {bad} are outside the generation (token indices 0..{length - 1})"
        )
    return result


def _check_targets(
    token_ids: Sequence[int] | None, positions: list[int], generation: Generation, vocab: int
) -> list[int]:
    if token_ids is None:
        return [int(generation.token_ids[p]) for p in positions]
    targets = [int(t) for t in token_ids]
    if len(targets) != len(positions):
        raise ValueError(
            f"token_ids has {len(targets)} ids for {len(positions)} positions: "
            "give one per position"
        )
    bad = [t for t in targets if not 0 <= t < vocab]
    if bad:
        raise ValueError(f"token_ids {bad} are outside the vocabulary (0..{vocab - 1})")
    return targets


def _check_images(arrays: list[np.ndarray], size: tuple[int, int]) -> list[np.ndarray]:
    """Images (or clips of one frame count) of the generation's (height, width)."""
    if not arrays:
        raise ValueError("images is empty: give at least one image to score")
    for i, array in enumerate(arrays):
        if frame_size(array) != tuple(size):
            raise ValueError(
                f"image {i} has size {frame_size(array)} (height, width) but the generation was "
                f"made for {tuple(size)}: masked copies must keep the original size"
            )
        if array.shape != arrays[0].shape:
            raise ValueError(
                f"clip {i} has {len(array)} frames but clip 0 has {len(arrays[0])}: the clips "
                "of one batch are masked copies of one clip"
            )
    return arrays


def _extend(inputs: dict, generated: list[int]) -> dict:
    """Append the generated ids to input_ids, and the matching values to every aligned input."""
    ids = inputs["input_ids"]
    batch, length = ids.shape
    if not generated:
        return dict(inputs)
    extra = torch.tensor(generated, dtype=ids.dtype, device=ids.device).expand(batch, -1)
    result = {}
    for key, value in inputs.items():
        aligned = isinstance(value, torch.Tensor) and value.shape[:2] == (batch, length)
        if key == "input_ids":
            value = torch.cat([ids, extra], dim=1)
        elif aligned:
            if key not in SEQUENCE_FILL or value.ndim != 2:
                raise ValueError(
                    f"the processor returned {key!r}, aligned with the tokens, and the adapter "
                    "does not know its value for generated tokens; known: "
                    f"{sorted(SEQUENCE_FILL)}"
                )
            fill = torch.full_like(extra, SEQUENCE_FILL[key], dtype=value.dtype)
            value = torch.cat([value, fill], dim=1)
        result[key] = value
    return result


def _check_image_matters(images: list[np.ndarray], logits: torch.Tensor) -> None:
    """Raise when two very different images of the batch give bit-identical logits.

    A model that sees the image never gives the same full-vocabulary logits for images that
    differ in half their pixels, even in bfloat16. The first target row is compared (one
    vectorised test); pixels are compared only for the rare rows that match.
    """
    if len(images) < 2:
        return
    first = logits[:, 0, :]
    same = (first[1:] == first[:1]).all(dim=-1).nonzero().flatten().tolist()
    for j in same:
        changed = float(np.any(images[j + 1] != images[0], axis=-1).mean())
        if changed >= 0.5:
            raise ValueError(
                f"the model ignores the image: two images that differ in {changed:.0%} of "
                "their pixels give identical logits (is the vision projector initialised to "
                "zero, or the image not passed to the model?)"
            )
