"""One owner for the colours: eagle_widget/palette.py. The stylesheet and the front end's
colour scales must agree with it; the figures draw with it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from eagle_widget import figures, palette

ROOT = Path(__file__).resolve().parents[1]
CSS = (ROOT / "js" / "src" / "widget.css").read_text()


def declarations(selector: str) -> dict[str, str]:
    """The custom properties set in the stylesheet's rule for exactly `selector`."""
    match = re.search(r"(?m)^" + re.escape(selector) + r"\s*\{([^}]*)\}", CSS)
    assert match, f"no rule for {selector} in widget.css"
    body = re.sub(r"/\*.*?\*/", "", match.group(1), flags=re.S)
    return dict(re.findall(r"(--ew-[\w-]+)\s*:\s*([^;]+);", body))


@pytest.mark.parametrize(
    ("selector", "colours"),
    [(".eagle-widget", palette.LIGHT), ('.eagle-widget[data-scheme="dark"]', palette.DARK)],
    ids=["light", "dark"],
)
def test_the_stylesheet_holds_the_palettes_colours(selector, colours):
    css = declarations(selector)
    wrong = {name: (css.get(name), value) for name, value in colours.items()
             if css.get(name, "").strip().lower() != value.lower()}  # fmt: skip
    assert not wrong, f"widget.css differs from eagle_widget/palette.py (css, palette): {wrong}"


def test_declarations_reads_what_a_rule_sets():
    assert declarations(".eagle-widget")["--ew-insert"] == "#008f68"
    with pytest.raises(AssertionError, match="no rule"):
        declarations(".no-such-rule")


def test_figures_draw_with_the_palette():
    assert figures.INSERT_COLOR == palette.LIGHT["--ew-insert"]
    assert figures.HIGHLIGHT_COLOR == palette.LIGHT["--ew-highlight"]
    top = np.array(figures.importance_cmap()(1.0)[:3]) * 255
    assert np.array_equal(np.round(top), palette.importance_rgb(1.0))
    prior = np.array(figures.reliance_cmap()(0.0)[:3]) * 255
    assert np.array_equal(np.round(prior), palette.reliance_rgb(-1.0))


def test_the_scales_are_perceptual_ramps():
    # lightness alone carries the value: a monotone rise in luminance; white in the middle
    lum = [palette.importance_rgb(t) @ [0.2126, 0.7152, 0.0722] for t in np.linspace(0, 1, 11)]
    assert all(b > a for a, b in zip(lum, lum[1:]))
    assert palette.reliance_rgb(0.0).min() > 240
    prior, visual = palette.reliance_rgb(-1.0), palette.reliance_rgb(1.0)
    assert prior[2] > prior[0] and visual[0] > visual[2]  # blue and orange


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_front_end_computes_the_same_scales():
    script = """
    import { SEQUENTIAL_LUT, divergingColor } from "./src/colors.js";
    const ts = Array.from({ length: 256 }, (_, i) => i / 255);
    console.log(JSON.stringify({
      sequential: Array.from(SEQUENTIAL_LUT),
      diverging: ts.map((t) => divergingColor(2 * t - 1)),
    }));"""
    out = subprocess.run(["node", "--input-type=module", "-e", script], cwd=ROOT / "js",
                         capture_output=True, text=True, check=True, timeout=60)  # fmt: skip
    js = json.loads(out.stdout)
    ts = np.arange(256) / 255
    sequential = np.reshape(js["sequential"], (256, 3))
    assert np.array_equal(sequential, [palette.importance_rgb(t) for t in ts])
    assert np.array_equal(js["diverging"], [palette.reliance_rgb(2 * t - 1) for t in ts])
