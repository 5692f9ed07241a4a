"""What every transformers adapter (HFModel, TextModel) does the same way with its model
and tokenizer: the ids that end an answer, a text's ids and back, and peak memory."""

from __future__ import annotations

from collections.abc import Sequence

from .memory import PeakMemory
from .text import decode_tokens


class TokenizerBasics:
    """Mixin for an adapter with `model`, `tokenizer`, `device` and `_memory` (None at first)."""

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` as it would open an answer (no special tokens): how a
        counterfactual answer such as "No" becomes a target id."""
        if not isinstance(text, str) or not text:
            raise ValueError(f"text must be a non-empty string, got {text!r}")
        ids = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        unknown = self.tokenizer.unk_token_id
        if unknown is not None and unknown in ids and self.tokenizer.unk_token not in text:
            raise ValueError(
                f"the model's tokenizer does not know {text!r}: it encodes as the unknown "
                f"token {self.tokenizer.unk_token!r}; give a word of its vocabulary or a token id"
            )
        return ids

    def decode(self, ids: Sequence[int]) -> list[str]:
        """The text each token adds to an answer (as Generation.tokens holds it)."""
        return decode_tokens(self.tokenizer, [int(i) for i in ids])

    def eos_token_ids(self) -> set[int]:
        """Ids that end an answer: the checkpoint's generation config and the tokenizer's EOS."""
        ids: set[int] = set()
        config = getattr(self.model, "generation_config", None)
        for value in (getattr(config, "eos_token_id", None), self.tokenizer.eos_token_id):
            if isinstance(value, int):
                ids.add(value)
            elif value is not None:
                ids.update(int(v) for v in value)
        return ids

    def peak_memory(self, reset: bool = False) -> dict:
        """Peak memory since peak_memory(reset=True): the device's on CUDA, the process's
        resident memory on the CPU (models/memory.py; protocol.MeasuresPeakMemory)."""
        if reset or self._memory is None:
            self._memory = PeakMemory(self.device)
            if reset:
                return self._memory.reset()
        return self._memory.read()
