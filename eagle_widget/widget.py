"""The Jupyter widget: live EAGLE explanations of a model's caption, token by token.

Traitlets hold the whole state (image, label map, tokens, reliance, the run and its
result), so a saved notebook or an exported page re-renders without a kernel. While a
search streams, each step travels as a small custom message (one binary record, layout
in js/src/protocol.js); at the end the `result` trait is brought up to date. The engine
runs in the widget's own worker thread (runner.py); this module never imports torch.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets

from .engine import DEFAULT_PROMPT, Cancelled, Explainer, Explanation, Generation, Step
from .engine.explainer import resolve_prompt
from .engine.hallucination import Mitigation, check_wrong_answer, correct_token_id, mitigate
from .engine.images import read_image
from .engine.masking import fill_image
from .runner import Job, Runner

STATIC = Path(__file__).parent / "static"

# -- wire format (mirrored in js/src/protocol.js and js/src/codecs.js) ----------------
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


def _is_index(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _png(image: np.ndarray) -> bytes:
    """The image as PNG, shrunk to display_shape (area-averaged) when larger."""
    from PIL import Image

    picture = Image.fromarray(image)
    height, width = display_shape(*image.shape[:2])
    if (height, width) != image.shape[:2]:
        picture = picture.resize((width, height), Image.Resampling.BOX)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def _f32(array) -> bytes:
    return np.ascontiguousarray(array, dtype="<f4").tobytes()


def _labels_traits(labels: np.ndarray) -> dict[str, Any]:
    """`labels` (uint16 bytes) and `labels_shape` of the map the front end gets: the region of
    each pixel centre of a display_shape grid (region ids and order are unchanged)."""
    if labels.max() >= 65536:
        raise ValueError(f"label maps need fewer than 65536 regions, got {labels.max() + 1}")
    height, width = labels.shape
    new_h, new_w = display_shape(height, width)
    if (new_h, new_w) != (height, width):
        rows = ((np.arange(new_h) + 0.5) * height / new_h).astype(np.intp)
        cols = ((np.arange(new_w) + 0.5) * width / new_w).astype(np.intp)
        labels = labels[rows][:, cols]
    return {
        "labels": np.ascontiguousarray(labels, dtype="<u2").tobytes(),
        "labels_shape": [int(new_h), int(new_w)],
    }


def _reliance_dict(prior, visual) -> dict:
    def clean(values):
        return [None if not np.isfinite(v) else round(float(v), 6) for v in values]

    return {"prior": clean(prior), "visual": clean(visual)}


def result_state(explanation: Explanation, run_id: int, records: bytes | None = None) -> dict:
    """The `result` trait of a finished run: final order, curves, AUCs and step records.

    `records` are the steps as streamed (search order); without them the records are
    made from the explanation's steps in ranking order.
    """
    if records is None:
        records = b"".join(encode_step(s, rank) for rank, s in enumerate(explanation.steps))
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
    }


def _run_info(
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
    (extras["mitigation"], written by engine.hallucination.mitigate); {} without one.

    areas[i] / p_correct[i]: removed area and P(correct first token) after filling the i + 1
    regions ranked last; `cut` indexes the first cut whose regenerated answer starts with
    the correct token (None when none did within max_area); p_start is P(correct) with
    nothing removed.
    """
    m = explanation.extras.get("mitigation")
    if not m:
        return {}
    areas = [float(a) for a in m["areas"]]
    p_correct = [float(p) for p in m["p_correct"]]
    if len(areas) != len(p_correct):
        raise ValueError(f"mitigation has {len(areas)} areas but {len(p_correct)} probabilities")
    removed = [int(r) for r in m["removed_regions"]]
    corrected = bool(m["corrected"])
    correct = m.get("correct")
    if correct is None:  # saved before the word was recorded: the revised answer starts with it
        correct = m["answer"].split()[0] if corrected and m["answer"].split() else ""
    return {
        "run": int(run_id),
        "complete": True,
        "correct": str(correct),
        "correct_id": int(explanation.target_ids[0]),
        "original": m["original"],
        "revised": m["answer"] if corrected else None,
        "corrected": corrected,
        "removed_regions": removed,
        "removed_area": float(m["removed_area"]) if corrected else None,
        "max_area": float(m.get("max_area", areas[-1] if areas else 0.0)),
        "areas": areas,
        "p_correct": p_correct,
        "p_start": float(explanation.p_full[0]),
        "cut": len(removed) - 1 if corrected else None,
    }


def explanation_state(explanation: Explanation, run_id: int = 0) -> dict[str, Any]:
    """Every synced trait value of a widget that shows `explanation` (no model needed).

    This is what a front end needs to render a finished result: EagleWidget uses it for
    `show_explanation`, and an offline HTML page can serve it from a stand-in model.
    """
    generation = explanation.generation
    prior, visual = explanation.token_reliance()
    return {
        "status": "done",
        "error_message": "",
        "prompt": generation.prompt,
        "image_png": _png(explanation.image),
        "tokens": list(generation.tokens),
        "words": [list(w) for w in generation.words],
        "reliance": _reliance_dict(prior, visual),
        "selection": [int(p) for p in explanation.positions],
        **_labels_traits(explanation.labels),
        "n_regions": int(explanation.n_regions),
        "run": _run_info(
            run_id,
            generation,
            explanation.positions,
            explanation.n_regions,
            explanation.search,
            explanation.lambda1,
            explanation.lambda2,
            explanation.p_full,
            explanation.p_blank,
            mode="diagnose" if explanation.extras.get("mitigation") else None,
        ),
        "result": result_state(explanation, run_id),
        "diagnosis": diagnosis_state(explanation, run_id),
        "has_model": False,  # a finished result explains nothing new
    }


@dataclass
class _Attempt:
    """One explain or diagnose run of a widget: its id, the step records sent, the run."""

    run_id: int
    records: list[bytes] = field(default_factory=list)
    run: Any = None
    began: float = field(default_factory=time.perf_counter)


class EagleWidget(anywidget.AnyWidget):
    """Explain a vision-language model's caption of an image, live, in the notebook.

    Opening the widget generates the caption; clicking a word explains it (shift-click
    adds words), "Explain sentence" explains every token, "Stop" cancels. From Python:
    `explain(targets)`, `diagnose(correct)`, `stop()`, `wait()`, and the last result as
    `explanation` (and `mitigation` after a diagnosis). `correct="no"` diagnoses the
    answer as soon as it is generated.
    """

    _esm = STATIC / "widget.js"
    _css = STATIC / "widget.css"

    status = traitlets.Unicode("idle").tag(sync=True)
    error_message = traitlets.Unicode("").tag(sync=True)
    prompt = traitlets.Unicode("").tag(sync=True)
    image_png = traitlets.Bytes(b"").tag(sync=True)
    tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    words = traitlets.List().tag(sync=True)
    reliance = traitlets.Dict().tag(sync=True)
    selection = traitlets.List(traitlets.Int()).tag(sync=True)
    labels = traitlets.Bytes(b"").tag(sync=True)
    labels_shape = traitlets.List(traitlets.Int()).tag(sync=True)
    n_regions = traitlets.Int(0).tag(sync=True)
    run = traitlets.Dict({"id": -1}).tag(sync=True)
    result = traitlets.Dict().tag(sync=True)
    diagnosis = traitlets.Dict().tag(sync=True)  # see diagnosis_state; {} when none
    has_model = traitlets.Bool(False).tag(sync=True)  # False: a finished result, explains nothing

    def __init__(
        self,
        model=None,
        image=None,
        prompt: str | None = DEFAULT_PROMPT,
        explainer: Explainer | None = None,
        correct=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.error: BaseException | None = None
        self.generation: Generation | None = None
        self.explanation: Explanation | None = None
        self.mitigation: Mitigation | None = None
        self._prior: np.ndarray | None = None
        self._visual: np.ndarray | None = None
        self._run_ids = itertools.count(1)
        self._runner = Runner()
        self._image_notes: dict = {}  # what reading the image did to it (read_image)
        self.on_msg(self._on_message)
        if model is None and image is None:  # filled by from_explanation
            self.explainer = None
            self.image = None
            return
        if image is None:
            raise ValueError(
                "EagleWidget needs an image: a path, a PIL image or an H x W x 3 array"
            )
        prompt = resolve_prompt(prompt)
        if explainer is None:
            explainer = Explainer(model)  # checks the model protocol
        elif not isinstance(explainer, Explainer):
            raise TypeError(f"explainer must be an eagle_widget Explainer, got {type(explainer)}")
        elif model is not None and explainer.model is not model:
            raise ValueError("explainer was built for a different model than the one given")
        self.explainer = explainer
        self.has_model = True
        self.image, self._image_notes = read_image(image)
        explainer.check_image(self.image)
        self.prompt = prompt
        self.image_png = _png(self.image)
        self.status = "generating"
        if correct is None:
            self._runner.submit(self._prepare_job, "generate")
        else:
            self.diagnose(correct)

    @classmethod
    def from_explanation(cls, explanation: Explanation) -> EagleWidget:
        """A widget that shows a finished result; it has no model, so it explains nothing new."""
        if not isinstance(explanation, Explanation):
            raise TypeError(f"expected an Explanation, got {type(explanation).__name__}")
        widget = cls()
        widget.image = explanation.image
        widget.generation = explanation.generation
        widget.explanation = explanation
        with widget.hold_sync():
            for name, value in explanation_state(explanation).items():
                setattr(widget, name, value)
        return widget

    # -- Python API --------------------------------------------------------------------
    def explain(self, targets=None) -> None:
        """Start explaining `targets` in the background (None: the whole sentence).

        targets: None, a generated-token index or a sequence of them, or a word of the
        caption (as ew.explain takes). A running search is cancelled first. Returns at once;
        `wait()` blocks until done.
        """
        if self.explainer is None:
            raise ValueError("this widget shows a finished result and has no model to explain with")
        if _is_index(targets):
            targets = [targets]
        if isinstance(targets, (range, np.ndarray)):
            targets = targets.tolist() if isinstance(targets, np.ndarray) else list(targets)
        if targets is not None and not isinstance(targets, (str, list, tuple)):
            raise TypeError(
                f"targets must be None, token indices or a word, got {type(targets).__name__}"
            )
        if isinstance(targets, (list, tuple)):
            if not targets or not all(_is_index(t) for t in targets):
                raise ValueError(
                    f"targets must be a non-empty list of token indices, got {targets}"
                )
            targets = [int(t) for t in targets]
        self._runner.submit(lambda job: self._explain_job(job, targets), "explain")

    def diagnose(self, correct, max_area: float = 0.5) -> None:
        """Start diagnosing a wrong answer in the background (method.md section 7).

        Explains the correct answer's token (`correct`: a word such as "no", or a token id)
        at the answer's first position as a counterfactual target, then fills the regions
        ranked last for it, one more at a time up to `max_area` of the image, regenerating
        after each until the answer starts with the correct token. The outcome lands in the
        `diagnosis` trait and in `mitigation`. A running search is cancelled first.
        """
        if self.explainer is None:
            raise ValueError(
                "this widget shows a finished result and has no model to diagnose with"
            )
        if isinstance(max_area, bool) or not isinstance(max_area, (int, float, np.number)):
            raise TypeError(f"max_area must be a number in (0, 1], got {type(max_area).__name__}")
        if not 0 < max_area <= 1:
            raise ValueError(f"max_area must be in (0, 1], got {max_area!r}")
        correct_id = correct_token_id(self.explainer.model, correct)
        if self.generation is not None:
            self._check_wrong(correct, correct_id)
        word = correct.strip() if isinstance(correct, str) else f"token {correct_id}"
        self._runner.submit(
            lambda job: self._diagnose_job(job, word, correct_id, float(max_area)), "diagnose"
        )

    def _check_wrong(self, correct, correct_id: int) -> None:
        check_wrong_answer(self.generation, correct_id, correct)

    def stop(self) -> None:
        """Cancel the running search (it stops at the next batch of images)."""
        self._runner.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the background work is finished; False if `timeout` ran out first."""
        return self._runner.wait(timeout)

    @property
    def busy(self) -> bool:
        return self._runner.busy

    def to_html(self, path) -> Path:
        """A self-contained offline page of the last finished result (see eagle_widget.export)."""
        from .export import widget_to_html

        return widget_to_html(self, path)

    def close(self) -> None:
        self._runner.close()
        super().close()

    # -- messages from the browser -----------------------------------------------------
    def _on_message(self, _widget, content, buffers) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "explain":
            targets = content.get("targets")
            try:
                self.explain(targets)
            except (TypeError, ValueError) as error:
                self.send({"type": "note", "text": str(error)})
        elif kind == "diagnose":
            try:
                self.diagnose(content.get("correct"), content.get("max_area", 0.5))
            except (TypeError, ValueError) as error:
                self.send({"type": "note", "text": str(error)})
        elif kind == "stop":
            self.stop()
        elif kind == "export_json":
            self._reply_json(content.get("id"))

    def _reply_json(self, request_id) -> None:
        if self.explanation is None:
            self.send({"type": "reply", "id": request_id, "ok": False, "error": "no result yet"})
            return
        data = json.dumps(self.explanation.to_dict()).encode()
        self.send(
            {"type": "reply", "id": request_id, "ok": True, "filename": self._json_name()},
            buffers=[data],
        )

    def _json_name(self) -> str:
        gen = self.explanation.generation
        words = "".join(gen.tokens[p] for p in self.explanation.positions[:3]).strip()
        slug = re.sub(r"[^A-Za-z0-9]+", "-", words).strip("-").lower()[:40] or "explanation"
        return f"eagle-{slug}.json"

    # -- work in the worker thread -----------------------------------------------------
    def _fail(self, error: BaseException) -> None:
        self.error = error
        with self.hold_sync():
            self.error_message = f"{type(error).__name__}: {error}"
            self.status = "error"

    def _ensure_generation(self, job: Job) -> bool:
        """Generate the caption and its reliance if not done yet; False if cancelled."""
        if job.cancelled:
            return False
        if self.generation is None:
            self.status = "generating"
            generation = self.explainer.model.generate(
                self.image, self.prompt, max_new_tokens=self.explainer.max_new_tokens
            )
            if not isinstance(generation, Generation):
                raise TypeError(
                    f"model.generate must return a Generation, got {type(generation).__name__}"
                )
            self.generation = generation
            with self.hold_sync():
                self.tokens = list(generation.tokens)
                self.words = [list(w) for w in generation.words]
        if self._prior is None and not job.cancelled:
            prior, visual = self.explainer.token_reliance(self.image, self.generation)
            self._prior, self._visual = np.asarray(prior), np.asarray(visual)
            self.reliance = _reliance_dict(self._prior, self._visual)
        return not job.cancelled

    def _prepare_job(self, job: Job) -> None:
        try:
            if self._ensure_generation(job):
                self.status = "idle"
            elif not job.superseded:
                self.status = "cancelled"
        except Exception as error:  # shown in the widget, kept on .error
            self._fail(error)

    def _job(self, job: Job, work) -> None:
        """The frame of an explain or diagnose job: the caption first, then `work(attempt)`.
        A cancel or an error keeps the steps made so far and leaves the widget usable."""
        attempt = _Attempt(next(self._run_ids))
        try:
            if not self._ensure_generation(job):
                if not job.superseded:
                    self.status = "cancelled"
                return
            self.error = None
            work(attempt)
        except Cancelled:
            self._end_attempt(attempt)
            if not job.superseded:
                self.status = "cancelled"
        except Exception as error:  # shown in the widget, kept on .error
            self._end_attempt(attempt)
            self._fail(error)

    def _end_attempt(self, attempt: _Attempt) -> None:
        seconds = time.perf_counter() - attempt.began
        self._end_partial(attempt.run_id, attempt.records, attempt.run, seconds)
        self._drop_diagnosis(attempt.run_id)

    def _explain_job(self, job: Job, targets) -> None:
        def work(attempt: _Attempt) -> None:
            run = self.explainer.start(self.image, targets=targets, generation=self.generation)
            attempt.run = run
            job.attach(run)
            self._begin(run, attempt.run_id)
            explanation = self._stream(run, attempt.run_id, attempt.records)
            self.explanation = explanation
            with self.hold_sync():
                self.result = result_state(explanation, attempt.run_id, b"".join(attempt.records))
                self.status = "done"

        self._job(job, work)

    def _stream(self, run, run_id: int, records: list[bytes]) -> Explanation:
        """Drive `run` to its end, sending each step as it comes; keeps the records."""
        n_insert = n_remove = 0
        for step in run:
            if step.chain == "insert":
                rank, n_insert = n_insert, n_insert + 1
            else:
                rank, n_remove = run.n_regions - 1 - n_remove, n_remove + 1
            record = encode_step(step, rank)
            records.append(record)
            self.send({"type": "step", "run": run_id}, buffers=[record])
        explanation = run.explanation()
        explanation.extras["image"].update(self._image_notes)  # e.g. the EXIF orientation
        return explanation

    def _diagnose_job(self, job: Job, correct: str, correct_id: int, max_area: float) -> None:
        def work(attempt: _Attempt) -> None:
            run_id, records = attempt.run_id, attempt.records
            self._check_wrong(correct, correct_id)
            generation = self.generation
            run = self.explainer.start(
                self.image, targets=[0], generation=generation, target_ids=[correct_id]
            )
            attempt.run = run
            job.attach(run)
            # the run's two anchors are of the correct token, not of the generated one
            # (scored as the run scores: at its working size)
            blank = fill_image(run.image, self.explainer.fill)
            p_full, p_blank = np.asarray(
                self.explainer.model.token_probs(
                    [run.image, blank], run.generation, [0], [correct_id]
                ),
                dtype=float,
            )[:, 0]
            self._begin(
                run,
                run_id,
                anchors=([p_full], [p_blank]),
                diagnosis={
                    "run": run_id,
                    "complete": False,
                    "correct": correct,
                    "correct_id": correct_id,
                    "original": generation.text,
                    "max_area": max_area,
                },
            )
            explanation = self._stream(run, run_id, records)
            self.explanation = explanation
            self.result = result_state(explanation, run_id, b"".join(records))
            if job.cancelled:
                raise Cancelled("diagnosis stopped before the mitigation")
            self.mitigation = mitigate(
                self.explainer.model,
                self.image,
                self.prompt,
                explanation,
                max_area=max_area,
                fill=self.explainer.fill,
                max_new_tokens=self.explainer.max_new_tokens,
                should_stop=lambda: job.cancelled,
            )
            explanation.extras["mitigation"].update(correct=correct)
            with self.hold_sync():
                self.diagnosis = diagnosis_state(explanation, run_id)
                self.status = "done"

        self._job(job, work)

    def _drop_diagnosis(self, run_id: int) -> None:
        if self.diagnosis.get("run") == run_id:
            self.diagnosis = {}

    def _begin(self, run, run_id: int, anchors=None, diagnosis: dict | None = None) -> None:
        positions = list(run.positions)
        if anchors is None:
            p_blank = self._prior[positions]
            p_full = p_blank + self._visual[positions]
        else:
            p_full, p_blank = anchors
        with self.hold_sync():
            self.diagnosis = diagnosis or {}
            traits = _labels_traits(run.labels)
            self.labels, self.labels_shape = traits["labels"], traits["labels_shape"]
            self.n_regions = int(run.n_regions)
            self.selection = positions
            self.error_message = ""
            self.run = _run_info(
                run_id,
                run.generation,
                positions,
                run.n_regions,
                self.explainer.search,
                self.explainer.lambda1,
                self.explainer.lambda2,
                p_full,
                p_blank,
                mode="diagnose" if diagnosis else None,
            )
            self.status = "explaining"

    def _end_partial(self, run_id: int, records: list[bytes], run, seconds: float) -> None:
        """Keep the steps a stopped or failed run made, so the view still shows them (a run
        whose search finished keeps its complete result)."""
        if run is None or self.run.get("id") != run_id:
            return
        if self.result.get("run") == run_id and self.result.get("complete"):
            return
        self.result = {
            "run": run_id,
            "complete": False,
            "steps": b"".join(records),
            "images_scored": int(run.images_scored),
            "seconds": float(seconds),
        }


def show_explanation(explanation: Explanation) -> EagleWidget:
    """A widget for a finished Explanation (what `Explanation.show()` returns)."""
    return EagleWidget.from_explanation(explanation)
