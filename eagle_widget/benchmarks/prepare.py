"""A model's own benchmark lists, in the authors' formats, from public annotations.

The model answers every image once (greedy); the list stores the full ids (the processor's
prompt ids, then the answer's), so `evaluate` scores exactly this answer later. How items
are chosen, per task:

- coco-caption (COCO captions JSON): one item per image, every answer token a target.
- coco-object (COCO instances JSON): the authors did not document their choice; as their
  file name ("single target once") suggests, one item per image, for the first category
  (in answer order) that has exactly one instance in the image and whose name occurs
  exactly once in the answer, as whole words; its first token is the target.
- mmvp (MMVP's Questions.csv: Index, Question, Options, Correct Answer; images INDEX.jpg or
  INDEX.png): one item per question, every answer token a target.
- repope (POPE-style JSON lines or array: image, text (the question), label): only the
  questions the model answers wrongly (its first word yes/no, not the label); the correct
  answer's first token, spelled as the model spells its own, is the counterfactual target.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from pathlib import Path

from ..engine.images import to_rgb_array
from .tasks import TASKS, make_prompt, task_of

MAX_NEW_TOKENS = 128  # the authors' setting: some MMVP answers run past 64


def prepare(
    task: str,
    model,
    annotations,
    images,
    limit: int | None = None,
    prompt: str | None = None,
    progress: Callable[[str], None] | None = None,
    max_new_tokens: int = MAX_NEW_TOKENS,
) -> list[dict]:
    """List entries for `task`, read from `annotations` (see the module's doc) with the
    images in `images`; at most `limit` items, answers of up to `max_new_tokens` tokens."""
    if (
        isinstance(max_new_tokens, bool)
        or not isinstance(max_new_tokens, int)
        or max_new_tokens < 1
    ):
        raise ValueError(f"max_new_tokens must be a positive int, got {max_new_tokens!r}")
    spec = task_of(task)
    sources = read_sources(task, annotations)
    template = spec.prompt if prompt is None else prompt
    folder = Path(images)
    say = progress or (lambda line: None)
    entries: list[dict] = []
    for number, source in enumerate(sources, start=1):
        if limit is not None and len(entries) >= limit:
            break
        path = _image_path(folder, source["file"])
        if path is None:
            say(f"skipped {source['file']}: not in {folder}")
            continue
        image = to_rgb_array(path)
        text = make_prompt(template, source.get("question"))
        generation = model.generate(image, text, max_new_tokens=max_new_tokens)
        if len(generation) == 0:
            continue
        ids = [*model.prompt_ids(image, text), *generation.token_ids]
        entry = _BUILDERS[task](model, source, generation, ids, path.name)
        if entry is not None:
            entries.append(entry)
        say(f"[{number}/{len(sources)}] {path.name}: {generation.text.strip()!r}"
            + ("" if entry is not None else " (not an item)"))  # fmt: skip
    return entries


def read_sources(task: str, annotations) -> list[dict]:
    """Per image or question: {"file", ...} from the task's annotation file (ValueError when it
    is not one)."""
    path = Path(annotations)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read annotations {str(path)!r}: {error}") from None
    try:
        if task == "mmvp":
            return _mmvp_sources(text)
        if task == "repope":
            return _repope_sources(text)
        data = _json(text, "the file")
        return _coco_sources(data, with_instances=task == "coco-object")
    except (ValueError, KeyError, TypeError) as error:  # the parsers' own say where and what
        kind = {
            "coco-caption": "a COCO captions JSON",
            "coco-object": "a COCO instances JSON",
            "mmvp": "MMVP's Questions.csv",
            "repope": "POPE-style questions (image, text, label)",
        }[task]
        why = f"{error.args[0]!r} is missing" if isinstance(error, KeyError) else error
        raise ValueError(f"annotations {str(path)!r} are not {kind}: {why}") from None


def _json(text: str, where: str):
    """Parsed JSON; a ValueError naming `where` (the file, or its line N) and what is wrong."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        at = f"column {error.colno}"  # a line of a JSON-lines file is one line
        if not where.startswith("line"):
            at = f"line {error.lineno}, {at}"
        raise ValueError(f"{where} is not valid JSON ({error.msg} at {at})") from None


def _field(record, key: str, where: str):
    """record[key], or a ValueError naming `where` (e.g. "line 3") and the missing key."""
    if not isinstance(record, dict):
        raise ValueError(f"{where} is not a JSON object")
    if key not in record:
        raise ValueError(f"{where} has no {key!r}")
    return record[key]


def _coco_sources(data: dict, with_instances: bool) -> list[dict]:
    if not isinstance(data, dict) or "images" not in data or "annotations" not in data:
        raise ValueError('expected an object with "images" and "annotations"')
    if with_instances and "categories" not in data:
        raise ValueError('expected "categories" (instances, not captions)')
    if not with_instances and data["annotations"] and "caption" not in data["annotations"][0]:
        raise ValueError('expected annotations with a "caption" (captions, not instances)')
    names = {
        _field(c, "id", f"categories[{i}]"): _field(c, "name", f"categories[{i}]")
        for i, c in enumerate(data.get("categories", []))
    }
    sources = {
        _field(image, "id", f"images[{i}]"): {
            "file": _field(image, "file_name", f"images[{i}]"), "captions": [], "instances": [],
        }
        for i, image in enumerate(data["images"])
    }  # fmt: skip
    for i, a in enumerate(data["annotations"]):
        where = f"annotations[{i}]"
        source = sources.get(_field(a, "image_id", where))
        if source is None:
            raise ValueError(f"{where}: image_id {a['image_id']!r} is not among the images")
        if with_instances:
            x, y, w, h = _field(a, "bbox", where)
            category = _field(a, "category_id", where)
            if category not in names:
                raise ValueError(f"{where}: category_id {category!r} is not among the categories")
            source["instances"].append(
                {
                    "category": names[category],
                    "box": [x, y, x + w, y + h],
                    "segmentation": _field(a, "segmentation", where),
                    "crowd": bool(a.get("iscrowd", 0)),
                }
            )
        else:
            source["captions"].append(_field(a, "caption", where))
    return list(sources.values())


def _mmvp_sources(text: str) -> list[dict]:
    rows = list(csv.DictReader(text.splitlines()))
    if not rows or not {"Index", "Question", "Options", "Correct Answer"} <= set(rows[0]):
        raise ValueError("expected the columns Index, Question, Options, Correct Answer")
    sources = []
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        index = str(row["Index"] or "").strip()
        if not index.isdigit():
            raise ValueError(f"line {number}: Index {row['Index']!r} is not a number")
        sources.append(
            {
                "file": index,
                "question_id": int(index),
                "question": row["Question"],
                "options": row["Options"],
                "answer": str(row["Correct Answer"] or "").strip().strip("()").lower(),
            }
        )
    return sources


def _repope_sources(text: str) -> list[dict]:
    stripped = text.strip()
    if stripped.startswith("["):  # one array: its items are numbered from 1
        records = [(f"item {n}", r) for n, r in enumerate(_json(stripped, "the file"), start=1)]
    else:  # JSON lines: numbered as an editor numbers them
        lines = enumerate(text.splitlines(), start=1)
        records = [(f"line {n}", _json(line, f"line {n}")) for n, line in lines if line.strip()]
    sources = []
    for number, (where, record) in enumerate(records):
        label = str(_field(record, "label", where)).strip().lower()
        if label not in ("yes", "no"):
            raise ValueError(f"{where}: label must be yes or no, got {record['label']!r}")
        sources.append(
            {
                "file": _field(record, "image", where),
                "question": _field(record, "text", where),
                "label": label,
                "id": record.get("question_id", number),
            }
        )
    return sources


def _image_path(folder: Path, name: str) -> Path | None:
    candidates = [folder / name] if Path(name).suffix else [folder / f"{name}{s}" for s in
                                                            (".jpg", ".png", ".jpeg")]  # fmt: skip
    return next((p for p in candidates if p.is_file()), None)


def _word(text: str) -> str:
    return re.sub(r"[^\w]", "", text.lower())


def _base(generation, ids: list[int]) -> dict:
    return {
        "generate_sentence": generation.text,
        "generated_ids": [ids],
        "selected_interpretation_token_id": list(range(len(generation))),
        "selected_interpretation_token_word_id": list(generation.token_ids),
        "words": list(generation.tokens),
    }


def _caption_entry(model, source, generation, ids, file) -> dict:
    return {"image_path": file, "gt_caption": source["captions"], **_base(generation, ids)}


def _mmvp_entry(model, source, generation, ids, file) -> dict:
    return {
        "question_id": source["question_id"],
        "image_filename": file,
        "question": source["question"],
        "options": source["options"],
        "answer": source["answer"],
        **_base(generation, ids),
    }


def _object_entry(model, source, generation, ids, file) -> dict | None:
    words = [(start, _word("".join(generation.tokens[start:stop])))
             for start, stop in generation.words]  # fmt: skip
    words = [(start, w) for start, w in words if w]
    texts = [w for _, w in words]
    counts: dict[str, int] = {}
    for instance in source["instances"]:
        counts[instance["category"]] = counts.get(instance["category"], 0) + 1
    found = []
    for instance in source["instances"]:
        name = [_word(part) for part in instance["category"].split()]
        if counts[instance["category"]] != 1 or instance["crowd"]:
            continue
        hits = [i for i in range(len(texts) - len(name) + 1) if texts[i : i + len(name)] == name]
        if len(hits) == 1:
            found.append((words[hits[0]][0], instance))
    if not found:
        return None
    index, instance = min(found, key=lambda f: f[0])
    return {
        "image_path": file,
        "gt_caption": " ".join(source["captions"]) if source["captions"] else "",
        "generate_sentence": generation.text,
        "generated_ids": ids,
        "output_word_id": list(generation.token_ids),
        "select_category": instance["category"],
        "location": instance["box"],
        "segmentation": instance["segmentation"],
        "target_generated_index": index,
        "target_generated_id": generation.token_ids[index],
        "target_generated_token": generation.tokens[index],
    }


def _repope_entry(model, source, generation, ids, file) -> dict | None:
    first = generation.tokens[0]
    said = _word(first)
    if said not in ("yes", "no") or said == source["label"]:
        return None
    correct = source["label"]
    stripped = first.lstrip()
    spelled = first[: len(first) - len(stripped)] + (
        correct.capitalize() if stripped[:1].isupper() else correct
    )
    counter = model.encode(spelled)[0]
    return {
        "image_name": file,
        "question": source["question"],
        "label": correct,
        "generate_sentence": generation.text,
        "generated_ids": [ids],
        "selected_interpretation_token_id": [0],
        "selected_interpretation_token_word_id": [generation.token_ids[0]],
        "words": list(generation.tokens),
        "counter_word_id": int(counter),
        "id": source["id"],
    }


_BUILDERS = {
    "coco-caption": _caption_entry,
    "coco-object": _object_entry,
    "mmvp": _mmvp_entry,
    "repope": _repope_entry,
}
assert set(_BUILDERS) == set(TASKS)
