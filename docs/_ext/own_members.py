"""Autodoc documents what eagle-widget defines, not what a base class generates.

matplotlib makes a `set` method for every Artist subclass (figures.PaperFigure gets one),
whose docstring uses matplotlib's own roles; other libraries' members are theirs to document.
"""

from __future__ import annotations


def _skip_foreign(app, what, name, obj, skip, options):
    module = getattr(obj, "__module__", None)
    if isinstance(module, str) and not module.startswith("eagle_widget"):
        return True
    return None  # autodoc's own decision


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
