"""The four benchmark tasks and readers of the authors' list files (docs/benchmarks.md).

A list is a JSON array of objects, one per item, in one of four formats. `load` reads one
into `Item`s; an entry that cannot be read becomes an Item with an `error`, so that a run
records it and goes on. A list of another task's format is refused as a whole.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

CAPTION_PROMPT = (
    "Describe the image in one factual English sentence of no more than 20 words. "
    "Do not include information that is not clearly visible."
)
REPOPE_TEMPLATE = (
    "You are asked a visual question answering task. \n"
    'First, answer strictly with "Yes" or "No". \n'
    "Then, provide a short explanation if necessary.\n"
    "\n"
    "Question: {question}\n"
    "Answer:"
)


@dataclass(frozen=True)
class Task:
    name: str
    level: str  # "sentence", "word" or "hallucination"
    prompt: str  # the prompt, or a template with {question}
    keys: tuple[str, ...]  # fields an entry must have
    image_key: str


TASKS: dict[str, Task] = {
    "coco-caption": Task(
        "coco-caption",
        "sentence",
        CAPTION_PROMPT,
        ("image_path", "gt_caption", "generated_ids", "selected_interpretation_token_id"),
        "image_path",
    ),
    "coco-object": Task(
        "coco-object",
        "word",
        CAPTION_PROMPT,
        (
            "image_path",
            "generated_ids",
            "select_category",
            "location",
            "segmentation",
            "target_generated_index",
        ),
        "image_path",
    ),  # fmt: skip
    "mmvp": Task(
        "mmvp",
        "sentence",
        "{question}",
        ("image_filename", "question", "generated_ids", "selected_interpretation_token_id"),
        "image_filename",
    ),
    "repope": Task(
        "repope",
        "hallucination",
        REPOPE_TEMPLATE,
        ("image_name", "question", "label", "generated_ids", "counter_word_id"),
        "image_name",
    ),
}


@dataclass
class Item:
    """One list entry, read: what to explain and the ground truth to measure it against."""

    task: str
    id: str  # folder name in a run: position in the list and image name
    image: Path
    prompt: str = ""
    generated_ids: list[int] = field(default_factory=list)  # prompt ids + answer ids
    targets: list[int] = field(default_factory=list)  # answer-token indices to explain
    target_ids: list[int] = field(default_factory=list)  # the ids the list has there
    counter_id: int | None = None  # repope: the correct answer's first token, explained
    label: str | None = None  # repope: the correct answer
    box: list[float] | None = None  # coco-object: [x1, y1, x2, y2]
    segmentation: object = None  # coco-object: COCO polygons or RLE
    category: str | None = None
    answer: str = ""  # the list's answer text (generate_sentence)
    words: list[str] | None = None  # the list's answer tokens, when it has them
    digest: str = ""  # sha256 of the entry: a changed entry is a new item
    error: str | None = None
    list_name: str = ""  # the list file's name (without .json) the entry came from
    map: Path | None = None  # evaluate --maps: a saved attribution map, scored, not searched


def task_of(name: str) -> Task:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}")
    return TASKS[name]


def make_prompt(template: str, question: str | None) -> str:
    """The prompt of an item: the task's template with the item's question put in."""
    return template.replace("{question}", question or "")


def read_list(task: str, path) -> list[dict]:
    """The entries of a list file, checked to be of `task`'s format (ValueError otherwise)."""
    spec = task_of(task)
    try:
        entries = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"cannot read list {str(path)!r}: {error}") from None
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"list {str(path)!r} must be a non-empty JSON array of objects")
    objects = [e for e in entries if isinstance(e, dict)]
    if not objects or not any(all(k in e for k in spec.keys) for e in objects):
        guess = next(
            (t for t in TASKS.values() if t is not spec and all(k in objects[0] for k in t.keys)),
            None,
        ) if objects else None  # fmt: skip
        looks = f"; it looks like a {guess.name} list" if guess else ""
        missing = [k for k in spec.keys if objects and k not in objects[0]]
        raise ValueError(
            f"list {str(path)!r} is not a {task} list: its first entry lacks "
            f"{', '.join(missing) or 'the expected fields'}{looks}"
        )
    return entries


def load(task: str, list_path, images, prompt: str | None = None) -> list[Item]:
    """Items of a list in the authors' format; `images` is the folder of the image files;
    `prompt` replaces the task's prompt (a template with {question} for mmvp and repope)."""
    spec = task_of(task)
    entries = read_list(task, list_path)
    folder = Path(images)
    template = spec.prompt if prompt is None else prompt
    name = Path(list_path).stem
    items = [_item(spec, i, entry, folder, template) for i, entry in enumerate(entries)]
    for item in items:
        item.list_name = name
    return items


def load_lists(task: str, list_paths, images, prompt: str | None = None) -> list[Item]:
    """Items of several lists of one task as one run (e.g. RePOPE's FP and TN lists), in the
    order given. Every list is read and checked before any item runs. With more than one list,
    an item's id starts with its list's name, so that equal positions do not collide; with one,
    ids are those of `load`."""
    paths = [Path(p) for p in list_paths]
    if not paths:
        raise ValueError("give at least one list")
    names = [p.stem for p in paths]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"lists must have distinct file names, got {', '.join(twice)} twice")
    items: list[Item] = []
    for path in paths:
        loaded = load(task, path, images, prompt)
        if len(paths) > 1:
            stem = re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-") or "list"
            for item in loaded:
                item.id = f"{stem}-{item.id}"
        items += loaded
    return items


def check_images(items: list[Item], images) -> None:
    """ValueError when the folder is missing or holds none of the items' images (a wrong
    --images); single missing files are left to the items, which record them."""
    folder = Path(images)
    if not folder.is_dir():
        raise ValueError(f"images folder {str(folder)!r} does not exist")
    readable = [item for item in items if item.error is None]
    if readable and not any(item.image.is_file() for item in readable):
        raise ValueError(
            f"images folder {str(folder)!r} holds none of the list's images "
            f"(e.g. {readable[0].image.name!r})"
        )


def _item(spec: Task, index: int, entry, folder: Path, template: str) -> Item:
    digest = hashlib.sha256(json.dumps(entry, sort_keys=True).encode()).hexdigest()
    name = entry.get(spec.image_key) if isinstance(entry, dict) else None
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(str(name or "item")).stem).strip("-") or "item"
    item = Item(spec.name, f"{index:05d}-{stem}", folder / str(name or ""), digest=digest)
    try:
        if not isinstance(entry, dict):
            raise ValueError("not a JSON object")
        missing = [k for k in spec.keys if k not in entry]
        if missing:
            raise ValueError(f"lacks {', '.join(missing)}")
        if not isinstance(name, str) or not name or Path(name).is_absolute() or ".." in name:
            raise ValueError(f"{spec.image_key} must be a file name, got {name!r}")
        _READERS[spec.name](item, entry, template)
    except (TypeError, ValueError, KeyError, IndexError) as error:
        item.error = f"list entry {index}: {error}"
    return item


def _ids(value, name: str) -> list[int]:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise ValueError(f"{name} must be a list of token ids")
    return list(value)


def _nested_ids(value) -> list[int]:
    """generated_ids as a list holding one list (caption, MMVP, RePOPE) or flat (object)."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
        value = value[0]
    return _ids(value, "generated_ids")


def _selected(item: Item, entry: dict) -> None:
    item.targets = _ids(entry["selected_interpretation_token_id"], "selected token indices")
    if "selected_interpretation_token_word_id" in entry:
        item.target_ids = _ids(entry["selected_interpretation_token_word_id"], "selected ids")
        if len(item.target_ids) != len(item.targets):
            raise ValueError("selected token indices and ids differ in number")
    if not item.targets:
        raise ValueError("no selected tokens to explain")


def _common(item: Item, entry: dict) -> None:
    item.generated_ids = _nested_ids(entry["generated_ids"])
    item.answer = str(entry.get("generate_sentence", ""))
    words = entry.get("words")
    item.words = [str(w) for w in words] if isinstance(words, list) else None


def _read_caption(item: Item, entry: dict, template: str) -> None:
    _common(item, entry)
    _selected(item, entry)
    item.prompt = make_prompt(template, None)


def _read_mmvp(item: Item, entry: dict, template: str) -> None:
    _common(item, entry)
    _selected(item, entry)
    item.prompt = make_prompt(template, str(entry["question"]))


def _read_object(item: Item, entry: dict, template: str) -> None:
    _common(item, entry)
    index = entry["target_generated_index"]
    if isinstance(index, list) and len(index) == 1:
        index = index[0]
    if not isinstance(index, int) or isinstance(index, bool):
        raise ValueError(f"target_generated_index must be an int, got {index!r}")
    item.targets = [index]
    if isinstance(entry.get("target_generated_id"), int):
        item.target_ids = [entry["target_generated_id"]]
    box = entry["location"]
    if (
        not isinstance(box, list)
        or len(box) != 4
        or not all(isinstance(v, (int, float)) for v in box)
        or not (box[2] > box[0] and box[3] > box[1])
    ):
        raise ValueError(f"location must be a box [x1, y1, x2, y2] with x2 > x1, y2 > y1: {box}")
    item.box = [float(v) for v in box]
    item.segmentation = entry["segmentation"]
    item.category = str(entry["select_category"])
    item.prompt = make_prompt(template, None)


def _read_repope(item: Item, entry: dict, template: str) -> None:
    _common(item, entry)
    item.targets = [0]
    if "selected_interpretation_token_word_id" in entry:
        item.target_ids = _ids(entry["selected_interpretation_token_word_id"], "selected ids")[:1]
    counter = entry["counter_word_id"]
    if isinstance(counter, list) and len(counter) == 1:
        counter = counter[0]
    if not isinstance(counter, int) or isinstance(counter, bool):
        raise ValueError(f"counter_word_id must be a token id, got {counter!r}")
    item.counter_id = counter
    label = str(entry["label"]).strip().lower()
    if label not in ("yes", "no"):
        raise ValueError(f"label must be yes or no, got {entry['label']!r}")
    item.label = label
    item.prompt = make_prompt(template, str(entry["question"]))


_READERS = {
    "coco-caption": _read_caption,
    "coco-object": _read_object,
    "mmvp": _read_mmvp,
    "repope": _read_repope,
}
