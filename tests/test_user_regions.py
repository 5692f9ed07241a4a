"""Regions of the user's choosing (issue 24): a grid, a label map or masks instead of SLIC.

Ground truth comes from the demo scenes' own object masks (the demo model must point at the
object a word names) and from synthetic models whose answer depends on known objects.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from synthetic import VisibilityModel, additive

import eagle_widget as ew
from eagle_widget import cli
from eagle_widget.engine.regions import (
    checked_label_map,
    downscale_labels,
    masks_to_labels,
    read_label_map,
    read_masks,
    region_plan,
)
from eagle_widget.models.demo.scenes import COLOURS, SHAPES, make_scene

DATA = Path(__file__).resolve().parent / "data"
SCENES = [
    make_scene(21, objects=[("red", "circle"), ("blue", "square"), ("green", "triangle")]),
    make_scene(22, objects=[("yellow", "triangle"), ("red", "square")]),
    make_scene(23, objects=[("green", "circle"), ("blue", "triangle"), ("yellow", "square")]),
]


@pytest.fixture(scope="module")
def demo():
    return ew.load_demo_model()


def object_words(scene, generation) -> list[tuple[int, int]]:
    """(token index, object index) of every colour and shape word of a correct caption."""
    assert generation.text.strip() == scene.caption  # the demo model read the scene right
    return [
        (k, owner)
        for k, (token, owner) in enumerate(zip(scene.tokens, scene.token_objects))
        if token.strip() in COLOURS + SHAPES
    ]


# -- ground truth on the demo model ------------------------------------------------------------
@pytest.mark.parametrize("scene", SCENES, ids=lambda s: s.caption)
def test_with_the_scenes_masks_as_regions_each_word_points_at_its_object(demo, scene):
    generation = demo.generate(scene.image, "Describe the image.")
    masks = [o.mask for o in scene.objects]
    for k, owner in object_words(scene, generation):
        result = ew.explain(demo, scene.image, regions=masks, targets=[k], generation=generation)
        assert result.n_regions == len(masks) + 1  # the background is the uncovered region
        assert result.regions == {"kind": "masks", "masks": len(masks), "uncovered": len(masks)}
        assert result.order[0] == owner, (scene.tokens[k], result.order)
        assert np.array_equal(result.labels == owner, scene.objects[owner].mask)


def test_a_label_map_with_gaps_is_renumbered_and_the_top_region_is_the_named_object(demo):
    scene = SCENES[0]
    ids = [7, 30, 12]  # any ids; the background is 0
    labels = np.zeros(scene.image.shape[:2], dtype=np.int64)
    for object_, id_ in zip(scene.objects, ids):
        labels[object_.mask] = id_
    generation = demo.generate(scene.image, "Describe the image.")
    for k, owner in object_words(scene, generation):
        result = ew.explain(demo, scene.image, regions=labels, targets=[k], generation=generation)
        assert result.regions == {"kind": "labels", "ids": [0, 7, 12, 30]}
        top_id = result.regions["ids"][result.order[0]]
        assert top_id == ids[owner], scene.tokens[k]
        # region r of the result is the pixels the given map labelled ids[r]
        given = np.asarray(result.regions["ids"])[result.labels]
        assert np.array_equal(given, labels)


def test_a_grid_on_the_demo_model_finds_the_block_holding_the_object(demo):
    scene = make_scene(24, objects=[("red", "circle")])
    result = ew.explain(demo, scene.image, regions="grid", grid=(4, 4), targets="circle")
    assert result.regions == {"kind": "grid", "grid": [4, 4]} and result.n_regions == 16
    top = result.labels == result.order[0]
    assert scene.objects[0].mask[top].any()


# -- grids ----------------------------------------------------------------------------------------
class ObjectModel(VisibilityModel):
    """Sees a full-size object map at any image size (nearest neighbour, as a processor's
    resize would), and records the image sizes it was given."""

    def __init__(self, objects: np.ndarray, weights, input_size=None):
        super().__init__(objects, [additive(weights)], base=[0.05])
        if input_size is not None:
            self.input_size = input_size
        self.sizes: set[tuple[int, int]] = set()

    def generate(self, image, prompt, max_new_tokens=64):
        self.sizes.add(np.asarray(image).shape[:2])
        return super().generate(image, prompt, max_new_tokens)

    def visible(self, image):
        image = np.asarray(image)
        self.sizes.add(image.shape[:2])
        height, width = image.shape[:2]
        big_h, big_w = self.object_map.shape
        rows = ((np.arange(height) + 0.5) * big_h / height).astype(int)
        cols = ((np.arange(width) + 0.5) * big_w / width).astype(int)
        objects = self.object_map[rows][:, cols]
        shown = image.any(axis=2)
        counts = np.bincount(objects.ravel(), weights=shown.ravel(), minlength=self.n_objects)
        return counts / np.maximum(np.bincount(objects.ravel(), minlength=self.n_objects), 1)


def bright_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A noisy image with no zero pixel (the engine fills removed regions with 0)."""
    return np.random.default_rng(seed).integers(30, 256, (height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize("rows, cols", [(3, 4), (5, 5), (2, 7), (1, 2)])
def test_a_grid_is_rows_times_cols_blocks_of_the_right_shape(rows, cols):
    height, width = 70, 84
    objects = np.zeros((height, width), dtype=int)
    objects[30:40, 40:50] = 1
    model = ObjectModel(objects, [0.0, 0.9])
    result = ew.explain(model, bright_image(height, width), regions="grid", grid=(rows, cols))
    assert result.n_regions == rows * cols and result.regions["grid"] == [rows, cols]
    for region in range(rows * cols):
        ys, xs = np.nonzero(result.labels == region)
        # a full rectangle, in row-major order, its sides height/rows and width/cols +- 1
        assert len(ys) == (np.ptp(ys) + 1) * (np.ptp(xs) + 1)
        assert abs(np.ptp(ys) + 1 - height / rows) < 1 and abs(np.ptp(xs) + 1 - width / cols) < 1
        assert (ys.min() * rows // height, xs.min() * cols // width) == divmod(region, cols)
    top = result.labels == result.order[0]
    assert top[30:40, 40:50].any()  # the block holding the object that matters


def test_grid_without_a_shape_takes_about_n_regions_and_bad_grids_are_errors():
    model = ObjectModel(np.zeros((60, 90), dtype=int), [0.5])
    result = ew.explain(model, bright_image(60, 90), regions="grid", n_regions=24)
    rows, cols = result.regions["grid"]
    assert result.n_regions == rows * cols and 20 <= rows * cols <= 30
    for bad, message in [
        ((0, 4), "two positive ints"),
        ((2.0, 3), "two positive ints"),
        ((1, 1), "one region"),
        ((3,), "two positive ints"),
    ]:
        with pytest.raises(ValueError, match=message):
            ew.Explainer(model, regions="grid", grid=bad)
    with pytest.raises(ValueError, match='grid= goes with regions="grid"'):
        ew.Explainer(model, grid=(2, 2))
    with pytest.raises(ValueError, match="more than 256"):
        ew.Explainer(model, regions="grid", grid=(20, 20))
    with pytest.raises(ValueError, match="does not fit"):
        ew.explain(model, bright_image(60, 90), regions="grid", grid=(61, 2))


# -- label maps -------------------------------------------------------------------------------
class Untouchable(ObjectModel):
    """A model that must not be asked anything: bad regions fail before any model work."""

    def generate(self, image, prompt, max_new_tokens=64):
        raise AssertionError("generate was called")


def test_bad_label_maps_are_clear_errors_before_the_model_is_asked():
    model = Untouchable(np.zeros((20, 30), dtype=int), [0.5])
    image = bright_image(20, 30)
    two = np.zeros((20, 30), dtype=int)
    two[:, 15:] = 1
    cases = [
        (np.zeros((30, 20), dtype=int) + np.eye(30, 20, dtype=int), "20 x 30"),
        (two - 1, "negative labels"),
        (np.full((20, 30), 4), "one region only"),
        (two.astype(float), "integer region ids"),
        (np.stack([two, two]), "a label map is H x W"),
        (np.arange(600).reshape(20, 30), "600 regions, more than 256"),
    ]
    for labels, message in cases:
        with pytest.raises(ValueError, match=message):
            ew.explain(model, image, regions=labels)
    with pytest.raises(TypeError, match="regions must be"):
        ew.Explainer(model, regions={"kind": "grid"})
    with pytest.raises(ValueError, match='regions must be "slic", "grid"'):
        ew.Explainer(model, regions="sam")


def test_renumbering_keeps_the_order_of_the_given_ids():
    given = np.array([[5, 5, 9], [2, 9, 2]])
    labels, record = checked_label_map(given)
    assert labels.tolist() == [[1, 1, 2], [0, 2, 0]]
    assert record == {"kind": "labels", "ids": [2, 5, 9]}
    labels, record = checked_label_map(np.array([[0, 1], [2, 1]], dtype=np.uint8))
    assert labels.dtype == np.int32 and record == {"kind": "labels"}  # 0..N-1: kept as given
    labels, record = checked_label_map(np.array([[True, False]]))  # a boolean map: 2 regions
    assert labels.tolist() == [[1, 0]]


# -- masks ------------------------------------------------------------------------------------
def test_overlapping_masks_the_first_wins_and_uncovered_pixels_form_one_more_region():
    a = np.zeros((6, 8), dtype=bool)
    a[:3, :5] = True
    b = np.zeros((6, 8), dtype=bool)
    b[1:5, 3:7] = True  # overlaps a on rows 1-2, columns 3-4
    c = np.zeros((6, 8), dtype=np.uint8)
    c[5, :] = 1  # 0/1 integers are masks too
    labels, record = masks_to_labels([a, b, c])
    assert record == {"kind": "masks", "masks": 3, "uncovered": 3}
    assert (labels[a] == 0).all()  # a wins its overlap with b
    assert np.array_equal(labels == 1, b & ~a)
    assert np.array_equal(labels == 2, c.astype(bool))
    assert np.array_equal(labels == 3, ~(a | b | c.astype(bool)))
    _, record = masks_to_labels([a, ~a])  # covering every pixel: no extra region
    assert record["uncovered"] is None


def test_bad_masks_are_clear_errors():
    a = np.zeros((6, 8), dtype=bool)
    a[:3] = True
    cases = [
        ([], "empty list"),
        ([a, a[:, :4]], "mask 1 is"),
        ([a, a & np.eye(6, 8, dtype=bool)], "mask 1 has no pixel of its own"),
        ([a, np.zeros_like(a)], "mask 1 has no pixel of its own"),
        ([np.ones_like(a)], "covers the whole image"),
        ([a.astype(float) * 0.5], "boolean"),
        ([a[None, None]], "mask 0 has shape"),  # F x H x W is a clip's mask (test_video.py)
    ]
    for masks, message in cases:
        with pytest.raises(ValueError, match=message):
            region_plan(masks)
    model = Untouchable(np.zeros((20, 30), dtype=int), [0.5])
    with pytest.raises(ValueError, match="the masks are 6 x 8 but the image is 20 x 30"):
        ew.explain(model, bright_image(20, 30), regions=[a])


# -- the working size ---------------------------------------------------------------------------
def photo_objects(height: int, width: int) -> np.ndarray:
    """Objects of a photo: background 0 and three rectangles 1..3."""
    objects = np.zeros((height, width), dtype=int)
    objects[10:60, 20:90] = 1
    objects[100:180, 30:70] = 2
    objects[120:170, 120:190] = 3
    return objects


def test_user_regions_are_shrunk_to_the_working_size_and_returned_at_full_size():
    objects = photo_objects(200, 240)
    model = ObjectModel(objects, [0.0, 0.1, 0.0, 0.8], input_size=50)
    given = objects * 10 + 3  # ids 3, 13, 23, 33: renumbered 0..3
    result = ew.explain(model, bright_image(200, 240), regions=given, search="greedy")
    assert model.sizes == {(50, 60)}  # generated on and scored at the working size
    assert result.extras["image"]["working_size"] == [50, 60]
    assert result.labels.shape == (200, 240) and np.array_equal(result.labels, objects)
    assert result.regions == {"kind": "labels", "ids": [3, 13, 23, 33]}
    assert result.order[:2] == [3, 1]  # the objects that matter, most first
    assert result.attribution_map().shape == (200, 240)


def test_the_search_scores_the_map_shrunk_by_nearest_neighbour():
    objects = photo_objects(200, 240)
    explainer = ew.Explainer(ObjectModel(objects, [0.5]), regions=objects)
    working = np.zeros((50, 60, 3), np.uint8)
    work, full, record = explainer.region_maps(working, (200, 240))
    assert np.array_equal(full, objects) and record == {"kind": "labels"}
    # the map mitigation and the authors' sweep shrink a result's labels to: the same
    assert np.array_equal(work, downscale_labels(objects, 50, 60))
    scored = ew.Explainer(ObjectModel(objects, [0.5]), regions="grid", grid=(5, 6))
    work, full, _ = scored.region_maps(working, (200, 240))
    assert np.array_equal(work, np.arange(30).reshape(5, 6).repeat(10, 0).repeat(10, 1))


def test_a_region_that_vanishes_at_the_working_size_is_an_error_that_says_what_to_do():
    objects = photo_objects(200, 240)
    objects[199, 239] = 4  # one pixel: lost when 200 x 240 shrinks to 50 x 60
    model = Untouchable(objects, [0.5], input_size=50)
    with pytest.raises(ValueError, match=r"1 of 5 regions \(4\) vanish at the working size 50"):
        ew.explain(model, bright_image(200, 240), regions=objects)
    full = ObjectModel(objects, [0.0, 0.0, 0.0, 0.0, 0.9], input_size=50)
    result = ew.explain(full, bright_image(200, 240), regions=objects, working_size=None)
    assert result.order[0] == 4  # at the image's own size it is kept, and found


# -- results say how their regions were made ------------------------------------------------
def test_the_regions_record_is_saved_and_older_files_read_as_slic(tmp_path):
    objects = photo_objects(200, 240)
    model = ObjectModel(objects, [0.0, 0.5, 0.3, 0.1], input_size=50)
    masks = [objects == k for k in (1, 2, 3)]
    result = ew.explain(model, bright_image(200, 240), regions=masks)
    path = result.save(tmp_path / "masks.npz")
    back = ew.Explanation.load(path)
    assert back.regions == {"kind": "masks", "masks": 3, "uncovered": 3}
    assert np.array_equal(back.labels, result.labels)
    assert json.loads(json.dumps(result.to_dict()))["regions"] == back.regions
    slic = ew.explain(model, bright_image(200, 240), n_regions=12)
    assert slic.regions == {"kind": "slic", "n_regions": 12}
    # a schema 2 file (before regions were recorded): all its regions were superpixels
    data = dict(np.load(path))
    meta = json.loads(bytes(data["meta"]))
    meta["schema_version"] = 2
    del meta["regions"]
    data["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(tmp_path / "old.npz", **data)
    assert ew.Explanation.load(tmp_path / "old.npz").regions == {"kind": "slic"}
    assert ew.Explanation.load(DATA / "diagnosis-schema1.npz").regions == {"kind": "slic"}


# -- files and the command line -------------------------------------------------------------
def test_label_map_and_mask_files_read_as_the_arrays_they_hold(tmp_path):
    objects = photo_objects(200, 240)
    Image.fromarray(objects.astype(np.uint8) * 40).save(tmp_path / "grey.png")
    Image.fromarray((objects * 1000).astype(np.uint16)).save(tmp_path / "deep.png")
    colours = np.array([[0, 0, 0], [9, 1, 0], [0, 0, 2], [255, 255, 255]], np.uint8)
    Image.fromarray(colours[objects]).save(tmp_path / "panoptic.png")
    np.save(tmp_path / "labels.npy", objects)
    assert np.array_equal(read_label_map(tmp_path / "grey.png"), objects * 40)
    assert np.array_equal(read_label_map(tmp_path / "deep.png"), objects * 1000)
    panoptic = read_label_map(tmp_path / "panoptic.png")  # R + 256 G + 256^2 B
    assert np.array_equal(panoptic, np.array([0, 9 + 256, 2 * 65536, 2**24 - 1])[objects])
    assert np.array_equal(read_label_map(tmp_path / "labels.npy"), objects)
    masks = [objects == k for k in (3, 1, 2)]
    np.savez(tmp_path / "masks.npz", *masks)
    np.savez(tmp_path / "stack.npz", np.stack(masks))
    for name in ("masks.npz", "stack.npz"):
        read = read_masks(tmp_path / name)
        assert len(read) == 3 and all(np.array_equal(r, m) for r, m in zip(read, masks))
    Image.fromarray(bright_image(4, 4)).convert("RGBA").save(tmp_path / "rgba.png")
    for reader, name, message in [
        (read_label_map, "rgba.png", "RGBA image"),
        (read_label_map, "labels.txt", ".png or .npy"),
        (read_label_map, "missing.npy", "not found"),
        (read_masks, "labels.npy", "mask 0 must be boolean"),
        (read_masks, "grey.png", ".npz or .npy"),
    ]:
        with pytest.raises(ValueError, match=message):
            reader(tmp_path / name)


@pytest.fixture(scope="module")
def scene_files(tmp_path_factory):
    """The first scene as a PNG, its masks as .npz and its objects as a label map PNG."""
    folder = tmp_path_factory.mktemp("regions")
    scene = SCENES[0]
    Image.fromarray(scene.image).save(folder / "scene.png")
    np.savez(folder / "masks.npz", *[o.mask for o in scene.objects])
    labels = np.zeros(scene.image.shape[:2], np.uint8)
    for k, object_ in enumerate(scene.objects):
        labels[object_.mask] = 50 * (k + 1)
    Image.fromarray(labels).save(folder / "labels.png")
    return folder, scene


def run_cli(argv, capsys, load=None):
    code = cli.main([str(a) for a in argv], **({"load": load} if load else {}))
    return code, *capsys.readouterr()


def test_the_command_line_explains_the_demo_model_with_the_scenes_masks(scene_files, capsys):
    folder, scene = scene_files
    square = scene.tokens.index("square")
    owner = scene.token_objects[square]
    for flag, file in (("--masks", "masks.npz"), ("--label-map", "labels.png")):
        out = folder / f"out{flag}"
        code, stdout, stderr = run_cli(
            ["explain", folder / "scene.png", "--targets", square, flag, folder / file,
             "--search", "greedy", "--out", out],
            capsys,
        )  # fmt: skip
        assert code == 0, stderr
        assert "4 regions" in stdout
        data = json.loads((out / "result.json").read_text())
        labels = ew.Explanation.labels_from_dict(data)
        made = "3 masks and the pixels of none" if flag == "--masks" else "a label map"
        assert f"4 regions ({made}), greedy search" in stderr  # progress, and the page says it
        assert f"4 regions ({made}), greedy search" in (out / "explanation.html").read_text()
        if flag == "--masks":
            assert data["regions"] == {"kind": "masks", "masks": 3, "uncovered": 3}
            assert data["order"][0] == owner
        else:
            assert data["regions"] == {"kind": "labels", "ids": [0, 50, 100, 150]}
            assert data["regions"]["ids"][data["order"][0]] == 50 * (owner + 1)
        assert np.array_equal(labels == data["order"][0], scene.objects[owner].mask)


def test_the_command_line_grid_and_region_kind(scene_files, capsys):
    folder, scene = scene_files
    for extra, grid in (
        (["--grid", "3x5"], [3, 5]),
        (["--region-kind", "grid", "--regions", "12"], None),
    ):
        out = folder / f"grid{len(extra)}"
        code, _, stderr = run_cli(
            ["explain", folder / "scene.png", "--targets", "circle", *extra, "--out", out], capsys
        )
        assert code == 0, stderr
        data = json.loads((out / "result.json").read_text())
        assert data["regions"]["kind"] == "grid"
        rows, cols = data["regions"]["grid"]
        assert len(data["order"]) == rows * cols
        if grid:
            assert [rows, cols] == grid
        else:
            assert 10 <= rows * cols <= 16
    # --regions N keeps its meaning: how many superpixels
    out = folder / "slic"
    code, _, stderr = run_cli(
        ["explain", folder / "scene.png", "--targets", "circle", "--regions", "8", "--out", out],
        capsys,
    )
    assert code == 0, stderr
    assert json.loads((out / "result.json").read_text())["regions"] == {
        "kind": "slic",
        "n_regions": 8,
    }


def test_bad_region_options_are_usage_errors_before_the_model_loads(scene_files, tmp_path, capsys):
    folder, _ = scene_files
    np.save(tmp_path / "small.npy", np.eye(10, dtype=int))
    np.save(tmp_path / "negative.npy", -np.ones((64, 64), dtype=int))
    (tmp_path / "manifest.jsonl").write_text(json.dumps({"image": str(folder / "scene.png")}))

    def refuse(*_):
        raise AssertionError("the model was loaded")

    image = ["explain", folder / "scene.png", "--out", tmp_path / "out"]
    batch = ["explain", "--batch", tmp_path / "manifest.jsonl", "--out", tmp_path / "out"]
    cases = [
        ([*image, "--label-map", tmp_path / "small.npy"], "--label-map: the label map is 10 x 10"),
        ([*image, "--label-map", tmp_path / "negative.npy"], "negative labels"),
        ([*image, "--masks", tmp_path / "none.npz"], "--masks: masks file not found"),
        ([*image, "--grid", "3by3"], "expected ROWSxCOLS"),
        ([*image, "--grid", "1x1"], "one region"),
        ([*image, "--grid", "2x2", "--region-kind", "slic"], "--region-kind slic"),
        ([*image, "--grid", "2x2", "--masks", folder / "masks.npz"], "--grid does not go"),
        ([*image, "--masks", folder / "masks.npz", "--label-map", folder / "labels.png"],
         "not allowed with"),
        ([*batch, "--masks", folder / "masks.npz"], "not --batch"),
    ]  # fmt: skip
    for argv, message in cases:
        code, _, stderr = run_cli(argv, capsys, load=refuse)
        assert code == 2 and message in stderr, (argv, stderr)


def test_a_batch_takes_a_grid_and_records_it(scene_files, tmp_path, capsys):
    folder, _ = scene_files
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text(json.dumps({"image": str(folder / "scene.png"), "id": "one"}))
    argv = ["explain", "--batch", manifest, "--grid", "2x3", "--targets", "circle"]
    code, _, stderr = run_cli([*argv, "--out", tmp_path / "out"], capsys)
    assert code == 0, stderr
    asked = json.loads((tmp_path / "out" / "one" / "row.json").read_text())["asked"]
    assert asked["regions"] == "grid" and asked["grid"] == [2, 3]
    data = json.loads((tmp_path / "out" / "one" / "result.json").read_text())
    assert data["regions"] == {"kind": "grid", "grid": [2, 3]} and len(data["order"]) == 6
    code, _, stderr = run_cli([*argv, "--out", tmp_path / "out"], capsys)  # resumes: done
    assert code == 0 and "1 already done" in stderr
