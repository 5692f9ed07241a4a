"""The demo checkpoint behind the usual transformers adapter, plus one note for foreign images."""

from __future__ import annotations

import warnings

from ...engine.images import to_rgb_array
from ...engine.protocol import DEFAULT_PROMPT
from ...engine.types import Generation
from ..hf import HFModel
from .familiar import NOTE, UnfamiliarImageWarning, answer_problem, looks_like_a_scene

DEGRADED = (
    "the demo model degrades on scenes unlike its own (1 to 3 shapes, 9 to 23 pixels of 64 "
    "across, apart), so this answer and its explanation mean little"
)


class DemoModel(HFModel):
    """`HFModel` of the demo weights; the first image unlike its scenes gets a warning, once;
    an answer that degrades on a scene-like image (answer_problem) gets one each time."""

    noted = False

    def generate(self, image, prompt: str = DEFAULT_PROMPT, max_new_tokens: int = 64) -> Generation:
        array = to_rgb_array(image)
        generation = super().generate(array, prompt, max_new_tokens)  # bad input raises first
        if not looks_like_a_scene(array):
            if not self.noted:
                self.noted = True
                warnings.warn(NOTE, UnfamiliarImageWarning, stacklevel=2)
            return generation
        if len(generation) >= max_new_tokens:  # cut by the caller's limit: not its grammar's
            return generation
        problem = answer_problem(array, prompt, generation.text)
        if problem is not None:
            warnings.warn(f"{problem}: {DEGRADED}", UnfamiliarImageWarning, stacklevel=2)
        return generation
