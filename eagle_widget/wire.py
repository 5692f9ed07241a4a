"""The wire format of the widget: the step codec and the builders of its trait values.

One owner for what crosses to the front end, mirrored in js/src/protocol.js and
js/src/codecs.js: the live widget (widget.py) sets these values as traits and sends step
records as custom messages; the offline page (export.py) inlines the same values. It
depends on the engine only (no anywidget), so pages can be built without the widget.
"""

from __future__ import annotations

import io
import re
import struct
from typing import Any

import numpy as np

from .engine import Explanation, Step, label_codec
from .engine.masking import fill_image

STATUSES = ("idle", "generating", "explaining", "done", "error", "cancelled")
CHAINS = ("insert", "remove")
STEP_HEADER = struct.Struct("<IIIBBHIffff")  # 36 bytes
PROB_SCALE = 65535


def _quantize(probs) -> bytes:
    p = np.clip(np.asarray(probs, dtype=np.float64), 0.0, 1.0)
    return np.round(p * PROB_SCALE).astype("<u2").tobytes()


def encode_step(step: Step, rank: int) -> bytes:
    """One step as a binary record: fixed header + per-target probabilities as uint16."""
    n_targets = len(step.probs_insert)
    if len(step.probs_delete) != n_targets:
        raise ValueError(
            f"step has {n_targets} insertion but {len(step.probs_delete)} deletion probabilities"
        )
    if step.chain not in CHAINS:
        raise ValueError(f"step chain must be one of {CHAINS}, got {step.chain!r}")
    header = STEP_HEADER.pack(
        int(step.index),
        int(step.region),
        int(rank),
        CHAINS.index(step.chain),
        0,
        n_targets,
        int(step.images_scored),
        float(step.insight),
        float(step.necessity),
        float(step.score),
        float(step.area),
    )
    return header + _quantize(step.probs_insert) + _quantize(step.probs_delete)


def decode_step(data: bytes) -> dict:
    """Inverse of encode_step (probabilities come back quantised to 1/65535)."""
    fields = STEP_HEADER.unpack_from(data)
    n = fields[5]
    probs = np.frombuffer(data, dtype="<u2", count=2 * n, offset=STEP_HEADER.size) / PROB_SCALE
    return {
        "index": fields[0],
        "region": fields[1],
        "rank": fields[2],
        "chain": CHAINS[fields[3]],
        "images_scored": fields[6],
        "insight": fields[7],
        "necessity": fields[8],
        "score": fields[9],
        "area": fields[10],
        "probs_insert": probs[:n],
        "probs_delete": probs[n:],
    }


# The front end draws the map at most 720 px a side: it gets the image and the label map at
# most this size. A 12-megapixel photo would otherwise send 24 MB of labels and megabytes of
# PNG to the browser, and into every notebook that saves its widget state.
DISPLAY_MAX_SIDE = 1024


def display_shape(height: int, width: int) -> tuple[int, int]:
    """(height, width) of the copies the front end gets: the same, or at most DISPLAY_MAX_SIDE."""
    scale = min(1.0, DISPLAY_MAX_SIDE / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def display_png(image: np.ndarray) -> bytes:
    """The image as PNG, shrunk to display_shape (area-averaged) when larger."""
    from PIL import Image

    picture = Image.fromarray(image)
    height, width = display_shape(*image.shape[:2])
    if (height, width) != image.shape[:2]:
        picture = picture.resize((width, height), Image.Resampling.BOX)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def fill_display_png(image: np.ndarray, fill) -> bytes:
    """What a removed region shows the model, as PNG at display size (a clip's: its film
    strip, each frame filled alone); a flat colour (a broadcast array) is made at that size
    directly instead of shrunk from full size."""
    filler = fill_image(image, fill)
    clip = image.ndim == 4
    shape = (image.shape[1], image.shape[0] * image.shape[2]) if clip else image.shape[:2]
    if all(stride == 0 for stride in filler.strides[:-1]):
        filler = np.broadcast_to(filler[(0,) * (filler.ndim - 1)], (*display_shape(*shape), 3))
        return display_png(np.ascontiguousarray(filler))
    return display_png(np.ascontiguousarray(strip(filler) if clip else filler))


# -- a clip is shown as one film strip -------------------------------------------------------
# Its F frames lie side by side, left to right in frame order, with no pixel between them:
# the strip is one image and its label map one map, so every view of an image (masks, the
# slider, per-word maps, one colour scale) shows the clip unchanged, and each strip pixel
# keeps the region id it has in its frame. The `frames` trait says where the frames are.


def strip(frames: np.ndarray) -> np.ndarray:
    """F x H x W (x 3) frames as one H x (F*W) (x 3) strip, frame f in columns f*W..(f+1)*W."""
    return np.concatenate(list(frames), axis=1)


def frames_state(explanation: Explanation) -> dict[str, Any]:
    """The `frames` trait: {} for an image; for a clip {"count": F, "labels": "Frame i" in
    frame order, "details": each frame's file name or time in the source, or ""}."""
    if not explanation.is_clip:
        return {}
    return frames_trait(explanation.n_frames, explanation.frames)


def frames_trait(count: int, record: dict | None) -> dict[str, Any]:
    """The `frames` trait of a clip of `count` frames with its read_clip record."""
    record = record or {}
    names, times = record.get("names"), record.get("times")
    if names:
        details = [str(n) for n in names]
    elif times:
        details = [f"{float(t):.2f} s" for t in times]
    else:
        details = [""] * count
    return {
        "count": int(count),
        "labels": [f"Frame {i}" for i in range(1, count + 1)],
        "details": details,
    }


def _f32(array) -> bytes:
    return np.ascontiguousarray(array, dtype="<f4").tobytes()


def labels_traits(labels: np.ndarray) -> dict[str, Any]:
    """`labels` (uint16 bytes) and `labels_shape` of the map the front end gets: the region of
    each pixel centre of a display_shape grid (region ids and order are unchanged)."""
    if labels.max() >= label_codec.UINT16_REGIONS:
        raise ValueError(
            f"label maps need fewer than {label_codec.UINT16_REGIONS} regions, "
            f"got {labels.max() + 1}"
        )
    height, width = labels.shape
    new_h, new_w = display_shape(height, width)
    if (new_h, new_w) != (height, width):
        rows = ((np.arange(new_h) + 0.5) * height / new_h).astype(np.intp)
        cols = ((np.arange(new_w) + 0.5) * width / new_w).astype(np.intp)
        labels = labels[rows][:, cols]
    return {
        "labels": label_codec.to_bytes(labels, "<u2"),
        "labels_shape": [int(new_h), int(new_w)],
    }


NO_LABELS = {"labels": b"", "labels_shape": []}  # the label traits of a text-only model's view


def reliance_state(prior, visual) -> dict:
    def clean(values):
        return [None if not np.isfinite(v) else round(float(v), 6) for v in values]

    return {"prior": clean(prior), "visual": clean(visual)}


def prompt_spans_state(spans, n_regions: int) -> dict:
    """The `prompt_spans` trait: the prompt's spans searched beside the image's regions
    (text, character range, region id) and `n_image_regions`, the id of the first span;
    {} for the image alone. Sent once per run: the step records carry the spans' ids."""
    if not spans:
        return {}
    return {
        "n_image_regions": int(n_regions) - len(spans),
        "spans": [
            {"text": s.text, "start": int(s.start), "stop": int(s.stop), "region": int(s.region)}
            for s in spans
        ],
    }


def source_reliance_state(explanation: Explanation) -> dict | None:
    """Per explained token its (image, prompt, prior) shares (Explanation.source_reliance),
    keyed by token index so that a view of some of the targets finds its own; None for a
    result without prompt spans."""
    if not explanation.prompt:
        return None
    shares = [
        [None if not np.isfinite(v) else round(float(v), 6) for v in row]
        for row in explanation.source_reliance
    ]
    return {"targets": [int(p) for p in explanation.positions], "shares": shares}


def result_state(explanation: Explanation, run_id: int, records: bytes | None = None) -> dict:
    """The `result` trait of a finished run: final order, curves, AUCs and step records
    (and, with prompt spans, each target's three-way reliance: source_reliance_state).

    `records` are the steps as streamed (search order); without them the records are
    made from the explanation's steps in ranking order.
    """
    if records is None:
        records = b"".join(encode_step(s, rank) for rank, s in enumerate(explanation.steps))
    sources = source_reliance_state(explanation)
    return {
        "run": run_id,
        "complete": True,
        "steps": records,
        "order": np.asarray(explanation.order, dtype="<i4").tobytes(),
        "insertion": _f32(explanation.insertion_curve),
        "deletion": _f32(explanation.deletion_curve),
        "areas": _f32(explanation.areas),
        "insertion_auc": float(explanation.insertion_auc),
        "deletion_auc": float(explanation.deletion_auc),
        "images_scored": int(explanation.images_scored),
        "seconds": float(explanation.seconds),
        "scoring": explanation.scoring,  # "approximate" from a hosted API's top-k
        **({"source_reliance": sources} if sources else {}),
    }


def run_state(
    run_id, generation, positions, n_regions, search, lambda1, lambda2, p_full, p_blank, mode=None
):
    """The `run` trait; mode "sentence" | "word", or "diagnose" for a counterfactual run."""
    if mode is None:
        mode = "sentence" if len(positions) == len(generation) else "word"
    return {
        "id": run_id,
        "mode": mode,
        "search": search,
        "targets": [int(p) for p in positions],
        "total_steps": int(n_regions),
        "lambda1": float(lambda1),
        "lambda2": float(lambda2),
        "p_full": [float(p) for p in p_full],
        "p_blank": [float(p) for p in p_blank],
    }


def diagnosis_state(explanation: Explanation, run_id: int = 0) -> dict[str, Any]:
    """The `diagnosis` trait of a counterfactual explanation that carries a mitigation
    (explanation.mitigation, recorded by engine.hallucination.mitigate); {} without one.

    areas[i] / p_correct[i]: removed area and P(correct first token) after filling the i + 1
    regions ranked last; `cut` indexes the first cut whose regenerated answer starts with
    the correct token (None when none did within max_area); p_start is P(correct) with
    nothing removed. `counterfactual`: no one said which answer is right (the widget's
    Diagnose button tries the opposite one): the views then word it as "what makes it say
    'correct'", not as a diagnosis of a wrong answer.
    """
    if explanation.mitigation is None:
        return {}
    m = explanation.checked_mitigation()
    areas = [float(a) for a in m.areas]
    p_correct = [float(p) for p in m.p_correct]
    removed = [int(r) for r in m.removed_regions]
    revised = m.answer.text if m.corrected and m.answer else None
    correct = m.correct
    if correct is None:  # not recorded: the revised answer starts with it
        correct = revised.split()[0] if revised and revised.split() else ""
    return {
        "run": int(run_id),
        "complete": True,
        "correct": str(correct),
        "correct_id": int(explanation.target_ids[0]),
        "counterfactual": bool(m.counterfactual),
        "original": m.original.text,
        "revised": revised,
        "corrected": bool(m.corrected),
        "removed_regions": removed,
        "removed_area": float(m.removed_area) if m.corrected else None,
        "max_area": float(m.max_area if m.max_area is not None else (areas[-1] if areas else 0.0)),
        "areas": areas,
        "p_correct": p_correct,
        "p_start": float(explanation.p_full[0]),
        "cut": len(removed) - 1 if m.corrected else None,
    }


def _run_of(explanation: Explanation, run_id: int) -> dict:
    return run_state(
        run_id,
        explanation.generation,
        explanation.positions,
        explanation.n_regions,
        explanation.search,
        explanation.lambda1,
        explanation.lambda2,
        explanation.p_full,
        explanation.p_blank,
        mode="diagnose" if explanation.mitigation else None,
    )


def methods_state(explanations: dict, run_id: int = 0) -> dict[str, Any]:
    """The `methods` trait of a comparison (engine/method_comparison.py): every method's `run` and
    `result` trait values under the same run id, in the order compared, the first shown
    first; the front end's method buttons switch which one the views read (js/src/methods.js).
    {} for one result."""
    if not explanations:
        return {}
    names = [str(name) for name in explanations]
    return {
        "names": names,
        "active": names[0],
        "states": {
            str(name): {"run": _run_of(e, run_id), "result": result_state(e, run_id)}
            for name, e in explanations.items()
        },
    }


def explanation_state(explanation: Explanation, run_id: int = 0) -> dict[str, Any]:
    """Every synced trait value of a widget that shows `explanation` (no model needed).

    This is what a front end needs to render a finished result: EagleWidget uses it for
    `show_explanation`, and an offline HTML page can serve it from a stand-in model. A
    clip's frames come as one film strip (strip) with the `frames` trait saying where.
    """
    generation = explanation.generation
    prior, visual = explanation.token_reliance()
    # a clip: its frames as one film strip (see strip), so the views need nothing new
    image, labels = explanation.image, explanation.labels
    if explanation.is_clip:
        image, labels = strip(image), strip(labels)
    return {
        "status": "done",
        "error_message": "",
        "prompt": generation.prompt,
        # a text-only model's result: no picture, no label map (the front end hides the map)
        "has_image": explanation.has_image,
        "image_png": display_png(image) if explanation.has_image else b"",
        "fill_png": b"",  # a result does not record its fill: the front end draws 0
        "tokens": list(generation.tokens),
        "words": [list(w) for w in generation.words],
        "reliance": reliance_state(prior, visual),
        "selection": [int(p) for p in explanation.positions],
        **(labels_traits(labels) if explanation.has_image else NO_LABELS),
        "frames": frames_state(explanation),
        "n_regions": int(explanation.n_regions),
        "prompt_spans": prompt_spans_state(explanation.spans, explanation.n_regions),
        "run": _run_of(explanation, run_id),
        "result": result_state(explanation, run_id),
        "diagnosis": diagnosis_state(explanation, run_id),
        "has_model": False,  # a finished result explains nothing new
        "methods": {},  # one method's result (comparison_state: several)
    }


def comparison_state(comparison, run_id: int = 0) -> dict[str, Any]:
    """Every synced trait value of a widget that shows a finished Comparison: the first
    method's result as explanation_state gives it, and every method's in `methods`."""
    return {
        **explanation_state(comparison.first, run_id),
        "methods": methods_state(comparison.explanations, run_id),
    }


def partial_result_state(run_id: int, records: bytes, images_scored: int, seconds: float) -> dict:
    """The `result` trait of a stopped or failed run: the steps it made, so the view keeps them."""
    return {
        "run": int(run_id),
        "complete": False,
        "steps": records,
        "images_scored": int(images_scored),
        "seconds": float(seconds),
    }


def json_filename(explanation: Explanation) -> str:
    """The file name a JSON export of `explanation` is offered under (its first target words)."""
    gen = explanation.generation
    words = "".join(gen.tokens[p] for p in explanation.positions[:3]).strip()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", words).strip("-").lower()[:40] or "explanation"
    return f"eagle-{slug}.json"
