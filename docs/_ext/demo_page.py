"""A Sphinx extension that writes the offline page of one demo explanation into the site.

At build time (html builders only) it explains a generated demo scene with the embedded demo
model and writes `Explanation.to_html` to `OUT/_demo/explanation.html`; docs/demo.md shows
that file in an iframe. The page is self-contained and offline (eagle_widget.export), so the
site stays offline too. Few regions and the lazy search keep the build fast (about a second).
"""

from __future__ import annotations

from pathlib import Path

PAGE = Path("_demo") / "explanation.html"  # relative to the html output folder
SCENE = {"seed": 1, "objects": [("red", "circle"), ("blue", "square")]}
REGIONS = 24


def write_demo_page(out: Path) -> Path:
    """Explain the demo scene at sentence level (REGIONS regions, lazy) and write its page."""
    import eagle_widget as ew

    model = ew.load_demo_model()
    scene = ew.scenes.make_scene(**SCENE)
    result = ew.explain(model, scene.image, n_regions=REGIONS, search="lazy")
    path = Path(out) / PAGE
    path.parent.mkdir(parents=True, exist_ok=True)
    return result.to_html(path)


def _build_finished(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        write_demo_page(Path(app.outdir))


def setup(app):
    app.connect("build-finished", _build_finished)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
