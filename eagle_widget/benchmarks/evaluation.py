"""Running a benchmark: one top-level function per item, one writer on the driver side.

`evaluate_item(model, item, options)` does all of an item's work (read its image, rebuild
the answer from the list's ids, explain, measure) and returns an `ItemResult`; it writes
nothing, so a back end may run it anywhere. `evaluate` runs the items in order, and its
writer records each result in the run's folder (`batch.store.RunFolder`): a run resumes
where it stopped, an item counting as done when its recorded inputs and options match, and
a folder holding a run of other options or items is refused.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from ..batch.jobs import run_jobs
from ..batch.outcomes import Outcome
from ..batch.store import RunFolder, file_sha256
from ..engine import Explainer, Explanation, Generation, metrics
from ..engine.baselines import check_method
from ..engine.hallucination import mitigate
from ..engine.images import picture_from_bytes, to_rgb_array
from ..engine.prompt_spans import PROMPT_REGIONS
from ..engine.protocol import Decodes, GivesPromptIds, eos_token_ids_of, supports
from .coco import segmentation_mask
from .report import RESULT_FILE, EvaluationResult
from .tasks import Item

AMCR_RULES = ("ours", "authors")
# a row's image / prompt / prior shares of the answer (Explanation.source_reliance)
SHARE_KEYS = ("image_share", "prompt_share", "prior_share")
MASK_RULES = ("coco", "authors")


@dataclass(frozen=True)
class Options:
    """How every item is explained; the paper's settings by default (docs/benchmarks.md)."""

    n_regions: int = 64
    search: str = "greedy"
    early_stop: bool | str = "auto"  # lazy stops early, greedy and efficient do not
    fill: int | str | tuple = 0
    lambda1: float = 1.0
    lambda2: float = 1.0
    max_area: float = 1.0  # repope: the most area the correction sweep removes
    batch_size: int | None = None
    sensitive_margin: float = metrics.SENSITIVE_MARGIN  # the authors' flag, 0.2
    amcr_rule: str = "ours"  # "authors": full image first, answer text prefix (authors.py)
    mask_rule: str = "coco"  # "authors": polygons filled on rounded vertices, outline in
    method: str = "eagle"  # or a baseline (engine/baselines.py), ranked and measured alike
    # "word", "sentence" or "message": spans of each item's prompt ranked beside the image's
    # regions (docs/prompt-spans.md); each row then holds the image / prompt / prior shares
    prompt_regions: str | None = None

    def __post_init__(self):
        check_method(self.method, {})
        if self.prompt_regions is not None and self.prompt_regions not in PROMPT_REGIONS:
            raise ValueError(
                f"prompt_regions must be None or one of {', '.join(PROMPT_REGIONS)}, got "
                f"{self.prompt_regions!r}"
            )
        if self.amcr_rule not in AMCR_RULES:
            raise ValueError(
                f"amcr_rule must be one of {', '.join(AMCR_RULES)}, got {self.amcr_rule!r}"
            )
        if self.mask_rule not in MASK_RULES:
            raise ValueError(
                f"mask_rule must be one of {', '.join(MASK_RULES)}, got {self.mask_rule!r}"
            )
        if not 0 <= self.sensitive_margin < 1:
            raise ValueError(f"sensitive_margin must be in [0, 1), got {self.sensitive_margin!r}")

    def explainer(self, model, method: str | None = None, method_options=None) -> Explainer:
        """The Explainer of these options; `method` (given-map) overrides Options.method."""
        return Explainer(
            model,
            method=method or self.method,
            method_options=method_options,
            n_regions=self.n_regions,
            search=self.search,
            lambda1=self.lambda1,
            lambda2=self.lambda2,
            fill=self.fill,
            early_stop=self.early_stop,
            batch_size=self.batch_size,
            prompt_regions=self.prompt_regions,
        )

    def to_dict(self) -> dict:
        data = asdict(self)
        if self.method == "eagle":  # an EAGLE run records what it recorded before methods
            del data["method"]
        if self.prompt_regions is None:  # and one of the image alone, as before spans
            del data["prompt_regions"]
        data["fill"] = list(self.fill) if isinstance(self.fill, tuple) else self.fill
        return data


@dataclass
class ItemResult:
    row: dict  # the item's metrics (JSON-able)
    explanation: Explanation


# -- one item ----------------------------------------------------------------------------
def _options_of(options: Options | None, keywords: dict) -> Options:
    """evaluate's options: an Options, or its fields as keywords (one way, not both)."""
    names = [f.name for f in fields(Options)]
    unknown = sorted(set(keywords) - set(names))
    if unknown:
        raise TypeError(f"evaluate() got unknown options {unknown}; they are: {', '.join(names)}")
    if options is not None and keywords:
        raise ValueError(
            f"give the options as keywords ({', '.join(sorted(keywords))}) or as "
            "options=Options(...), not both"
        )
    return options if options is not None else Options(**keywords)


def evaluate_entry(options: Options, model, entry: tuple) -> ItemResult:
    """The batch runner's job: an (index, item, asked) entry of `evaluate`'s to-do list, with
    the image's bytes as a fourth when it came from another machine (with_image_bytes)."""
    pixels = picture_from_bytes(entry[3], entry[1].image).pixels if len(entry) > 3 else None
    return evaluate_item(model, entry[1], options, pixels)


def with_image_bytes(entry: tuple) -> tuple:
    """An entry as it goes to a Ray worker: with its image's bytes, read on this machine."""
    try:
        return (*entry[:3], Path(entry[1].image).read_bytes())
    except (OSError, TypeError):
        return entry


def evaluate_item(model, item: Item, options: Options, pixels=None) -> ItemResult:
    """Explain one item with the answer its list fixes, and measure it. Raises on a bad item.
    `pixels`: the image already read (else read from item.image)."""
    if item.error is not None:
        raise ValueError(item.error)
    image = to_rgb_array(Path(item.image)) if pixels is None else pixels  # errors name the path
    mask = None
    if item.segmentation is not None:  # a bad polygon fails now, before the search
        mask = segmentation_mask(item.segmentation, image.shape[:2], rule=options.mask_rule)
    generation = answer_of(model, item, image)
    if item.map is None:
        explainer = options.explainer(model)
    else:  # evaluate --maps: the item's saved map ranks the regions (authors_layout)
        from .authors_layout import map_explainer

        explainer = map_explainer(options, model, item.map)
    counter = [item.counter_id] if item.counter_id is not None else None
    explanation = explainer.explain(
        image, generation=generation, targets=item.targets, target_ids=counter
    )
    row = explanation_metrics(explanation, options.sensitive_margin)
    if explanation.prompt:  # the mean over the targets of each source's share
        shares = np.nanmean(explanation.source_reliance, axis=0)
        row.update(zip(SHARE_KEYS, (None if np.isnan(v) else float(v) for v in shares)))
    if item.list_name:
        row["list"] = item.list_name
    if item.box is not None:
        row.update(pointing_metrics(explanation.attribution_map("rank"), item.box, mask))
    if item.counter_id is not None and options.amcr_rule == "authors":
        from .authors import authors_sweep

        corrected, removed, revised = authors_sweep(
            model, image, item.prompt, explanation, item.label, options.max_area, options.fill
        )  # revised: full image first
        row.update(corrected=corrected, removed_area=removed, revised_answers=revised)
    elif item.counter_id is not None:
        outcome = mitigate(
            model, image, item.prompt, explanation, max_area=options.max_area, fill=options.fill
        )  # revised: one region removed first
        row.update(corrected=outcome.corrected, removed_area=outcome.removed_area)
        row["revised_answers"] = list(outcome.revised)
    if item.map is not None:
        row["method"] = "given-map"
    row.update(answer=generation.text, images_scored=explanation.images_scored)
    row["seconds"] = round(explanation.seconds, 3)
    row.update(method_cost(explanation))
    return ItemResult(row, explanation)


def method_cost(explanation: Explanation) -> dict:
    """A baseline's own images and seconds, apart from the ranking step that measures it
    (none for EAGLE: its search is its ranking, its row's images_scored and seconds); a
    white-box method's forward and backward passes; and the peak memory where the model
    measured it (protocol.MeasuresPeakMemory), EAGLE's included."""
    cost = explanation.extras.get("method")
    row = {}
    if cost is not None:
        row = {"method_images": cost["images"], "method_seconds": round(cost["seconds"], 3)}
        if "forward_passes" in cost:
            row["method_passes"] = int(cost["forward_passes"]) + int(cost.get("backward_passes", 0))
    peak = (explanation.peak_memory or {}).get("peak_bytes")  # EAGLE's: its whole search's
    if peak is not None:
        row["method_peak_bytes"] = int(peak)
    return row


def answer_of(model, item: Item, image: np.ndarray) -> Generation:
    """The answer the list's generated_ids hold, checked against the model's processor.

    The ids must begin with exactly the ids the processor builds for this image and prompt;
    the rest is the answer, scored by teacher forcing: up to the first end-of-sequence id, or
    further up to and including the last target when the list names later tokens (the
    authors' caption and MMVP lists make the final end token a target, word ''). A list made
    for another model, prompt or image size fails here, naming the first difference.
    """
    if not supports(model, GivesPromptIds):
        raise TypeError(
            f"{type(model).__name__} has no prompt_ids(image, prompt): the list's ids cannot "
            "be checked against its processor"
        )
    expected = list(model.prompt_ids(image, item.prompt))
    ids = item.generated_ids
    for position, (have, want) in enumerate(zip(ids, expected)):
        if have != want:
            raise ValueError(
                f"generated_ids differ from this model's prompt ids at position {position} "
                f"(list {have}, processor {want}): the list was made for another model, "
                "prompt or image size"
            )
    if len(ids) <= len(expected):
        raise ValueError(
            f"generated_ids hold {len(ids)} ids, no answer after the {len(expected)} prompt ids"
        )
    answer = list(ids[len(expected) :])
    stops = eos_token_ids_of(model)
    cut = next((i for i, t in enumerate(answer) if t in stops), len(answer))
    last = max(item.targets, default=-1)
    answer = answer[: max(cut, last + 1)]  # every target the list names is scored
    bad = [t for t in item.targets if not 0 <= t < len(answer)]
    if bad:
        raise ValueError(f"target indices {bad} are outside the answer's {len(answer)} tokens")
    for index, wanted in zip(item.targets, item.target_ids):
        if answer[index] != wanted:
            raise ValueError(
                f"answer token {index} is id {answer[index]} but the list names id {wanted}"
            )
    if supports(model, Decodes):
        tokens = list(model.decode(answer))
    elif item.words is not None and len(item.words) == len(answer):
        tokens = list(item.words)
    else:
        tokens = [f"<{t}>" for t in answer]
    return Generation(
        prompt=item.prompt,
        token_ids=answer,
        tokens=tokens,
        text="".join(tokens),
        image_size=(int(image.shape[0]), int(image.shape[1])),
    )


def explanation_metrics(explanation: Explanation, margin: float = metrics.SENSITIVE_MARGIN) -> dict:
    """Insertion, deletion and highest score over all targets and over the sensitive ones
    (those the image lifts by more than `margin`; None when the item has none)."""
    ins, dele, areas = explanation.insertion_curve, explanation.deletion_curve, explanation.areas
    row = {
        "n_targets": explanation.n_targets,
        "insertion_auc": metrics.insertion_auc(ins, areas),
        "deletion_auc": metrics.deletion_auc(dele, areas),
        "highest_score": metrics.highest_score(ins),
    }
    sensitive = metrics.sensitive_targets(explanation.p_full, explanation.p_blank, margin)
    row["n_sensitive"] = int(len(sensitive))
    some = len(sensitive) > 0
    row["insertion_auc_sensitive"] = metrics.insertion_auc(ins, areas, sensitive) if some else None
    row["deletion_auc_sensitive"] = metrics.deletion_auc(dele, areas, sensitive) if some else None
    row["highest_score_sensitive"] = metrics.highest_score(ins, sensitive) if some else None
    return row


def pointing_metrics(attribution: np.ndarray, box, mask) -> dict:
    """The pointing game by the authors' rule (any top pixel inside) and the strict one."""
    row = {
        "pg_box": metrics.pointing_game(attribution, box=box),
        "pg_box_strict": metrics.pointing_game(attribution, box=box, rule="mostly"),
    }
    if mask is not None:
        row["pg_mask"] = metrics.pointing_game(attribution, mask=mask)
        row["pg_mask_strict"] = metrics.pointing_game(attribution, mask=mask, rule="mostly")
    return row


# -- the run's folder (driver side) ------------------------------------------------------
def asked(item: Item, model_name: str, options: Options) -> dict:
    """What an item asks for, recorded beside its result: a changed entry, image, prompt,
    model or option makes it a new item."""
    wanted = {
        "task": item.task,
        "entry_sha256": item.digest,
        "image_sha256": file_sha256(item.image),
        "prompt": item.prompt,
        "model": model_name,
        "options": options.to_dict(),
    }
    if item.map is not None:  # evaluate --maps: another map is another item
        wanted["map_sha256"] = file_sha256(item.map)
    return wanted


def run_record(task: str, model_name: str, options: Options, items: list[Item]) -> dict:
    """run.json: what the whole run asks; a rerun into the folder must ask the same."""
    return {
        "task": task,
        "model": model_name,
        "options": options.to_dict(),
        "items": [item.id for item in items],
    }


def _row(item: Item, wanted: dict, outcome) -> dict:
    """The row of an outcome: its metrics, or its error, and what the item asked for."""
    if outcome.ok:
        return _plain({"id": item.id, "status": "scored", **outcome.result.row, "asked": wanted})
    row = {"id": item.id, "status": "failed", "error": outcome.error, "asked": wanted}
    if item.list_name:
        row["list"] = item.list_name
    return row


def _plain(value):
    """numpy scalars and bools as JSON values."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


# -- the loop ------------------------------------------------------------------------------
def evaluate(
    model,
    items: list[Item],
    out=None,
    options: Options | None = None,
    model_name: str | None = None,
    progress: Callable[[str], None] | None = None,
    workers: int | None = None,
    ray: str | None = None,
    gpus_per_worker: float = 0.0,
    setup: Callable[[], object] | None = None,
    **explain_options,
):
    """Explain and measure every item; returns an EvaluationResult (see report.py).

    How items are explained: keywords, as for Explainer and run_batch (`n_regions=32,
    search="lazy"`; the fields of Options, the paper's settings by default). A ready
    `options=Options(...)` is taken too, but not both.

    With `out`, every item is recorded there as it finishes and a run resumes: items done
    with the same inputs and options are read back, not run again. A failing item is
    recorded with its error and the run goes on. A folder holding a run of another task,
    model, options or items is refused (`batch.store.RunMismatch`, a ValueError) before
    anything runs. `model` may be None when nothing is left to run, or when `setup()`
    loads it (called only if an item is left). `progress` receives one line per item
    (default: stderr). `workers` / `ray` run the items on Ray actors that each call
    `setup()` (a top-level function or a functools.partial of one) to load their own
    model; see `eagle_widget.batch.run_jobs`.
    """
    options = _options_of(options, explain_options)
    if not items:
        raise ValueError("no items to evaluate")
    tasks = {item.task for item in items}
    if len(tasks) != 1:
        raise ValueError(f"items of one task only, got {sorted(tasks)}")
    task = tasks.pop()
    model_name = model_name or (type(model).__name__ if model is not None else "model")
    say = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    store = RunFolder(out, needs=(RESULT_FILE,)) if out is not None else None
    if store is not None:  # another run's folder is refused here, before any model loads
        store.start(run_record(task, model_name, options, items))
    rows: list[dict] = []
    explanations: dict[str, Explanation] = {}
    todo = []
    for item in items:
        wanted = asked(item, model_name, options)
        done = store.done(item.id, wanted) if store is not None else None
        if done is not None:
            rows.append(done)
        else:
            todo.append((len(rows), item, wanted))
            rows.append({})
    skipped = len(items) - len(todo)
    say(f"{task}: {len(items)} items, {skipped} already done, {len(todo)} to run")
    distributed = workers is not None or ray is not None
    if distributed and setup is None:
        raise ValueError("workers and ray need setup: a top-level function that loads the model")
    runnable = [entry for entry in todo if entry[1].error is None]
    if runnable and model is None and setup is None:
        raise ValueError("items are left to run but no model was given")
    began, images, count = time.perf_counter(), 0, 0

    def write(outcome) -> None:  # the only writer, on this side whatever runs the items
        nonlocal images, count
        slot, item, wanted = outcome.item
        row = _row(item, wanted, outcome)
        if outcome.ok:
            images += outcome.result.explanation.images_scored
            explanations[item.id] = outcome.result.explanation
            if store is not None:
                explanation = outcome.result.explanation
                store.write_item(
                    item.id, row, lambda folder: explanation.save(folder / RESULT_FILE)
                )
            status = f"ins {row['insertion_auc']:.3f} del {row['deletion_auc']:.3f}"
        else:  # recorded; the run goes on
            if store is not None:
                store.write_error(item.id, row)
            status = f"failed: {outcome.error}"
        rows[slot] = row
        count += 1
        elapsed = time.perf_counter() - began
        eta = elapsed / count * (len(todo) - count)
        say(
            f"[{count}/{len(todo)}] {item.id} | {status} | {images} images | "
            f"{_clock(elapsed)} | ETA {_clock(eta)}"
        )

    for entry in todo:  # a bad list entry fails without a model
        if entry[1].error is not None:
            write(Outcome(entry, error=entry[1].error))
    local = (lambda: model) if model is not None else setup  # loaded only if an item runs
    run_jobs(
        runnable,
        functools.partial(evaluate_entry, options),
        setup=setup if distributed else local,
        write=write,
        workers=workers,
        ray=ray,
        gpus_per_worker=gpus_per_worker,
        label=lambda entry: entry[1].id,
        size=lambda result: result.explanation.images_scored,
        log_dir=store.path("ray-logs") if store is not None else None,
        progress=False,  # write's line per item is the run's one progress line
        pack=with_image_bytes,
    )
    result = EvaluationResult(task, model_name, options.to_dict(), rows, skipped=skipped)
    result.explanations.update(explanations)
    if store is not None:
        result.save(store.folder)
    return result


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"
