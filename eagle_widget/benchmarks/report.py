"""A run's result: per-item rows, the task's table (the paper's columns), files and a page.

The run's folder is read and written through `batch.store.RunFolder`; the one file name of
the benchmarks' own is an item's explanation, RESULT_FILE.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..batch.store import RUN_FILE, RunFolder
from ..engine import metrics
from .paper import paper_model, paper_numbers

RESULT_FILE = "result.npz"  # an item's explanation (curves, order, label map, image)

# the paper's columns of each task first, then the variants docs/benchmarks.md asks for beside them
COLUMNS: dict[str, list[tuple[str, str]]] = {
    "coco-caption": [
        ("insertion_auc", "Ins ↑"),
        ("deletion_auc", "Del ↓"),
        ("highest_score", "Ave. highest ↑"),
        ("insertion_auc_sensitive", "Ins (sensitive)"),
        ("deletion_auc_sensitive", "Del (sensitive)"),
        ("highest_score_sensitive", "Ave. highest (sensitive)"),
    ],
    "mmvp": [
        ("insertion_auc", "Ins ↑"),
        ("deletion_auc", "Del ↓"),
        ("highest_score", "Ave. highest ↑"),
        ("insertion_auc_sensitive", "Ins (sensitive)"),
        ("deletion_auc_sensitive", "Del (sensitive)"),
    ],
    "coco-object": [
        ("insertion_auc", "Ins ↑"),
        ("deletion_auc", "Del ↓"),
        ("pg_box", "PG box ↑"),
        ("pg_mask", "PG mask ↑"),
        ("pg_box_strict", "PG box (top region mostly in)"),
        ("pg_mask_strict", "PG mask (top region mostly in)"),
    ],
    "repope": [
        ("insertion_auc", "Ins ↑"),
        ("deletion_auc", "Del ↓"),
        ("amcr", "AMCR ↓"),
        ("csr_at_10", "CSR@10% ↑"),
        ("csr_at_10_authors", "CSR@10% (corrected only)"),
    ],
}
# per-item metrics whose mean over the scored items is a dataset figure (every task)
MEANS = (
    "insertion_auc",
    "deletion_auc",
    "highest_score",
    "insertion_auc_sensitive",
    "deletion_auc_sensitive",
    "highest_score_sensitive",
)
POINTING = ("pg_box", "pg_mask", "pg_box_strict", "pg_mask_strict")
PERCENT = {"csr_at_10", "csr_at_10_authors"}
HISTOGRAMS = ("insertion_auc", "deletion_auc", "highest_score", "removed_area")
GALLERY = 4  # best and worst items shown on the page


def aggregate(task: str, rows: list[dict]) -> dict:
    """Dataset figures: the mean of each per-item metric over the scored items (sensitive
    variants over the items that have a sensitive target), and the RePOPE rates."""
    scored = [r for r in rows if r.get("status") == "scored"]
    result: dict = {
        "items": len(rows),
        "scored": len(scored),
        "failed": sum(r.get("status") == "failed" for r in rows),
        "pending": sum(r.get("status") not in ("scored", "failed") for r in rows),
    }
    means = [*MEANS, *(POINTING if task == "coco-object" else ())]
    for key in means:
        values = [r[key] for r in scored if r.get(key) is not None]
        result[key] = float(np.mean(values)) if values else None
    result["items_sensitive"] = sum(r.get("n_sensitive", 0) > 0 for r in scored)
    if task == "repope" and scored:
        areas = [r["removed_area"] for r in scored]
        corrected = [r["corrected"] for r in scored]
        result["amcr"] = metrics.amcr(areas, corrected)
        result["csr_at_10"] = metrics.csr(areas, corrected)
        authors = metrics.csr(areas, corrected, rule="corrected")
        result["csr_at_10_authors"] = None if math.isnan(authors) else authors
        result["corrected"] = int(sum(corrected))
    return result


@dataclass
class EvaluationResult:
    """The rows of a run (one per item, in list order) and what they add up to."""

    task: str
    model: str
    options: dict
    rows: list[dict]
    skipped: int = 0  # items read back from an earlier run
    explanations: dict = field(default_factory=dict, repr=False)  # id -> this run's results

    @property
    def metrics(self) -> dict:
        return aggregate(self.task, self.rows)

    @property
    def counts(self) -> dict:
        m = self.metrics
        return {k: m[k] for k in ("items", "scored", "failed", "pending")}

    def summary(self) -> str:
        c = self.counts
        ran = c["scored"] + c["failed"] - self.skipped
        return (
            f"{self.task}: {c['scored']} of {c['items']} items scored ({self.skipped} read back "
            f"from an earlier run, {max(ran, 0)} run now), {c['failed']} failed"
            + (f", {c['pending']} not run" if c["pending"] else "")
        )

    def table(self) -> str:
        """Markdown: our row, and the paper's row when the model is one of the paper's."""
        m = self.metrics
        columns = COLUMNS[self.task]
        head = "| | " + " | ".join(title for _, title in columns) + " |"
        rule = "|---" * (len(columns) + 1) + "|"
        ours = f"ours ({self.model}, {m['scored']} items)"
        lines = [head, rule, _row(ours, [m.get(k) for k, _ in columns], columns)]
        paper = paper_numbers(self.model, self.task)
        if paper:
            name = f"paper ({paper_model(self.model)})"
            lines.append(_row(name, [paper.get(k) for k, _ in columns], columns))
        return "\n".join(lines) + "\n"

    def save(self, folder) -> list[Path]:
        """metrics.json, metrics.csv (one row per item), table.md and report.html."""
        store = RunFolder(folder)
        store.folder.mkdir(parents=True, exist_ok=True)
        info = {"task": self.task, "model": self.model, "options": self.options}
        return [
            store.write_json("metrics.json", {**info, "metrics": self.metrics}),
            store.write_text("metrics.csv", _csv(self.rows)),
            store.write_text("table.md", self.table()),
            store.write_text("report.html", report_page(self, store)),
        ]

    @classmethod
    def from_folder(cls, folder) -> EvaluationResult:
        """The result of a finished or half-finished run, from its files (no model)."""
        store = RunFolder(folder)
        run = store.run()
        if run is None:
            raise ValueError(f"{str(folder)!r} is not an evaluate run (no readable {RUN_FILE})")
        rows = [
            store.row(item_id) or {"id": item_id, "status": "pending"} for item_id in run["items"]
        ]
        return cls(run["task"], run["model"], run["options"], rows, skipped=len(rows))


def cell_text(value, key: str) -> str:
    if value is None:
        return "–"
    return f"{100 * value:.2f}%" if key in PERCENT else f"{value:.4f}"


def _row(name: str, values: list, columns) -> str:
    cells = " | ".join(cell_text(v, k) for v, (k, _) in zip(values, columns))
    return f"| {name} | {cells} |"


def _csv(rows: list[dict]) -> str:
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys and k != "asked"]
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=keys, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


# -- the offline page -------------------------------------------------------------------------
REPORT_CSS = """
body { font: 14px system-ui, sans-serif; margin: 24px; color: #1d1f23; background: #fff; }
table { border-collapse: collapse; margin: 12px 0; }
th, td { border: 1px solid #c9ccd1; padding: 4px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.hists, .gallery { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; width: 280px; }
figure img { width: 128px; image-rendering: pixelated; }
figcaption { font-size: 12px; }
a { color: #0b57d0; }
"""


def report_page(result: EvaluationResult, store: RunFolder) -> str:
    """report.html: the table, a histogram of each metric, and the best and worst items, each
    linking to its own offline page (written next to its result the first time)."""
    columns = COLUMNS[result.task]
    parts = [
        f"<h1>{html.escape(result.task)} on {html.escape(result.model)}</h1>",
        f"<p>{html.escape(result.summary())}</p>",
        _html_table(result, columns),
        "<h2>Distributions</h2><div class='hists'>",
    ]
    scored = [r for r in result.rows if r.get("status") == "scored"]
    for key in HISTOGRAMS:
        values = [r[key] for r in scored if isinstance(r.get(key), (int, float))]
        if values:
            parts.append(_histogram(key, values))
    parts.append("</div>")
    ranked = sorted(scored, key=lambda r: r["insertion_auc"], reverse=True)
    galleries = (("Best items", ranked[:GALLERY]), ("Worst items", ranked[::-1][:GALLERY]))
    for title, chosen in galleries:
        parts.append(f"<h2>{title} (insertion AUC)</h2><div class='gallery'>")
        parts += [_card(store, row, result) for row in chosen]
        parts.append("</div>")
    failed = [r for r in result.rows if r.get("status") == "failed"]
    if failed:
        parts.append("<h2>Failed items</h2><ul>")
        parts += [f"<li>{html.escape(r['id'])}: {html.escape(r['error'])}</li>" for r in failed]
        parts.append("</ul>")
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{html.escape(result.task)} report</title><style>{REPORT_CSS}</style></head><body>"
        + "\n".join(parts)
        + "</body></html>"
    )


def _html_table(result: EvaluationResult, columns) -> str:
    m = result.metrics
    head = "".join(f"<th>{html.escape(t)}</th>" for _, t in columns)
    rows = [(f"ours ({result.model}, {m['scored']} items)", [m.get(k) for k, _ in columns])]
    paper = paper_numbers(result.model, result.task)
    if paper:
        rows.append((f"paper ({paper_model(result.model)})", [paper.get(k) for k, _ in columns]))
    body = "".join(
        f"<tr><td>{html.escape(name)}</td>"
        + "".join(f"<td>{cell_text(v, k)}</td>" for v, (k, _) in zip(values, columns))
        + "</tr>"
        for name, values in rows
    )
    return f"<table><tr><th></th>{head}</tr>{body}</table>"


def _histogram(key: str, values: list[float], bins: int = 10) -> str:
    counts, _ = np.histogram(values, bins=bins, range=(0.0, 1.0))
    width, height, top = 240, 100, max(1, counts.max())
    bar = width / bins
    rects = "".join(
        f"<rect x='{i * bar + 1:.1f}' y='{height - c / top * height:.1f}' width='{bar - 2:.1f}' "
        f"height='{c / top * height:.1f}' fill='#3d6fb6'><title>{c}</title></rect>"
        for i, c in enumerate(counts)
    )
    return (
        f"<figure><svg width='{width}' height='{height + 16}' role='img' "
        f"aria-label='{key}'>{rects}<text x='0' y='{height + 13}' font-size='11'>0</text>"
        f"<text x='{width - 8}' y='{height + 13}' font-size='11'>1</text></svg>"
        f"<figcaption>{html.escape(key)}: mean {np.mean(values):.3f} over {len(values)} items"
        "</figcaption></figure>"
    )


def _card(store: RunFolder, row: dict, result: EvaluationResult) -> str:
    from ..engine import Explanation

    explanation = result.explanations.get(row["id"])
    try:
        if explanation is None:
            explanation = Explanation.load(store.path(row["id"], RESULT_FILE))
        page = store.path(row["id"], "explanation.html")
        if not page.exists():
            explanation.to_html(page)
        images = "".join(
            f"<img alt='{alt}' src='data:image/png;base64,{_png(a)}'>"
            for alt, a in (("image", explanation.image), ("map", _overlay(explanation)))
        )
        link = f"<a href='{html.escape(row['id'])}/explanation.html'>open</a>"
    except (OSError, ValueError) as error:
        images, link = f"<p>{html.escape(str(error))}</p>", ""
    text = html.escape(str(row.get("answer", "")))
    shares = ""
    if row.get("prompt_share") is not None:  # a run with --prompt-regions
        parts = [row.get(k) for k in ("image_share", "prompt_share", "prior_share")]
        shares = "<br>image / prompt / prior " + " / ".join(
            "–" if v is None else f"{v:.2f}" for v in parts
        )
    return (
        f"<figure>{images}<figcaption><b>{html.escape(row['id'])}</b> ins "
        f"{row['insertion_auc']:.3f}, del {row['deletion_auc']:.3f}{shares}<br>“{text}” {link}"
        "</figcaption></figure>"
    )


def _overlay(explanation) -> np.ndarray:
    from ..figures import importance_cmap

    heat = importance_cmap()(explanation.attribution_map("rank"))[..., :3] * 255
    return np.round(0.45 * explanation.image + 0.55 * heat).astype(np.uint8)


def _png(array: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()
