"""The authors' result layout, both ways (docs/authors-lists.md).

Out: `export_run` writes a finished `evaluate` run as the authors' evaluation scripts read
their own results: one JSON per item under OUT/json (the curves without their two ends,
per-target scores, cumulative areas, the full and blank images' scores, the objective's
values and, for RePOPE, the revised answers) and under OUT/npy the regions as a stack of
masks in ranked order (N x H x W x 1, 1 inside), from which their pointing game draws the
map. Their curve lists start after one region: `insertion_score[k - 1]` is the mean score
with the first k regions kept (its last entry the full image), `deletion_score[k - 1]` with
them removed (its last the blank image), `region_area[k - 1]` the area of the first k.
Their `revised_answering[j]` is the answer with the first j + 1 regions kept, so its last
entry is the full image's; their AMCR reads it from the end, so a sweep that stopped at its
first correction is exported as the tail it has.

In: `evaluate --maps DIR` scores a saved map per item (any tool's, or the authors' region
stacks) with our metrics: `read_map` reads it, the engine's "given-map" method ranks the
regions by the map's mean per region and measures insertion and deletion as for every
other method (engine/baselines.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..engine import Explanation
from ..engine.baselines import GIVEN_MAP, checked_map
from .report import RESULT_FILE
from .tasks import TASKS, Item, load_lists, read_list

MAP_SUFFIXES = (".npy", ".png")


# -- names -----------------------------------------------------------------------------------
def authors_name(task: str, entry: dict) -> str:
    """The file stem the authors' scripts give an item's results: the image's name without
    its extension, and for RePOPE (several questions per image) `_<id>` after it."""
    stem = Path(str(entry[TASKS[task].image_key])).stem
    return f"{stem}_{entry['id']}" if task == "repope" else stem


def authors_names(task: str, list_paths, images=".") -> dict[str, str]:
    """Item id (as load_lists gives it) -> the authors' file stem, for every entry."""
    names = {}
    items = load_lists(task, list_paths, images)
    entries = [e for path in list_paths for e in read_list(task, path)]
    for item, entry in zip(items, entries):
        if isinstance(entry, dict) and TASKS[task].image_key in entry:
            if task != "repope" or "id" in entry:
                names[item.id] = authors_name(task, entry)
    return names


# -- in: saved maps --------------------------------------------------------------------------
def read_map(path) -> np.ndarray:
    """A saved map as H x W floats (higher: more important).

    .npy: an H x W (or H x W x 1) map, or a stack of N region masks in ranked order
    (N x H x W or N x H x W x 1, as the authors save EAGLE's regions), read as the map
    whose k-th region (0-based) has the value N - k. .png: a grey-scale image (a colour
    rendering of a map is not its values and is refused)."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise ValueError(f"cannot read map {str(path)!r}: {error}") from None
        if array.ndim == 4 and array.shape[3] == 1:
            array = array[..., 0]
        if array.ndim == 3 and array.shape[2] != 1:  # a stack of region masks
            array = _stack_map(array, path)
    elif path.suffix.lower() == ".png":
        from PIL import Image

        try:
            with Image.open(path) as picture:
                array = np.asarray(picture)
        except OSError as error:
            raise ValueError(f"cannot read map {str(path)!r}: {error}") from None
        if array.ndim == 3:
            colour = array[..., :3]
            if np.any(colour != colour[..., :1]):
                raise ValueError(
                    f"map {str(path)!r} is a colour image: save the map's values "
                    "(grey-scale PNG or .npy), not a rendering of it"
                )
            array = colour[..., 0]
    else:
        raise ValueError(f"map {str(path)!r} must be .npy or .png")
    try:
        return checked_map(array)
    except ValueError as error:
        raise ValueError(f"map {str(path)!r}: {error}") from None


def _stack_map(stack: np.ndarray, path: Path) -> np.ndarray:
    """The map of N region masks in ranked order: N - k on the k-th, 0 outside all."""
    if not np.all((stack == 0) | (stack == 1)) or np.any(stack.sum(axis=0) > 1):
        raise ValueError(
            f"map {str(path)!r} is {stack.shape}: a 3-D map must be a stack of disjoint "
            "region masks (0 or 1), most important first"
        )
    ranks = np.arange(len(stack), 0, -1, dtype=np.float64)
    return (stack * ranks[:, None, None]).max(axis=0)


def attach_maps(items: list[Item], folder, names: dict[str, str] | None = None) -> None:
    """Give every readable item its map from `folder`: `<item id>.npy|.png`, else the authors'
    name for it (`names`, e.g. `000000397133.npy`, as their scripts save maps, directly in
    the folder or in its npy/). Raises, naming some, when maps are missing."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"--maps folder {str(folder)!r} does not exist")
    names = names or {}
    missing = []
    for item in items:
        if item.error is not None:
            continue
        stems = [item.id, *([names[item.id]] if item.id in names else [])]
        found = [
            where / f"{stem}{suffix}"
            for stem in stems
            for where in (folder, folder / "npy")
            for suffix in MAP_SUFFIXES
        ]
        item.map = next((p for p in found if p.is_file()), None)
        if item.map is None:
            missing.append(stems[-1])
    if missing:
        shown = ", ".join(f"{m}.npy" for m in missing[:3]) + (" ..." if len(missing) > 3 else "")
        raise ValueError(
            f"--maps folder {str(folder)!r} has no map for {len(missing)} of "
            f"{len(items)} items (e.g. {shown}); name maps by item id or image name"
        )


def map_explainer(options, model, path):
    """The Explainer that ranks an item's regions by its saved map (Options' other settings)."""
    return options.explainer(model, method=GIVEN_MAP, method_options={"map": read_map(path)})


# -- out: the authors' per-item files ---------------------------------------------------------
def curves_record(explanation: Explanation) -> dict:
    """The search's part of an authors' result file, from our curves (see the module's notes)."""
    ins, dele = explanation.insertion_curve, explanation.deletion_curve
    smdl = explanation.lambda1 * ins.mean(axis=1) + explanation.lambda2 * (1 - dele.mean(axis=1))
    return {
        "insertion_score": ins[1:].mean(axis=1).tolist(),
        "deletion_score": dele[1:].mean(axis=1).tolist(),
        "smdl_score": smdl[1:].tolist(),
        "insertion_word_score": ins[1:].tolist(),
        "deletion_word_score": dele[1:].tolist(),
        "region_area": explanation.areas[1:].tolist(),
        "lambda1": explanation.lambda1,
        "lambda2": explanation.lambda2,
        "sub-region_number": explanation.n_regions,
        "org_score": explanation.p_full.tolist(),
        "baseline_score": explanation.p_blank.tolist(),
    }


def region_stack(explanation: Explanation) -> np.ndarray:
    """N x H x W x 1 uint8: the mask of each region (1 inside), in ranked order."""
    order = np.asarray(explanation.order)
    return (explanation.labels[None] == order[:, None, None]).astype(np.uint8)[..., None]


def revised_answering(row: dict, amcr_rule: str) -> list[str]:
    """The authors' `revised_answering` of a RePOPE row: insertion order, full image last.
    Our rule's sweep starts with one region removed, so the full image's answer there is the
    list's (the answer the item explains)."""
    if "revised_answers" not in row:
        raise ValueError(
            f"item {row['id']} holds no revised answers (a run of an older eagle-widget): "
            "run evaluate again into a new folder"
        )
    sweep = list(row["revised_answers"])
    if amcr_rule != "authors":
        sweep = [row["answer"], *sweep]
    return sweep[::-1]


def authors_record(task: str, explanation: Explanation, row: dict, entry: dict, rule: str):
    """One item's JSON in the authors' layout."""
    record = curves_record(explanation)
    record["selected_interpretation_token_id"] = [int(p) for p in explanation.positions]
    record["selected_interpretation_token_word_id"] = [int(t) for t in explanation.target_ids]
    if task == "coco-object":
        record.update(
            select_category=entry["select_category"],
            words=entry.get("target_generated_token"),
            location=entry["location"],
            segmentation=entry["segmentation"],
        )
        if "output_word_id" in entry:
            record["output_word_id"] = entry["output_word_id"]
    else:
        record["words"] = entry.get("words")
    if task == "repope":
        record.update(
            question=entry["question"],
            label=str(entry["label"]).strip().lower(),
            counter_word_id=entry["counter_word_id"],
            id=entry.get("id"),
            revised_answering=revised_answering(row, rule),
        )
    record["eagle_widget"] = {"item": row["id"], "answer": row.get("answer")}  # provenance
    return record


def export_run(run_dir, out_dir, list_paths, masks: bool = True) -> dict:
    """Write the run's scored items in the authors' layout (OUT/json, OUT/npy); `list_paths`
    are the run's lists, in the order given to evaluate. Failed and pending items are left
    out, as the authors' scripts average over the files present. Returns what was written."""
    from .report import EvaluationResult

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    result = EvaluationResult.from_folder(run_dir)
    task = result.task
    items = {item.id: item for item in load_lists(task, list_paths, ".")}
    entries = dict(zip(items, (e for p in list_paths for e in read_list(task, p))))
    scored = [r for r in result.rows if r.get("status") == "scored"]
    names: dict[str, str] = {}
    for row in scored:  # every check before the first file
        item = items.get(row["id"])
        if item is None:
            raise ValueError(f"the run's item {row['id']} is in none of the lists given")
        if row.get("asked", {}).get("entry_sha256") != item.digest:
            raise ValueError(f"the run's item {row['id']} was made from another list entry")
        name = authors_name(task, entries[row["id"]])
        if name in names.values():
            other = next(k for k, v in names.items() if v == name)
            raise ValueError(f"items {other} and {row['id']} would both be written as {name}")
        names[row["id"]] = name
    if not scored:
        raise ValueError(f"the run in {str(run_dir)!r} has no scored item to export")
    (out_dir / "json").mkdir(parents=True, exist_ok=True)
    if masks:
        (out_dir / "npy").mkdir(exist_ok=True)
    rule = result.options.get("amcr_rule", "ours")
    for row in scored:
        explanation = Explanation.load(run_dir / row["id"] / RESULT_FILE)
        record = authors_record(task, explanation, row, entries[row["id"]], rule)
        name = names[row["id"]]
        (out_dir / "json" / f"{name}.json").write_text(
            json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8"
        )
        if masks:
            np.save(out_dir / "npy" / f"{name}.npy", region_stack(explanation))
    return {
        "task": task,
        "written": len(scored),
        "left_out": [r["id"] for r in result.rows if r.get("status") != "scored"],
        "masks": masks,
    }
