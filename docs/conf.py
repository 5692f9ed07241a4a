"""Sphinx configuration of eagle-widget's documentation (Markdown pages through MyST).

Built offline: no intersphinx, no theme or script from a CDN. tests/test_docs.py runs
`python -m sphinx -W -b html docs OUT`, so a warning fails the test suite. Why Sphinx with
MyST: see docs/internals.md, "The documentation".
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the package of this checkout, installed or not
sys.path.insert(0, str(HERE / "_ext"))

import eagle_widget  # noqa: E402

project = "eagle-widget"
author = "the eagle-widget authors"
copyright = "2026, the eagle-widget authors"
release = eagle_widget.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "demo_page",  # docs/_ext/demo_page.py: the offline page of a demo explanation
    "own_members",  # docs/_ext/own_members.py: autodoc skips other libraries' members
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
root_doc = "index"

myst_enable_extensions = ["colon_fence", "deflist"]  # no math: MathJax would come from a CDN
myst_heading_anchors = 3  # links such as method.md#6-modality-reliance

# Docstrings are written as plain text with `code` in backticks: show those as code, linked
# where the name is documented (unresolved names are no warning unless nitpicky is on).
default_role = "py:obj"
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "description"
autosummary_generate = False  # the API pages list their modules by hand: nothing generated

html_theme = "alabaster"  # ships with Sphinx: nothing to fetch
html_title = "eagle-widget"
html_static_path: list[str] = []
html_theme_options = {"description": "What in this image made the model say that word?"}
