"""One self-contained, offline, interactive HTML page of a finished explanation.

The page inlines the widget's own front end (static/widget.js + widget.css) and the
widget's trait values (built by `wire.explanation_state`, the same builder the live
widget uses), and drives the front end with a small stand-in for the anywidget model
(js/src/page.js, built to static/page.js: get / set / save_changes / on / off / send, no
kernel). Clicking words works because the result holds every explained token's own curves:
the stand-in answers an "explain" request by selecting those tokens' columns. The file
holds no http(s) URL, loads nothing from the network, and forbids it with a
Content-Security-Policy.
"""

from __future__ import annotations

import base64
import html
import json
import re
import zlib
from pathlib import Path

from .engine import Explanation
from .engine.regions import regions_text
from .wire import comparison_state, explanation_state, json_filename

STATIC = Path(__file__).parent / "static"

STAND_IN = STATIC / "page.js"  # the stand-in model and boot code (from js/src/page.js)

_PAGE_CSS = """
body { margin: 0; padding: 24px; background: #ffffff; }
body[data-jp-theme-light="false"] { background: #1e1f22; }
.ew-page { max-width: 1000px; margin: 0 auto; }
.ew-page-foot { margin-top: 10px; font: 12px system-ui, sans-serif; color: #8a9099; }
"""

# nothing but the inline code, styles and in-page images may load
_CSP = (
    "default-src 'none'; script-src 'unsafe-inline' blob:; style-src 'unsafe-inline'; "
    "img-src data: blob:; connect-src blob:"
)


def explanation_to_html(explanation: Explanation, path) -> Path:
    """Write `explanation` as one self-contained offline HTML page; returns the path."""
    if not isinstance(explanation, Explanation):
        raise TypeError(f"explanation must be an Explanation, got {type(explanation).__name__}")
    return _write_page(explanation, explanation_state(explanation), path)


def comparison_to_html(comparison, path) -> Path:
    """Write a finished Comparison (engine/method_comparison.py) as one offline page: the widget
    with a button per method, the JSON export holding every method's result."""
    from .engine.method_comparison import Comparison

    if not isinstance(comparison, Comparison):
        raise TypeError(f"expected a Comparison, got {type(comparison).__name__}")
    first = comparison.first
    aucs = "; ".join(
        f"{name}: insertion AUC {e.insertion_auc:.3f}, deletion AUC {e.deletion_auc:.3f}, "
        f"{e.images_scored} images in {e.seconds:.1f} s"
        for name, e in comparison
    )
    foot = (
        f"{len(comparison)} methods over the same "
        f"{regions_text(first.n_regions, first.regions)}: {aucs}. Saved by eagle-widget; "
        "works offline."
    )
    export = {
        "json": {
            "methods": {name: e.to_dict(include_labels=False) for name, e in comparison},
        },
        "filename": json_filename(first).replace("eagle-", "eagle-methods-", 1),
    }
    state = comparison_state(comparison)
    return _write_page(first, state, path, foot=foot, export=export)


def page_html(explanation: Explanation, state: dict, foot=None, export=None) -> str:
    """The page's text: front end, state and stand-in model, all inline (`foot` and
    `export`: the line under the widget and the JSON export, default the explanation's)."""
    bundle = (STATIC / "widget.js").read_text(encoding="utf-8")
    css = (STATIC / "widget.css").read_text(encoding="utf-8")
    if "://" in css:
        raise ValueError("widget.css refers to a URL; the offline page cannot load it")
    generation = explanation.generation
    export = export or {
        "json": explanation.to_dict(include_labels=False),
        "filename": json_filename(explanation),
    }
    # the prompt alone (a text-only model, regions=None): its spans are the regions
    regions = (
        regions_text(explanation.n_regions, explanation.regions)
        if explanation.n_image_regions
        else f"{len(explanation.spans)} prompt spans"
    )
    foot = foot or (
        f"{regions}, "
        f"{explanation.search} search, "
        f"{explanation.images_scored} images scored in {explanation.seconds:.1f} s; "
        f"insertion AUC {explanation.insertion_auc:.3f}, deletion AUC "
        f"{explanation.deletion_auc:.3f}. Saved by eagle-widget; works offline."
    )
    blocks = "".join(
        f'<script type="application/json" id="{name}">{_js(value)}</script>\n'
        for name, value in (
            ("eagle-bundle", bundle),
            ("eagle-state", _encode(state)),
            ("eagle-export", export),
        )
    )
    script = STAND_IN.read_text(encoding="utf-8")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_text(f'EAGLE: {generation.text.strip()}'[:120])}</title>\n"
        f"<style>\n{css}\n{_PAGE_CSS}</style>\n</head>\n<body>\n"
        '<div class="ew-page">\n<div id="eagle-root"></div>\n'
        f'<div class="ew-page-foot">{_text(foot)}</div>\n'
        "<noscript>This page needs JavaScript to show the explanation.</noscript>\n</div>\n"
        f'{blocks}<script type="module">\n{script}</script>\n</body>\n</html>\n'
    )


def _write_page(explanation: Explanation, state: dict, path, **parts) -> Path:
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"the page must be written to a .html file, got {path.name!r}")
    if not path.parent.is_dir():
        raise ValueError(f"folder {str(path.parent)!r} does not exist")
    text = page_html(explanation, state, **parts)
    if re.search(r"https?://", text, flags=re.IGNORECASE):  # guaranteed by _js; kept as a guard
        raise ValueError("the offline page would contain an http(s) URL")
    path.write_text(text, encoding="utf-8")
    return path


def _encode(value):
    """Trait values as JSON: bytes become {"$bytes": base64} (Uint8Array in the page), or
    {"$deflate": base64} when zlib shrinks them well (label maps); non-finite floats null."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        packed = zlib.compress(raw, 9) if len(raw) > 4096 else raw
        if len(packed) < 0.7 * len(raw):
            return {"$deflate": base64.b64encode(packed).decode("ascii")}
        return {"$bytes": base64.b64encode(raw).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
        return None  # JSON has no NaN or infinity
    return value


def _js(value) -> str:
    """A JSON literal safe inside <script>: no "<" (so no "</script>"), no "://" sequence."""
    text = json.dumps(value, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    # these characters only occur inside JSON strings, where the escapes mean the same
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("://", "\\u003a//")


def _text(value: str) -> str:
    """HTML text with ':' escaped as well, so that no URL appears in the page."""
    return html.escape(value).replace(":", "&#58;")
