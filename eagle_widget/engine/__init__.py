"""The EAGLE engine: numpy and the model protocol only (no torch, no widget)."""

from .explainer import DEFAULT_PROMPT, Explainer, ExplanationRun, explain
from .explanation import Explanation
from .images import to_rgb_array
from .regions import superpixels
from .types import Cancelled, Generation, Step, VisionLanguageModel

__all__ = [
    "DEFAULT_PROMPT",
    "Cancelled",
    "Explainer",
    "Explanation",
    "ExplanationRun",
    "Generation",
    "Step",
    "VisionLanguageModel",
    "explain",
    "superpixels",
    "to_rgb_array",
]
