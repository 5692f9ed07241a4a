"""Paper-style matplotlib figures of an Explanation: map and caption, curves, hallucination.

Figures are plain `matplotlib.figure.Figure` objects on the Agg canvas (no pyplot, so no
GUI backend and no figure left open; works headless). Text never goes through LaTeX, and
token text is never parsed as mathtext. The colour scales are the widget's own (OKLab
lightness ramps), so a figure looks like the widget it came from.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Colormap, ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Rectangle

from .engine import Explanation
from .engine.explanation import APPROXIMATE_NOTE, MAP_KINDS
from .engine.masking import fill_image
from .fonts import font_family
from .palette import (
    BOX_COLOR,
    DELETE_COLOR,
    FRAME_COLOR,
    HIGHLIGHT_COLOR,
    INSERT_COLOR,
    MUTED_COLOR,
    NO_DATA_EDGE,
    TEXT_COLOR,
    importance_rgb,
    reliance_rgb,
)

FIGURE_KINDS = ("map", "curves", "hallucination")
FORMATS = (".png", ".svg", ".pdf")

_RC = {"text.usetex": False, "font.size": 10, "svg.fonttype": "path", "axes.unicode_minus": True}


def _rc() -> dict:
    """The figures' settings, with the font chain that renders any script and emoji."""
    return {**_RC, "font.family": list(font_family())}


_TOKEN_FONT_PT = 11.0
_TOKEN_PAD_PT = 2.5  # box padding around a token's text
_MARGIN_IN = 0.15


# -- colour scales: the widget's own (palette.py) --------------------------------------
@cache
def importance_cmap() -> ListedColormap:
    """Sequential scale of the widget's heat map: dark violet-blue to light yellow."""
    colors = [importance_rgb(t) / 255 for t in np.linspace(0.0, 1.0, 256)]
    return ListedColormap(colors, name="eagle_importance")


@cache
def reliance_cmap() -> ListedColormap:
    """Diverging scale of modality reliance: -1 language prior (blue), +1 visual (orange)."""
    colors = [reliance_rgb(t) / 255 for t in np.linspace(-1.0, 1.0, 256)]
    return ListedColormap(colors, name="eagle_reliance")


# -- reliance of caption tokens -----------------------------------------------------------
def reliance_score(prior, visual) -> np.ndarray:
    """Visual share minus prior share of a token's probability, in [-1, 1] (NaN stays NaN).

    With p_full = prior + visual: (visual - prior) / max(p_full, prior). +1: the image gives
    all of it (p_blank = 0); -1: the blank image does at least as well (the language prior,
    the hallucination signal of docs/method.md section 6); 0 for a token both call impossible.
    """
    prior = np.asarray(prior, dtype=float)
    visual = np.asarray(visual, dtype=float)
    denom = np.maximum(prior + visual, prior)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(denom > 0, (visual - prior) / np.where(denom > 0, denom, 1.0), 0.0)
    score = np.where(np.isnan(prior) | np.isnan(visual), np.nan, score)
    return np.clip(score, -1.0, 1.0)


def token_reliance(explanation: Explanation, reliance=None) -> tuple[np.ndarray, np.ndarray]:
    """(prior, visual) over ALL generated tokens; NaN for tokens with nothing known.

    `reliance`: a (prior, visual) pair over all tokens (e.g. from `Explainer.token_reliance`)
    to use instead of what the explanation knows (Explanation.token_reliance).
    """
    if reliance is not None:  # checked as the explanation checks its own
        explanation = replace(explanation, generated_reliance=reliance)
    return explanation.token_reliance()


def display_token(text: str) -> str:
    """A token as a caption box shows it: no leading blank, visible newlines and blanks."""
    shown = str(text).lstrip(" \t").replace("\r\n", "\n").replace("\n", "\u21b5")
    return shown or "\u2423"


# -- entry points ---------------------------------------------------------------------------
def explanation_figure(
    explanation: Explanation,
    kind: str = "map",
    *,
    path=None,
    dpi: float = 150,
    **options,
) -> Figure:
    """The figure of `kind` ("map", "curves" or "hallucination"); saved to `path` if given.

    Options go to `map_figure`, `curves_figure` or `hallucination_figure`.
    """
    if not isinstance(explanation, Explanation):
        raise TypeError(f"explanation must be an Explanation, got {type(explanation).__name__}")
    builders = {"map": map_figure, "curves": curves_figure, "hallucination": hallucination_figure}
    if kind not in builders:
        raise ValueError(f"kind must be one of {', '.join(FIGURE_KINDS)}, got {kind!r}")
    figure = builders[kind](explanation, **options)
    if path is not None:
        save_figure(figure, path, dpi=dpi)
    return figure


def save_figure(figure: Figure, path, dpi: float = 150) -> Path:
    """Write a figure as PNG, SVG or PDF (chosen by the file suffix) at `dpi`."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"figure file must end in one of {', '.join(FORMATS)}, got {path.name!r}")
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or not 10 <= dpi <= 2400:
        raise ValueError(f"dpi must be a number between 10 and 2400, got {dpi!r}")
    with rc_context(_rc()):
        figure.savefig(path, dpi=dpi, format=suffix[1:], facecolor="white")
    return path


class PaperFigure(Figure):
    """A Figure on the Agg canvas that shows itself as PNG in Jupyter without pyplot."""

    def _repr_png_(self) -> bytes:
        import io

        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=self.dpi, facecolor="white")
        return buffer.getvalue()


def _new_figure(width: float, height: float) -> PaperFigure:
    figure = PaperFigure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    figure.patch.set_facecolor("white")
    return figure


def _check_width(width) -> float:
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not 2 <= width <= 40:
        raise ValueError(f"width must be a figure width in inches between 2 and 40, got {width!r}")
    return float(width)


def _resolve_cmap(cmap) -> Colormap:
    if cmap is None:
        return importance_cmap()
    if isinstance(cmap, Colormap):
        return cmap
    import matplotlib

    try:
        return matplotlib.colormaps[cmap]
    except (KeyError, TypeError):
        raise ValueError(f"cmap must be a matplotlib colormap or its name, got {cmap!r}") from None


def _check_boxes(boxes, height: int, width: int) -> list[tuple[float, float, float, float]]:
    """Ground-truth boxes as (x0, y0, x1, y1) pixels (x1, y1 exclusive); one box or a list."""
    if boxes is None:
        return []
    items = list(boxes)
    if len(items) == 4 and all(isinstance(v, (int, float, np.number)) for v in items):
        items = [items]
    out = []
    for box in items:
        values = list(box) if isinstance(box, (list, tuple, np.ndarray)) else []
        if len(values) != 4 or not all(isinstance(v, (int, float, np.number)) for v in values):
            raise ValueError(f"a box must be (x0, y0, x1, y1) in pixels, got {box!r}")
        x0, y0, x1, y1 = map(float, values)
        if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
            raise ValueError(
                f"box {tuple(values)} must satisfy 0 <= x0 < x1 <= {width} and "
                f"0 <= y0 < y1 <= {height} (the image is {width} x {height})"
            )
        out.append((x0, y0, x1, y1))
    return out


def _draw_boxes(ax, boxes) -> None:
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        rect = Rectangle(
            (x0 - 0.5, y0 - 0.5),
            x1 - x0,
            y1 - y0,
            fill=False,
            edgecolor=BOX_COLOR,
            linewidth=2.0,
            linestyle="--",
        )
        rect.set_gid(f"box-{i}")
        ax.add_patch(rect)


def _image_axes(ax, image: np.ndarray, title: str | None) -> None:
    ax.imshow(image, interpolation="antialiased")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color(FRAME_COLOR)
    if title:
        ax.set_title(title, fontsize=10, color=TEXT_COLOR, pad=4, parse_math=False)


def _grey(image: np.ndarray) -> np.ndarray:
    """A lightened grey-scale copy of an RGB image (the base under a map)."""
    luma = image[..., :3].astype(float) @ np.array([0.299, 0.587, 0.114])
    grey = (96 + 0.6 * luma).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def _highlighted(explanation: Explanation, target) -> set[int]:
    """The caption's tokens set in bold: the target shown, else the explained ones when
    they are not the whole answer."""
    if target is not None:
        return {target}
    if explanation.n_targets < len(explanation.generation):
        return set(explanation.positions)
    return set()


def _words_label(explanation: Explanation, positions) -> str:
    return "".join(explanation.generation.tokens[p] for p in positions).strip()


# -- the map figure -------------------------------------------------------------------------
def map_figure(
    explanation: Explanation,
    *,
    target: int | None = None,
    map_kind: str = "rank",
    boxes=None,
    reliance=None,
    show_image: bool = True,
    alpha: float = 0.6,
    cmap=None,
    width: float = 7.0,
    title: str | None = None,
) -> Figure:
    """Image and attribution map (with colour bar) above the caption coloured by reliance.

    `target`: a generated-token index: that token's own map (else all explained tokens).
    `map_kind`: "rank" or "gain" (see Explanation.attribution_map). `boxes`: ground-truth
    boxes (x0, y0, x1, y1). `reliance`: (prior, visual) over all tokens to colour tokens that
    were not explained (else they stay neutral). Explained tokens of a word-level result,
    or `target`, are outlined in the highlight colour.
    """
    if map_kind not in MAP_KINDS:
        raise ValueError(f"map_kind must be one of {MAP_KINDS}, got {map_kind!r}")
    if not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}")
    width = _check_width(width)
    if title is None and explanation.scoring == "approximate":
        title = APPROXIMATE_NOTE  # say so wherever the result is shown
    if not explanation.has_image:  # a text-only model's: the prompt's chips and the curves
        if boxes is not None:
            raise ValueError("boxes are drawn on an image; a text-only model's result has none")
        return _text_figure(explanation, target, map_kind, reliance, _resolve_cmap(cmap), width,
                            title)  # fmt: skip
    values = explanation.attribution_map(map_kind, target)
    image = explanation.image
    clip = explanation.is_clip  # the paper's 1 x F panel: each frame under its map
    img_h, img_w = image.shape[-3:-1]
    if clip and boxes is not None:
        raise ValueError("boxes are drawn on an image; this explains a clip")
    box_list = _check_boxes(boxes, img_h, img_w)
    cmap = _resolve_cmap(cmap)
    generation = explanation.generation
    prior, visual = token_reliance(explanation, reliance)
    scores = reliance_score(prior, visual)
    highlighted = _highlighted(explanation, target)

    with rc_context(_rc()):
        figure = _new_figure(width, 1.0)
        renderer = figure.canvas.get_renderer()
        font = FontProperties(size=_TOKEN_FONT_PT)
        inner = width - 2 * _MARGIN_IN
        bold = font.copy()
        bold.set_weight("bold")
        fonts = [bold if i in highlighted else font for i in range(len(generation.tokens))]
        lines = _layout_tokens(generation.tokens, inner, renderer, fonts, figure.dpi)
        line_h = _TOKEN_FONT_PT / 72 * 1.9
        # a result with prompt spans: the prompt as a row of chips on the map's scale
        chips = _prompt_chips(generation.prompt, explanation.spans) if explanation.spans else None
        if chips:
            chip_lines = _layout_tokens(
                [text for text, _ in chips], inner, renderer, [font] * len(chips), figure.dpi
            )
        # vertical budget, top to bottom (inches)
        title_h = 0.35 if title else 0.0
        cbar_w, cbar_labels = 0.14, 0.55
        gap = 0.08 if clip else 0.2
        panels = explanation.n_frames if clip else (2 if show_image else 1)
        panel_w = (inner - cbar_w - cbar_labels - gap * (panels - 1) - 0.08) / panels
        panel_h = panel_w * img_h / img_w
        if panel_h > 4.5:  # a tall image: limit the height, keep the aspect
            panel_w *= 4.5 / panel_h
            panel_h = 4.5
        panel_title_h = 0.3
        prompt_h = len(chip_lines) * line_h + 0.15 if chips else 0.3
        caption_h = len(lines) * line_h + 0.1
        legend_h = 0.5
        height = title_h + panel_title_h + panel_h + 0.15 + prompt_h + caption_h + legend_h
        height += _MARGIN_IN
        figure.set_size_inches(width, height)

        def rect(left, top, w, h):  # inches from the top-left -> figure fraction
            return [left / width, 1 - (top + h) / height, w / width, h / height]

        if title:
            figure.text(
                0.5, 1 - 0.2 / height, title, ha="center", va="center", fontsize=12,
                color=TEXT_COLOR, parse_math=False,
            )  # fmt: skip
        top = title_h + panel_title_h
        used = panels * panel_w + gap * (panels - 1) + 0.08 + cbar_w + cbar_labels
        left = _MARGIN_IN + (inner - used) / 2
        if target is not None:
            what = f"\u201c{_words_label(explanation, [target])}\u201d"
        elif highlighted:
            what = f"\u201c{_words_label(explanation, sorted(highlighted))}\u201d"
        else:
            what = "whole caption"
        if clip:  # one colour scale over the clip, so that frames compare
            times = explanation.frame_times
            for f in range(panels):
                ax_frame = figure.add_axes(rect(left, top, panel_w, panel_h))
                ax_frame.set_gid(f"frame-{f}")
                when = f" ({times[f]:.1f} s)" if times else ""
                _image_axes(ax_frame, _grey(image[f]), f"Frame {f + 1}{when}")
                shown = ax_frame.imshow(
                    values[f], cmap=cmap, vmin=0, vmax=1, alpha=alpha, interpolation="nearest"
                )
                shown.set_gid(f"attribution-{f}")
                left += panel_w + gap
            left -= panel_w + gap
        if show_image and not clip:
            ax_image = figure.add_axes(rect(left, top, panel_w, panel_h))
            ax_image.set_gid("image")
            _image_axes(ax_image, image, "image")
            _draw_boxes(ax_image, box_list)
            left += panel_w + gap
        if not clip:
            ax_map = figure.add_axes(rect(left, top, panel_w, panel_h))
            ax_map.set_gid("map")
            # the map over a lightened grey copy, so that the image's own colours don't mix in
            _image_axes(ax_map, _grey(image), f"{what}: {map_kind} map")
            overlay = ax_map.imshow(
                values, cmap=cmap, vmin=0, vmax=1, alpha=alpha, interpolation="nearest"
            )
            overlay.set_gid("attribution")
            _draw_boxes(ax_map, box_list)
        ax_cbar = figure.add_axes(rect(left + panel_w + 0.08, top, cbar_w, panel_h))
        bar = figure.colorbar(ScalarMappable(Normalize(0, 1), cmap), cax=ax_cbar, ticks=[0, 0.5, 1])
        bar.set_label("region importance", fontsize=9, color=TEXT_COLOR)
        bar.ax.tick_params(labelsize=8)
        ax_cbar.set_gid("map-colorbar")

        # the prompt (its spans as chips) and the caption
        top += panel_h + 0.15
        if chips:
            ax_chips = figure.add_axes(rect(_MARGIN_IN, top, inner, prompt_h - 0.05))
            _draw_chips(ax_chips, chips, chip_lines, explanation.span_values(map_kind, target),
                        cmap, inner, prompt_h - 0.05, line_h)  # fmt: skip
        else:
            figure.text(
                _MARGIN_IN / width,
                1 - (top + prompt_h / 2) / height,
                f"Prompt: {generation.prompt}",
                fontsize=9,
                color=MUTED_COLOR,
                va="center",
                parse_math=False,
            )
        top += prompt_h
        ax_caption = figure.add_axes(rect(_MARGIN_IN, top, inner, caption_h))
        _draw_caption(ax_caption, lines, scores, highlighted, inner, caption_h, line_h)
        top += caption_h + 0.12
        _draw_reliance_bar(figure, rect, top, inner, width, height, scores)
    return figure


def _draw_chips(ax, chips, chip_lines, span_values, cmap, inner, box_h, line_h) -> None:
    """The prompt's chips (_prompt_chips laid out) in `ax`, each span coloured on `cmap`."""
    ax.set_gid("prompt-chips")
    ax.set_xlim(0, inner)
    ax.set_ylim(box_h, 0)
    ax.axis("off")
    for row, line in enumerate(chip_lines):
        y = (row + 0.5) * line_h + 0.05
        for index, x, text in line:
            span = chips[index][1]
            style = {"fontsize": _TOKEN_FONT_PT, "ha": "left", "va": "center",
                     "parse_math": False}  # fmt: skip
            if span is None:  # the prompt's text between spans
                ax.text(x + _TOKEN_PAD_PT / 72, y, text, color=MUTED_COLOR, **style)
                continue
            face = cmap(float(span_values[span]))
            artist = ax.text(
                x + _TOKEN_PAD_PT / 72, y, text, color=_ink_on(face), **style,
                bbox={
                    "boxstyle": f"round,pad={_TOKEN_PAD_PT / _TOKEN_FONT_PT:.3f}",
                    "facecolor": face, "edgecolor": "none",
                },
            )  # fmt: skip
            artist.set_gid(f"span-{span}")


def _draw_caption(ax, lines, scores, highlighted, inner, caption_h, line_h) -> None:
    """The caption's tokens in `ax`, each coloured by its reliance score."""
    ax.set_gid("caption")
    ax.set_xlim(0, inner)
    ax.set_ylim(caption_h, 0)
    ax.axis("off")
    rcmap = reliance_cmap()
    for row, line in enumerate(lines):
        y = (row + 0.5) * line_h + 0.05
        for index, x, text in line:
            score = scores[index]
            known = not np.isnan(score)
            is_target = index in highlighted
            face = rcmap((score + 1) / 2) if known else "none"
            edge = HIGHLIGHT_COLOR if is_target else ("none" if known else NO_DATA_EDGE)
            artist = ax.text(
                x + _TOKEN_PAD_PT / 72,
                y,
                text,
                fontsize=_TOKEN_FONT_PT,
                fontweight="bold" if is_target else "normal",
                color=TEXT_COLOR if known else MUTED_COLOR,
                ha="left",
                va="center",
                parse_math=False,
                bbox={
                    "boxstyle": f"round,pad={_TOKEN_PAD_PT / _TOKEN_FONT_PT:.3f}",
                    "facecolor": face,
                    "edgecolor": edge,
                    "linewidth": 2.0 if is_target else 0.8,
                },
            )
            artist.set_gid(f"token-{index}")


def _draw_reliance_bar(figure, rect, top, inner, width, height, scores, evidence="visual evidence"):
    """The reliance colour bar under the caption (`evidence`: what its +1 end reads)."""
    bar_w = min(3.6, inner * 0.6)
    ax_rel = figure.add_axes(rect(_MARGIN_IN + (inner - bar_w) / 2, top, bar_w, 0.12))
    ax_rel.set_gid("reliance-colorbar")
    rbar = figure.colorbar(
        ScalarMappable(Normalize(-1, 1), reliance_cmap()),
        cax=ax_rel,
        orientation="horizontal",
        ticks=[-1, 0, 1],
    )
    rbar.ax.set_xticklabels(["language prior", "both", evidence], fontsize=8)
    rbar.ax.tick_params(length=2, pad=2)
    if any(np.isnan(scores)):
        figure.text(
            _MARGIN_IN / width + (inner - bar_w) / 2 / width + bar_w / width + 0.015,
            1 - (top + 0.06) / height,
            "outlined: not explained",
            fontsize=7.5,
            color=MUTED_COLOR,
            va="center",
        )


def _text_figure(explanation, target, map_kind, reliance, cmap, width, title) -> Figure:
    """map_figure of a text-only model's result: the prompt's chips (with their colour
    bar), the caption coloured by reliance and the curves; no image panel."""
    generation = explanation.generation
    prior, visual = token_reliance(explanation, reliance)
    scores = reliance_score(prior, visual)
    highlighted = _highlighted(explanation, target)
    with rc_context(_rc()):
        figure = _new_figure(width, 1.0)
        renderer = figure.canvas.get_renderer()
        font = FontProperties(size=_TOKEN_FONT_PT)
        bold = font.copy()
        bold.set_weight("bold")
        inner = width - 2 * _MARGIN_IN
        line_h = _TOKEN_FONT_PT / 72 * 1.9
        fonts = [bold if i in highlighted else font for i in range(len(generation.tokens))]
        lines = _layout_tokens(generation.tokens, inner, renderer, fonts, figure.dpi)
        chips = _prompt_chips(generation.prompt, explanation.spans)
        chip_lines = _layout_tokens(
            [text for text, _ in chips], inner, renderer, [font] * len(chips), figure.dpi
        )
        title_h = 0.35 if title else 0.0
        heading_h = 0.3
        prompt_h = len(chip_lines) * line_h + 0.15
        cbar_h = 0.55
        caption_h = len(lines) * line_h + 0.1
        legend_h = 0.55
        curves_h = min(3.2, inner * 0.5)
        height = title_h + heading_h + prompt_h + cbar_h + caption_h + legend_h + curves_h + 0.8
        height += _MARGIN_IN
        figure.set_size_inches(width, height)

        def rect(left, top, w, h):  # inches from the top-left -> figure fraction
            return [left / width, 1 - (top + h) / height, w / width, h / height]

        if title:
            figure.text(
                0.5, 1 - 0.2 / height, title, ha="center", va="center", fontsize=12,
                color=TEXT_COLOR, parse_math=False,
            )  # fmt: skip
        if target is not None:
            what = f"\u201c{_words_label(explanation, [target])}\u201d"
        elif highlighted:
            what = f"\u201c{_words_label(explanation, sorted(highlighted))}\u201d"
        else:
            what = "whole answer"
        top = title_h
        figure.text(
            _MARGIN_IN / width, 1 - (top + heading_h / 2) / height,
            f"{what}: {map_kind} values of the prompt's spans (a text-only model: no image)",
            fontsize=9, color=TEXT_COLOR, va="center", parse_math=False,
        )  # fmt: skip
        top += heading_h
        ax_chips = figure.add_axes(rect(_MARGIN_IN, top, inner, prompt_h - 0.05))
        _draw_chips(ax_chips, chips, chip_lines, explanation.span_values(map_kind, target), cmap,
                    inner, prompt_h - 0.05, line_h)  # fmt: skip
        top += prompt_h
        bar_w = min(3.6, inner * 0.6)
        ax_cbar = figure.add_axes(rect(_MARGIN_IN + (inner - bar_w) / 2, top, bar_w, 0.12))
        ax_cbar.set_gid("map-colorbar")
        bar = figure.colorbar(
            ScalarMappable(Normalize(0, 1), cmap), cax=ax_cbar, orientation="horizontal",
            ticks=[0, 0.5, 1],
        )  # fmt: skip
        bar.set_label("span importance", fontsize=8, color=TEXT_COLOR, labelpad=2)
        bar.ax.tick_params(labelsize=8, length=2, pad=2)
        top += cbar_h
        ax_caption = figure.add_axes(rect(_MARGIN_IN, top, inner, caption_h))
        _draw_caption(ax_caption, lines, scores, highlighted, inner, caption_h, line_h)
        top += caption_h + 0.12
        _draw_reliance_bar(figure, rect, top, inner, width, height, scores, "the prompt")
        top += legend_h + 0.35
        ax_curves = figure.add_axes(rect(_MARGIN_IN + 0.45, top, inner - 0.55, curves_h - 0.2))
        _draw_curves(ax_curves, explanation)
    return figure


def _prompt_chips(prompt: str, spans) -> list[tuple[str, int | None]]:
    """The prompt as (text, span index or None) boxes for _layout_tokens, "Prompt:" first:
    each span one box, the text between them a box per word; a box after a blank starts
    with one (which starts a new word there)."""
    boxes: list[tuple[str, int | None]] = [("Prompt:", None)]

    def add(text: str, span: int | None, blank: bool) -> None:
        boxes.append(((" " if blank or len(boxes) == 1 else "") + text, span))

    def plain(text: str) -> None:
        for match in re.finditer(r"(\s*)(\S+)", text):
            add(match.group(2), None, bool(match.group(1)))

    at = 0
    for i, span in enumerate(spans):
        plain(prompt[at : span.start])
        add(prompt[span.start : span.stop], i, span.start > 0 and prompt[span.start - 1].isspace())
        at = span.stop
    plain(prompt[at:])
    return boxes


def _ink_on(face) -> str:
    """Dark text on a light chip, light text on a dark one (relative luminance)."""
    red, green, blue = face[:3]
    return TEXT_COLOR if 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.45 else "#f4f5f7"


def _layout_tokens(tokens, width_in, renderer, fonts, dpi):
    """Wrap token boxes into lines: [[(token index, x inches, text), ...], ...]; each token
    measured in its own font (`fonts[i]`: a target is bold, so wider)."""
    pad = _TOKEN_PAD_PT / 72
    space = renderer.get_text_width_height_descent(" ", fonts[0], ismath=False)[0] / dpi
    lines: list[list[tuple[int, float, str]]] = [[]]
    x = 0.0
    for index, token in enumerate(tokens):
        text = display_token(token)
        width = renderer.get_text_width_height_descent(text, fonts[index], ismath=False)[0]
        w = width / dpi + 2 * pad
        previous = tokens[index - 1] if index else ""
        new_word = index > 0 and (token[:1].isspace() or previous[-1:].isspace())
        gap = (space + 0.02) if new_word else 0.02
        start = x + gap if lines[-1] else 0.0
        if lines[-1] and start + w > width_in:
            lines.append([])
            start = 0.0
        lines[-1].append((index, start, text))
        x = start + w
    return lines


# -- curves ---------------------------------------------------------------------------------
def curves_figure(
    explanation: Explanation, *, per_target: bool = False, width: float = 5.5
) -> Figure:
    """Insertion and deletion curves (mean over targets) against covered area, with AUCs.

    `per_target`: also draw each target's own curves thinly.
    """
    width = _check_width(width)
    with rc_context(_rc()):
        figure = _new_figure(width, width * 0.68)
        ax = figure.add_axes([0.12, 0.15, 0.84, 0.72])
        _draw_curves(ax, explanation, per_target)
    return figure


def _draw_curves(ax, explanation: Explanation, per_target: bool = False) -> None:
    """The mean insertion and deletion curves in `ax`, their AUCs in the legend."""
    x = explanation.areas
    ins = explanation.insertion_curve
    dele = explanation.deletion_curve
    ax.set_gid("curves")
    if per_target and explanation.n_targets > 1:
        for j in range(explanation.n_targets):
            ax.plot(x, ins[:, j], color=INSERT_COLOR, alpha=0.18, linewidth=0.8)
            ax.plot(x, dele[:, j], color=DELETE_COLOR, alpha=0.18, linewidth=0.8)
    (line_ins,) = ax.plot(
        x,
        ins.mean(axis=1),
        color=INSERT_COLOR,
        linewidth=2,
        label=f"insertion  AUC {explanation.insertion_auc:.3f}",
    )
    line_ins.set_gid("insertion")
    (line_del,) = ax.plot(
        x,
        dele.mean(axis=1),
        color=DELETE_COLOR,
        linewidth=2,
        label=f"deletion  AUC {explanation.deletion_auc:.3f}",
    )
    line_del.set_gid("deletion")
    ax.fill_between(x, ins.mean(axis=1), color=INSERT_COLOR, alpha=0.08, linewidth=0)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, max(1.0, float(max(ins.max(), dele.max()))) * 1.02)
    if explanation.n_image_regions:
        ax.set_xlabel("area of the top-ranked regions (fraction of the image)")
    else:  # the prompt alone: the x-axis is the spans' token counts
        ax.set_xlabel("tokens of the top-ranked spans (fraction of the prompt's)")
    ax.set_ylabel("p(target)")
    ax.grid(alpha=0.3, linewidth=0.6)
    for spine in ("top", "right"):
        ax.spines[spine].set_visible(False)
    ax.legend(loc="best", frameon=False, fontsize=9)
    label = _words_label(explanation, explanation.positions)
    if explanation.n_targets == len(explanation.generation):
        label = "whole caption"
    else:
        label = f"\u201c{label}\u201d"
    shown = "regions, deletion removes" if explanation.n_image_regions else "spans, deletion hides"
    ax.set_title(
        f"{label}: insertion shows the top-ranked {shown} them",
        fontsize=9,
        color=TEXT_COLOR,
        parse_math=False,
    )


# -- hallucination and mitigation (docs/method.md section 7) -------------------------------------
def mitigation_sweep(explanation: Explanation) -> dict:
    """What the hallucination figure shows of `explanation.mitigation` (checked), with the
    correct word quoted for labels and the share of the image the sweep tried."""
    m = explanation.checked_mitigation()
    return {
        "corrected": m.corrected,
        "original": m.original.text,
        "answer": m.answer.text if m.answer else None,
        "removed_regions": list(m.removed_regions),
        "removed_area": float(m.removed_area),
        "area_tried": float(np.isin(explanation.labels, m.removed_regions).mean()),
        "correct": f"\u201c{m.correct}\u201d" if m.correct else "the correct answer",
        "fill": m.fill,
        "counterfactual": m.counterfactual,
    }


def hallucination_figure(
    explanation: Explanation, *, alpha: float = 0.6, cmap=None, width: float = 9.0
) -> Figure:
    """Three panels: the hallucinated answer, the regions behind it (1 - the correct answer's
    rank map), and the image with those regions removed that corrects the answer."""
    sweep = mitigation_sweep(explanation)
    width = _check_width(width)
    cmap = _resolve_cmap(cmap)
    image = explanation.image
    img_h, img_w = image.shape[:2]
    drivers = 1.0 - explanation.attribution_map("rank")
    mitigated = image.copy()
    removed = np.isin(explanation.labels, sweep["removed_regions"])
    mitigated[removed] = fill_image(image, sweep["fill"])[removed]
    with rc_context(_rc()):
        panel_w = (width - 2 * _MARGIN_IN - 2 * 0.25 - 0.6) / 3
        panel_h = panel_w * img_h / img_w
        height = panel_h + 0.75
        figure = _new_figure(width, height)

        def rect(left, w):
            return [left / width, 0.1 / height, w / width, panel_h / height]

        left = _MARGIN_IN
        ax_a = figure.add_axes(rect(left, panel_w))
        ax_a.set_gid("answer")
        _image_axes(ax_a, image, f"(a) the answer\n\u201c{_short(sweep['original'])}\u201d")
        left += panel_w + 0.25
        ax_b = figure.add_axes(rect(left, panel_w))
        ax_b.set_gid("drivers")
        _image_axes(
            ax_b,
            _grey(image),
            f"(b) regions behind it\n1 \u2212 map of {sweep['correct']}",
        )
        ax_b.imshow(drivers, cmap=cmap, vmin=0, vmax=1, alpha=alpha, interpolation="nearest")
        cax = figure.add_axes(
            [(left + panel_w + 0.06) / width, 0.1 / height, 0.1 / width, panel_h / height]
        )
        bar = figure.colorbar(ScalarMappable(Normalize(0, 1), cmap), cax=cax, ticks=[0, 1])
        bar.ax.tick_params(labelsize=7)
        left += panel_w + 0.25 + 0.6
        ax_c = figure.add_axes(rect(left, panel_w))
        ax_c.set_gid("mitigated")
        flipped, unchanged = (
            ("now says", "still does not say it")
            if sweep["counterfactual"]
            else ("corrected", "still not corrected")
        )
        if sweep["corrected"]:
            answer = _short(sweep["answer"])
            title = f"(c) {sweep['removed_area']:.0%} removed: {flipped}\n\u201c{answer}\u201d"
        else:
            title = f"(c) {sweep['area_tried']:.0%} removed:\n{unchanged}"
        _image_axes(ax_c, mitigated, title)
        ax_c.title.set_color(INSERT_COLOR if sweep["corrected"] else DELETE_COLOR)
    return figure


def _short(text: str, limit: int = 28) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


# -- several methods on one image (engine/method_comparison.py) ----------------------------------
def comparison_figure(
    comparison,
    *,
    map_kind: str = "rank",
    alpha: float = 0.6,
    cmap=None,
    width: float = 7.0,
    path=None,
    dpi: float = 150,
) -> Figure:
    """A row per method: its map over the image (one colour scale for all, 0 to 1) and its
    insertion and deletion curves with their AUCs; the method's name heads the row.

    `map_kind`: "rank" or "gain" (Explanation.attribution_map: both read the measured
    curves, so every method's map is made one way), or "method": a baseline's own region
    scores (EAGLE's row keeps its rank map). Saved to `path` if given.
    """
    from .engine.method_comparison import Comparison

    if not isinstance(comparison, Comparison):
        raise TypeError(f"expected a Comparison, got {type(comparison).__name__}")
    if map_kind not in MAP_KINDS:
        raise ValueError(f"map_kind must be one of {MAP_KINDS}, got {map_kind!r}")
    if not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}")
    first = comparison.first
    if first.is_clip:
        raise ValueError("a comparison figure draws one image; draw each method's clip figure")
    width = _check_width(width)
    cmap = _resolve_cmap(cmap)
    img_h, img_w = first.image.shape[:2]
    base = _grey(first.image)
    rows = len(comparison)
    with rc_context(_rc()):
        inner = width - 2 * _MARGIN_IN
        cbar_w, cbar_labels, gap = 0.14, 0.55, 0.35
        panel_w = (inner - cbar_w - cbar_labels - 2 * gap) / 2.2
        panel_h = panel_w * img_h / img_w
        if panel_h > 3.0:  # a tall image: limit the height, keep the aspect
            panel_w *= 3.0 / panel_h
            panel_h = 3.0
        curve_w = inner - panel_w - cbar_w - cbar_labels - 2 * gap
        title_h, row_title_h, row_gap = 0.45, 0.3, 0.35
        height = title_h + rows * (row_title_h + panel_h + row_gap) + _MARGIN_IN
        figure = _new_figure(width, height)

        def rect(left, top, w, h):  # inches from the top-left -> figure fraction
            return [left / width, 1 - (top + h) / height, w / width, h / height]

        if first.n_targets == len(first.generation):
            what = "whole caption"
        else:
            what = f"\u201c{_words_label(first, first.positions)}\u201d"
        figure.text(
            0.5, 1 - 0.22 / height, f"{what}: {rows} methods over the same {first.n_regions} "
            "regions (one colour scale)", ha="center", va="center", fontsize=11,
            color=TEXT_COLOR, parse_math=False,
        )  # fmt: skip
        top = title_h
        for name, explanation in comparison:
            kind = (
                "rank" if map_kind == "method" and "method" not in explanation.extras else map_kind
            )
            values = explanation.attribution_map(kind)
            top += row_title_h
            ax_map = figure.add_axes(rect(_MARGIN_IN, top, panel_w, panel_h))
            ax_map.set_gid(f"map-{name}")
            _image_axes(ax_map, base, None)
            overlay = ax_map.imshow(
                values, cmap=cmap, vmin=0, vmax=1, alpha=alpha, interpolation="nearest"
            )
            overlay.set_gid(f"attribution-{name}")
            # the row's head: the method, its AUCs and what it cost
            figure.text(
                _MARGIN_IN / width, 1 - (top - 0.14) / height,
                f"{name}: insertion AUC {explanation.insertion_auc:.3f}, deletion AUC "
                f"{explanation.deletion_auc:.3f}  ({kind} map; {explanation.images_scored} "
                f"images, {explanation.seconds:.2f} s)",
                fontsize=9.5, color=TEXT_COLOR, va="center", parse_math=False, gid=f"head-{name}",
            )  # fmt: skip
            ax_curves = figure.add_axes(rect(_MARGIN_IN + panel_w + gap, top, curve_w, panel_h))
            ax_curves.set_gid(f"curves-{name}")
            x = explanation.areas
            ins = explanation.insertion_curve.mean(axis=1)
            dele = explanation.deletion_curve.mean(axis=1)
            ax_curves.plot(x, ins, color=INSERT_COLOR, linewidth=1.8,
                           label=f"insertion AUC {explanation.insertion_auc:.3f}")  # fmt: skip
            ax_curves.plot(x, dele, color=DELETE_COLOR, linewidth=1.8,
                           label=f"deletion AUC {explanation.deletion_auc:.3f}")  # fmt: skip
            ax_curves.fill_between(x, ins, color=INSERT_COLOR, alpha=0.08, linewidth=0)
            ax_curves.set_xlim(0, 1)
            ax_curves.set_ylim(0, max(1.0, float(max(ins.max(), dele.max()))) * 1.02)
            ax_curves.tick_params(labelsize=8)
            ax_curves.grid(alpha=0.3, linewidth=0.6)
            for spine in ("top", "right"):
                ax_curves.spines[spine].set_visible(False)
            ax_curves.legend(loc="best", frameon=False, fontsize=8)
            top += panel_h + row_gap
        # one colour scale: the bar beside the first row's map stands for every row
        ax_cbar = figure.add_axes(
            rect(inner + _MARGIN_IN - cbar_w - cbar_labels + 0.1, title_h + row_title_h,
                 cbar_w, panel_h)
        )  # fmt: skip
        bar = figure.colorbar(ScalarMappable(Normalize(0, 1), cmap), cax=ax_cbar, ticks=[0, 0.5, 1])
        bar.set_label("region importance", fontsize=9, color=TEXT_COLOR)
        bar.ax.tick_params(labelsize=8)
        ax_cbar.set_gid("map-colorbar")
    if path is not None:
        save_figure(figure, path, dpi=dpi)
    return figure
