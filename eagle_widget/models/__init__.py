"""Model adapters: transformers vision-language models behind the engine's model protocol.

torch and transformers are imported on first use, so importing this package stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .hf import HFModel


def load_model(id_or_path: str, device=None, dtype=None, **kwargs) -> HFModel:
    """Load any image-text-to-text checkpoint and its processor (see `hf.load_model`)."""
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
        return DemoModel(loaded.model, loaded.processor, batch_size=kwargs.get("batch_size"))
    finally:
        if shown:
            logging.enable_progress_bar()


def __getattr__(name: str):
    if name == "HFModel":
        from .hf import HFModel

        return HFModel
    raise AttributeError(f"module 'eagle_widget.models' has no attribute {name!r}")


__all__ = ["HFModel", "load_demo_model", "load_model"]
