"""Diagnosis and mitigation against a synthetic model whose hallucination has a known cause."""

from pathlib import Path

import numpy as np
import pytest
from synthetic import block_image

import eagle_widget as ew
from eagle_widget.engine import Generation
from eagle_widget.engine.hallucination import Mitigation, hallucination_metrics

BLOCKS = np.repeat(np.repeat(np.arange(16).reshape(4, 4), 8, 0), 8, 1)
YES, NO = 1, 2
DRIVER = 6  # the block whose sight makes the model say "yes" although the object is absent


class PriorModel:
    """Answers "yes"/"no" to a presence question; sight of block 6 (a co-occurring object)
    pushes it to "yes". The answer's first token is the argmax of the two."""

    def p_yes(self, image):
        shown = np.asarray(image).any(axis=2)
        return 0.25 + 0.6 * shown[BLOCKS == DRIVER].mean()

    def encode(self, text):
        return {"yes": [YES], "no": [NO]}[text.strip().lower()]

    def generate(self, image, prompt, max_new_tokens=64):
        yes = self.p_yes(image) > 0.5
        word = "yes" if yes else "no"
        return Generation(prompt, [YES if yes else NO], [word], word, np.asarray(image).shape[:2])

    def token_probs(self, images, generation, positions, token_ids=None):
        ids = token_ids or [generation.token_ids[p] for p in positions]
        p = np.array([self.p_yes(im) for im in images])
        return np.stack([p if i == YES else 1 - p for i in ids], axis=1)


IMAGE = block_image(4, 4, cell=8, seed=3)


def test_diagnosis_points_at_the_region_that_drives_the_wrong_yes():
    diagnosis = ew.diagnose(
        PriorModel(), IMAGE, "Is there a blue square?", correct="no", n_regions=16
    )
    assert diagnosis.generation.text == "yes"
    assert diagnosis.correct_id == NO
    result = diagnosis.explanation
    assert result.target_ids == [NO] and result.positions == [0]
    driver_region = result.labels[BLOCKS == DRIVER][0]
    assert result.order[-1] == driver_region  # ranked last for the correct answer
    heat = diagnosis.hallucination_map
    assert heat[BLOCKS == DRIVER].min() == 1.0 and heat[BLOCKS != DRIVER].max() < 1.0
    # "yes" gets 0.25 from the prior and 0.6 from the image: visual, not prior-driven
    assert diagnosis.prior[0] == pytest.approx(0.25) and diagnosis.prior_driven == []


def test_mitigation_removes_the_driver_and_flips_the_answer():
    model = PriorModel()
    diagnosis = ew.diagnose(model, IMAGE, "q", correct="no", n_regions=16)
    outcome = ew.mitigate(model, IMAGE, "q", diagnosis.explanation, max_area=0.5)
    assert outcome.corrected and outcome.answer.text == "no"
    assert outcome.removed_regions == [diagnosis.explanation.labels[BLOCKS == DRIVER][0]]
    assert outcome.removed_area == pytest.approx(1 / 16)
    assert outcome.p_correct[0] == pytest.approx(0.75)  # the driver gone: P(no) = 1 - 0.25
    assert diagnosis.explanation.mitigation.answer.text == "no"


def test_mitigation_that_never_corrects_counts_one():
    model = PriorModel()
    diagnosis = ew.diagnose(model, IMAGE, "q", correct="no", n_regions=16)
    reversed_order = diagnosis.explanation
    reversed_order.steps = reversed_order.steps[::-1]  # now the driver is ranked first
    outcome = ew.mitigate(model, IMAGE, "q", reversed_order, max_area=0.3)
    assert not outcome.corrected and outcome.removed_area == 1.0
    assert outcome.areas[-1] <= 0.3 + 1e-9 and len(outcome.p_correct) == len(outcome.areas)


def sample(corrected, area):
    g = Generation("q", [1], ["yes"], "yes", (1, 1))
    return Mitigation(g, corrected, g if corrected else None, [], area, np.zeros(1), np.zeros(1))


def test_dataset_metrics_count_never_corrected_samples():
    samples = [sample(True, 0.05), sample(True, 0.2), sample(False, 1.0), sample(True, 0.1)]
    metrics = hallucination_metrics(samples)
    assert metrics["amcr"] == pytest.approx((0.05 + 0.2 + 1.0 + 0.1) / 4)
    assert metrics["csr_at_10"] == pytest.approx(2 / 4)  # 5% and 10% count, the failure stays
    with pytest.raises(ValueError, match="no samples"):
        hallucination_metrics([])


def test_correct_answer_needs_an_encoder_or_an_id():
    class NoEncode(PriorModel):
        encode = None

    with pytest.raises(TypeError, match="encode"):
        ew.diagnose(NoEncode(), IMAGE, "q", correct="no", n_regions=4)
    assert ew.diagnose(NoEncode(), IMAGE, "q", correct=NO, n_regions=4).correct_id == NO


class BatchedPriorModel(PriorModel):
    """The same model, able to regenerate many masked images per call."""

    def __init__(self):
        self.calls = []

    def generate_batch(self, images, prompt, max_new_tokens=64):
        self.calls.append(len(images))
        return [self.generate(im, prompt, max_new_tokens) for im in images]


def test_mitigation_regenerates_in_batches_when_the_model_can_and_agrees_with_one_by_one():
    diagnosis = ew.diagnose(PriorModel(), IMAGE, "q", correct="no", n_regions=16)
    result = diagnosis.explanation
    result.steps = result.steps[::-1]  # the driver comes last: many cuts before the answer flips
    alone = ew.mitigate(PriorModel(), IMAGE, "q", result, max_area=1.0)
    batched_model = BatchedPriorModel()
    batched = ew.mitigate(batched_model, IMAGE, "q", result, max_area=1.0)
    assert batched.corrected and alone.corrected
    assert batched.removed_regions == alone.removed_regions and len(alone.removed_regions) == 16
    assert batched_model.calls == [8, 8]  # 16 cuts in two calls, not sixteen
    assert result.mitigation.correct_id == NO
    assert result.mitigation.max_area == 1.0


def test_a_stopped_mitigation_raises_cancelled_between_regenerations():
    diagnosis = ew.diagnose(PriorModel(), IMAGE, "q", correct="no", n_regions=16)
    result = diagnosis.explanation
    result.steps = result.steps[::-1]
    asked = []

    def stop():
        asked.append(1)
        return len(asked) > 2

    with pytest.raises(ew.engine.Cancelled):
        ew.mitigate(PriorModel(), IMAGE, "q", result, max_area=1.0, should_stop=stop)
    assert len(asked) == 3  # two regenerations ran, the third was not started


def test_a_counterfactual_result_reports_the_reliance_of_the_generated_answer_not_of_its_target():
    diagnosis = ew.diagnose(PriorModel(), IMAGE, "q", correct="no", n_regions=16)
    result = diagnosis.explanation
    assert result.p_blank[0] == pytest.approx(0.75)  # the run scored "no"
    prior, visual = result.token_reliance()  # ... but the answer says "yes"
    assert prior[0] == pytest.approx(0.25) and visual[0] == pytest.approx(0.6)
    result.generated_reliance = None
    prior, visual = result.token_reliance()
    assert np.isnan(prior[0]) and np.isnan(visual[0])  # unknown, rather than wrong
    from eagle_widget.wire import explanation_state

    assert explanation_state(result)["reliance"]["prior"] == [None]
    assert f"targets='yes', scored_ids=[{NO}]" in repr(result)  # what was really explained


# -- the results as typed fields, saved and read back ---------------------------------------------
DATA = Path(__file__).parent / "data"


def test_a_diagnosis_saves_and_loads_its_reliance_and_mitigation_as_typed_fields(tmp_path):
    diagnosis = ew.diagnose(PriorModel(), IMAGE, "q", correct="no", n_regions=16)
    result = diagnosis.explanation
    outcome = ew.mitigate(PriorModel(), IMAGE, "q", result, max_area=0.5, fill=(0, 0, 0))
    outcome.correct = "no"
    loaded = ew.Explanation.load(result.save(tmp_path / "d.npz"))
    assert set(loaded.extras) <= {"image", "early_stop"}  # typed results are not kept there too
    prior, visual = loaded.generated_reliance
    assert prior == pytest.approx([0.25]) and visual == pytest.approx([0.6])
    m = loaded.mitigation
    assert (m.corrected, m.answer.text, m.answer.token_ids) == (True, "no", [NO])
    assert m.removed_regions == outcome.removed_regions and m.correct == "no"
    assert m.fill == [0, 0, 0] and m.original == result.generation
    assert np.allclose(m.p_correct, outcome.p_correct) and m.max_area == 0.5
    assert loaded.to_dict()["mitigation"]["removed_area"] == pytest.approx(1 / 16)


def test_a_file_of_schema_1_reads_its_extras_into_the_typed_fields():
    # written by eagle-widget before schema 2: token reliance and the mitigation in extras
    old = ew.Explanation.load(DATA / "diagnosis-schema1.npz")
    assert old.extras == {}
    prior, visual = old.generated_reliance
    assert prior == pytest.approx([0.25]) and visual == pytest.approx([0.6])
    assert old.token_reliance()[0] == pytest.approx([0.25])  # of "yes", not of the target
    m = old.mitigation
    assert m.corrected and m.removed_regions == [6] and m.removed_area == pytest.approx(1 / 16)
    assert m.answer.text == "no" and m.answer.token_ids == [NO] and m.correct == "no"
    assert m.original.text == "yes" and m.correct_id == NO and m.max_area == 0.5
    assert len(m.areas) == len(m.p_correct) == 8
    from eagle_widget.wire import diagnosis_state

    state = diagnosis_state(old)
    assert (state["correct"], state["revised"], state["cut"]) == ("no", "no", 0)
