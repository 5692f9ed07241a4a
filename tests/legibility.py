"""Text legibility in a real browser: the WCAG contrast of every visible text (contrast.js)."""

from __future__ import annotations

from pathlib import Path

CONTRAST_JS = (Path(__file__).with_name("contrast.js")).read_text()
AA = 4.5  # WCAG 2 level AA for body text


def text_contrast(locator) -> list[dict]:
    """One row per visible piece of text under the element: text, role, ratio, fg, bg."""
    return locator.evaluate(CONTRAST_JS)


def illegible(locator, minimum: float = AA) -> list[dict]:
    """The texts under the element whose contrast is below `minimum` (none: an empty list).

    Fails when the element holds no visible text at all, so a check cannot pass vacuously.
    """
    rows = text_contrast(locator)
    assert rows, "no visible text to check"
    return [r for r in rows if r["ratio"] < minimum]


def described(rows: list[dict]) -> str:
    """Failing rows as one line: role, text, ratio, and the two colours."""
    return "; ".join(f"{r['role']} {r['text']!r}: {r['ratio']:.2f} ({r['fg']} on {r['bg']})"
                     for r in rows)  # fmt: skip


OVER_CANVAS_JS = (Path(__file__).with_name("over_canvas.js")).read_text()


def over_canvas(canvas, selector: str) -> list[dict]:
    """One row per visible text matching `selector` drawn over `canvas` (a locator): text,
    its worst ratio over the pixels beneath it, and how many pixels those are."""
    return canvas.evaluate(OVER_CANVAS_JS, selector)
