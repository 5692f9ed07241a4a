"""The colours of eagle-widget, in one place: the figures draw with them and the widget's
stylesheet (js/src/widget.css) must hold the same values (tests/test_palette.py checks it).

Numpy only. The two colour scales are OKLab lightness ramps (equal steps in value are equal
steps in perceived lightness, so they stay readable for colour-blind readers and in grey):
the front end computes the same scales in js/src/colors.js.
"""

from __future__ import annotations

import numpy as np

# -- the widget's own colours, per scheme (the surface it is drawn on: light or dark) --------
# CSS custom property -> value; the stylesheet sets these on .eagle-widget (light) and on
# .eagle-widget[data-scheme="dark"].
LIGHT = {
    "--ew-fg": "#1f2328",
    "--ew-muted": "#5b6169",
    "--ew-bg": "#ffffff",
    "--ew-insert": "#008f68",  # insertion curve
    "--ew-delete": "#c2569a",  # deletion curve
    "--ew-error-bg": "#fdecea",
    "--ew-error-fg": "#8c1d18",
    "--ew-highlight": "#ff3d7f",  # the region a step just placed; the explained word
    "--ew-outline": "#00e5ff",  # regions a mitigation removed
    "--ew-correct": "#2e7d32",
    "--ew-wrong": "#b3261e",
}
DARK = {
    "--ew-fg": "#e3e5e8",
    "--ew-muted": "#a4a9b0",
    "--ew-bg": "#1e1f22",
    "--ew-insert": "#3cc79c",
    "--ew-delete": "#e58cc2",
    "--ew-error-bg": "#4a2022",
    "--ew-error-fg": "#ffb4ab",
    "--ew-correct": "#7cd683",
    "--ew-wrong": "#ff8a80",
}

# -- figures (always on white) ------------------------------------------------------------
INSERT_COLOR = LIGHT["--ew-insert"]
DELETE_COLOR = LIGHT["--ew-delete"]
HIGHLIGHT_COLOR = LIGHT["--ew-highlight"]
TEXT_COLOR = LIGHT["--ew-fg"]
MUTED_COLOR = "#8a9099"  # tick labels and notes of a figure
BOX_COLOR = "#00c8ff"  # ground-truth boxes
NO_DATA_EDGE = "#c4c8ce"  # a token whose reliance is unknown: outline only
FRAME_COLOR = "#d4d8de"  # the frame of an image panel

PRIOR_HUE = 255.0  # blue: what the language prior gives
VISUAL_HUE = 55.0  # orange: what the image adds
RELIANCE_BAR_AT = 0.8  # the reliance bars' two colours: the diverging scale at -0.8 and +0.8


# -- colour scales ------------------------------------------------------------------------
def _oklab_to_linear(lab: np.ndarray) -> np.ndarray:
    L, a, b = lab
    l_, m_, s_ = (
        np.array(
            [
                L + 0.3963377774 * a + 0.2158037573 * b,
                L - 0.1055613458 * a - 0.0638541728 * b,
                L - 0.0894841775 * a - 1.291485548 * b,
            ]
        )
        ** 3
    )
    return np.array(
        [
            4.0767416621 * l_ - 3.3077115913 * m_ + 0.2309699292 * s_,
            -1.2684380046 * l_ + 2.6097574011 * m_ - 0.3413193965 * s_,
            -0.0041960863 * l_ - 0.7034186147 * m_ + 1.707614701 * s_,
        ]
    )


def oklch_to_rgb(lightness: float, chroma: float, hue_deg: float) -> np.ndarray:
    """sRGB bytes (3 ints, 0..255); chroma is lowered until the colour fits the gamut, so
    the lightness and hue asked for are kept."""
    hue = np.deg2rad(hue_deg)

    def linear(c: float) -> np.ndarray:
        return _oklab_to_linear(np.array([lightness, c * np.cos(hue), c * np.sin(hue)]))

    def fits(c: float) -> bool:
        lin = linear(c)
        return bool(np.all(lin >= -1e-6) and np.all(lin <= 1 + 1e-6))

    if not fits(chroma):
        lo, hi = 0.0, chroma
        for _ in range(30):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if fits(mid) else (lo, mid)
        chroma = lo
    lin = np.clip(linear(chroma), 0.0, 1.0)
    srgb = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)
    return np.round(srgb * 255).astype(int)


def importance_rgb(t: float) -> np.ndarray:
    """The sequential scale of the heat map at t in [0, 1]: dark violet-blue to light yellow."""
    chroma = 0.12 - 0.04 * np.sin(np.pi * t) + 0.07 * t**3
    return oklch_to_rgb(0.3 + 0.64 * t, chroma, 290 - 185 * t)


def reliance_rgb(t: float) -> np.ndarray:
    """The diverging scale of modality reliance at t in [-1, 1]: -1 language prior (blue),
    0 near white, +1 visual evidence (orange)."""
    a = abs(t)
    return oklch_to_rgb(0.97 - 0.4 * a, 0.16 * a, PRIOR_HUE if t < 0 else VISUAL_HUE)


def css_rgb(rgb) -> str:
    """CSS of sRGB bytes, as the stylesheet writes them: rgb(r g b)."""
    r, g, b = (int(v) for v in rgb)
    return f"rgb({r} {g} {b})"


# the reliance bars of the widget (both schemes)
LIGHT["--ew-prior"] = css_rgb(reliance_rgb(-RELIANCE_BAR_AT))
LIGHT["--ew-visual"] = css_rgb(reliance_rgb(RELIANCE_BAR_AT))
