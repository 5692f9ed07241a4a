"""Explaining images to folders: one image, or a manifest of them on the batch runner.
An item's "image" may be a clip (a folder of frames or a video file, engine/clips.py) for a
model that takes clips; its "frames" samples it.

Each explanation writes result.json, result.npz, figure.png and explanation.html. A batch's
folder is a run folder (`store.RunFolder`): an item is done when its row.json records
what the item asks now (the image's content, not its path, with prompt, targets, model
and options), so a batch resumes where it stopped, from any working folder, and an edited
manifest never reuses another item's result; other options than the folder's are refused.
"""

from __future__ import annotations

import functools
import json
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..console import Progress, say, strip
from ..engine import Explainer, Explanation, resolve_prompt
from ..engine.baselines import estimated_method_images
from ..engine.clips import is_clip, natural_key
from ..engine.images import picture_from_bytes, read_picture
from ..engine.prompt_spans import PROMPT_REGIONS
from ..engine.regions import region_plan, regions_text
from ..engine.search import SEARCHES, estimated_images, most_images
from .jobs import ray_wanted, run_jobs
from .outcomes import Outcome, WorkerStats
from .store import RunFolder, file_sha256

OUTPUTS = ("result.json", "result.npz", "figure.png", "explanation.html")
SUMMARY_KEYS = ("caption", "insertion_auc", "deletion_auc", "images_scored", "seconds")
MANIFEST_KEYS = ("image", "prompt", "targets", "id", "frames")

Loader = Callable[[str, "str | None", "str | None"], object]


def load_model(spec: str, device: str | None = None, dtype: str | None = None):
    """The model of `--model`: "demo" (the embedded one), a hub id, a local path or
    openai:URL (see `models.load_model`)."""
    from .. import models

    return models.load_model(spec, device=device, dtype=dtype)


def parse_targets(text):
    """--targets / manifest targets: "all" or None -> None; "2,5" -> [2, 5]; else a word."""
    if text is None:
        return None
    if isinstance(text, list):
        return text
    if isinstance(text, int) and not isinstance(text, bool):
        return [text]
    if not isinstance(text, str):
        raise ValueError(f"targets must be all, token indices or a word, got {text!r}")
    stripped = text.strip()
    if stripped.lower() == "all":
        return None
    if re.fullmatch(r"\d+(\s*,\s*\d+)*", stripped):
        return [int(part) for part in stripped.split(",")]
    if not stripped:
        raise ValueError('targets is empty: give "all", token indices such as 2,5, or a word')
    return stripped


# -- one image ---------------------------------------------------------------------------------
def explain_one(
    model, image, prompt, targets, frames: int | None = None, **explainer_options
) -> Explanation:
    """Generate, explain with a progress bar, and measure every token's reliance.

    `image`: a Picture (engine.images.read_picture) keeps what reading the file did in
    extras["image"]; a clip (a folder of frames, a video file) takes `frames`."""
    explainer = Explainer(model, **explainer_options)
    # every token's prior / visual split needs image regions: the prompt alone (regions
    # None, a text-only model) measures the targets' own
    reliance = "targets" if explainer.regions is None else "all"
    run = explainer.start(image, prompt=prompt, targets=targets, reliance=reliance, frames=frames)
    say(f"caption: {run.generation.text.strip()!r}")
    regions = regions_text(run.n_regions, run.region_record)
    if explainer.method == "eagle":
        cost = estimated_images(explainer.search, run.n_regions, **explainer.search_options)
        most = most_images(explainer.search, run.n_regions)
        fewer = ", fewer if it stops early" if explainer.early_stop is not None else ""
        bound = f" (at most {most:,})" if most > cost else ""
        say(f"{regions}, {explainer.search} search: about {cost:,} images{fewer}{bound}")
    else:
        own = estimated_method_images(explainer.method, run.n_regions, explainer.method_options)
        say(
            f"{regions}, {explainer.method}: {own:,} images, then at most "
            f"{2 * run.n_regions + 2:,} to measure its ranking"
        )
    progress = Progress(run.total_steps)
    for _ in run:
        progress.update(run.images_scored)
    progress.close(run.images_scored)
    return run.explanation()


def write_outputs(explanation: Explanation, folder: Path) -> list[Path]:
    """result.json, result.npz, figure.png and explanation.html in `folder` (a clip's page
    shows its frames as one film strip)."""
    from ..export import explanation_to_html
    from ..figures import explanation_figure

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "result.json").write_text(json.dumps(explanation.to_dict()), encoding="utf-8")
    explanation.save(folder / "result.npz")
    explanation_figure(explanation, path=folder / "figure.png", dpi=150)
    explanation_to_html(explanation, folder / "explanation.html")
    return [folder / name for name in OUTPUTS]


def summary_line(explanation: Explanation, where: Path) -> str:
    how = explanation.extras.get("method", {}).get("name") or explanation.search
    regions = f"{explanation.n_regions} regions"
    if explanation.spans:  # and what the answer rests on, over the explained tokens
        image, prompt, prior = np.nanmean(explanation.source_reliance, axis=0)
        regions = (
            f"{explanation.n_image_regions} image regions + {len(explanation.spans)} prompt "
            f"spans (image {image:.2f} / prompt {prompt:.2f} / prior {prior:.2f})"
        )
    return (
        f"{explanation.generation.text.strip()!r} | {explanation.n_targets} of "
        f"{len(explanation.generation)} tokens, {regions}, "
        f"{how} | insertion AUC {explanation.insertion_auc:.3f}, deletion AUC "
        f"{explanation.deletion_auc:.3f} | {explanation.images_scored} images in "
        f"{explanation.seconds:.1f} s | {where}"
    )


# -- manifests ---------------------------------------------------------------------------------
def read_manifest(path: Path) -> list[dict]:
    """Items of a JSON-lines manifest: {"image", "prompt"?, "targets"?, "id"?, "frames"?}
    per line ("frames": how many frames of a clip to sample).

    Relative image paths are relative to the manifest's folder. A line that is not a valid
    item becomes an item with an "error", so that the batch reports it and goes on. An
    unreadable or empty manifest is a ValueError.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read manifest {str(path)!r}: {strip(error)}") from None
    entries = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                entries.append((number, json.loads(line)))
            except json.JSONDecodeError as error:  # its "line 1 column 1" is of the line alone
                entries.append((number, ValueError(f"not valid JSON ({error.msg} at column "
                                                   f"{error.colno})")))  # fmt: skip
    if not entries:
        raise ValueError(f"manifest {str(path)!r} has no items")
    return check_items(entries, path.parent)


def check_items(entries: Sequence[tuple[int, object]], base: Path) -> list[dict]:
    """Manifest entries (line number, parsed JSON or its error) as items; see read_manifest."""
    items: list[dict] = []
    seen: set[str] = set()
    for number, entry in entries:
        item = {"line": number}
        try:
            if isinstance(entry, Exception):
                raise entry
            if not isinstance(entry, dict) or not isinstance(entry.get("image"), str):
                raise ValueError('expected a JSON object with an "image" path')
            unknown = set(entry) - set(MANIFEST_KEYS)
            if unknown:
                raise ValueError(f"unknown keys {sorted(unknown)}; use {', '.join(MANIFEST_KEYS)}")
            image = Path(entry["image"])
            item["image"] = image if image.is_absolute() else base / image
            item["prompt"] = entry.get("prompt")  # absent or null: --prompt
            if item["prompt"] is not None:
                if not isinstance(item["prompt"], str):
                    raise ValueError(f"prompt must be a string, got {item['prompt']!r}")
                resolve_prompt(item["prompt"])
            if "targets" in entry:  # absent: --targets; null: all
                item["targets"] = entry["targets"]
            if entry.get("frames") is not None:  # absent or null: the batch's frames
                item["frames"] = _checked_frames(entry["frames"], item["image"])
            item["id"] = _item_id(entry.get("id"), number, image)
        except ValueError as error:
            item["id"] = f"line{number:04d}"
            item["error"] = f"manifest line {number}: {strip(error)}"
        if item["id"] in seen:
            item["error"] = f"manifest line {number}: id {item['id']!r} is used twice"
            item["id"] = f"line{number:04d}"
        seen.add(item["id"])
        items.append(item)
    return items


def _checked_frames(frames, image: Path) -> int:
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1:
        raise ValueError(f"frames must be a positive int, got {frames!r}")
    if not is_clip(image):
        raise ValueError("frames samples a clip (a folder of frames or a video file)")
    return frames


def _item_id(given, number: int, image: Path) -> str:
    if given is not None:
        if not isinstance(given, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", given):
            raise ValueError(f"id must be letters, digits, '.', '_' or '-', got {given!r}")
        return given
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", image.stem).strip("-") or "image"
    return f"{number:04d}-{stem}"


# -- batches -----------------------------------------------------------------------------------
@dataclass
class BatchReport:
    """What a batch came to: summary rows (as summary.json), counts and per-worker stats."""

    rows: list[dict]
    skipped: int
    workers: list[WorkerStats] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(row["status"] == "failed" for row in self.rows)

    @property
    def done(self) -> int:
        return len(self.rows) - self.failed


def run_batch(
    items,
    model: str = "demo",
    *,
    out,
    workers: int | None = None,
    ray: str | None = None,
    gpus_per_worker: float = 0.0,
    prompt: str | None = None,
    targets="all",
    n_regions: int = 50,
    search: str = "lazy",
    early_stop: bool | str = "auto",
    max_new_tokens: int = 64,
    working_size="auto",
    method: str = "eagle",
    device: str | None = None,
    dtype: str | None = None,
    load: Loader | None = None,
    record: dict | None = None,
    regions: str = "slic",
    grid: tuple[int, int] | None = None,
    prompt_regions: str | None = None,
    frames: int | None = None,
) -> BatchReport:
    """Explain every item not done yet into `out`/ID; a failing item is recorded, the rest go on.

    `items`: a JSON-lines manifest path or a list of manifest entries (dicts with "image",
    optional "prompt", "targets", "id"). `workers=None, ray=None` runs here; `workers=N`
    runs N Ray actors that each load `model` once (a private local cluster unless `ray`
    is "auto" or an address; see `jobs.run_jobs`). This process alone writes `out`.
    Outputs go to a hidden folder first and are renamed into place, so a killed run
    leaves no half-written item. `record`: more of what every item asks, kept in its
    row.json (a served model's name), so that a change of it redoes the items. A folder
    holding a batch run with other options (or model, prompt, targets, `record`) is
    refused with a `store.RunMismatch`, before any model loads.
    How items are explained is given as keywords (n_regions=, search=, ...), as for
    Explainer and `benchmarks.evaluate`. `regions`: "slic" or "grid" (`grid=(rows, cols)`,
    or about n_regions blocks); a label map or masks are of one image, so a batch takes none.
    `prompt_regions`: "word", "sentence" or "message" spans of each item's prompt ranked
    beside its image's regions (see Explainer). `frames`: how many frames of each clip item
    to sample when its line gives none (None: a folder's all, a video file's 8).
    """
    if isinstance(items, (str, Path)):
        items = read_manifest(Path(items))
    elif items and not all("line" in item and "id" in item for item in items):
        items = check_items(list(enumerate(items, start=1)), Path.cwd())
    if not items:
        raise ValueError("the batch has no items")
    if search not in SEARCHES:
        raise ValueError(f"search must be one of {', '.join(SEARCHES)}, got {search!r}")
    if not isinstance(n_regions, int) or n_regions < 1:
        raise ValueError(f"n_regions must be a positive integer, got {n_regions!r}")
    if not isinstance(regions, str) or regions not in ("slic", "grid"):
        raise ValueError(
            'a batch\'s regions are "slic" or "grid" (a label map or masks are of one image)'
        )
    region_plan(regions, n_regions, grid)  # a bad grid fails now, not in every item
    options = {
        "n_regions": n_regions,
        "search": search,
        "early_stop": early_stop,
        "max_new_tokens": max_new_tokens,
        "working_size": working_size,
        "method": method,
    }
    if regions != "slic":  # asked only then: folders written before user regions resume
        options["regions"] = regions
    if grid is not None:
        options["grid"] = list(grid)
    if prompt_regions is not None:  # asked only then, as regions
        if prompt_regions not in PROMPT_REGIONS:
            raise ValueError(
                f"a batch's prompt_regions are one of {', '.join(PROMPT_REGIONS)}, got "
                f"{prompt_regions!r}"
            )
        options["prompt_regions"] = prompt_regions
    if frames is not None:  # asked only then, as regions
        if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1:
            raise ValueError(f"frames must be None or a positive int, got {frames!r}")
        options["frames"] = frames
    store = RunFolder(out, needs=("result.json",))
    store.start({"model": model, "prompt": prompt, "targets": targets, **options, **(record or {})})
    for item in items:
        item["asked"] = {**_asked(item, prompt, targets, model, options), **(record or {})}
    todo = [item for item in items if store.done(item["id"], item["asked"]) is None]
    skipped = len(items) - len(todo)
    say(f"batch: {len(items)} items, {skipped} already done, {len(todo)} to explain")
    write = functools.partial(_write, store)
    for item in todo:  # a bad manifest line never reaches a worker
        if "error" in item:
            write(Outcome(item, error=item["error"]))
    stats = run_jobs(
        [item for item in todo if "error" not in item],
        explain_item,
        setup=functools.partial(load_announced, load or load_model, model, device, dtype),
        write=write,
        workers=workers,
        ray=ray,
        gpus_per_worker=gpus_per_worker,
        label=lambda item: item["id"],
        size=lambda explanation: explanation.images_scored,
        log_dir=store.folder / "ray-logs",
        pack=with_image_bytes,
    )
    rows = _summary(items, store)
    if ray_wanted(workers, ray):
        for worker in stats:
            say(worker.line())
    return BatchReport(rows, skipped, stats)


def with_image_bytes(item: dict) -> dict:
    """The item as it goes to a Ray worker: with its image file's bytes (a folder of frames:
    each frame file's name and bytes), read on this machine, so that a worker on another
    needs no shared disk (an unreadable file goes without, and fails on the worker with its
    own message)."""
    try:
        path = Path(item["image"])
        if path.is_dir():
            return {**item, "clip_files": [(f.name, f.read_bytes()) for f in frame_files(path)]}
        return {**item, "image_bytes": path.read_bytes()}
    except (OSError, KeyError, TypeError):
        return item


def frame_files(folder: Path) -> list[Path]:
    """The files of a folder of frames, in natural name order (clips.read_clip reads the
    image files among them)."""
    files = [f for f in Path(folder).iterdir() if f.is_file() and not f.name.startswith(".")]
    return sorted(files, key=lambda f: natural_key(f.name))


def explain_item(model, item: dict) -> Explanation:
    """The per-item job (runs on a worker): read the image (from the bytes the driver sent,
    else its path), explain it, return the result."""
    asked = item["asked"]
    path = Path(item["image"])
    if "clip_files" in item or is_clip(path):  # a folder sent as files is not here to look at
        frames = item.get("frames", asked.get("frames"))
        if "clip_files" in item or "image_bytes" in item:
            with tempfile.TemporaryDirectory(prefix="eagle-clip-") as here:
                copy = _unpacked_clip(item, Path(here), path.name)
                return _explain_asked(model, copy, asked, frames=frames)
        return _explain_asked(model, path, asked, frames=frames)
    if "image_bytes" in item:
        image = read_picture(picture_from_bytes(item["image_bytes"], item["image"]))
    else:
        image = read_picture(path)
    return _explain_asked(model, image, asked)


def _unpacked_clip(item: dict, here: Path, name: str) -> Path:
    """The clip the driver sent, as files in `here` under their own names (a worker on
    another machine reads them as the driver would have read the originals)."""
    if "clip_files" in item:
        folder = here / name
        folder.mkdir()
        for file_name, data in item["clip_files"]:
            (folder / file_name).write_bytes(data)
        return folder
    video = here / name
    video.write_bytes(item["image_bytes"])
    return video


def _explain_asked(model, image, asked: dict, frames: int | None = None) -> Explanation:
    """explain_one with what the item asked for."""
    targets = parse_targets(asked["targets"])
    keys = ("n_regions", "search", "early_stop", "max_new_tokens", "working_size", "method")
    options = {key: asked[key] for key in keys}
    options["regions"] = asked.get("regions", "slic")
    if asked.get("grid") is not None:
        options["grid"] = tuple(asked["grid"])
    options["prompt_regions"] = asked.get("prompt_regions")
    return explain_one(model, image, asked["prompt"], targets, frames=frames, **options)


def load_announced(load: Loader, spec: str, device, dtype):
    """`load(spec, device, dtype)` between two lines on stderr: what loads, and how long it took."""
    say(f"loading model {spec!r}...")
    began = time.perf_counter()
    model = load(spec, device, dtype)
    say(f"model ready in {time.perf_counter() - began:.1f} s")
    return model


def _write(store: RunFolder, outcome: Outcome) -> None:
    """The one writer: an item's outputs and row renamed into place, or its error record."""
    item = outcome.item
    error = outcome.error
    if error is None:
        explanation = outcome.result
        row = {
            "id": item["id"],
            "line": item["line"],
            "image": str(item["image"]),  # where it was read this time; "asked" holds content
            "status": "done",
            **_summary_fields(explanation),
            "asked": item["asked"],
        }
        try:
            store.write_item(item["id"], row, functools.partial(write_outputs, explanation))
            print(summary_line(explanation, store.path(item["id"])), flush=True)
            return
        except KeyboardInterrupt:  # stopped mid-write: the store left nothing half-written
            raise
        except Exception as unwritten:  # recorded like a failed item
            error = f"its outputs could not be written: {strip(unwritten)}"
    say(f"  {item['id']} failed: {error}")
    record = {"id": item["id"], "line": item["line"], "status": "failed", "error": error,
              "asked": item["asked"]}  # fmt: skip
    try:  # a folder left here is an earlier or another item's: not this one's result
        store.write_error(item["id"], record)
    except OSError as unwritten:
        say(f"  and its error record could not be written: {strip(unwritten)}")


def _summary_fields(explanation: Explanation) -> dict:
    return {
        "caption": explanation.generation.text,
        "insertion_auc": explanation.insertion_auc,
        "deletion_auc": explanation.deletion_auc,
        "images_scored": int(explanation.images_scored),
        "seconds": float(explanation.seconds),
    }


def _asked(item: dict, prompt, targets, model: str, options: dict) -> dict:
    """What an item asks for, recorded in its row: the image's content, not its path."""
    image = item.get("image")
    asked = {
        "image_sha256": file_sha256(image) if image else None,  # unreadable: None, it fails
        "prompt": item.get("prompt") or prompt,
        "targets": item.get("targets", targets),
        "model": model,
        **options,
    }
    if "frames" in item:  # the line's own: asked only then, so other rows stay as they were
        asked["frames"] = item["frames"]
    return asked


def _summary(items: list[dict], store: RunFolder) -> list[dict]:
    """summary.json: every item of this batch, done (its numbers) or failed (its error)."""
    rows = []
    for item in items:
        row = {"id": item["id"], "line": item["line"], "image": str(item.get("image", ""))}
        done = store.done(item["id"], item["asked"])
        if done is not None:
            row.update(status="done", **{key: done[key] for key in SUMMARY_KEYS})
        else:
            error = store.error(item["id"])
            row.update(status="failed", error=error["error"] if error else "not run")
        rows.append(row)
    store.write_summary(rows)
    return rows
