"""Several methods on one benchmark: one evaluate run per method, one table beside them.

Each method's run lives in its own folder, `OUT/<method>/`, a complete evaluate run (its
run.json, rows, metrics, histograms and gallery), so resume and the refusal of a folder of
other options stay the store's. The model loads once and serves every method. `OUT/table.md`
puts the methods side by side: the task's metrics and the method's own cost per method.
"""

from __future__ import annotations

import dataclasses
import html
from pathlib import Path

import numpy as np

from ..batch.store import RUN_FILE, RunFolder
from ..engine.baselines import METHODS, check_method
from .evaluation import Options, evaluate, run_record
from .report import COLUMNS, REPORT_CSS, EvaluationResult, cell_text

# the cost columns: the method's own images and seconds per item (a baseline's ranking
# step, the same 2N images for every baseline, is apart: images_scored - method_images),
# then a white-box method's passes and the largest peak memory, where recorded
COST = (("method_images", "images"), ("method_seconds", "seconds"))


@dataclasses.dataclass
class Comparison:
    """Every method's EvaluationResult, in the order asked."""

    results: dict[str, EvaluationResult]

    def table(self) -> str:
        """Markdown: a row per method, the task's columns then the method's own cost (its
        passes and peak memory "–" where not recorded: EAGLE's passes, models that do not
        measure memory)."""
        first = next(iter(self.results.values()))
        columns = COLUMNS[first.task]
        head = "| method | items | " + " | ".join(t for _, t in columns)
        head += " | own images | own seconds | all images | passes | peak memory |"
        lines = [head, "|---" * (len(columns) + 7) + "|"]
        for method, result in self.results.items():
            m = result.metrics
            cells = [cell_text(m.get(key), key) for key, _ in columns]
            cost = own_cost(result.rows)
            cells += [_number(cost["method_images"]), _number(cost["method_seconds"], 3)]
            cells.append(_number(cost["images_scored"]))
            cells.append(_number(cost["method_passes"]))
            peak = cost["method_peak_bytes"]
            cells.append("–" if peak is None else f"{peak / 2**20:.0f} MiB")
            lines.append(f"| {method} | {m['scored']} | " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def summary(self) -> str:
        return "\n".join(f"{m}: {r.summary()}" for m, r in self.results.items())

    @property
    def failed(self) -> int:
        return sum(r.counts["failed"] for r in self.results.values())

    def save(self, folder) -> list[Path]:
        """table.md, and report.html: the table as HTML and each method's own report (its
        histograms and gallery, in its folder)."""
        store = RunFolder(folder)
        store.folder.mkdir(parents=True, exist_ok=True)
        return [
            store.write_text("table.md", self.table()),
            store.write_text("report.html", self.page()),
        ]

    def page(self) -> str:
        first = next(iter(self.results.values()))
        lines = [line for line in self.table().splitlines() if not line.startswith("|---")]
        cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
        head = "".join(f"<th>{html.escape(c)}</th>" for c in cells[0])
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
            for row in cells[1:]
        )
        links = "".join(
            f"<li><a href='{html.escape(m)}/report.html'>{html.escape(m)}</a>: "
            f"{html.escape(r.summary())}</li>"
            for m, r in self.results.items()
        )
        title = f"{first.task} on {first.model}: {', '.join(self.results)}"
        return (
            "<!doctype html><html><head><meta charset='utf-8'>"
            "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
            "style-src 'unsafe-inline'\">"
            f"<title>{html.escape(title)}</title><style>{REPORT_CSS}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><table><tr>{head}</tr>{body}</table>"
            f"<h2>Each method's histograms and gallery</h2><ul>{links}</ul></body></html>"
        )

    @classmethod
    def from_folder(cls, folder) -> Comparison | None:
        """The comparison a folder holds (a run per method folder), or None if it is none."""
        folder = Path(folder)
        if (folder / RUN_FILE).exists() or not folder.is_dir():
            return None
        found = {
            sub.name: EvaluationResult.from_folder(sub)
            for sub in sorted(folder.iterdir())
            if sub.name in METHODS and (sub / RUN_FILE).exists()
        }
        ordered = {m: found[m] for m in METHODS if m in found}
        return cls(ordered) if ordered else None


def own_cost(rows: list[dict]) -> dict:
    """Mean images and seconds per scored item: the method's own (EAGLE's search is its
    ranking, so all of it) and everything the item scored, ranking included; the mean
    passes of a white-box method and the largest peak memory over the items, where
    recorded (else None)."""
    scored = [r for r in rows if r.get("status") == "scored"]

    def mean(key, fallback=None):
        values = [r.get(key, r.get(fallback)) for r in scored]
        values = [v for v in values if v is not None]
        return float(np.mean(values)) if values else None

    peaks = [r["method_peak_bytes"] for r in scored if r.get("method_peak_bytes") is not None]
    return {
        "method_images": mean("method_images", "images_scored"),
        "method_seconds": mean("method_seconds", "seconds"),
        "images_scored": mean("images_scored", "images_scored"),
        "method_passes": mean("method_passes"),
        "method_peak_bytes": max(peaks) if peaks else None,
    }


def _number(value, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def check_methods(methods) -> list[str]:
    """The methods asked, each once, in order; a bad name fails before any model loads."""
    methods = list(dict.fromkeys(methods))
    if not methods:
        raise ValueError("give at least one method")
    for method in methods:
        check_method(method, {})
    return methods


def evaluate_methods(model, items, out, methods, options: Options | None = None, setup=None,
                     **kwargs) -> Comparison:  # fmt: skip
    """`evaluate` once per method into `out/<method>`, the model loaded at most once."""
    methods = check_methods(methods)
    options = options or Options()
    loaded = [model]

    def load_once():  # only an item left to run loads it
        if loaded[0] is None:
            loaded[0] = setup()
        return loaded[0]

    if not items:
        raise ValueError("no items to evaluate")
    task = items[0].task
    name = kwargs.get("model_name") or (type(model).__name__ if model is not None else "model")
    for method in methods:  # every method's folder is checked before any item runs
        folder = RunFolder(Path(out) / method)
        if folder.run() is not None:
            folder.start(run_record(task, name, _with(options, method), items))
    results = {}
    for method in methods:
        results[method] = evaluate(
            loaded[0], items, out=Path(out) / method, options=_with(options, method),
            setup=load_once if setup is not None else None, **kwargs,
        )  # fmt: skip
    comparison = Comparison(results)
    comparison.save(out)
    return comparison


def _with(options: Options, method: str) -> Options:
    return dataclasses.replace(options, method=method)
