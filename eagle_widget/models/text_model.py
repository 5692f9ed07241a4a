"""A text-only adapter: any transformers causal language model, explained by its prompt.

`TextModel` wraps an `AutoModelForCausalLM` and its tokenizer. It reads no image
(protocol.ReadsTextOnly): `generate(None, prompt)` answers greedily, with the checkpoint's
logits processors off, and `span_token_probs` scores the answer teacher-forced with spans
of the prompt hidden, several masked prompts in one forward pass. The prompt goes through
the tokenizer's chat template as the user's turn, or as it is where the tokenizer has none.

A hidden span's tokens are replaced by the pad id (else the unknown id), or left out of the
attention mask ("attention"); either way every position is kept: the position ids are given
explicitly, 0..L-1, so a model that would count them from the attention mask does not move
the tokens after a span. It shares the tokenizer's offset work (text.py) and the argument
checks with HFModel and nothing else: no processor, no image, no layout checks.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence

import numpy as np
import torch

from ..engine.types import Generation
from .devices import cpu_threads, is_out_of_memory, release_memory, resolve_device, resolve_dtype
from .hf import _check_batch_size, _check_positions, _check_targets, _check_threads
from .memory import PeakMemory
from .text import decode_tokens, prompt_token_offsets, span_token_indices
from .tokenizer_basics import TokenizerBasics

DEFAULT_TEXT_BATCH = 16  # masked prompts per forward pass when none is given
NO_IMAGE = (0, 0)  # a text model's Generation.image_size


class TextModel(TokenizerBasics):
    """A transformers causal language model and its tokenizer behind the model protocol.

    batch_size: masked prompts per forward pass (DEFAULT_TEXT_BATCH when None); a CUDA or
    MPS out-of-memory error halves it and retries. threads: torch CPU threads during this
    adapter's calls (torch's own setting when None). device, dtype: optional, move the
    model before wrapping it."""

    text_only = True  # protocol.ReadsTextOnly
    prompt_maskings = ("replace", "attention")  # protocol.HasPromptMaskings

    def __init__(
        self,
        model,
        tokenizer,
        *,
        batch_size: int | None = None,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        threads: int | None = None,
    ):
        if not hasattr(model, "generate") or not callable(model):
            raise TypeError(
                f"model must be a transformers causal language model, got {type(model).__name__}"
            )
        if not callable(tokenizer) or not hasattr(tokenizer, "convert_ids_to_tokens"):
            raise TypeError(
                f"tokenizer must be the model's tokenizer, got {type(tokenizer).__name__}"
            )
        _check_batch_size(batch_size)
        _check_threads(threads)
        if device is not None or dtype is not None:
            target = resolve_device(device) if device is not None else model.device
            model = model.to(
                device=target, dtype=resolve_dtype(dtype, target) if dtype is not None else None
            )
        self.model = model.eval()
        self.tokenizer = tokenizer
        self._batch_size = batch_size
        self.threads = threads
        self._lock = threading.RLock()
        self._texts: dict[str, tuple[str, bool]] = {}
        self._memory: PeakMemory | None = None

    @property
    def device(self) -> torch.device:
        return self.model.device

    @property
    def batch_size(self) -> int:
        """Masked prompts per forward pass: as given (halved after an out-of-memory error)."""
        return self._batch_size or DEFAULT_TEXT_BATCH

    @batch_size.setter
    def batch_size(self, value: int | None) -> None:
        _check_batch_size(value)
        self._batch_size = value

    def __repr__(self) -> str:
        name = type(self.model).__name__
        return f"TextModel({name}, device={self.device}, dtype={self.model.dtype})"

    # -- the protocol ----------------------------------------------------------------
    def generate(self, image, prompt: str, max_new_tokens: int = 64) -> Generation:
        """The model's greedy answer to `prompt` (image must be None), without the end id."""
        _check_no_image([image])
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError(f"prompt must be a non-empty string, got {prompt!r}")
        if (
            isinstance(max_new_tokens, bool)
            or not isinstance(max_new_tokens, int)
            or max_new_tokens < 1
        ):
            raise ValueError(f"max_new_tokens must be a positive int, got {max_new_tokens!r}")
        from transformers import GenerationConfig

        ids = torch.tensor([self.prompt_ids(None, prompt)], device=self.device)
        eos = sorted(self.eos_token_ids())
        pad = self.tokenizer.pad_token_id
        clean = GenerationConfig(
            eos_token_id=eos or None,
            pad_token_id=pad if pad is not None else (eos[0] if eos else None),
            do_sample=False,
            num_beams=1,
            max_new_tokens=max_new_tokens,
        )
        saved = self.model.generation_config  # generate() fills unset fields from it
        self.model.generation_config = clean
        try:
            with self._lock, cpu_threads(self.threads), torch.inference_mode():
                out = self.model.generate(
                    input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=clean
                )
        finally:
            self.model.generation_config = saved
        new = out[0, ids.shape[1] :].tolist()
        for i, token in enumerate(new):
            if token in eos:
                new = new[:i]
                break
        tokens = decode_tokens(self.tokenizer, new)
        return Generation(
            prompt=prompt, token_ids=new, tokens=tokens, text="".join(tokens), image_size=NO_IMAGE
        )

    def token_probs(self, images, generation: Generation, positions, token_ids=None) -> np.ndarray:
        """P(target id at each position | prompt, generated prefix), teacher-forced, one row
        per item of `images` (each None: a text model reads none)."""
        keep = np.ones((len(images), 0), dtype=bool)
        return self.span_token_probs(images, generation, positions, token_ids, [], keep)

    # -- prompt spans ------------------------------------------------------------------
    def span_token_counts(self, generation: Generation, spans) -> list[int]:
        """How many of the prompt's tokens each (start, stop) character range covers."""
        return [
            len(t) for t in span_token_indices(self._prompt_tokens(generation.prompt)[1], spans)
        ]

    def span_token_probs(
        self,
        images: Sequence,
        generation: Generation,
        positions: Sequence[int],
        token_ids: Sequence[int] | None,
        spans,
        keep: np.ndarray,
        masking: str = "replace",
    ) -> np.ndarray:
        """token_probs with the spans each row of `keep` does not keep hidden by `masking`
        (protocol.MasksPromptSpans): (len(images), len(positions)) floats."""
        if not isinstance(generation, Generation):
            raise TypeError(f"generation must be an ew.Generation, got {type(generation).__name__}")
        if masking not in self.prompt_maskings:
            raise ValueError(f"masking must be one of {self.prompt_maskings}, got {masking!r}")
        _check_no_image(images)
        positions = _check_positions(positions, len(generation))
        targets = _check_targets(token_ids, positions, generation, self._vocab_size())
        keep = np.asarray(keep, dtype=bool)
        if keep.shape != (len(images), len(spans)):
            raise ValueError(
                f"keep must be {(len(images), len(spans))} (rows x spans), got {keep.shape}"
            )
        ids = self.prompt_ids(None, generation.prompt)
        start = len(ids) - len(self._prompt_tokens(generation.prompt)[0])
        tokens = span_token_indices(self._prompt_tokens(generation.prompt)[1], spans)
        hidden = [
            sorted(start + t for s in np.flatnonzero(~row) for t in tokens[s]) for row in keep
        ]
        sequence = ids + [int(t) for t in generation.token_ids[: max(positions)]]
        rows = [len(ids) - 1 + p for p in positions]
        parts = []
        at = 0
        with self._lock, cpu_threads(self.threads), torch.inference_mode():
            while at < len(hidden):
                chunk = hidden[at : at + self.batch_size]
                try:
                    parts.append(self._score(sequence, rows, targets, chunk, masking))
                except Exception as error:
                    if not is_out_of_memory(error) or len(chunk) == 1:
                        raise
                    release_memory(self.device)
                    self._batch_size = max(1, len(chunk) // 2)
                    continue
                at += len(chunk)
        return np.concatenate(parts).astype(np.float64, copy=False)

    @property
    def prompt_mask_id(self) -> int:
        """The id a hidden prompt token becomes ("replace"): the pad token, else the unknown."""
        for name in ("pad_token_id", "unk_token_id"):
            value = getattr(self.tokenizer, name, None)
            if value is not None:
                return int(value)
        raise ValueError("the tokenizer has neither a pad nor an unknown token to hide spans with")

    def prompt_span_positions(self, prompt: str, spans) -> list[list[int]]:
        """Per (start, stop) character range of `prompt`, the indices in prompt_ids(None,
        prompt) of the tokens it covers: the tokens span_token_probs hides."""
        tail, offsets = self._prompt_tokens(prompt)
        start = len(self.prompt_ids(None, prompt)) - len(tail)
        return [[start + t for t in tokens] for tokens in span_token_indices(offsets, spans)]

    # -- helpers users may call --------------------------------------------------------
    def prompt_ids(self, image, prompt: str) -> list[int]:
        """The ids the model reads for `prompt` (the chat template's, where there is one)."""
        _check_no_image([image])
        text, add_special = self._text(prompt)
        return list(self.tokenizer(text, add_special_tokens=add_special)["input_ids"])

    # -- internals -------------------------------------------------------------------
    def _text(self, prompt: str) -> tuple[str, bool]:
        """The text the model reads for `prompt`, and whether the tokenizer adds its special
        tokens: not to a chat template's text, which writes its own (as the tokenizer's
        apply_chat_template(tokenize=True) does), yes to a bare prompt."""
        if prompt not in self._texts:
            if getattr(self.tokenizer, "chat_template", None):
                text = self.tokenizer.apply_chat_template(
                    [{"role": "user", "content": prompt}],
                    add_generation_prompt=True,
                    tokenize=False,
                )
                self._texts[prompt] = (text, False)
            else:
                self._texts[prompt] = (prompt, True)
        return self._texts[prompt]

    def _prompt_tokens(self, prompt: str) -> tuple[list[int], list[tuple[int, int]]]:
        text, add_special = self._text(prompt)
        tail, offsets = prompt_token_offsets(self.tokenizer, text, add_special, prompt)
        if self.prompt_ids(None, prompt)[-len(tail) :] != tail:
            raise ValueError(f"the tokenizer's ids of {prompt!r} do not end with its own tokens")
        return tail, offsets

    def _score(self, sequence, rows, targets, hidden: list[list[int]], masking: str) -> np.ndarray:
        """One teacher-forced pass over len(hidden) copies of `sequence`, each with its listed
        tokens hidden; probabilities of `targets` at `rows`."""
        batch = len(hidden)
        ids = torch.tensor([sequence] * batch, device=self.device)
        attention = torch.ones_like(ids)
        for row, tokens in enumerate(hidden):
            if tokens:
                if masking == "replace":
                    ids[row, tokens] = self.prompt_mask_id
                else:
                    attention[row, tokens] = 0
        place = torch.arange(ids.shape[1], device=self.device).expand(batch, -1)  # positions kept
        keep = torch.tensor(rows, device=self.device)
        logits = self.model(
            input_ids=ids, attention_mask=attention, position_ids=place, logits_to_keep=keep,
            use_cache=False,
        ).logits  # fmt: skip
        if logits.shape[1] != len(rows):  # a model that ignores logits_to_keep
            logits = logits[:, keep]
        logits = logits.float()
        index = torch.tensor(targets, device=logits.device).view(1, -1, 1).expand(batch, -1, -1)
        chosen = logits.gather(-1, index).squeeze(-1)
        return torch.exp(chosen - torch.logsumexp(logits, dim=-1)).cpu().numpy()

    def _vocab_size(self) -> int:
        embeddings = self.model.get_output_embeddings()
        if embeddings is not None and hasattr(embeddings, "weight"):
            return int(embeddings.weight.shape[0])
        return int(self.model.config.vocab_size)


def _check_no_image(images) -> None:
    if any(image is not None for image in images):
        raise ValueError("TextModel reads text only: give image None (explain(model, None, ...))")


def is_text_checkpoint(id_or_path: str, **kwargs) -> bool:
    """Whether a checkpoint is a causal language model with no image-text-to-text class (a
    text-only model): read from its config alone; False where the config cannot be read."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES,
    )

    remote = {k: kwargs[k] for k in ("trust_remote_code", "revision") if k in kwargs}
    try:
        config = AutoConfig.from_pretrained(id_or_path, **remote)
    except (OSError, ValueError):
        return False
    family = getattr(config, "model_type", None)
    return (
        family in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
        and family not in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES
        and getattr(config, "vision_config", None) is None
    )


def load_text_model(
    id_or_path: str | os.PathLike,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    *,
    batch_size: int | None = None,
    threads: int | None = None,
    **from_pretrained_kwargs,
) -> TextModel:
    """Load a causal language model (hub id or folder) and its tokenizer as a TextModel;
    device and dtype as hf.load_model picks them, other keywords to from_pretrained."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _check_batch_size(batch_size)
    _check_threads(threads)
    id_or_path = os.path.expanduser(os.fspath(id_or_path))
    device = resolve_device(device)
    dtype = resolve_dtype(dtype, device)
    kwargs = dict(from_pretrained_kwargs)
    placed = "device_map" in kwargs
    if not placed and device.type != "cpu" and importlib.util.find_spec("accelerate"):
        kwargs["device_map"] = str(device)
        placed = True
    model = AutoModelForCausalLM.from_pretrained(id_or_path, dtype=dtype, **kwargs)
    remote = {k: kwargs[k] for k in ("trust_remote_code", "revision") if k in kwargs}
    tokenizer = AutoTokenizer.from_pretrained(id_or_path, **remote)
    return TextModel(
        model if placed else model.to(device), tokenizer, batch_size=batch_size, threads=threads
    )
