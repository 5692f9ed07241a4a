"""eagle-widget: explain which image regions made a multimodal LLM say each word (EAGLE).

Heavy parts (torch, transformers, the widget) are imported on first use, so that
`import eagle_widget` stays fast and the engine works with any model object.
"""

from importlib import import_module

from .engine import (
    Comparison,
    Explainer,
    Explanation,
    Generation,
    Step,
    VisionLanguageModel,
    compare,
    explain,
)
from .engine.hallucination import Diagnosis, Mitigation, diagnose, hallucination_metrics, mitigate
from .engine.regions import superpixels

__version__ = "0.1.0"

# public name -> module that defines it, imported on first access
_LAZY = {
    "load_model": "eagle_widget.models",
    "load_demo_model": "eagle_widget.models",
    "HFModel": "eagle_widget.models",
    "OpenAIModel": "eagle_widget.models",
    "TextModel": "eagle_widget.models",
    "EagleWidget": "eagle_widget.widget",
    "run_batch": "eagle_widget.batch",
    "scenes": "eagle_widget.models.demo.scenes",
    "benchmarks": "eagle_widget.benchmarks",
}


def __getattr__(name: str):
    if name in _LAZY:
        module = import_module(_LAZY[name])
        value = module if module.__name__.endswith("." + name) else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'eagle_widget' has no attribute {name!r}")


__all__ = [
    "Diagnosis",
    "Mitigation",
    "diagnose",
    "hallucination_metrics",
    "mitigate",
    "superpixels",
    "Comparison",
    "Explainer",
    "Explanation",
    "Generation",
    "Step",
    "VisionLanguageModel",
    "compare",
    "explain",
    *_LAZY,
]
