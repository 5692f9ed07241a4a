"""The embedded demo model: a tiny LLaVA trained on generated scenes, shipped with the package.

`WEIGHTS_DIR` is a normal transformers checkpoint folder (load it with
`eagle_widget.load_demo_model()`); `scenes` generates images with ground truth.
"""

from pathlib import Path

WEIGHTS_DIR = Path(__file__).parent / "weights"
