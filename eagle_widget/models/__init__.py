"""Model adapters behind the engine's model protocol: transformers models, served models.

torch and transformers are imported on first use, so importing this package stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .hf import HFModel
    from .served import OpenAIModel
    from .text_model import TextModel

SERVED_PREFIX = "openai:"  # load_model("openai:http://host:8000/v1", model="name")
DEMO = "demo"  # load_model("demo"): the embedded demo model


def load_model(
    id_or_path: str, device=None, dtype=None, **kwargs
) -> HFModel | OpenAIModel | TextModel:
    """Load any image-text-to-text checkpoint and its processor (see `hf.load_model`), a
    text-only causal language model and its tokenizer (`text_model.TextModel`, told apart by
    its config: explained by its prompt alone), or connect to a served one: "openai:URL"
    with model= (see `served.OpenAIModel`), or "demo": the embedded demo model
    (`load_demo_model`), as the command line's --model."""
    if id_or_path == DEMO and not Path(DEMO).exists():  # a folder named demo is a checkpoint
        return load_demo_model(device=device, dtype=dtype, **kwargs)
    if isinstance(id_or_path, str) and id_or_path.startswith(SERVED_PREFIX):
        from .served import OpenAIModel

        if device is not None or dtype is not None:
            raise ValueError("a served model runs on its server: device and dtype do not apply")
        if "model" not in kwargs:
            raise ValueError(f"{id_or_path!r} needs model=: the name the server serves it under")
        return OpenAIModel(id_or_path[len(SERVED_PREFIX) :], **kwargs)
    from .text_model import is_text_checkpoint, load_text_model

    if is_text_checkpoint(id_or_path, **kwargs):
        return load_text_model(id_or_path, device=device, dtype=dtype, **kwargs)
    from .hf import load_model as _load_model

    return _load_model(id_or_path, device=device, dtype=dtype, **kwargs)


def load_demo_model(device=None, dtype=None, **kwargs) -> HFModel:
    """The embedded tiny demo VLM (offline; CPU by default).

    It says once (an `UnfamiliarImageWarning`) when an image is unlike its generated scenes.
    """
    from transformers.utils import logging

    from .demo import WEIGHTS_DIR
    from .demo.adapter import DemoModel

    # 63 tensors load in milliseconds; transformers' progress bar would only add a widget
    # (a tqdm bar) to the notebook's output.
    shown = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        loaded = load_model(str(WEIGHTS_DIR), device=device or "cpu", dtype=dtype, **kwargs)
        return DemoModel(
            loaded.model,
            loaded.processor,
            batch_size=kwargs.get("batch_size"),
            threads=kwargs.get("threads"),
        )
    finally:
        if shown:
            logging.enable_progress_bar()


def __getattr__(name: str):
    if name == "HFModel":
        from .hf import HFModel

        return HFModel
    if name == "OpenAIModel":
        from .served import OpenAIModel

        return OpenAIModel
    if name == "TextModel":
        from .text_model import TextModel

        return TextModel
    raise AttributeError(f"module 'eagle_widget.models' has no attribute {name!r}")


__all__ = ["HFModel", "OpenAIModel", "TextModel", "load_demo_model", "load_model"]
