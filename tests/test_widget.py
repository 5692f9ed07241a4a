"""EagleWidget without a browser: trait state, step messages, threads, cancel, errors."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import comm
import numpy as np
import pytest
from comm.base_comm import BaseComm
from PIL import Image
from widget_models import (
    BLUE,
    RED,
    SQUARE,
    WORDS,
    FlakyModel,
    blocks,
    caption_model,
    long_caption_model,
    scene,
)

import eagle_widget as ew
from eagle_widget.engine import Step
from eagle_widget.widget import EagleWidget, show_explanation
from eagle_widget.wire import decode_step, encode_step, explanation_state

# The same bytes as SPEC_HEX in js/test/codecs.test.js: both codecs follow one layout.
SPEC_HEX = (
    "03000000" "07000000" "02000000" "01" "00" "0200" "7b000000"
    "0000003f" "0000803e" "0000403f" "0000003e"
    "ffff" "0080" "0000" "0040"
)  # fmt: skip

IMAGE = scene()
BLOCKS = blocks()


class RecordingComm(BaseComm):
    """A comm that keeps what the widget sends (time, message type, data, buffers)."""

    def __init__(self, *args, **kwargs):
        self.sent: list[tuple[float, str, dict, list[bytes]]] = []
        self.lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        with self.lock:
            buffers = [bytes(b) for b in buffers or []]
            self.sent.append((time.perf_counter(), msg_type, data or {}, buffers))

    def custom(self, kind: str) -> list[tuple[float, dict, list[bytes]]]:
        with self.lock:
            return [
                (t, d["content"], b)
                for t, _, d, b in self.sent
                if d.get("method") == "custom" and d["content"].get("type") == kind
            ]


@pytest.fixture(autouse=True)
def recording_comms(monkeypatch):
    monkeypatch.setattr(comm, "create_comm", RecordingComm)


def browser_says(widget: EagleWidget, content: dict) -> None:
    """Deliver a custom message as if the front end had sent it."""
    widget._handle_msg(
        {"content": {"data": {"method": "custom", "content": content}}, "buffers": []}
    )


def make_widget(model=None, n_regions=16, search="lazy", **kwargs) -> EagleWidget:
    model = model or caption_model()
    widget = EagleWidget(
        model, IMAGE, explainer=ew.Explainer(model, n_regions=n_regions, search=search, **kwargs)
    )
    assert widget.wait(30), "generation did not finish"
    return widget


def region_of_block(labels: np.ndarray, block: int) -> int:
    ids = np.unique(labels[BLOCKS == block])
    assert len(ids) == 1, f"block {block} is split over regions {ids}"
    return int(ids[0])


def wait_for(predicate, timeout=20.0):
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


# -- wire format -----------------------------------------------------------------------
def test_step_record_follows_the_layout_shared_with_the_front_end():
    step = Step(
        index=3,
        region=7,
        chain="remove",
        insight=0.5,
        necessity=0.25,
        score=0.75,
        probs_insert=np.array([1.0, 32768 / 65535]),
        probs_delete=np.array([0.0, 16384 / 65535]),
        area=0.125,
        images_scored=123,
    )
    record = encode_step(step, rank=2)
    assert record.hex() == SPEC_HEX
    back = decode_step(record)
    assert (back["region"], back["rank"], back["chain"], back["images_scored"]) == (
        7,
        2,
        "remove",
        123,
    )
    assert np.allclose(back["probs_insert"], step.probs_insert, atol=1 / 65535)


def test_step_record_rejects_mismatched_probabilities():
    step = Step(0, 1, "insert", 0, 0, 0, np.zeros(2), np.zeros(3), 0.1, 2)
    with pytest.raises(ValueError, match="2 insertion but 3 deletion"):
        encode_step(step, 0)


# -- opening ---------------------------------------------------------------------------
def test_opening_generates_the_caption_and_its_reliance():
    widget = make_widget()
    assert widget.status == "idle"
    assert widget.tokens == WORDS
    assert widget.words == [[i, i + 1] for i in range(len(WORDS))]
    assert widget.prompt == "Describe the image."
    # prior = p(blank image) = base; visual = what the full image adds (known weights)
    assert np.allclose(widget.reliance["prior"], [0.9, 0.1, 0.05, 0.6, 0.2, 0.95])
    assert np.allclose(widget.reliance["visual"], [0, 0.8, 0.8, 0, 0.7, 0])
    assert widget.image_png[:8] == b"\x89PNG\r\n\x1a\n"
    assert widget.error is None


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"image": "/no/such/image.png"}, ValueError, "not found"),
        ({"image": np.zeros((4, 4, 7), np.uint8)}, ValueError, "shape"),
        ({"image": None}, ValueError, "needs an image"),
        ({"prompt": 3}, TypeError, "prompt must be a str"),
        ({"model": object()}, TypeError, "generate"),
        ({"explainer": "lazy"}, TypeError, "explainer must be"),
    ],
)
def test_bad_arguments_are_rejected_at_once(kwargs, error, match):
    args = {"model": caption_model(), "image": IMAGE, **kwargs}
    with pytest.raises(error, match=match):
        EagleWidget(**args)


# -- a run -----------------------------------------------------------------------------
def test_word_run_leaves_the_whole_result_in_the_traits():
    widget = make_widget()
    widget.explain([1])  # " red"
    assert widget.wait(30)
    assert widget.status == "done"
    ex = widget.explanation
    labels = np.frombuffer(widget.labels, dtype="<u2").reshape(widget.labels_shape)
    assert np.array_equal(labels, ex.labels)
    assert ex.order[0] == region_of_block(labels, RED)  # ground truth: red rests on RED
    assert widget.selection == [1]
    assert widget.run["targets"] == [1] and widget.run["mode"] == "word"
    assert widget.run["p_full"] == pytest.approx([0.9]) and widget.run["p_blank"] == [
        pytest.approx(0.1)
    ]
    result = widget.result
    assert result["complete"] and result["run"] == widget.run["id"]
    assert np.frombuffer(result["order"], "<i4").tolist() == ex.order
    assert np.allclose(np.frombuffer(result["insertion"], "<f4"), ex.insertion_curve.ravel())
    assert np.allclose(np.frombuffer(result["deletion"], "<f4"), ex.deletion_curve.ravel())
    assert np.allclose(np.frombuffer(result["areas"], "<f4"), ex.areas)
    assert result["insertion_auc"] == pytest.approx(ex.insertion_auc)
    # the streamed records put every region at its final rank
    size = 36 + 4 * 1
    records = [
        decode_step(result["steps"][i : i + size]) for i in range(0, len(result["steps"]), size)
    ]
    assert len(records) == ex.n_regions
    assert all(ex.order[r["rank"]] == r["region"] for r in records)


def test_each_step_streams_as_one_message_under_1kb():
    widget = make_widget()
    widget.explain(None)
    assert widget.wait(30)
    steps = widget.comm.custom("step")
    assert len(steps) == widget.n_regions
    run_id = widget.run["id"]
    sizes = [len(json.dumps(c)) + sum(map(len, b)) for _, c, b in steps]
    assert all(c["run"] == run_id for _, c, _ in steps)
    assert max(sizes) < 1024
    # the records arrive in search order and carry the running image count
    counts = [decode_step(b[0])["images_scored"] for _, _, b in steps]
    assert counts == sorted(counts) and counts[-1] <= widget.explanation.images_scored


def test_a_64_token_sentence_still_fits_a_step_in_1kb():
    widget = make_widget(long_caption_model(64))
    widget.explain()
    assert widget.wait(60)
    sizes = [len(json.dumps(c)) + sum(map(len, b)) for _, c, b in widget.comm.custom("step")]
    assert len(sizes) == widget.n_regions and max(sizes) < 1024, max(sizes)


def test_the_label_map_is_sent_once_not_per_step():
    widget = make_widget()
    widget.explain([1])
    assert widget.wait(30)
    widget.explain([4])
    assert widget.wait(30)
    updates = [d for _, kind, d, _ in widget.comm.sent if d.get("method") == "update"]
    # binary traits travel as buffers, named in buffer_paths
    with_labels = [d for d in updates if ["labels"] in d.get("buffer_paths", [])]
    assert len(with_labels) == 1  # same image, same regions: not sent again


def test_a_large_image_reaches_the_front_end_at_display_size():
    # 1500 x 2000 pixels, 3 x 4 blocks: the browser gets 768 x 1024 copies of the image and of
    # the label map, with the same region ids; the engine explains the full-size image here
    # (working_size=None: the synthetic model knows its objects at this size only)
    cell = 500
    model = caption_model(rows=3, cols=4, cell=cell)
    image = scene(rows=3, cols=4, cell=cell)
    explainer = ew.Explainer(model, n_regions=12, working_size=None)
    widget = EagleWidget(model, image, explainer=explainer)
    try:
        assert widget.wait(30)
        shown = np.asarray(Image.open(io.BytesIO(widget.image_png)))
        assert shown.shape == (768, 1024, 3)
        assert np.abs(shown.astype(int) - image[::cell, ::cell].repeat(256, 0).repeat(256, 1)
                      ).mean() < 1  # flat blocks stay their colour  # fmt: skip
        widget.explain([1])  # " red"
        assert widget.wait(60) and widget.status == "done"
        ex = widget.explanation
        assert ex.labels.shape == (1500, 2000)
        assert widget.labels_shape == [768, 1024]
        labels = np.frombuffer(widget.labels, dtype="<u2").reshape(768, 1024)
        centres = ((np.arange(768) + 0.5) * 1500 / 768).astype(int)
        across = ((np.arange(1024) + 0.5) * 2000 / 1024).astype(int)
        assert np.array_equal(labels, ex.labels[centres][:, across])
        assert set(np.unique(labels)) == set(range(ex.n_regions))  # no region lost
        state = explanation_state(ex)  # the offline page and show() get the same copies
        assert state["labels_shape"] == [768, 1024] and state["labels"] == widget.labels
        assert len(widget.labels) + len(widget.image_png) < 2_000_000
    finally:
        widget.close()


@pytest.mark.parametrize("fill", [(10, 200, 30), "mean"])
def test_the_front_end_gets_the_fill_the_model_sees_where_a_region_is_removed(fill):
    model = caption_model()
    widget = EagleWidget(model, IMAGE, explainer=ew.Explainer(model, n_regions=16, fill=fill))
    try:
        assert widget.wait(30)
        shown = np.asarray(Image.open(io.BytesIO(widget.fill_png)).convert("RGB"))
        expected = fill if fill != "mean" else np.round(IMAGE.reshape(-1, 3).mean(0))
        assert shown.shape == IMAGE.shape
        assert np.array_equal(shown, np.broadcast_to(np.asarray(expected, np.uint8), IMAGE.shape))
    finally:
        widget.close()


def test_sentence_run_gives_each_token_its_own_columns():
    widget = make_widget()
    widget.explain()
    assert widget.wait(30)
    ex = widget.explanation
    assert widget.run["mode"] == "sentence" and widget.run["targets"] == list(range(6))
    gains = ex.region_values("gain", target=4)  # " blue"
    assert gains[region_of_block(ex.labels, BLUE)] == 1.0


# -- cancelling and threads --------------------------------------------------------------
def test_stop_cancels_between_batches_and_keeps_the_steps_made():
    widget = make_widget(caption_model(delay=0.03), n_regions=16, search="greedy")
    widget.explain([2])
    wait_for(lambda: len(widget.comm.custom("step")) >= 2)
    widget.stop()
    assert widget.wait(10)
    assert widget.status == "cancelled"
    n_steps = len(widget.comm.custom("step"))
    assert 2 <= n_steps < widget.n_regions
    assert widget.result["complete"] is False
    assert len(widget.result["steps"]) == n_steps * (36 + 4)
    assert widget.explanation is None and widget.error is None


def test_a_new_request_cancels_the_running_one():
    widget = make_widget(caption_model(delay=0.03), search="greedy")
    widget.explain([2])
    wait_for(lambda: len(widget.comm.custom("step")) >= 1)
    first = widget.run["id"]
    browser_says(widget, {"type": "explain", "targets": [4]})
    assert widget.wait(30)
    assert widget.status == "done"
    assert widget.run["id"] != first and widget.run["targets"] == [4]
    old = [c for _, c, _ in widget.comm.custom("step") if c["run"] == first]
    assert len(old) < widget.n_regions
    statuses = [
        d["state"]["status"] for _, _, d, _ in widget.comm.sent if "status" in d.get("state", {})
    ]
    assert "cancelled" not in statuses  # a replaced run does not flash "cancelled"
    assert widget.explanation.order[0] == region_of_block(widget.explanation.labels, BLUE)


def test_two_widgets_work_at_the_same_time_independently():
    a = make_widget(caption_model(delay=0.02), search="greedy")
    b = make_widget(caption_model(delay=0.02), search="greedy")
    a.explain([1])
    b.explain([4])
    assert a.wait(30) and b.wait(30)
    assert a.status == b.status == "done"
    assert a.explanation.order[0] == region_of_block(a.explanation.labels, RED)
    assert b.explanation.order[0] == region_of_block(b.explanation.labels, BLUE)
    ta = [t for t, _, _ in a.comm.custom("step")]
    tb = [t for t, _, _ in b.comm.custom("step")]
    assert tb[0] < ta[-1] and ta[0] < tb[-1], "the two searches did not overlap in time"
    assert a._worker.name != b._worker.name


def test_the_kernel_thread_stays_free_while_a_search_runs():
    class HeldScores:  # scoring waits for the test: explain() must return before it may go on
        def __init__(self):
            self.model = caption_model()
            self.held = False  # from explain() on
            self.scoring = threading.Event()
            self.release = threading.Event()

        def generate(self, image, prompt, max_new_tokens=64):
            return self.model.generate(image, prompt, max_new_tokens)

        def token_probs(self, images, generation, positions, token_ids=None):
            if self.held:
                self.scoring.set()
                self.release.wait()
            return self.model.token_probs(images, generation, positions, token_ids)

    model = HeldScores()
    widget = make_widget(model, search="greedy")
    backstop = threading.Timer(30, model.release.set)  # an explain() that blocks fails, not hangs
    backstop.start()
    model.held = True
    widget.explain([2])  # returns while the search is held in the worker thread
    assert not model.release.is_set(), "explain() waited for the search"
    backstop.cancel()
    assert model.scoring.wait(10) and widget.busy
    widget.stop()
    model.release.set()
    assert widget.wait(10)


EXIT_WITH_WIDGETS_RUNNING = """\
import eagle_widget as ew
model = ew.load_demo_model()
image = ew.scenes.make_scene(seed=1, objects=[("red", "circle"), ("blue", "square")]).image
widgets = [ew.EagleWidget(model, image) for _ in range(4)]
widgets[0].wait(30)
for w in widgets:
    w.explain(None)  # searches still running when the script ends
"""


def test_a_script_that_ends_with_widgets_still_searching_exits_cleanly(tmp_path):
    # daemon workers inside torch at interpreter exit used to abort the process (SIGABRT,
    # "terminate called without an active exception"); the workers are closed at exit now
    script = tmp_path / "ends.py"
    script.write_text(EXIT_WITH_WIDGETS_RUNNING)
    for _ in range(3):
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                              timeout=120)  # fmt: skip
        assert done.returncode == 0, (done.returncode, done.stderr[-500:])
        assert "terminate called" not in done.stderr


# -- errors ------------------------------------------------------------------------------
def test_a_model_failure_shows_in_the_widget_and_leaves_it_usable():
    model = FlakyModel(caption_model(), fail_after=4)  # reliance and a few batches work
    widget = make_widget(model, early_stop=False)  # a search of many batches: it fails midway
    widget.explain([1])
    with pytest.raises(RuntimeError, match="simulated model failure"):  # wait() raises it
        widget.wait(30)
    assert not widget.busy
    assert widget.status == "error"
    assert isinstance(widget.error, RuntimeError)
    assert "RuntimeError: simulated model failure" in widget.error_message
    model.failing.clear()
    widget.explain([1])
    assert widget.wait(30)
    assert widget.status == "done" and widget.error_message == "" and widget.error is None
    assert widget.explanation.order[0] == region_of_block(widget.explanation.labels, RED)


def test_a_failing_generate_is_an_error_too():
    class NoCaption:
        def generate(self, image, prompt, max_new_tokens=64):
            raise OSError("weights missing")

        def token_probs(self, images, generation, positions, token_ids=None):
            raise AssertionError("never called")

    widget = EagleWidget(NoCaption(), IMAGE)
    with pytest.raises(OSError, match="weights missing"):
        widget.wait(10)
    assert widget.status == "error" and isinstance(widget.error, OSError)
    assert widget.error_message == "OSError: weights missing"
    assert widget.tokens == []


def test_bad_targets_from_python_and_from_the_browser():
    widget = make_widget()
    with pytest.raises(TypeError, match="targets must be"):
        widget.explain(3.5)
    with pytest.raises(ValueError, match="non-empty list"):
        widget.explain([])
    with pytest.raises(ValueError, match="non-empty list"):
        widget.explain([True])  # not token 1
    for same in (1, np.int64(1), range(1, 2), np.array([1])):  # as ew.explain takes them
        widget.explain(same)
        assert widget.wait(30) and widget.run["targets"] == [1], same
    browser_says(widget, {"type": "explain", "targets": ["x"]})
    notes = widget.comm.custom("note")
    assert notes and "token indices" in notes[-1][1]["text"]
    with pytest.raises(ValueError, match="out of range"):  # the caption is known: at once
        widget.explain([99])
    assert widget.wait(10)  # nothing ran, nothing to raise again
    assert "out of range" in widget.comm.custom("note")[-1][1]["text"]  # shown in the widget


def test_a_word_the_caption_lacks_raises_at_once_and_shows_in_the_widget():
    widget = make_widget()
    with pytest.raises(ValueError, match="dog"):
        widget.explain("dog")
    assert not widget.busy and widget.status == "idle"
    assert "dog" in widget.comm.custom("note")[-1][1]["text"]
    widget.explain("red")  # the widget stays usable
    assert widget.wait(30) and widget.status == "done" and widget.error_message == ""
    assert widget.run["targets"] == [1]


def test_a_word_asked_for_before_the_caption_is_known_fails_the_run_and_wait_raises():
    class Gated:  # generate() waits until the test lets it answer
        def __init__(self):
            self.model, self.gate = caption_model(), threading.Event()

        def generate(self, *args, **kwargs):
            assert self.gate.wait(30)
            return self.model.generate(*args, **kwargs)

        def token_probs(self, *args, **kwargs):
            return self.model.token_probs(*args, **kwargs)

    model = Gated()
    widget = EagleWidget(model, IMAGE, explainer=ew.Explainer(model, n_regions=16))
    widget.explain("dog")  # the caption is not known yet: the run finds the bad word
    model.gate.set()
    with pytest.raises(ValueError, match="dog"):
        widget.wait(30)
    assert widget.status == "error" and isinstance(widget.error, ValueError)
    widget.explain([1])
    assert widget.wait(30) and widget.status == "done"  # a later success raises nothing


# -- messages from the browser -----------------------------------------------------------
def test_json_export_replies_with_the_result():
    widget = make_widget()
    browser_says(widget, {"type": "export_json", "id": 1})
    assert widget.comm.custom("reply")[-1][1] == {
        "type": "reply",
        "id": 1,
        "ok": False,
        "error": "no result yet",
    }
    browser_says(widget, {"type": "explain", "targets": [1, 2]})
    assert widget.wait(30)
    browser_says(widget, {"type": "export_json", "id": 2})
    _, content, buffers = widget.comm.custom("reply")[-1]
    assert content["ok"] and content["id"] == 2 and content["filename"] == "eagle-red-square.json"
    data = json.loads(buffers[0])
    assert data["order"] == widget.explanation.order and data["positions"] == [1, 2]


# -- finished results ----------------------------------------------------------------------
def test_show_explanation_needs_no_model_and_carries_the_same_state():
    model = caption_model()
    ex = ew.explain(model, IMAGE, targets=[2], n_regions=16)
    widget = show_explanation(ex)
    assert widget.status == "done" and widget.explanation is ex
    assert widget.selection == [2] and widget.tokens == WORDS
    assert np.frombuffer(widget.result["order"], "<i4").tolist() == ex.order
    # reliance is known for the explained token only
    assert widget.reliance["prior"][2] == pytest.approx(0.05)
    assert widget.reliance["prior"][0] is None
    # the square needs both of its blocks
    top_two = set(ex.order[:2])
    assert top_two == {region_of_block(ex.labels, RED), region_of_block(ex.labels, SQUARE)}
    with pytest.raises(ValueError, match="no model"):
        widget.explain([1])
    browser_says(widget, {"type": "explain", "targets": [1]})
    assert "no model" in widget.comm.custom("note")[-1][1]["text"]
    state = explanation_state(ex)
    assert set(state) == {
        name for name in widget.trait_names(sync=True) if not name.startswith("_")
    } - {"layout", "tabbable", "tooltip"}


def _synced_traits() -> set[str]:
    names = EagleWidget.class_trait_names(sync=True)
    return {n for n in names if not n.startswith("_")} - {"layout", "tabbable", "tooltip"}


def test_the_front_end_listens_to_every_synced_trait_and_no_other():
    source = (Path(ew.__file__).parents[1] / "js" / "src" / "app.js").read_text()
    listed = re.search(r"const TRAITS = \[(.*?)\];", source, re.S)
    assert listed, "app.js has no TRAITS list"
    assert set(re.findall(r'"(\w+)"', listed.group(1))) == _synced_traits()
    result = ew.explain(caption_model(), IMAGE, n_regions=16)
    assert set(explanation_state(result)) == _synced_traits()


def test_show_explanation_rejects_other_objects():
    with pytest.raises(TypeError, match="expected an Explanation"):
        show_explanation({"order": []})


def test_to_html_exports_the_last_finished_result(tmp_path):
    widget = make_widget()
    with pytest.raises(ValueError, match="no finished explanation"):
        widget.to_html(tmp_path / "none.html")
    widget.explain([4])
    assert widget.wait(30)
    page = widget.to_html(tmp_path / "blue.html").read_text()
    assert "eagle-widget" in page and len(page) > 20_000


def test_stop_while_the_caption_is_generated_ends_in_cancelled():
    class SlowCaption:
        def __init__(self):
            self.model = caption_model()
            self.entered = threading.Event()
            self.release = threading.Event()

        def generate(self, image, prompt, max_new_tokens=64):
            self.entered.set()
            self.release.wait(10)
            return self.model.generate(image, prompt, max_new_tokens)

        def token_probs(self, images, generation, positions, token_ids=None):
            return self.model.token_probs(images, generation, positions, token_ids)

    model = SlowCaption()
    widget = EagleWidget(model, IMAGE)
    assert widget.status == "generating" and widget.busy
    assert model.entered.wait(10)
    widget.stop()
    model.release.set()
    assert widget.wait(10)
    assert widget.status == "cancelled"
    assert widget.tokens == WORDS  # the caption that was being made is kept
    widget.explain([1])  # and the widget goes on from there
    assert widget.wait(30) and widget.status == "done"


def test_the_worker_runs_the_newest_request_and_reports_cancelled_ones():
    from eagle_widget.worker import Worker

    worker = Worker()
    gate = threading.Event()
    ran: list[tuple[str, bool]] = []

    def job(name):
        def fn(j):
            if name == "first":
                gate.wait(5)
            ran.append((name, j.cancelled))

        return fn

    first = worker.submit(job("first"), "first")
    wait_for(lambda: worker._current is first)
    second = worker.submit(job("second"), "second")  # waits behind first, cancels it
    third = worker.submit(job("third"), "third")  # replaces second before it ran
    assert first.cancelled and first.superseded and second.done.is_set()
    gate.set()
    assert worker.wait(5)
    assert ran == [("first", True), ("third", False)]
    assert third.done.is_set() and not third.cancelled
    worker.submit(job("fourth"), "fourth")
    worker.cancel()  # a cancelled job still runs, to report that it was stopped
    assert worker.wait(5) and ran[-1][0] == "fourth"
    worker.close()
    with pytest.raises(RuntimeError, match="closed"):
        worker.submit(job("late"))
