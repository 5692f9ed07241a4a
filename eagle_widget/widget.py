"""The Jupyter widget: live EAGLE explanations of a model's caption, token by token.

Traitlets hold the whole state (image, label map, tokens, reliance, the run and its
result), so a saved notebook or an exported page re-renders without a kernel. While a
search streams, each step travels as a small custom message (one binary record); at the
end the `result` trait is brought up to date. The values and the records are built by
wire.py (the wire format, shared with the offline page). The engine runs in the widget's
own worker thread (worker.py); this module never imports torch. Where no live widget
renders, the output shows a PNG of what the widget shows (snapshot.py), refreshed under its
display id when a run ends.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets

from .engine import (
    DEFAULT_PROMPT,
    Cancelled,
    Explainer,
    Explanation,
    Generation,
    resolve_prompt,
)
from .engine.hallucination import Mitigation, check_wrong_answer, correct_token_id, mitigate
from .engine.images import Picture
from .engine.protocol import text_only_of
from .engine.targets import resolve_targets
from .snapshot import PNG, SnapshotOutput, figure_png, note_live_view
from .wire import (
    NO_LABELS,
    comparison_state,
    diagnosis_state,
    display_png,
    encode_step,
    explanation_state,
    fill_display_png,
    frames_trait,
    json_filename,
    labels_traits,
    partial_result_state,
    prompt_spans_state,
    reliance_state,
    result_state,
    run_state,
    strip,
)
from .worker import Job, Worker

STATIC = Path(__file__).parent / "static"
log = logging.getLogger(__name__)


def _is_index(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


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
    answer as soon as it is generated. `prompt_regions=` ("word", "sentence", "message" or
    (start, stop) ranges) ranks the prompt's spans beside the image's regions and shows them
    as chips coloured on the map's scale (docs/prompt-spans.md).
    """

    _esm = STATIC / "widget.js"
    _css = STATIC / "widget.css"

    # The synced traits are the front end's state. This class owns the list; a test holds
    # wire.explanation_state and js/src/app.js's TRAITS to it.
    status = traitlets.Unicode("idle").tag(sync=True)
    error_message = traitlets.Unicode("").tag(sync=True)
    prompt = traitlets.Unicode("").tag(sync=True)
    image_png = traitlets.Bytes(b"").tag(sync=True)
    # False for a text-only model (protocol.ReadsTextOnly): no picture, no label map; the
    # front end shows the prompt's chips, the curves and the bars without the map
    has_image = traitlets.Bool(True).tag(sync=True)
    # what a removed region shows the model (the explainer's fill), for the kept and removed
    # views; empty until the worker made it (a blur takes a moment): the front end draws 0
    fill_png = traitlets.Bytes(b"").tag(sync=True)
    tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    words = traitlets.List().tag(sync=True)
    reliance = traitlets.Dict().tag(sync=True)
    selection = traitlets.List(traitlets.Int()).tag(sync=True)
    labels = traitlets.Bytes(b"").tag(sync=True)
    labels_shape = traitlets.List(traitlets.Int()).tag(sync=True)
    n_regions = traitlets.Int(0).tag(sync=True)
    # the prompt's spans searched beside the image's regions (wire.prompt_spans_state); {}
    # for the image alone
    prompt_spans = traitlets.Dict().tag(sync=True)
    run = traitlets.Dict({"id": -1}).tag(sync=True)
    result = traitlets.Dict().tag(sync=True)
    diagnosis = traitlets.Dict().tag(sync=True)  # see diagnosis_state; {} when none
    has_model = traitlets.Bool(False).tag(sync=True)  # False: a finished result, explains nothing
    # a clip's frames, shown as one film strip (wire.frames_trait); {} for an image
    frames = traitlets.Dict().tag(sync=True)
    # a comparison's every method (wire.methods_state), switched by the front end's method
    # buttons; {} for one result
    methods = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        model=None,
        image=None,
        prompt: str | None = None,
        explainer: Explainer | None = None,
        correct=None,
        prompt_regions=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._output = SnapshotOutput()  # what shows where no live widget renders it
        self._snapshot: tuple[Any, Any, bytes] | None = None  # (explanation, mitigation, PNG)
        self.error: BaseException | None = None
        self._run_error: BaseException | None = None  # of the last run, for wait() to raise
        self.generation: Generation | None = None
        self.explanation: Explanation | None = None
        self.mitigation: Mitigation | None = None
        self.comparison = None  # the Comparison shown (from_comparison), else None
        self._prior: np.ndarray | None = None
        self._visual: np.ndarray | None = None
        self._run_ids = itertools.count(1)
        self._worker = Worker()
        self._image_notes: dict = {}  # what reading the image did to it (read_image)
        self._clip_record: dict | None = None  # where a clip's frames came from (read_clip)
        self.on_msg(self._on_message)
        if model is None and image is None:  # filled by from_explanation
            self.explainer = None
            self.image = None
            return
        # a bad explainer= is refused below; only an Explainer's model is asked here
        given = explainer.model if isinstance(explainer, Explainer) else model
        text_only = text_only_of(given)
        if image is None and not text_only:
            raise ValueError(
                "EagleWidget needs an image: a path, a PIL image or an H x W x 3 array "
                "(only a text-only model, such as a TextModel, is shown without one)"
            )
        # a text model has no default prompt (an image's "describe it" means nothing there)
        prompt = resolve_prompt(prompt, None if text_only else DEFAULT_PROMPT)
        if explainer is None:  # checks the model protocol (and that it can hide spans)
            explainer = Explainer(model, prompt_regions=prompt_regions)
        elif prompt_regions is not None:
            # the explainer holds its options, checked against its model when it was made
            raise ValueError(
                "prompt_regions is an option of the Explainer: give it to the Explainer "
                "passed as explainer=, or leave explainer out"
            )
        elif not isinstance(explainer, Explainer):
            raise TypeError(f"explainer must be an eagle_widget Explainer, got {type(explainer)}")
        elif model is not None and explainer.model is not model:
            raise ValueError("explainer was built for a different model than the one given")
        self.explainer = explainer
        self.has_model = True
        self.prompt = prompt
        if text_only:  # the prompt's spans alone: no image to read or show
            if image is not None:
                name = type(explainer.model).__name__
                raise ValueError(f"{name} reads text only: give image=None")
            self.image = None
            self.has_image = False
        else:
            # a clip (for a model that takes clips) is read once here, as an image is
            self.image, self._image_notes, self._clip_record = explainer.read_visual(image)
            explainer.check_image(self.image)
            if self.image.ndim == 4:
                self.frames = frames_trait(self.image.shape[0], self._clip_record)
            self.image_png = display_png(self._shown(self.image))
        self.status = "generating"
        if correct is None:
            self._worker.submit(self._prepare_job, "generate")
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

    @classmethod
    def from_comparison(cls, comparison) -> EagleWidget:
        """A widget that shows a finished Comparison with a button per method; no model.
        `explanation` is the first method's result."""
        from .engine.method_comparison import Comparison

        if not isinstance(comparison, Comparison):
            raise TypeError(f"expected a Comparison, got {type(comparison).__name__}")
        widget = cls.from_explanation(comparison.first)
        widget.comparison = comparison
        widget.methods = comparison_state(comparison)["methods"]
        return widget

    def _shown(self, array: np.ndarray) -> np.ndarray:
        """What the front end shows of an image or label map: a clip's as its film strip."""
        return strip(array) if self.frames else array

    def _run_input(self):
        """The read image for a run: a Picture, or a clip's frames as they are (a run reads
        an F x H x W x 3 array as the clip); None for a text-only model."""
        if self.image is None or self.frames:
            return self.image
        return Picture(self.image, self._image_notes)

    def _reliance_kind(self) -> str:
        """Every token's prior / visual split needs the image's regions: without them (the
        prompt alone, a text model) a run measures its targets' own (Explainer.start)."""
        return "targets" if self.explainer.regions is None else "all"

    # -- Python API --------------------------------------------------------------------
    def explain(self, targets=None) -> None:
        """Start explaining `targets` in the background (None: the whole sentence).

        targets: None, a generated-token index or a sequence of them, or a word of the
        caption (as ew.explain takes). A running search is cancelled first. Returns at once;
        `wait()` blocks until done and raises the run's error if it failed. Bad targets
        (a word the caption lacks, once it is known) raise here, and show as a note.
        """
        self._from_code("explain", self._request_explain, targets)

    def diagnose(self, correct, max_area: float = 0.5) -> None:
        """Start diagnosing a wrong answer in the background (docs/method.md section 7).

        Explains the correct answer's token (`correct`: a word such as "no", or a token id)
        at the answer's first position as a counterfactual target, then fills the regions
        ranked last for it, one more at a time up to `max_area` of the image, regenerating
        after each until the answer starts with the correct token. The outcome lands in the
        `diagnosis` trait and in `mitigation`. A running search is cancelled first. Bad
        arguments raise here (and show as a note); `wait()` raises a failed run's error.
        """
        self._from_code("diagnose", self._request_diagnose, correct, max_area)

    def _from_code(self, verb: str, request, *args) -> None:
        """A request made from Python: a bad argument is raised, and shown in the widget as a
        note (its state, and any run in progress, stay as they are)."""
        self._need_model(verb)
        try:
            request(*args)
        except (TypeError, ValueError) as error:
            self._note(str(error))
            raise

    def _note(self, text: str) -> None:
        self.send({"type": "note", "text": text})

    def _need_model(self, verb: str) -> None:
        if self.explainer is None:
            raise ValueError(f"this widget shows a finished result and has no model to {verb} with")

    def _request_explain(self, targets) -> None:
        """Check `targets` and submit an explain job (raises TypeError/ValueError at once)."""
        self._need_model("explain")
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
        if self.generation is not None:  # a word the caption lacks is known now
            resolve_targets(self.generation, targets)
        self._worker.submit(lambda job: self._explain_job(job, targets), "explain")

    def _request_diagnose(self, correct, max_area, counterfactual: bool = False) -> None:
        """Check the arguments and submit a diagnose job (raises TypeError/ValueError at once).

        counterfactual: the user did not say which answer is right (the Diagnose button tries
        the opposite answer): the run asks what makes the model say `correct` instead.
        """
        self._need_model("diagnose")
        if self.explainer.regions is None:
            raise ValueError(
                "diagnose removes regions of the image; this widget explains by the prompt "
                "alone (no image regions)"
            )
        if isinstance(max_area, bool) or not isinstance(max_area, (int, float, np.number)):
            raise TypeError(f"max_area must be a number in (0, 1], got {type(max_area).__name__}")
        if not 0 < max_area <= 1:
            raise ValueError(f"max_area must be in (0, 1], got {max_area!r}")
        correct_id = correct_token_id(self.explainer.model, correct)
        if self.generation is not None:
            self._check_wrong(correct, correct_id)
        word = correct.strip() if isinstance(correct, str) else f"token {correct_id}"
        self._worker.submit(
            lambda job: self._diagnose_job(job, word, correct_id, float(max_area), counterfactual),
            "diagnose",
        )

    def _check_wrong(self, correct, correct_id: int) -> None:
        check_wrong_answer(self.generation, correct_id, correct)

    def stop(self) -> None:
        """Cancel the running search (it stops at the next batch of images)."""
        self._worker.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the background work is finished; False if `timeout` ran out first.

        A run that failed (generating, explaining or diagnosing) raises its error here, as
        it also shows in the widget; the widget stays usable.
        """
        if not self._worker.wait(timeout):
            return False
        if self._run_error is not None:
            raise self._run_error
        return True

    @property
    def busy(self) -> bool:
        return self._worker.busy

    def to_html(self, path) -> Path:
        """A self-contained offline page of the last finished result (see eagle_widget.export);
        it carries every token's reliance, which the widget measures for all of them."""
        if self.comparison is not None:
            return self.comparison.to_html(path)
        if self.explanation is None:
            raise ValueError("the widget has no finished explanation to export yet")
        return self.explanation.to_html(path)

    def close(self) -> None:
        self._worker.close()
        super().close()

    # -- the output where no live widget renders it (snapshot.py) ------------------------
    def _repr_mimebundle_(self, **kwargs):
        """The widget view, a PNG of what the widget shows and a line saying what it is."""
        data, metadata = super()._repr_mimebundle_(**kwargs)
        data = {**data, "text/plain": self._summary()}
        png = self._snapshot_png()
        if png:
            data[PNG] = base64.b64encode(png).decode("ascii")
        return data, metadata

    def _ipython_display_(self) -> None:
        """Shown under the widget's display id, so that a finished run refreshes it."""
        self._output.show(*self._repr_mimebundle_())

    def _refresh_output(self) -> None:
        """Bring the displayed outputs up to date with what the widget shows now."""
        try:
            self._output.refresh(self._repr_mimebundle_)
        except Exception:  # the saved picture must never break the widget
            log.exception("could not refresh the widget's saved output")

    def _snapshot_png(self) -> bytes:
        explanation = self.explanation
        if explanation is None:
            return bytes(self.image_png)
        mitigation = explanation.mitigation
        cached = self._snapshot
        if cached is not None and cached[0] is explanation and cached[1] is mitigation:
            return cached[2]
        try:  # a comparison's saved picture: its row per method
            png = figure_png(self.comparison or explanation)
        except Exception:  # the saved picture must never break the widget
            log.exception("could not draw the widget's result as a figure")
            return bytes(self.image_png)
        self._snapshot = (explanation, mitigation, png)
        return png

    def _summary(self) -> str:
        caption = self.generation.text if self.generation is not None else ""
        if self.explanation is not None:
            text = f"EagleWidget of {caption!r}: {self.explanation!r}"
        elif caption:
            text = f"EagleWidget: caption {caption!r}, no word explained yet"
        elif self.status == "generating":
            text = "EagleWidget: generating the caption"
        else:
            text = "EagleWidget: nothing to show"
        if self.status == "error" and self.error_message:
            text += f"; the last run failed: {self.error_message}"
        return text

    # -- messages from the browser -----------------------------------------------------
    def _on_message(self, _widget, content, buffers) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "explain":
            targets = content.get("targets")
            try:
                self._request_explain(targets)
            except (TypeError, ValueError) as error:
                self._note(str(error))
        elif kind == "diagnose":
            try:
                self._request_diagnose(
                    content.get("correct"),
                    content.get("max_area", 0.5),
                    counterfactual=content.get("counterfactual") is True,
                )
            except (TypeError, ValueError) as error:
                self._note(str(error))
        elif kind == "stop":
            self.stop()
        elif kind == "export_json":
            self._reply_json(content.get("id"))
        elif kind == "view":
            note_live_view()

    def _reply_json(self, request_id) -> None:
        if self.explanation is None:
            self.send({"type": "reply", "id": request_id, "ok": False, "error": "no result yet"})
            return
        data = json.dumps(self.explanation.to_dict()).encode()
        self.send(
            {
                "type": "reply",
                "id": request_id,
                "ok": True,
                "filename": json_filename(self.explanation),
            },
            buffers=[data],
        )

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
        if not self.fill_png and self.image is not None:
            self.fill_png = fill_display_png(self.image, self.explainer.fill)
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
        if self._prior is None and not job.cancelled and self.image is not None:
            prior, visual = self.explainer.token_reliance(self.image, self.generation)
            self._prior, self._visual = np.asarray(prior), np.asarray(visual)
            self.reliance = reliance_state(self._prior, self._visual)
        return not job.cancelled

    def _prepare_job(self, job: Job) -> None:
        self._run_error = None
        try:
            if self._ensure_generation(job):
                self.status = "idle"
            elif not job.superseded:
                self.status = "cancelled"
        except Exception as error:  # shown in the widget, kept on .error, raised by wait()
            self._fail(error)
            self._run_error = error
        self._refresh_output()

    def _job(self, job: Job, work) -> None:
        """The frame of an explain or diagnose job: the caption first, then `work(attempt)`.
        A cancel or an error keeps the steps made so far and leaves the widget usable."""
        attempt = _Attempt(next(self._run_ids))
        self._run_error = None
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
        except Exception as error:  # shown in the widget, kept on .error, raised by wait()
            self._end_attempt(attempt)
            self._fail(error)
            self._run_error = error
        self._refresh_output()  # before wait() returns: a notebook runner saves it

    def _end_attempt(self, attempt: _Attempt) -> None:
        seconds = time.perf_counter() - attempt.began
        self._end_partial(attempt.run_id, attempt.records, attempt.run, seconds)
        self._drop_diagnosis(attempt.run_id)

    def _explain_job(self, job: Job, targets) -> None:
        def work(attempt: _Attempt) -> None:
            run = self.explainer.start(
                self._run_input(),
                targets=targets,
                generation=self.generation,
                reliance=self._reliance_kind(),
            )
            attempt.run = run
            job.attach(run)
            self._begin(run, attempt.run_id)
            explanation = self._with_record(self._stream(run, attempt.run_id, attempt.records))
            self.explanation = explanation
            with self.hold_sync():
                self.result = result_state(explanation, attempt.run_id, b"".join(attempt.records))
                if self._prior is None:  # no image: the explained tokens' own split
                    self.reliance = reliance_state(*explanation.token_reliance())
                self.status = "done"

        self._job(job, work)

    def _with_record(self, explanation: Explanation) -> Explanation:
        """A clip's result with the record of where its frames came from (the run was given
        the frames read here, so it knows them as an array only)."""
        if self._clip_record is None:
            return explanation
        return replace(explanation, frames=self._clip_record)

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
        return run.explanation()

    def _diagnose_job(
        self, job: Job, correct: str, correct_id: int, max_area: float, counterfactual: bool
    ) -> None:
        def work(attempt: _Attempt) -> None:
            run_id, records = attempt.run_id, attempt.records
            self._check_wrong(correct, correct_id)
            generation = self.generation
            run = self.explainer.start(
                self._run_input(),
                targets=[0],
                generation=generation,
                target_ids=[correct_id],
                reliance="all",  # the answer's own, beside the correct id's curves
            )
            attempt.run = run
            job.attach(run)
            self._begin(
                run,
                run_id,
                diagnosis={
                    "run": run_id,
                    "complete": False,
                    "correct": correct,
                    "correct_id": correct_id,
                    "counterfactual": counterfactual,
                    "original": generation.text,
                    "max_area": max_area,
                },
            )
            explanation = self._with_record(self._stream(run, run_id, records))
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
            self.mitigation.correct, self.mitigation.counterfactual = correct, counterfactual
            with self.hold_sync():
                self.diagnosis = diagnosis_state(explanation, run_id)
                self.status = "done"

        self._job(job, work)

    def _drop_diagnosis(self, run_id: int) -> None:
        if self.diagnosis.get("run") == run_id:
            self.diagnosis = {}

    def _begin(self, run, run_id: int, diagnosis: dict | None = None) -> None:
        positions = list(run.positions)
        p_full, p_blank = run.anchors()  # of the scored ids: the correct one in a diagnosis
        with self.hold_sync():
            self.diagnosis = diagnosis or {}
            traits = NO_LABELS if run.labels is None else labels_traits(self._shown(run.labels))
            self.labels, self.labels_shape = traits["labels"], traits["labels_shape"]
            self.n_regions = int(run.n_regions)
            self.prompt_spans = prompt_spans_state(run.spans, run.n_regions)
            self.selection = positions
            self.error_message = ""
            self.run = run_state(
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
        self.result = partial_result_state(run_id, b"".join(records), run.images_scored, seconds)


def show_explanation(explanation: Explanation) -> EagleWidget:
    """A widget for a finished Explanation (what `Explanation.show()` returns)."""
    return EagleWidget.from_explanation(explanation)


def show_comparison(comparison) -> EagleWidget:
    """A widget for a finished Comparison (what `Comparison.show()` returns)."""
    return EagleWidget.from_comparison(comparison)
