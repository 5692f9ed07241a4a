"""The widget's diagnose mode against a yes/no model whose hallucination has a known cause.

YesNoModel (tests/widget_models.py) says "yes" to "Is there a blue square?" because it sees
block DRIVER (a co-occurring object); with that block filled it says "no". A diagnosis must
find that block, remove exactly it (1/16 of the image) and show the revised "no".
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import comm
import numpy as np
import pytest
from comm.base_comm import BaseComm
from widget_models import (
    DRIVER,
    NO,
    READ_STATE,
    FlakyModel,
    YesNoModel,
    blocks,
    jsonable,
    yes_no_scene,
)

import eagle_widget as ew
from eagle_widget.widget import EagleWidget, show_explanation
from eagle_widget.wire import decode_step, diagnosis_state

IMAGE = yes_no_scene()
BLOCKS = blocks(4, 4, 8)
QUESTION = "Is there a blue square?"
JS_SRC = Path(__file__).resolve().parents[1] / "js" / "src"


class RecordingComm(BaseComm):
    """A comm that keeps the custom messages and state updates the widget sends."""

    def __init__(self, *args, **kwargs):
        self.sent: list[tuple[dict, list[bytes]]] = []
        self.lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        with self.lock:
            self.sent.append((data or {}, [bytes(b) for b in buffers or []]))

    def custom(self, kind: str) -> list[tuple[dict, list[bytes]]]:
        with self.lock:
            return [
                (d["content"], b)
                for d, b in self.sent
                if d.get("method") == "custom" and d["content"].get("type") == kind
            ]


@pytest.fixture(autouse=True)
def recording_comms(monkeypatch):
    monkeypatch.setattr(comm, "create_comm", RecordingComm)


def make_widget(model=None, correct=None, n_regions=16, **kwargs) -> EagleWidget:
    model = model or YesNoModel()
    widget = EagleWidget(
        model,
        IMAGE,
        prompt=QUESTION,
        explainer=ew.Explainer(model, n_regions=n_regions, **kwargs),
        correct=correct,
    )
    assert widget.wait(30), "the widget's work did not finish"
    return widget


def driver_region(widget: EagleWidget) -> int:
    labels = widget.explanation.labels
    ids = np.unique(labels[BLOCKS == DRIVER])
    assert len(ids) == 1, f"the driver block is split over regions {ids}"
    return int(ids[0])


def browser_says(widget: EagleWidget, content: dict) -> None:
    """Deliver a custom message as if the front end had sent it."""
    widget._handle_msg(
        {"content": {"data": {"method": "custom", "content": content}}, "buffers": []}
    )


def wait_for(predicate, timeout=20.0):
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


class CountingYesNoModel(YesNoModel):
    """Counts the images sent to token_probs."""

    def __init__(self):
        super().__init__()
        self.scored = 0

    def token_probs(self, images, generation, positions, token_ids=None):
        self.scored += len(images)
        return super().token_probs(images, generation, positions, token_ids)


def test_the_widget_scores_no_image_of_its_own_beside_the_run_and_the_mitigation():
    model = CountingYesNoModel()
    widget = make_widget(model, correct="no")
    assert widget.status == "done", widget.error_message
    reliance = 2  # every generated token's prior and visual share: the full and blank image
    mitigation = len(widget.mitigation.areas)  # P(correct) after each cut, one batch
    assert model.scored == reliance + widget.explanation.images_scored + mitigation
    # the run's anchors are the correct answer's: P("no") of the full and the blank image
    assert widget.run["p_full"] == pytest.approx([1 - model.p_yes(IMAGE)])
    assert widget.run["p_blank"] == pytest.approx([1 - model.p_yes(np.zeros_like(IMAGE))])


def test_the_diagnose_button_without_a_correct_answer_is_a_counterfactual_everywhere(tmp_path):
    widget = make_widget()
    browser_says(widget, {"type": "diagnose", "correct": "no", "counterfactual": True})
    assert widget.wait(30) and widget.status == "done", widget.error_message
    assert widget.diagnosis["counterfactual"] is True and widget.diagnosis["revised"] == "no"
    figure = widget.explanation.figure(kind="hallucination")
    titles = [ax.get_title() for ax in figure.axes if ax.get_gid() == "mitigated"]
    assert titles and "now says" in titles[0] and "corrected" not in titles[0]
    page = widget.to_html(tmp_path / "page.html")  # the page's panel words it from this
    assert '"counterfactual":true' in page.read_text()
    widget.diagnose("no")  # from code: the user says "no" is right, a diagnosis
    assert widget.wait(30) and widget.diagnosis["counterfactual"] is False
    figure = widget.explanation.figure(kind="hallucination")
    titles = [ax.get_title() for ax in figure.axes if ax.get_gid() == "mitigated"]
    assert "corrected" in titles[0]


@pytest.mark.browser
def test_the_page_of_a_counterfactual_words_it_as_one(browser, tmp_path):
    from offline_page import OfflinePage

    widget = make_widget()
    browser_says(widget, {"type": "diagnose", "correct": "no", "counterfactual": True})
    assert widget.wait(30) and widget.status == "done"
    page = OfflinePage(browser, widget.to_html(tmp_path / "counterfactual.html"))
    try:
        panel = page.page.locator("[data-role=diagnosis]")
        panel.wait_for(state="visible", timeout=10_000)
        text = panel.inner_text()
        assert "Counterfactual: what makes it say \u201cno\u201d" in text
        assert "makes the answer \u201cno\u201d" in text
        assert not re.search(r"correct|diagnos|wrong", text, flags=re.IGNORECASE), text
        assert page.page.locator("button[data-mode=diagnose]").inner_text() == "Counterfactual"
        assert page.errors == []
    finally:
        page.close()


def test_diagnose_removes_exactly_the_driver_and_revises_the_answer_to_no():
    widget = make_widget(correct="no")
    assert widget.status == "done" and widget.error is None, widget.error_message
    assert widget.tokens == ["yes"]
    d = widget.diagnosis
    assert d["complete"] and d["run"] == widget.run["id"]
    assert (d["correct"], d["correct_id"], d["original"]) == ("no", NO, "yes")
    assert d["corrected"] is True and d["revised"] == "no"
    assert d["removed_regions"] == [driver_region(widget)]
    assert d["removed_area"] == pytest.approx(1 / 16)
    # one cut per region ranked last, up to half the image; the first one flips the answer
    assert len(d["areas"]) == len(d["p_correct"]) == 8
    assert d["areas"] == pytest.approx([k / 16 for k in range(1, 9)])
    assert d["cut"] == 0 and d["areas"][d["cut"]] == pytest.approx(1 / 16)
    assert d["p_correct"][0] == pytest.approx(0.75)  # the driver gone: P(no) = 1 - 0.25
    assert d["p_start"] == pytest.approx(0.15)  # the full image: P(no) = 1 - 0.85
    # the run is the counterfactual one: the correct token at the answer's first position
    assert widget.run["mode"] == "diagnose" and widget.run["targets"] == [0]
    assert widget.run["p_full"] == [pytest.approx(0.15)]
    assert widget.run["p_blank"] == [pytest.approx(0.75)]
    assert widget.explanation.target_ids == [NO]
    assert widget.explanation.order[-1] == driver_region(widget)
    assert widget.mitigation.corrected and widget.mitigation.answer.text == "no"
    # its steps streamed like any run
    steps = widget.comm.custom("step")
    assert len(steps) == widget.n_regions
    assert all(c["run"] == widget.run["id"] for c, _ in steps)
    assert {decode_step(b[0])["region"] for _, b in steps} == set(range(widget.n_regions))


def test_diagnose_from_python_after_the_answer_with_a_smaller_area():
    widget = make_widget()
    assert widget.status == "idle" and widget.diagnosis == {}
    widget.diagnose("No", max_area=0.25)
    assert widget.wait(30)
    assert widget.status == "done"
    d = widget.diagnosis
    assert d["correct"] == "No" and d["revised"] == "no" and d["max_area"] == 0.25
    assert len(d["areas"]) == len(d["p_correct"]) == 4 and d["areas"][-1] == pytest.approx(0.25)


def test_an_answer_that_no_cut_corrects_is_reported_as_not_corrected():
    class AlwaysYes(YesNoModel):
        def p_yes(self, image):
            return 0.9 - 0.1 * (1 - super().p_yes(image)) / 0.75  # stays above 0.8

    widget = make_widget(AlwaysYes(), correct="no")
    assert widget.status == "done"
    d = widget.diagnosis
    assert d["corrected"] is False and d["revised"] is None and d["cut"] is None
    assert d["removed_area"] is None and d["areas"][-1] <= 0.5 + 1e-9
    assert len(d["areas"]) == len(d["p_correct"]) == len(d["removed_regions"])


def test_a_cancelled_diagnosis_leaves_the_widget_usable():
    model = YesNoModel(delay=0.03)
    widget = make_widget(model, search="greedy")
    widget.diagnose("no")
    wait_for(lambda: len(widget.comm.custom("step")) >= 2)
    assert widget.status == "explaining" and widget.diagnosis["complete"] is False
    widget.stop()
    assert widget.wait(10)
    assert widget.status == "cancelled" and widget.error is None
    assert widget.diagnosis == {}  # no half diagnosis left on screen
    assert widget.result["complete"] is False and widget.mitigation is None
    n_steps = len(widget.comm.custom("step"))
    assert 2 <= n_steps < widget.n_regions
    model.delay = 0.0
    widget.diagnose("no")
    assert widget.wait(30)
    assert widget.status == "done" and widget.diagnosis["revised"] == "no"


def test_a_new_explanation_replaces_the_diagnosis():
    widget = make_widget(correct="no")
    assert widget.diagnosis["complete"]
    widget.explain([0])
    assert widget.wait(30)
    assert widget.status == "done" and widget.diagnosis == {}
    assert widget.run["mode"] == "sentence" and widget.explanation.target_ids == [1]


@pytest.mark.parametrize(
    "correct, error, match",
    [
        ("maybe", ValueError, "gives no token for 'maybe'"),
        ("  ", ValueError, "correct must be a word"),
        (None, ValueError, "correct must be a word"),
        ("yes", ValueError, "already starts with the correct token 'yes'"),
    ],
)
def test_a_bad_correct_answer_is_a_clear_error_at_once(correct, error, match):
    widget = make_widget()
    with pytest.raises(error, match=match):
        widget.diagnose(correct)
    assert not widget.busy and widget.status == "idle"


def test_bad_arguments_to_diagnose_and_from_the_browser():
    widget = make_widget()
    with pytest.raises(ValueError, match=r"max_area must be in \(0, 1\], got 0"):
        widget.diagnose("no", max_area=0)
    with pytest.raises(TypeError, match="max_area must be a number"):
        widget.diagnose("no", max_area="half")
    with pytest.raises(ValueError, match="gives no token"):
        EagleWidget(YesNoModel(), IMAGE, prompt=QUESTION, correct="perhaps")
    browser_says(widget, {"type": "diagnose", "correct": "?"})
    assert "gives no token" in widget.comm.custom("note")[-1][0]["text"]
    browser_says(widget, {"type": "diagnose", "correct": "no", "max_area": 0.125})
    assert widget.wait(30)
    assert widget.status == "done" and widget.diagnosis["revised"] == "no"
    assert len(widget.diagnosis["areas"]) == 2
    finished = show_explanation(ew.explain(YesNoModel(), IMAGE, QUESTION, n_regions=4))
    with pytest.raises(ValueError, match="no model to diagnose with"):
        finished.diagnose("no")


def test_an_already_correct_answer_found_in_the_worker_is_an_error_then_usable():
    model = YesNoModel()
    widget = EagleWidget(  # the answer is not known when the widget opens
        model, IMAGE, prompt=QUESTION, explainer=ew.Explainer(model, n_regions=16), correct="yes"
    )
    with pytest.raises(ValueError, match="already starts with the correct token"):
        widget.wait(30)
    assert widget.status == "error" and isinstance(widget.error, ValueError)
    assert "already starts with the correct token 'yes'" in widget.error_message
    assert widget.diagnosis == {} and widget.tokens == ["yes"]
    widget.diagnose("no")
    assert widget.wait(30)
    assert widget.status == "done" and widget.error_message == ""
    assert widget.diagnosis["revised"] == "no"


def test_a_model_failure_while_diagnosing_shows_and_the_widget_recovers():
    model = FlakyModel(YesNoModel(), fail_after=3)  # no encode(): the correct id is given
    widget = make_widget(model)
    widget.diagnose(NO)
    with pytest.raises(RuntimeError, match="simulated model failure"):
        widget.wait(30)
    assert widget.status == "error" and "simulated model failure" in widget.error_message
    assert widget.diagnosis == {}
    model.failing.clear()
    widget.diagnose(NO)
    assert widget.wait(30)
    assert widget.status == "done"
    assert widget.diagnosis["correct"] == f"token {NO}" and widget.diagnosis["revised"] == "no"


def test_a_finished_result_with_a_mitigation_shows_the_same_diagnosis(tmp_path):
    live = make_widget(correct="no")
    shown = show_explanation(live.explanation)
    assert shown.diagnosis == {**live.diagnosis, "run": 0}
    assert shown.run["mode"] == "diagnose"
    # the mitigation is saved with the explanation and comes back with it
    path = live.explanation.save(tmp_path / "diagnosis.npz")
    reloaded = show_explanation(ew.Explanation.load(path))
    assert reloaded.diagnosis == shown.diagnosis
    # one made with the engine alone: the correct word is the revised answer's first word
    model = YesNoModel()
    diagnosis = ew.diagnose(model, IMAGE, QUESTION, correct="no", n_regions=16)
    ew.mitigate(model, IMAGE, QUESTION, diagnosis.explanation, max_area=0.5)
    state = diagnosis_state(diagnosis.explanation)
    assert state["correct"] == "no" and state["revised"] == "no" and state["cut"] == 0
    assert diagnosis_state(ew.explain(model, IMAGE, QUESTION, n_regions=4)) == {}


def test_the_offline_page_carries_the_diagnosis(tmp_path):
    widget = make_widget(correct="no")
    page = widget.to_html(tmp_path / "diagnosis.html").read_text()
    block = re.search(r'<script type="application/json" id="eagle-state">(.*?)</script>', page)
    state = json.loads(block.group(1))
    assert state["diagnosis"]["revised"] == "no"
    assert state["diagnosis"]["removed_regions"] == [driver_region(widget)]
    assert state["run"]["mode"] == "diagnose"


# The front end's hallucination map, from the trait state, against the engine's.
_DERIVE = """
import { readFileSync } from "node:fs";
import { decodeResult } from "%(src)s/codecs.js";
import { hallucinationValues, readDiagnosis } from "%(src)s/diagnosis.js";
import { applyResult, startRun } from "%(src)s/state.js";
%(read_state)sconst state = applyResult(startRun(raw.run, raw.n_regions), decodeResult(raw.result));
const d = readDiagnosis(raw.diagnosis);
console.log(JSON.stringify({ map: Array.from(hallucinationValues(state)), cut: d.cut,
  points: d.points.length }));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_front_end_shows_the_engines_hallucination_map(tmp_path):
    widget = make_widget(correct="no")
    names = ("run", "n_regions", "result", "diagnosis")
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(jsonable({n: getattr(widget, n) for n in names})))
    script = tmp_path / "derive.mjs"
    script.write_text(_DERIVE % {"src": JS_SRC.as_posix(), "read_state": READ_STATE})
    proc = subprocess.run(
        ["node", str(script), str(state_file)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    engine = 1.0 - widget.explanation.region_values("rank")
    assert np.allclose(out["map"], engine, atol=1e-5)
    assert out["map"][driver_region(widget)] == pytest.approx(1.0)  # the driver is the hottest
    assert out["cut"]["area"] == pytest.approx(1 / 16) and out["points"] == 9


def test_only_a_widget_with_a_model_offers_to_diagnose():
    live = make_widget(correct="no")  # make_widget waits for the run
    assert live.has_model and live.tokens == ["yes"]
    assert not show_explanation(live.explanation).has_model  # a finished result: no button
