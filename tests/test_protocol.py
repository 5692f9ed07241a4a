"""The model protocol (eagle_widget/engine/protocol.py): each optional capability is recognised on
the real adapters, a model with only the two core methods is explained with the documented
fallbacks, and no other package module probes a model's members by name."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import tiny_models
from synthetic import VisibilityModel, additive, block_image

import eagle_widget as ew
from eagle_widget.engine import protocol
from eagle_widget.engine.explainer import DEFAULT_WORKING_SIDE
from eagle_widget.engine.protocol import (
    CAPABILITIES,
    DEFAULT_BATCH_SIZE,
    DEFAULT_SCORING,
    CountsSpanTokens,
    CountsUsage,
    Decodes,
    Encodes,
    GeneratesBatch,
    GivesEosTokenIds,
    GivesPatchGrid,
    GivesPromptIds,
    HasBatchSize,
    HasInputSize,
    HasMinImageSize,
    HasPromptMaskings,
    MapsImageTokens,
    MasksPromptSpans,
    MeasuresPeakMemory,
    Plans,
    ReadsTextOnly,
    ReportsScoring,
    TakesClips,
    VisionLanguageModel,
    batch_size_of,
    eos_token_ids_of,
    input_size_of,
    min_image_size_of,
    prompt_maskings_of,
    scoring_of,
    supports,
    supports_video_of,
    text_only_of,
    usage_of,
)
from eagle_widget.engine.regions import grid_regions

ROOT = Path(__file__).resolve().parents[1]
METHODS = (Plans, Encodes, GeneratesBatch, GivesPromptIds, GivesEosTokenIds, Decodes,
           MasksPromptSpans, CountsSpanTokens, GivesPatchGrid, MapsImageTokens,
           MeasuresPeakMemory)  # fmt: skip
VALUES = (HasBatchSize, HasMinImageSize, HasInputSize, ReportsScoring, CountsUsage, TakesClips,
          HasPromptMaskings, ReadsTextOnly)  # fmt: skip
ROWS = COLS = 4
CELL = 4  # pixels per block side: images of 16 x 16


def members(capability) -> set[str]:
    """The member names a capability declares: its methods and its annotated values."""
    names = {n for n, v in vars(capability).items() if callable(v) and not n.startswith("_")}
    return names | set(vars(capability).get("__annotations__", {}))


def capabilities_of(model) -> set[str]:
    """Names of the capabilities `model` has: methods by supports(), values by isinstance."""
    found = {c.__name__ for c in METHODS if supports(model, c)}
    return found | {c.__name__ for c in VALUES if isinstance(model, c)}


OBJECTS = grid_regions(ROWS * CELL, COLS * CELL, ROWS * COLS)  # one object per block


def minimal_model(**declared) -> VisibilityModel:
    """generate and token_probs only (tests/synthetic.py), plus the values given."""
    model = VisibilityModel(OBJECTS, [additive(np.linspace(0.05, 0.8, ROWS * COLS))])
    for name, value in declared.items():
        setattr(model, name, value)
    return model


# -- the module -----------------------------------------------------------------------------


def test_every_capability_is_listed_once_and_split_into_methods_and_values():
    assert len(CAPABILITIES) == len(set(CAPABILITIES)) == 19
    assert set(CAPABILITIES) == set(METHODS) | set(VALUES)
    assert {m for c in CAPABILITIES for m in members(c)} == {
        "plan",
        "usage",
        "scoring",
        "min_image_size",
        "input_size",
        "batch_size",
        "encode",
        "generate_batch",
        "prompt_ids",
        "eos_token_ids",
        "decode",
        "supports_video",
        "span_token_probs",
        "span_token_counts",
        "prompt_maskings",
        "text_only",
        "patch_grid",
        "image_token_maps",
        "peak_memory",
    }
    for capability in CAPABILITIES:
        assert len(members(capability)) == 1, capability.__name__
        assert capability.__doc__ and len(capability.__doc__) > 80, capability.__name__
    with pytest.raises(TypeError, match="accessor"):
        supports(minimal_model(), HasBatchSize)


def test_the_public_names_stay_where_they_were():
    from eagle_widget.engine import DEFAULT_PROMPT, resolve_prompt

    assert ew.VisionLanguageModel is ew.engine.VisionLanguageModel is VisionLanguageModel
    assert DEFAULT_PROMPT == protocol.DEFAULT_PROMPT == "Describe the image."
    assert resolve_prompt(None) == DEFAULT_PROMPT and resolve_prompt("Why?") == "Why?"
    with pytest.raises(ValueError, match="non-empty"):
        resolve_prompt("  ")


def test_a_method_set_to_none_or_to_a_value_is_not_supported():
    model = minimal_model()
    model.encode = None
    model.generate_batch = 8
    model.decode = lambda ids: [str(i) for i in ids]
    assert not supports(model, Encodes) and not supports(model, GeneratesBatch)
    assert supports(model, Decodes)


# -- the real adapters ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo():
    return ew.load_demo_model()


def test_the_demo_model_has_the_local_adapters_capabilities(demo):
    assert isinstance(demo, VisionLanguageModel)
    assert capabilities_of(demo) == {
        "MasksPromptSpans",
        "CountsSpanTokens",
        "Encodes",
        "GeneratesBatch",
        "GivesPromptIds",
        "GivesEosTokenIds",
        "Decodes",
        "HasBatchSize",
        "HasMinImageSize",
        "HasInputSize",
        "TakesClips",  # declared, as every transformers adapter does: False, it takes images
        "HasPromptMaskings",
        "GivesPatchGrid",
        "MapsImageTokens",
        "MeasuresPeakMemory",
    }
    assert not supports_video_of(demo)
    scene = ew.scenes.make_scene(seed=1)
    generation = demo.generate(scene.image, max_new_tokens=8)
    assert "".join(demo.decode(generation.token_ids)) == generation.text
    assert demo.decode(generation.token_ids) == generation.tokens
    twice = demo.generate_batch([scene.image, scene.image], max_new_tokens=8)
    assert [g.token_ids for g in twice] == [generation.token_ids] * 2
    assert eos_token_ids_of(demo) == demo.eos_token_ids() != set()
    assert not eos_token_ids_of(demo) & set(generation.token_ids)  # generation stops before it
    assert demo.encode(generation.tokens[0].strip())[0] == generation.token_ids[0]
    assert len(demo.prompt_ids(scene.image)) > len(demo.encode("Describe the image."))
    assert batch_size_of(demo) == demo.batch_size
    assert (min_image_size_of(demo), input_size_of(demo)) == (demo.min_image_size, 64)
    assert scoring_of(demo) == DEFAULT_SCORING and usage_of(demo) == {}


@pytest.fixture(scope="module")
def llava(tmp_path_factory):
    folder = tmp_path_factory.mktemp("llava") / "model"
    tiny_models.save("llava", folder)
    return ew.load_model(folder, device="cpu", dtype="float32")


def test_a_transformers_model_declares_its_sizes_and_the_explainer_follows_them(llava):
    assert isinstance(llava, ew.HFModel) and isinstance(llava, VisionLanguageModel)
    assert {"HasMinImageSize", "HasInputSize", "GeneratesBatch", "Decodes"} <= capabilities_of(
        llava
    )
    assert not supports(llava, Plans) and not isinstance(llava, CountsUsage)
    # the tiny llava's processor shrinks every image to 56 x 56; its patches are 14 pixels
    assert (min_image_size_of(llava), input_size_of(llava)) == (14, 56)
    explainer = ew.Explainer(llava)
    assert explainer.working_shape(560, 1120) == (56, 112)  # short side to the input size
    with pytest.raises(ValueError, match="needs at least 14 x 14"):
        explainer.check_image(np.zeros((10, 40, 3), np.uint8))
    llava.batch_size = 3
    assert batch_size_of(llava) == 3


def test_a_text_model_reads_text_only_and_hides_spans_both_ways(tmp_path):
    import tiny_text_models

    folder = tiny_text_models.save("qwen2", tmp_path / "qwen2")
    model = ew.load_model(folder, device="cpu", dtype="float32")
    assert isinstance(model, ew.TextModel) and isinstance(model, VisionLanguageModel)
    assert capabilities_of(model) == {
        "ReadsTextOnly",
        "HasPromptMaskings",
        "MasksPromptSpans",
        "CountsSpanTokens",
        "Encodes",
        "Decodes",
        "GivesPromptIds",
        "GivesEosTokenIds",
        "HasBatchSize",
        "MeasuresPeakMemory",
    }
    assert text_only_of(model) and prompt_maskings_of(model) == ("replace", "attention")
    assert min_image_size_of(model) is None and not supports_video_of(model)


def test_the_served_adapter_plans_counts_and_says_how_it_scores():
    pytest.importorskip("openai")
    from fake_openai import ANSWER, FakeServer

    from eagle_widget.models.served import OpenAIModel

    with FakeServer() as server:
        model = OpenAIModel(server.url, "fake", max_retries=3, log=lambda line: None)
        assert isinstance(model, VisionLanguageModel)
        assert capabilities_of(model) == {
            "Plans",
            "Encodes",
            "Decodes",  # the joined text, not per token: see Decodes
            "HasBatchSize",
            "ReportsScoring",
            "CountsUsage",
            "TakesClips",  # declared: False, unless frames_as_images sends frames as images
        }
        assert not supports_video_of(model)
        clips = OpenAIModel(server.url, "fake", frames_as_images=True, log=lambda line: None)
        assert supports_video_of(clips)
        assert batch_size_of(model) == 2 * model.concurrency
        assert (min_image_size_of(model), input_size_of(model)) == (None, None)
        assert model.scoring is None and scoring_of(model) == DEFAULT_SCORING  # before the probe
        image = np.full((24, 32, 3), 120, np.uint8)
        generation = model.generate(image, "Describe.")
        assert generation.token_ids == ANSWER and scoring_of(model) == "exact"
        before = usage_of(model)["requests"]
        model.token_probs([image // 2, image // 3], generation, [0])  # new images: not cached
        assert usage_of(model)["requests"] == before + 2
        assert eos_token_ids_of(model) == set()  # not a capability of this adapter
        model.close()
        approximate = OpenAIModel(server.url, "fake", mode="approximate")
        assert scoring_of(approximate) == "approximate"
        approximate.close()


# -- a model with only the two methods --------------------------------------------------------


def test_a_model_with_only_the_two_methods_is_explained_with_the_documented_fallbacks():
    model = minimal_model()
    assert isinstance(model, VisionLanguageModel) and capabilities_of(model) == set()
    assert batch_size_of(model) == DEFAULT_BATCH_SIZE
    assert (min_image_size_of(model), input_size_of(model)) == (None, None)
    assert (scoring_of(model), usage_of(model), eos_token_ids_of(model)) == ("exact", {}, set())
    assert prompt_maskings_of(model) == ("replace",) and not text_only_of(model)

    image = block_image(ROWS, COLS, cell=CELL)
    result = ew.explain(model, image, n_regions=ROWS * COLS, search="greedy")
    assert result.scoring == "exact" and "requests" not in result.extras
    assert result.extras["image"]["working_size"] == [16, 16]  # smaller than the default side
    # the batches it was sent are exactly those of a model that declares DEFAULT_BATCH_SIZE
    declared = minimal_model(batch_size=DEFAULT_BATCH_SIZE)
    ew.explain(declared, image, n_regions=ROWS * COLS, search="greedy")
    assert model.calls == declared.calls and max(model.calls) > 5
    small = minimal_model(batch_size=5)
    ew.explain(small, image, n_regions=ROWS * COLS, search="greedy")
    assert max(small.calls) <= 5

    explainer = ew.Explainer(model)
    explainer.check_image(np.zeros((1, 1, 3), np.uint8))  # no least size: nothing refused
    assert explainer.working_shape(2 * DEFAULT_WORKING_SIDE, DEFAULT_WORKING_SIDE) == (
        DEFAULT_WORKING_SIDE,
        DEFAULT_WORKING_SIDE // 2,
    )
    with pytest.raises(TypeError, match="no encode"):
        ew.diagnose(model, image, "Is there a cat?", correct="No")


def test_a_model_that_plans_is_asked_once_before_any_image_is_scored_and_may_refuse():
    class Paid(VisibilityModel):
        def plan(self, max_images, generation, positions, token_ids=None):
            self.planned.append((max_images, len(self.calls)))
            if max_images > self.budget:
                raise ValueError(f"{max_images} images are over the budget")
            return max_images

    model = Paid(OBJECTS, [additive(np.linspace(0.05, 0.8, ROWS * COLS))])
    model.planned, model.budget = [], 10_000
    image = block_image(ROWS, COLS, cell=CELL)
    result = ew.explain(model, image, n_regions=ROWS * COLS)
    assert len(model.planned) == 1 and model.planned[0][1] == 0  # before the first score
    assert model.planned[0][0] >= result.images_scored
    model.planned, model.calls, model.budget = [], [], 3
    with pytest.raises(ValueError, match="over the budget"):
        ew.Explainer(model, n_regions=ROWS * COLS).start(image)
    assert model.calls == []


def test_usage_counts_become_the_runs_requests():
    model = minimal_model(usage={"requests": 7, "values": 0, "floored": 0})

    def counted(images, generation, positions, token_ids=None, _score=model.token_probs):
        model.usage["requests"] += len(images)
        model.usage["values"] += len(images) * len(positions)
        return _score(images, generation, positions, token_ids)

    model.token_probs = counted
    result = ew.explain(model, block_image(ROWS, COLS, cell=CELL), n_regions=ROWS * COLS)
    assert result.extras["requests"] == result.images_scored  # the 7 from before not counted
    assert result.extras["floored_share"] == 0.0


# -- no probes outside the protocol module ---------------------------------------------------

PROBED = {m for c in CAPABILITIES for m in members(c)} | {"token_probs"}


def probes(source: str) -> list[tuple[int, str]]:
    """(line, member) of every getattr/hasattr call in `source` that names a protocol member."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or len(node.args) < 2:
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        member = node.args[1]
        if (
            name in ("getattr", "hasattr", "getattr_static")
            and isinstance(member, ast.Constant)
            and member.value in PROBED
        ):
            found.append((node.lineno, member.value))
    return found


def test_the_scan_finds_a_probe():
    source = "x = getattr(model, 'plan', None)\ny = hasattr(m, 'usage')\nz = getattr(m, 'other')\n"
    assert probes(source) == [(1, "plan"), (2, "usage")]


def test_no_package_module_but_the_protocol_probes_a_models_members():
    owner = ROOT / "eagle_widget" / "engine" / "protocol.py"
    found = {
        f"{path.relative_to(ROOT)}:{line} {member}"
        for path in sorted((ROOT / "eagle_widget").rglob("*.py"))
        if path != owner
        for line, member in probes(path.read_text())
    }
    assert found == set(), "ask with eagle_widget.engine.protocol (supports, *_of) instead"
    assert probes(owner.read_text())  # the accessors live there
