"""The font chain of the figures: DejaVu Sans, then fonts that cover the rest of Unicode.

matplotlib takes each glyph from the first font of the family list that has it, so prompts
and answers with accents, CJK or emoji render instead of boxes and "Glyph missing" warnings.
The Noto fonts come from two pip dependencies, so every install has them: manimgx-fonts (Noto
Sans Symbols, Noto Emoji in outline, and Noto Sans for Arabic, Devanagari, Thai and other
scripts) and noto-cjk-sans-otc (Noto Sans CJK). Fonts the system has serve when they are absent.
"""

from __future__ import annotations

import importlib.util
import logging
from functools import cache
from pathlib import Path

from matplotlib import font_manager

# matplotlib logs a warning per fallback font without a bold face each time bold text meets
# the chain ("Failed to find font weight bold for Noto Sans Thai, now using 400"): 22 lines per
# word-level figure. Using the regular face for the glyphs DejaVu Sans Bold lacks is what we
# want, so that one message is dropped; every other font warning stays.
WEIGHT_FALLBACK = "Failed to find font weight"

FIRST = "DejaVu Sans"  # matplotlib's own: Latin, Greek, Cyrillic, many symbols
FONT_PACKAGES = ("noto_cjk_sans_otc", "manimgx_fonts")  # in the order of the chain
SYSTEM_FALLBACKS = ("Noto Sans CJK JP", "Droid Sans Fallback", "WenQuanYi Zen Hei", "Symbola")


@cache
def font_family() -> tuple[str, ...]:
    """Font family names, first choice first; registers the packaged fonts on the first call."""
    family = [FIRST]
    for path in packaged_fonts():
        name = font_manager.FontProperties(fname=str(path)).get_name()
        font_manager.fontManager.addfont(str(path))
        if name not in family:
            family.append(name)
    _quiet_weight_fallbacks()
    known = {font.name for font in font_manager.fontManager.ttflist}
    family += [name for name in SYSTEM_FALLBACKS if name in known and name not in family]
    return tuple(family)


def _quiet_weight_fallbacks() -> None:
    logger = logging.getLogger("matplotlib.font_manager")
    if not any(isinstance(f, _WeightFallbackFilter) for f in logger.filters):
        logger.addFilter(_WeightFallbackFilter())


class _WeightFallbackFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return WEIGHT_FALLBACK not in str(record.msg)


def packaged_fonts() -> list[Path]:
    """The font files of the font packages that are installed (upright faces only)."""
    paths: list[Path] = []
    for package in FONT_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        folder = Path(next(iter(spec.submodule_search_locations)))
        fonts = sorted(folder.glob("*.tt[fc]")) + sorted(folder.glob("*.otf"))
        # Noto Sans itself adds nothing to DejaVu Sans; symbols and emoji before other scripts
        fonts = [f for f in fonts if "Italic" not in f.name and not f.name.startswith("NotoSans[")]
        fonts.sort(key=lambda f: (not f.name.startswith(("NotoSansSymbols", "NotoEmoji")), f.name))
        paths += fonts
    return paths
