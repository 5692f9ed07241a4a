"""White-box methods (issue 25): the image tokens' patch geometry per family checked against
the pixels each token really sees, TAM and LLaVA-CAM on the demo model against its scenes'
masks, and the refusals that come before any model work."""

from __future__ import annotations

import numpy as np
import pytest
import tiny_models
import torch
from synthetic import VisibilityModel, additive, block_image
from test_engine_explainer import IMAGE, two_word_model

import eagle_widget as ew
from eagle_widget.engine.protocol import DEFAULT_PROMPT
from eagle_widget.engine.regions import grid_regions
from eagle_widget.models.hf import HFModel
from eagle_widget.models.whitebox import decoder_layers

# (family, image height x width): a size each tiny processor keeps as it is (no resampling),
# not square, so rows and columns cannot be swapped unnoticed
GEOMETRY_CASES = [
    ("llava", (56, 84)),  # short side already 56: LLaVA keeps the central 56 x 56
    ("qwen2_vl", (56, 84)),  # 4 x 6 patches of 14, merged 2 x 2: 2 x 3 tokens
    ("qwen2_5_vl", (56, 84)),
    ("qwen3_vl", (64, 96)),  # patches of 16
]
RESIDUAL_OUTPUTS = ("self_attn.out_proj", "attn.proj", "mlp.fc2", "mlp.down_proj", "mlp.linear_fc2")


def patch_local(model) -> None:
    """Zero the vision encoder's attention and MLP outputs: each patch's features then come
    from its own pixels only (the residual stream), so a pixel change reaches exactly the
    image tokens built from that patch."""
    with torch.no_grad():
        for name, module in model.named_modules():
            vision = ".vision_tower." in f".{name}" or ".visual." in f".{name}"
            if vision and isinstance(module, torch.nn.Linear) and name.endswith(RESIDUAL_OUTPUTS):
                module.weight.zero_()
                if module.bias is not None:
                    module.bias.zero_()


def decoder_input(adapter: HFModel, image: np.ndarray) -> torch.Tensor:
    """The hidden states entering the first decoder layer (image features in place)."""
    seen = {}

    def keep(module, args, kwargs):
        seen["states"] = (args[0] if args else kwargs["hidden_states"]).detach()

    handle = decoder_layers(adapter.model)[0].register_forward_pre_hook(keep, with_kwargs=True)
    try:
        with torch.no_grad():
            adapter.model(**adapter._process([image], DEFAULT_PROMPT), use_cache=False)
    finally:
        handle.remove()
    return seen["states"][0]


@pytest.mark.parametrize("family, size", GEOMETRY_CASES)
def test_each_image_token_sees_the_patch_its_grid_cell_covers(family, size):
    model, processor = tiny_models.build(family)
    patch_local(model)
    adapter = HFModel(model, processor, batch_size=1)
    rows, cols, box = adapter.patch_grid(size)
    geometry = adapter._patch_geometry(size)
    ids = adapter.prompt_ids(np.zeros((*size, 3), np.uint8))
    positions = geometry.positions(ids)
    assert len(positions) == rows * cols == sum(t == geometry.token_id for t in ids)
    top, left, bottom, right = (int(round(v)) for v in box)
    if family == "llava":  # the centre crop: columns 14..70 of 84
        assert (rows, cols, (top, left, bottom, right)) == (4, 4, (0, 14, 56, 70))
    else:
        assert (rows, cols, (top, left, bottom, right)) == (2, 3, (0, 0, *size))
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    reference = decoder_input(adapter, base)[positions]
    cell_h, cell_w = (bottom - top) // rows, (right - left) // cols
    for r, c in [(0, 0), (rows - 1, cols - 1), (rows // 2, cols - 1), (rows - 1, 0)]:
        changed = base.copy()
        y0, x0 = top + r * cell_h, left + c * cell_w
        changed[y0 : y0 + cell_h, x0 : x0 + cell_w] = (
            255 - changed[y0 : y0 + cell_h, x0 : x0 + cell_w]
        )
        states = decoder_input(adapter, changed)[positions]
        moved = (states - reference).abs().amax(dim=-1) > 1e-6
        assert moved.nonzero().flatten().tolist() == [r * cols + c], (family, r, c)


def test_an_unmapped_family_is_refused_by_name_before_any_model_call():
    model, processor = tiny_models.build("gemma3")  # its pan-and-scan crops are not mapped
    adapter = HFModel(model, processor)

    def no_model(*args, **kwargs):
        raise AssertionError("the model was called")

    adapter.generate = no_model
    with pytest.raises(ValueError, match="'gemma3'.*not mapped to the image"):
        ew.explain(adapter, np.zeros((64, 64, 3), np.uint8), method="tam", n_regions=4)


def test_a_token_made_to_depend_on_one_patch_gets_its_map_on_that_patch():
    """Every image token's state at the decoder's input is zeroed but one: LLaVA-CAM at
    layer 0 (activation times gradient) can then be non-zero on that token's cell only."""
    model, processor = tiny_models.build("llava")
    adapter = HFModel(model, processor, batch_size=1)
    image = np.random.default_rng(1).integers(0, 256, (56, 84, 3), dtype=np.uint8)
    generation = adapter.generate(image, max_new_tokens=6)
    geometry = adapter._patch_geometry((56, 84))
    chosen = 9  # row 2, column 1 of the 4 x 4 grid
    keep = None

    def only_one(module, args, kwargs):
        states = (args[0] if args else kwargs["hidden_states"]).clone()
        image_rows = torch.tensor(geometry.positions(keep))
        others = image_rows[torch.arange(len(image_rows)) != chosen]
        states[:, others] = 0
        return (
            ((states, *args[1:]), kwargs) if args else (args, {**kwargs, "hidden_states": states})
        )

    keep = adapter.prompt_ids(image, generation.prompt)
    handle = decoder_layers(model)[0].register_forward_pre_hook(only_one, with_kwargs=True)
    try:
        positions = list(range(len(generation)))
        maps, passes = adapter.image_token_maps(
            image, generation, positions, None, "llava-cam",
            {"layer": 0, "copies": 0, "noise": 0.15, "seed": 0},
        )  # fmt: skip
    finally:
        handle.remove()
    assert maps.shape == (len(positions), 4, 4)
    assert passes == {"forward_passes": 1, "backward_passes": len(positions)}
    flat = maps.reshape(len(positions), -1)
    assert np.all(np.delete(flat, chosen, axis=1) == 0)
    assert flat[:, chosen].max() > 0  # some target's evidence is on it


class GridModel(VisibilityModel):
    """A synthetic model with white-box access: its map is 1 on one cell of a 2 x 4 grid that
    covers the image's right half (as a crop would)."""

    def __init__(self, cell):
        super().__init__(grid_regions(24, 24, 9), [additive(np.full(9, 0.1))], base=[0.02],
                         words=[" w"])  # fmt: skip
        self.cell = cell

    def patch_grid(self, image_size):
        height, width = image_size
        return 2, 4, (0, width // 2, height, width)

    def image_token_maps(self, image, generation, positions, token_ids, method, options):
        grid = np.zeros((len(positions), 2, 4))
        grid[:, self.cell[0], self.cell[1]] = 1.0
        return grid, {"forward_passes": 1, "backward_passes": 0}


def test_the_engine_places_a_grid_through_its_box_and_ranks_the_regions_under_it():
    model = GridModel((1, 2))  # rows 12..24, columns 18..21 of a 24 x 24 image
    labels = np.zeros((24, 24), int)
    labels[12:, 18:21] = 1  # exactly that cell
    labels[:, :12] = 2  # the half the grid does not cover
    result = ew.explain(model, block_image(3, 3, cell=8, seed=1), regions=labels, method="tam")
    scores = result.extras["method"]["region_scores"]
    assert scores == [0.0, 1.0, 0.0] and result.order[0] == 1
    assert result.extras["method"]["patch_box"] == [0, 12, 24, 24]
    assert result.extras["method"]["patch_grid"] == [2, 4]
    assert "peak_memory" not in result.extras["method"]  # it does not measure memory


# -- refusals before any model work -----------------------------------------------------------


@pytest.mark.parametrize(
    "method, options, message",
    [
        ("tam", {"layer": 3}, "has no option"),
        ("llava-cam", {"copies": -1}, "copies must be an int >= 0"),
        ("llava-cam", {"layer": 1.5}, "layer must be None"),
        ("llava-cam", {"noise": 2}, r"noise must be a number in \(0, 1\)"),
        ("llava-cam", {"shots": 2}, "it takes layer, copies, noise, seed"),
    ],
)
def test_bad_white_box_options_are_refused_before_any_model_call(method, options, message):
    model = two_word_model()
    with pytest.raises(ValueError, match=message):
        ew.Explainer(model, n_regions=16, method=method, method_options=options)
    assert model.calls == []


@pytest.mark.parametrize("method", ["tam", "llava-cam"])
def test_a_model_without_white_box_access_is_refused_naming_method_and_model(method):
    model = two_word_model()
    with pytest.raises(ValueError, match=rf"method '{method}'.*VisibilityModel.*GivesPatchGrid"):
        ew.explain(model, IMAGE, targets="red", n_regions=16, method=method)
    assert model.calls == []


# -- the demo model ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo():
    return ew.load_demo_model()


def colour_cases(demo, seeds):
    """(scene, generation, position) of every colour word the demo model says about its own
    object, over generated scenes."""
    cases = []
    for seed in seeds:
        scene = ew.scenes.make_scene(seed=seed)
        generation = demo.generate(scene.image)
        if generation.text != scene.caption:  # a wrong answer's words name no known object
            continue
        for p, token in enumerate(generation.tokens):
            if token.strip() in ew.scenes.COLOURS:
                cases.append((scene, generation, p))
    return cases


@pytest.mark.parametrize("method", ["tam", "llava-cam"])
def test_a_colour_words_map_points_at_its_own_object_far_above_chance(demo, method):
    """The pointing game on the patch grid: the map's top cell overlaps the word's object.
    Chance is the share of cells the object touches."""
    cases = colour_cases(demo, range(200, 210))
    assert len(cases) >= 15
    hits, chance = [], []
    for scene, generation, p in cases:
        result = ew.explain(demo, scene.image, targets=[p], generation=generation, n_regions=24,
                            method=method)  # fmt: skip
        grid = np.array(result.extras["method"]["patch_map"])
        touched = scene.objects[scene.token_objects[p]].mask.reshape(8, 8, 8, 8).any(axis=(1, 3))
        hits.append(bool(touched.ravel()[grid.argmax()]))
        chance.append(touched.mean())
    rate = np.mean(hits)
    assert rate >= 0.3 and rate > 2.5 * np.mean(chance), (rate, np.mean(chance))


def test_a_white_box_result_records_its_cost_and_saves_and_loads(demo, tmp_path):
    scene = ew.scenes.make_scene(seed=4, objects=[("red", "circle"), ("blue", "square")])
    result = ew.explain(demo, scene.image, targets="blue", n_regions=24, method="llava-cam",
                        method_options={"copies": 2})  # fmt: skip
    cost = result.extras["method"]
    assert cost["name"] == "llava-cam" and cost["options"]["copies"] == 2
    assert (cost["forward_passes"], cost["backward_passes"], cost["images"]) == (3, 3, 0)
    assert cost["ranking_images"] == result.images_scored <= 2 * result.n_regions + 2
    memory = cost["peak_memory"]
    assert memory["peak_bytes"] > 10_000_000 and 0 <= memory["added_bytes"] <= memory["peak_bytes"]
    assert memory["measured"].startswith("process")  # the demo model runs on the CPU
    assert np.array(cost["patch_map"]).shape == (8, 8) and cost["patch_box"] == [0, 0, 64, 64]
    loaded = ew.Explanation.load(result.save(tmp_path / "cam.npz"))
    assert loaded.extras["method"] == cost
    assert np.array_equal(loaded.attribution_map("method"), result.attribution_map("method"))
    assert loaded.insertion_auc == result.insertion_auc


def test_a_black_box_baseline_on_a_transformers_model_records_peak_memory_too(demo):
    scene = ew.scenes.make_scene(seed=4)
    result = ew.explain(demo, scene.image, n_regions=12, method="occlusion", targets=[1])
    assert result.extras["method"]["peak_memory"]["peak_bytes"] > 10_000_000


def test_a_layer_the_decoder_does_not_have_is_refused_before_a_white_box_pass(demo):
    scene = ew.scenes.make_scene(seed=4)
    generation = demo.generate(scene.image)
    with pytest.raises(ValueError, match=r"layer must be in -2..1 \(the decoder has 2 layers"):
        demo.image_token_maps(scene.image, generation, [1], None, "llava-cam",
                              {"layer": 2, "copies": 0, "noise": 0.1, "seed": 0})  # fmt: skip


def test_eagle_records_the_peak_memory_of_its_whole_search(demo):
    scene = ew.scenes.make_scene(seed=4)
    result = ew.explain(demo, scene.image, n_regions=12, targets=[1])
    assert "method" not in result.extras  # EAGLE's search is its ranking: no own cost apart
    memory = result.extras["peak_memory"]
    assert memory["peak_bytes"] > 10_000_000 and memory["measured"].startswith("process")
    assert result.peak_memory == memory
    baseline = ew.explain(demo, scene.image, n_regions=12, method="occlusion", targets=[1])
    assert baseline.peak_memory == baseline.extras["method"]["peak_memory"]
