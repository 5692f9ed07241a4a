"""The EAGLE engine: numpy and the model protocol only (no torch, no widget)."""

from .explainer import Explainer, ExplanationRun, explain
from .explanation import Explanation
from .images import to_rgb_array
from .method_comparison import Comparison, compare
from .protocol import DEFAULT_PROMPT, VisionLanguageModel, resolve_prompt
from .regions import superpixels
from .types import Cancelled, Generation, Step

__all__ = [
    "DEFAULT_PROMPT",
    "Cancelled",
    "Comparison",
    "Explainer",
    "Explanation",
    "ExplanationRun",
    "Generation",
    "Step",
    "VisionLanguageModel",
    "compare",
    "explain",
    "resolve_prompt",
    "superpixels",
    "to_rgb_array",
]
