"""The demo checkpoint behind the usual transformers adapter, plus one note for foreign images."""

from __future__ import annotations

import warnings

from ...engine.images import to_rgb_array
from ...engine.protocol import DEFAULT_PROMPT
from ...engine.types import Generation
from ..hf import HFModel
from .familiar import NOTE, UnfamiliarImageWarning, looks_like_a_scene


class DemoModel(HFModel):
    """`HFModel` of the demo weights; the first image unlike its scenes gets a warning, once."""

    noted = False

    def generate(self, image, prompt: str = DEFAULT_PROMPT, max_new_tokens: int = 64) -> Generation:
        array = to_rgb_array(image)
        generation = super().generate(array, prompt, max_new_tokens)  # bad input raises first
        if not self.noted and not looks_like_a_scene(array):
            self.noted = True
            warnings.warn(NOTE, UnfamiliarImageWarning, stacklevel=2)
        return generation
