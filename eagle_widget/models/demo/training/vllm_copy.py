"""A copy of the demo checkpoint that vLLM loads: the same weights under vLLM's names.

transformers stores LLaVA's CLIP encoder as `vision_tower.*`; vLLM's LLaVA expects the
`vision_tower.vision_model.*` layout of the original checkpoints. Everything else is copied.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .. import WEIGHTS_DIR

WEIGHTS_FILE = "model.safetensors"
_VISION = "vision_tower."
_VISION_SERVED = "vision_tower.vision_model."


def served_name(name: str) -> str:
    """vLLM's name of one tensor of the demo checkpoint."""
    if name.startswith(_VISION) and not name.startswith(_VISION_SERVED):
        return _VISION_SERVED + name[len(_VISION) :]
    return name


def write_served_copy(folder) -> Path:
    """Write the demo checkpoint into `folder` (created) with vLLM's tensor names; returns it."""
    from safetensors.numpy import load_file, save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for source in WEIGHTS_DIR.iterdir():
        if source.is_file() and source.name != WEIGHTS_FILE:
            shutil.copy2(source, folder / source.name)
    tensors = load_file(WEIGHTS_DIR / WEIGHTS_FILE)
    save_file({served_name(k): v for k, v in tensors.items()}, folder / WEIGHTS_FILE)
    return folder
