"""Diagnosis and mitigation of the demo model's own hallucinations, against ground truth.

The demo model was trained on scenes where a yellow circle comes with a blue square 90% of
the time. On scenes with a yellow circle and no blue square it sometimes answers "yes" to
"Is there a blue square?". The ground truth of each such case is found by editing the
scene: the objects whose removal alone turns the answer into "no" drive the hallucination.
A small sample here; bench/bench_demo_hallucination.py measures the full one.
"""

from __future__ import annotations

import numpy as np
import pytest

import eagle_widget as ew
from eagle_widget.models.demo.scenes import question
from eagle_widget.models.demo.training.quality import (
    BLUE_SQUARE,
    YELLOW_CIRCLE,
    driver_objects,
    without_object,
    wrong_yes_cases,
)

QUESTION = question(*BLUE_SQUARE)
SAMPLE = 4  # hallucinations checked here (the benchmark takes every one of 400 scenes)


@pytest.fixture(scope="module")
def demo():
    return ew.load_demo_model()


@pytest.fixture(scope="module")
def cases(demo):
    found = wrong_yes_cases(demo.model, 150)
    assert len(found) >= SAMPLE, f"only {len(found)} hallucinations in 150 biased scenes"
    return found[:SAMPLE]


@pytest.fixture(scope="module")
def diagnosed(demo, cases):
    out = []
    for _, scene in cases:
        diagnosis = ew.diagnose(demo, scene.image, QUESTION, correct="no", n_regions=32)
        outcome = ew.mitigate(demo, scene.image, QUESTION, diagnosis.explanation, max_area=0.5)
        out.append((scene, diagnosis, outcome, driver_objects(demo.model, scene)))
    return out


def _kind(scene, k):
    return (scene.objects[k].colour, scene.objects[k].shape)


def test_the_hallucinations_are_real_and_the_co_occurring_yellow_circle_drives_them(
    demo, diagnosed
):
    for scene, diagnosis, _, drivers in diagnosed:
        assert not scene.has(*BLUE_SQUARE) and scene.has(*YELLOW_CIRCLE)
        assert diagnosis.generation.text == "yes"  # the adapter's own greedy answer
        assert YELLOW_CIRCLE in [_kind(scene, k) for k in drivers]
        circle = [k for k in range(len(scene.objects)) if _kind(scene, k) == YELLOW_CIRCLE][0]
        answer = demo.generate(without_object(scene, circle).image, QUESTION).text
        assert answer == "no"  # the same scene without the yellow circle is answered right


def test_the_diagnosis_points_at_an_object_that_drives_the_wrong_yes(diagnosed):
    for scene, diagnosis, _, drivers in diagnosed:
        result = diagnosis.explanation
        heat = diagnosis.hallucination_map
        hottest = result.labels == result.order[-1]  # ranked last for the correct "no"
        assert heat[hottest].min() == 1.0
        # the truth: the blue object misread as a blue square, or the co-occurring yellow
        # circle, each a driver (a third object's removal can flip the fragile "yes" too)
        kinds = [_kind(scene, k) for k in drivers]
        core = [k for k, kind in zip(drivers, kinds) if kind[0] == "blue" or kind == YELLOW_CIRCLE]
        assert any(scene.objects[k].mask[hottest].mean() >= 0.5 for k in core), (scene.pairs, kinds)


def test_mitigation_corrects_each_one_within_ten_percent_of_the_image(demo, diagnosed):
    outcomes = [outcome for _, _, outcome, _ in diagnosed]
    for scene, diagnosis, outcome, drivers in diagnosed:
        assert outcome.corrected and outcome.answer.text == "no"
        assert outcome.removed_area <= 0.10
        removed = np.isin(diagnosis.explanation.labels, outcome.removed_regions)
        assert any(removed[scene.objects[k].mask].any() for k in drivers)
        assert outcome.p_correct[len(outcome.removed_regions) - 1] > 0.5
    metrics = ew.hallucination_metrics(outcomes)
    assert metrics["csr_at_10"] == 1.0 and metrics["amcr"] <= 0.10
