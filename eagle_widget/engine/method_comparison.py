"""Several methods on one image: one generation, one label map, one Explanation per method.

`compare(model, image, methods=("eagle", "rise"))` prepares the run once (reads the image,
makes the regions, generates the answer, resolves the targets) and then ranks those same
regions with every method, each measured by the engine as `explain` measures it. Only the
method differs between the Explanations, so their AUCs and maps compare directly.

(This is one image; `eagle-widget evaluate --method ...` compares methods over a benchmark,
eagle_widget/benchmarks/comparison.py.)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .explainer import Explainer, ExplanationRun
from .explanation import Explanation
from .whitebox import is_white_box, patch_grid_of

DEFAULT_METHODS = ("eagle", "occlusion", "rise")


@dataclass
class Comparison:
    """One Explanation per method (in the order asked), all over the same regions, the same
    generation and the same targets; checked when made."""

    explanations: dict[str, Explanation]

    def __post_init__(self) -> None:
        if not isinstance(self.explanations, dict) or not self.explanations:
            raise ValueError("a Comparison needs a dict of method name -> Explanation, not empty")
        first_name, first = next(iter(self.explanations.items()))
        for name, explanation in self.explanations.items():
            if not isinstance(explanation, Explanation):
                raise TypeError(f"{name!r} is a {type(explanation).__name__}, not an Explanation")
            if name != method_of(explanation):
                raise ValueError(f"{name!r} holds the result of method {method_of(explanation)!r}")
            differs = _difference(first, explanation)
            if differs:
                raise ValueError(
                    f"{name!r} and {first_name!r} differ in {differs}: a comparison holds "
                    "results over the same regions, generation and targets"
                )

    @property
    def methods(self) -> list[str]:
        return list(self.explanations)

    def __getitem__(self, method: str) -> Explanation:
        if method not in self.explanations:
            raise KeyError(f"no method {method!r} here; compared: {', '.join(self.explanations)}")
        return self.explanations[method]

    def __iter__(self):
        return iter(self.explanations.items())

    def __len__(self) -> int:
        return len(self.explanations)

    @property
    def first(self) -> Explanation:
        return next(iter(self.explanations.values()))

    def rows(self) -> list[dict]:
        """Per method: its AUCs and what it cost (images, seconds, passes and peak memory
        where recorded). A baseline's own cost is apart from the ranking step that measures
        it; EAGLE's search is its ranking."""
        out = []
        for name, explanation in self.explanations.items():
            cost = explanation.extras.get("method") or {}
            passes = None
            if "forward_passes" in cost:
                passes = int(cost["forward_passes"]) + int(cost.get("backward_passes", 0))
            memory = explanation.peak_memory or {}
            out.append(
                {
                    "method": name,
                    "insertion_auc": explanation.insertion_auc,
                    "deletion_auc": explanation.deletion_auc,
                    "images_scored": int(explanation.images_scored),
                    "seconds": float(explanation.seconds),
                    "method_images": int(cost.get("images", explanation.images_scored)),
                    "method_seconds": float(cost.get("seconds", explanation.seconds)),
                    "passes": passes,
                    "peak_bytes": memory.get("peak_bytes"),
                }
            )
        return out

    def table(self) -> str:
        """Markdown: a row per method, its AUCs and its cost."""
        lines = [
            "| method | Ins ↑ | Del ↓ | images | seconds | passes | peak memory |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in self.rows():
            passes = "–" if row["passes"] is None else str(row["passes"])
            peak = row["peak_bytes"]
            memory = "–" if peak is None else f"{peak / 2**20:.0f} MiB"
            lines.append(
                f"| {row['method']} | {row['insertion_auc']:.4f} | {row['deletion_auc']:.4f} "
                f"| {row['images_scored']} | {row['seconds']:.2f} | {passes} | {memory} |"
            )
        return "\n".join(lines) + "\n"

    # -- presentation, imported when called (the engine itself needs none of it) ----------
    def figure(self, **options):
        """A row per method: its map on the image (one colour scale), its curves and AUCs
        (see eagle_widget.figures.comparison_figure)."""
        from ..figures import comparison_figure

        return comparison_figure(self, **options)

    def to_html(self, path):
        """One offline page: the widget with a button per method (see eagle_widget.export)."""
        from ..export import comparison_to_html

        return comparison_to_html(self, path)

    def show(self):
        """A widget of the finished comparison, a button per method; no model needed."""
        from ..widget import show_comparison

        return show_comparison(self)

    def __repr__(self) -> str:
        parts = ", ".join(
            f"{name}: ins {e.insertion_auc:.3f} del {e.deletion_auc:.3f}"
            for name, e in self.explanations.items()
        )
        return f"Comparison({self.first.n_regions} regions; {parts})"


def method_of(explanation: Explanation) -> str:
    """The method that ranked an Explanation's regions ("eagle" without a method record)."""
    return (explanation.extras.get("method") or {}).get("name", "eagle")


def _difference(a: Explanation, b: Explanation) -> str:
    """What of the shared footing two Explanations differ in ("" when none)."""
    if a.labels.shape != b.labels.shape or not np.array_equal(a.labels, b.labels):
        return "their regions"
    if a.image.shape != b.image.shape or not np.array_equal(a.image, b.image):
        return "their image"
    ga, gb = a.generation, b.generation
    if (ga.prompt, list(ga.token_ids)) != (gb.prompt, list(gb.token_ids)):
        return "their generation"
    if list(a.positions) != list(b.positions) or list(a.target_ids) != list(b.target_ids):
        return "their targets"
    return ""


def compare(
    model,
    image,
    methods: Iterable[str] = DEFAULT_METHODS,
    prompt=None,
    targets=None,
    *,
    method_options: dict | None = None,
    generation=None,
    target_ids=None,
    frames: int | None = None,
    **explainer_kwargs,
) -> Comparison:
    """Explain `image` with every method in `methods` over the same regions and generation.

    The answer is generated once (unless `generation` is given) and the regions made once;
    each method then ranks those regions. `method_options` maps a method's name to its
    options ({"rise": {"masks": 500}}); the other keywords (n_regions, regions, search,
    fill, batch_size, ...) are Explainer's and go to every method."""
    if isinstance(methods, str):
        methods = [methods]
    methods = list(dict.fromkeys(methods))
    if not methods:
        raise ValueError("give at least one method to compare")
    for key in ("method", "prompt_regions"):
        if key in explainer_kwargs:
            why = "give methods=" if key == "method" else "prompt spans are EAGLE's alone"
            raise ValueError(f"compare takes no {key}= ({why})")
    method_options = dict(method_options or {})
    unknown = set(method_options) - set(methods)
    if unknown:
        raise ValueError(
            f"method_options for {', '.join(sorted(unknown))}, which are not compared "
            f"({', '.join(methods)})"
        )
    # every explainer is built (its options and the model checked) before the model runs
    explainers = {
        m: Explainer(model, method=m, method_options=method_options.get(m), **explainer_kwargs)
        for m in methods
    }
    first = explainers[methods[0]].start(
        image, prompt, targets, generation, target_ids, frames=frames
    )
    runs = {methods[0]: first}
    for method in methods[1:]:
        if is_white_box(method):  # what start checks of a white-box method
            if first.frames is not None:
                raise ValueError(f"method {method!r} maps one image's tokens, not a clip's")
            patch_grid_of(model, first.image.shape[:2])
        # the first run's prepared inputs, shared: its generation, targets and regions
        runs[method] = ExplanationRun(
            explainers[method],
            first.image,
            first.generation,
            first.positions,
            first.target_ids,
            photo=first.photo,
            notes=first.notes,
            maps=(first.work_labels, first.labels, first.region_record),
            frames=first.frames,
        )
    results = {}
    for method, run in runs.items():
        for _ in run:
            pass
        results[method] = run.explanation()
    return Comparison(results)
