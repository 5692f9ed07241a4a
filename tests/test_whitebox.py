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
from eagle_widget.engine.whitebox import combined_views, grid_on_pixels, views_on_pixels
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
RESIDUAL_OUTPUTS = ("self_attn.out_proj", "attn.proj", "mlp.fc2", "mlp.down_proj", "mlp.linear_fc2",
                    "attention.projection_layer")  # fmt: skip


def patch_local(model) -> None:
    """Zero the vision encoder's attention and MLP outputs: each patch's features then come
    from its own pixels only (the residual stream), so a pixel change reaches exactly the
    image tokens built from that patch."""
    with torch.no_grad():
        for name, module in model.named_modules():
            vision = any(f".{part}." in f".{name}" for part in ("vision_tower", "visual",
                                                                 "vision_model"))  # fmt: skip
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


# (family, image size, the views patch_grid must give: rows, cols, box). Each tile is cut
# from the image at its own size (no resampling); only the global view is resized.
TILED_CASES = [
    ("internvl", (56, 112), [(2, 2, (0, 0, 56, 56)), (2, 2, (0, 56, 56, 112)),  # 2 tiles across
                             (2, 2, (0, 0, 56, 112))]),  # the thumbnail
    ("internvl", (112, 56), [(2, 2, (0, 0, 56, 56)), (2, 2, (56, 0, 112, 56)),
                             (2, 2, (0, 0, 112, 56))]),
    ("internvl", (112, 112), [(2, 2, (0, 0, 56, 56)), (2, 2, (0, 56, 56, 112)),  # row by row
                              (2, 2, (56, 0, 112, 56)), (2, 2, (56, 56, 112, 112)),
                              (2, 2, (0, 0, 112, 112))]),
    ("idefics3", (32, 64), [(2, 2, (0, 0, 32, 32)), (2, 2, (0, 32, 32, 64)),
                            (2, 2, (0, 0, 32, 64))]),  # the global image
    # resized (nearest, twice: 42 x 64, then 64 x 64) and cut into 2 x 2 tiles of 32, each
    # 10 x 15 of the image; resampling moves a cell's edge by up to a pixel (RESAMPLED)
    ("idefics3", (20, 30), [(2, 2, (0, 0, 10, 15)), (2, 2, (0, 15, 10, 30)),
                            (2, 2, (10, 0, 20, 15)), (2, 2, (10, 15, 20, 30)),
                            (2, 2, (0, 0, 20, 30))]),
    ("smolvlm", (64, 32), [(2, 2, (0, 0, 32, 32)), (2, 2, (32, 0, 64, 32)),
                           (2, 2, (0, 0, 64, 32))]),
    # the base image, then 1 x 2 tiles of 2 x 2 features side by side, a newline per row
    ("llava_onevision", (28, 56), [(2, 2, (0, 0, 28, 56)), (2, 4, (0, 0, 28, 56))]),
    # padded into 56 x 56 (8 rows above and below), unpadded by a feature row each side:
    # the 2 x 4 grid covers canvas rows 14..42, image rows 6..34
    ("llava_onevision", (40, 56), [(2, 2, (0, 0, 40, 56)), (2, 4, (6, 0, 34, 56))]),
    ("llava_onevision", (56, 40), [(2, 2, (0, 0, 56, 40)), (4, 2, (0, 6, 56, 34))]),  # columns cut
]  # fmt: skip


RESAMPLED = {("idefics3", (20, 30)): 1}  # how far (image pixels) resampling reaches past a box


def token_boxes(geometry) -> dict[int, tuple]:
    """Per image token (its index among the image tokens) the box of its grid cell; tokens
    in no view (newlines) have none."""
    boxes = {}
    for view in geometry.views:
        top, left, bottom, right = view.box
        h, w = (bottom - top) / view.rows, (right - left) / view.cols
        for k, index in enumerate(view.indices()):
            r, c = divmod(k, view.cols)
            boxes[index] = (top + r * h, left + c * w, top + (r + 1) * h, left + (c + 1) * w)
    return boxes


def overlaps(a, b) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def nearest_tiny(family):
    """A tiny model and processor whose resizes pick pixels (nearest neighbour) instead of
    blending neighbours: a resized view's token then sees exactly the pixels sampled inside
    its box, so 'the pixels a token depends on' is exact for the global view too."""
    from transformers.image_utils import PILImageResampling

    model, processor = tiny_models.build(family)
    processor.image_processor.resample = PILImageResampling.NEAREST
    return model, processor


@pytest.mark.parametrize("family, size, views", TILED_CASES)
def test_each_tiled_image_token_depends_on_the_pixels_of_its_box_only(family, size, views):
    """Inverting the pixels of one token's cell (of a tile or of the global view) moves
    exactly the image tokens whose boxes overlap it: that tile's token and the global
    view's over it, or the global token and the tile tokens under it (where a tile is
    itself resampled, also those within the resampling's pixel of it)."""
    model, processor = nearest_tiny(family)
    patch_local(model)
    adapter = HFModel(model, processor, batch_size=1)
    given = adapter.patch_grid(size)
    assert [(r, c, tuple(round(v, 6) for v in box)) for r, c, box in given] == views
    geometry = adapter._patch_geometry(size)
    ids = adapter.prompt_ids(np.zeros((*size, 3), np.uint8))
    positions = geometry.positions(ids)
    boxes = token_boxes(geometry)
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    reference = decoder_input(adapter, base)[positions]
    checked = 0
    for view in geometry.views:
        cells = view.indices()
        for chosen in {cells[0], cells[-1], cells[len(cells) // 2]}:
            top, left, bottom, right = (int(round(v)) for v in boxes[chosen])
            changed = base.copy()
            changed[top:bottom, left:right] = 255 - changed[top:bottom, left:right]
            states = decoder_input(adapter, changed)[positions]
            moved = (states - reference).abs().amax(dim=-1) > 1e-6
            moved = set(moved.nonzero().flatten().tolist())
            expected = {k for k, box in boxes.items() if overlaps(box, (top, left, bottom, right))}
            m = RESAMPLED.get((family, size), 0)
            near = (top - m, left - m, bottom + m, right + m)
            allowed = {k for k, box in boxes.items() if overlaps(box, near)}
            assert chosen in expected and len(expected) >= 2  # its own and another view's
            assert expected <= moved <= allowed, (family, chosen, moved, expected)
            checked += 1
    assert checked >= 2 * len(geometry.views)
    newlines = set(range(geometry.count)) - set(boxes)
    assert len(newlines) == (views[1][0] if family == "llava_onevision" else 0)


@pytest.mark.parametrize("family, size, views", [TILED_CASES[i] for i in (2, 4, 5, 7)])
def test_a_tiled_token_made_to_depend_on_one_patch_gets_its_map_on_that_box(family, size, views):
    """Every image token's state at the decoder's input is zeroed but one, a tile's last
    token: LLaVA-CAM at layer 0 is then non-zero on that view's cell only, and the engine
    places it on that cell's box, every pixel of it and no other."""
    model, processor = tiny_models.build(family)
    adapter = HFModel(model, processor, batch_size=1)
    image = np.random.default_rng(1).integers(0, 256, (*size, 3), dtype=np.uint8)
    generation = adapter.generate(image, max_new_tokens=6)
    geometry = adapter._patch_geometry(size)
    view = 1 if family == "llava_onevision" else 0  # OneVision's tiles come after its base
    chosen = geometry.views[view].indices()[-1]
    keep = adapter.prompt_ids(image, generation.prompt)

    def only_one(module, args, kwargs):
        states = (args[0] if args else kwargs["hidden_states"]).clone()
        image_rows = torch.tensor(geometry.positions(keep))
        others = image_rows[torch.arange(len(image_rows)) != chosen]
        states[:, others] = 0
        return (
            ((states, *args[1:]), kwargs) if args else (args, {**kwargs, "hidden_states": states})
        )

    handle = decoder_layers(model)[0].register_forward_pre_hook(only_one, with_kwargs=True)
    try:
        positions = list(range(len(generation)))
        maps, passes = adapter.image_token_maps(
            image, generation, positions, None, "llava-cam",
            {"layer": 0, "copies": 0, "noise": 0.15, "seed": 0},
        )  # fmt: skip
    finally:
        handle.remove()
    assert [m.shape for m in maps] == [(len(positions), r, c) for r, c, _ in views]
    assert passes == {"forward_passes": 1, "backward_passes": len(positions)}
    for v, grid in enumerate(maps):
        flat = grid.reshape(len(positions), -1)
        if v == view:  # the chosen token is the view's last cell
            assert np.all(flat[:, :-1] == 0) and flat[:, -1].max() > 0
        else:
            assert np.all(flat == 0)
    pixels = views_on_pixels(combined_views(maps), [box for _, _, box in views], size)
    top, left, bottom, right = token_boxes(geometry)[chosen]
    y, x = np.arange(size[0]) + 0.5, np.arange(size[1]) + 0.5  # the pixels' centres
    on = ((top <= y) & (y < bottom))[:, None] & ((left <= x) & (x < right))[None, :]
    assert on.sum() >= 25 and np.array_equal(pixels > 0, on)


@pytest.mark.parametrize("method", ["tam", "llava-cam"])
def test_a_tiled_model_is_explained_through_its_views_and_its_record_saves(method, tmp_path):
    model, processor = tiny_models.build("llava_onevision")
    adapter = HFModel(model, processor, batch_size=2)
    image = np.random.default_rng(2).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    result = ew.explain(adapter, image, method=method, n_regions=4, targets=[0])
    record = result.extras["method"]
    views = record["patch_views"]
    assert [v["grid"] for v in views] == [[2, 2], [2, 4]]
    assert [v["box"] for v in views] == [[0, 0, 40, 56], [6, 0, 34, 56]]
    assert (record["forward_passes"], record["backward_passes"]) == (1, int(method != "tam"))
    pixels = views_on_pixels([np.array(v["map"]) for v in views], [v["box"] for v in views],
                             result.labels.shape)  # fmt: skip
    means = [pixels[result.labels == k].mean() for k in range(result.n_regions)]
    assert np.allclose(record["region_scores"], means, atol=1e-5)  # the maps are rounded
    assert max(max(map(max, v["map"])) for v in views) > 0
    loaded = ew.Explanation.load(result.save(tmp_path / "tiled.npz"))
    assert loaded.extras["method"] == record


def test_views_are_averaged_over_each_pixel_and_one_view_places_as_one_grid():
    grids = [np.array([[0.0, 1.0]]), np.array([[0.0, 0.0], [0.0, 1.0]])]
    boxes = [(0, 0, 24, 24), (0, 12, 24, 24)]  # the whole image, then its right half
    pixels = views_on_pixels(grids, boxes, (24, 24))
    assert np.all(pixels[:, :12] == 0)  # the global view's left cell alone
    assert np.all(pixels[:12, 12:] == 0.5) and np.all(pixels[12:, 12:18] == 0.5)  # 1 and 0
    assert np.all(pixels[12:, 18:] == 1.0)  # both views' 1
    past = views_on_pixels([np.array([[1.0, 2.0, 3.0]])], [(-4, 0, 8, 6)], (6, 6))
    assert np.all(past[:6, :2] == 1.0) and np.all(past[:, 4:] == 3.0)  # a box past the edge
    grid = np.arange(12.0).reshape(3, 4)
    for box in [(0, 14, 56, 70), (3, 5, 20, 17)]:
        single = views_on_pixels([grid], [box], (56, 84))
        assert np.array_equal(single, grid_on_pixels(grid, box, (56, 84)))


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


class TiledModel(GridModel):
    """GridModel with two views: a 1 x 2 global grid over the whole image and a 2 x 2 tile
    over its right half; the global map is 1 on its right cell, the tile's on its bottom
    right cell."""

    def patch_grid(self, image_size):
        height, width = image_size
        return [(1, 2, (0, 0, height, width)), (2, 2, (0, width / 2, height, width))]

    def image_token_maps(self, image, generation, positions, token_ids, method, options):
        whole, tile = np.zeros((len(positions), 1, 2)), np.zeros((len(positions), 2, 2))
        whole[:, 0, 1] = 2.0
        tile[:, 1, 1] = 2.0
        return [whole, tile], {"forward_passes": 1, "backward_passes": 0}


def test_the_engine_scores_regions_by_the_mean_of_the_views_over_each_pixel():
    labels = np.zeros((24, 24), int)
    labels[:12, 12:] = 1  # under the global 1 and the tile's 0: 0.5
    labels[12:, 18:] = 2  # under both views' 1: 1
    labels[12:, 12:18] = 3  # 0.5
    result = ew.explain(TiledModel((0, 0)), block_image(3, 3, cell=8, seed=1), regions=labels,
                        method="tam")  # fmt: skip
    record = result.extras["method"]
    assert record["region_scores"] == [0.0, 0.5, 1.0, 0.5] and result.order[0] == 2
    assert [v["grid"] for v in record["patch_views"]] == [[1, 2], [2, 2]]
    assert [v["box"] for v in record["patch_views"]] == [[0, 0, 24, 24], [0, 12, 24, 24]]
    assert record["patch_views"][1]["map"] == [[0, 0], [0, 1]]  # scaled by its largest
    assert "patch_grid" not in record


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
