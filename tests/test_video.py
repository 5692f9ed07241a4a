"""Clips (issue 24): which frame, and where in it.

Ground truth comes from a synthetic clip scorer whose answer is the share of one known
object (pure red pixels) that a masked clip still shows. The object is in one frame only,
so the search must place the region holding it first and the map must light that frame.
The scorer also checks that every clip token_probs gets is the clip generate got, pixel for
pixel wherever it is not filled: frames reordered anywhere between reading and scoring
fail there, and frames reordered between scoring and the result fail the map's frame.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import eagle_widget as ew
from eagle_widget.engine import label_codec
from eagle_widget.engine.clips import (
    is_clip,
    natural_key,
    read_clip,
    sample_indices,
)
from eagle_widget.engine.masking import compose, fill_image
from eagle_widget.engine.protocol import TakesClips, supports_video_of
from eagle_widget.engine.regions import region_neighbours, regions_text
from eagle_widget.engine.types import Generation

DATA = Path(__file__).resolve().parent / "data"
RED = np.array([255, 10, 10], dtype=np.uint8)


def frame(seed: int, size: int = 32) -> np.ndarray:
    """A frame of 2 x 2 flat blocks, no pixel 0 and none red (red is R > 200 with G < 40)."""
    rng = np.random.default_rng(seed)
    colours = np.stack(
        [rng.integers(40, 150, 4), rng.integers(40, 256, 4), rng.integers(40, 256, 4)], axis=1
    ).astype(np.uint8)
    half = size // 2
    blocks = (np.arange(size)[:, None] // half) * 2 + np.arange(size)[None, :] // half
    return colours[blocks]


def clip_with_red(frames: int = 5, key: int = 3, size: int = 32, box=(4, 12, 4, 12)):
    """`frames` frames; a red square (rows box[0]:box[1], columns box[2]:box[3]) in frame `key`."""
    clip = np.stack([frame(10 + f, size) for f in range(frames)])
    top, bottom, left, right = box
    clip[key, top:bottom, left:right] = RED
    return clip


def red(pixels: np.ndarray) -> np.ndarray:
    return (pixels[..., 0] > 200) & (pixels[..., 1] < 40) & (pixels[..., 2] < 40)


class ClipScorer:
    """p(" red") = 0.05 + 0.9 x the share of the generated clip's red pixels still shown."""

    supports_video = True

    def __init__(self, input_size=None):
        if input_size is not None:
            self.input_size = input_size
        self.generated: np.ndarray | None = None
        self.scored = 0

    def generate(self, image, prompt, max_new_tokens=64):
        clip = np.asarray(image)
        assert clip.ndim == 4 and clip.shape[-1] == 3, clip.shape
        self.generated = clip.copy()
        return Generation(prompt, [7], [" red"], " red", tuple(clip.shape[1:3]))

    def token_probs(self, images, generation, positions, token_ids=None):
        total = red(self.generated).sum()
        out = []
        for image in images:
            assert image.shape == self.generated.shape, (image.shape, self.generated.shape)
            shown = image.any(axis=-1)
            # what is not filled is the generated clip, frame for frame: the same order
            assert np.array_equal(image[shown], self.generated[shown])
            out.append([0.05 + 0.9 * red(image).sum() / total] * len(positions))
        self.scored += len(images)
        return np.array(out)


class ImageOnly(ClipScorer):
    supports_video = False

    def generate(self, image, prompt, max_new_tokens=64):
        raise AssertionError("generate was called")


def top_frame(result) -> int:
    shares = result.region_frames()[result.order[0]]
    assert shares.max() == 1.0  # a per-frame region lies in one frame
    return int(np.argmax(shares))


# -- reading clips ------------------------------------------------------------------------------
def test_lists_arrays_and_pil_frames_read_as_one_clip_in_the_given_order(tmp_path):
    clip = clip_with_red(4)
    Image.fromarray(clip[2]).save(tmp_path / "two.png")
    mixed = [clip[0], Image.fromarray(clip[1]), tmp_path / "two.png", str(tmp_path / "two.png")]
    pixels, record = read_clip(mixed)
    assert np.array_equal(pixels[:3], clip[:3]) and np.array_equal(pixels[3], clip[2])
    assert record == {"source": "list", "count": 4, "indices": [0, 1, 2, 3], "of": 4}
    pixels, record = read_clip(clip)
    assert np.array_equal(pixels, clip) and record["source"] == "array"
    pixels, record = read_clip(list(clip[::-1]))
    assert np.array_equal(pixels, clip[::-1])  # the order given is the order kept
    assert is_clip(clip) and is_clip(mixed) and is_clip(tmp_path) and is_clip("a.mp4")
    assert not is_clip(clip[0]) and not is_clip(tmp_path / "two.png")


def test_a_folder_is_read_in_natural_name_order_and_frames_samples_it_evenly(tmp_path):
    names = [f"frame{i}.png" for i in range(1, 11)]
    for i in np.random.default_rng(0).permutation(10):  # written in no particular order
        Image.fromarray(frame(i)).save(tmp_path / names[i])
    (tmp_path / "notes.txt").write_text("not a frame")
    (tmp_path / ".hidden.png").write_bytes(b"")
    pixels, record = read_clip(tmp_path)
    assert record["names"] == names  # frame2 before frame10, the text file left out
    assert all(np.array_equal(pixels[i], frame(i)) for i in range(10))
    pixels, record = read_clip(tmp_path, frames=5)
    assert record["indices"] == [1, 3, 5, 7, 9] and record["of"] == 10
    assert record["names"] == [f"frame{i}.png" for i in (2, 4, 6, 8, 10)]
    assert all(np.array_equal(pixels[k], frame(i)) for k, i in enumerate(record["indices"]))
    assert sorted(["b10", "b9", "a1", "B2"], key=natural_key) == ["a1", "B2", "b9", "b10"]
    assert sample_indices(8, 8) == list(range(8)) and sample_indices(3, 8) == [0, 1, 2]
    assert sample_indices(100, 4) == [12, 37, 62, 87]


def test_bad_clips_are_clear_errors(tmp_path):
    small = frame(0, 16)
    cases = [
        ([], "no frames"),
        ([frame(0), small], r"frame 1 of the clip is 16 x 16 but frame 0 is 32 x 32"),
        ([frame(0), "missing.png"], "frame 1 of the clip: cannot read image"),
        (tmp_path, "holds no image files"),
    ]
    for clip, message in cases:
        with pytest.raises(ValueError, match=message):
            read_clip(clip)
    for frames in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="frames must be None or a positive int"):
            read_clip([frame(0)], frames=frames)
    with pytest.raises(TypeError, match="a clip must be"):
        read_clip({"frames": 1})


# -- the protocol -------------------------------------------------------------------------------
def test_only_a_model_that_says_so_takes_clips_and_the_refusal_comes_before_any_reading():
    assert supports_video_of(ClipScorer()) and isinstance(ClipScorer(), TakesClips)
    assert not supports_video_of(ImageOnly()) and not supports_video_of(object())
    assert not supports_video_of(type("Truthy", (), {"supports_video": 1})())  # True only
    unreadable = [frame(0), "no-such-frame.png"]  # reading it would fail differently
    for clip in (unreadable, clip_with_red(3, key=1), "clip.mp4"):
        with pytest.raises(ValueError, match="ImageOnly takes images only.*this is a clip"):
            ew.explain(ImageOnly(), clip)
    with pytest.raises(ValueError, match="frames=4 samples a clip, but this is one image"):
        ew.explain(ClipScorer(), frame(0), frames=4)


# -- the search finds the frame, and where in it ------------------------------------------------
def test_a_grid_per_frame_finds_the_block_of_the_frame_that_matters():
    clip = clip_with_red(5, key=3)
    result = ew.explain(ClipScorer(), clip, regions="grid", grid=(2, 2))
    assert result.is_clip and result.n_frames == 5 and result.n_regions == 20
    assert result.regions == {"kind": "grid", "grid": [2, 2], "per_frame": True}
    assert result.labels.shape == (5, 32, 32) and result.image.shape == (5, 32, 32, 3)
    assert result.order[0] == 3 * 4 + 0  # frame 3's top left block holds the red square
    assert top_frame(result) == 3
    heat = result.attribution_map()
    assert heat.shape == (5, 32, 32)
    assert heat[3, 4:12, 4:12].min() == 1.0 and heat[[0, 1, 2, 4]].max() < 1.0
    assert result.insertion_curve[1, 0] == pytest.approx(0.95)  # the square alone: all of it
    # areas are shares of all F x H x W pixels: a block is 1/20 of the clip
    assert np.allclose(np.diff(result.areas), 1 / 20) and result.areas[-1] == pytest.approx(1)
    assert regions_text(20, result.regions) == "20 regions (a 2 x 2 grid per frame)"


@pytest.mark.parametrize("method", ["occlusion", "rise"])
def test_the_baselines_rank_a_clips_regions_as_they_rank_an_images(method):
    clip = clip_with_red(3, key=2)
    result = ew.explain(ClipScorer(), clip, regions="grid", grid=(2, 2), method=method)
    assert result.search == "ranked" and result.order[0] == 2 * 4 and top_frame(result) == 2
    assert result.attribution_map("method").shape == (3, 32, 32)
    with pytest.raises(ValueError, match="takes an H x W map of one image"):
        ew.explain(
            ClipScorer(), clip, method="given-map", method_options={"map": np.ones((32, 32))}
        )


def test_the_reliance_of_every_token_is_measured_on_the_clip():
    result = ew.explain(ClipScorer(), clip_with_red(3, key=0), regions="grid", reliance="all")
    prior, visual = result.token_reliance()
    assert prior[0] == pytest.approx(0.05) and visual[0] == pytest.approx(0.9)
    assert "frames=3" in repr(result)


def test_per_frame_superpixels_never_span_frames_and_point_at_the_red_square():
    clip = clip_with_red(4, key=1)
    result = ew.explain(ClipScorer(), clip, n_regions=24)
    assert result.regions == {"kind": "slic", "n_regions": 24, "per_frame": True}
    shares = result.region_frames()
    assert set(np.unique(shares)) == {0.0, 1.0}  # each region lies in one frame
    assert 16 <= result.n_regions <= 40
    assert top_frame(result) == 1 and result.labels[1, 8, 8] == result.order[0]
    assert result.attribution_map()[1, 8, 8] == 1.0


def test_supervoxels_follow_a_still_object_through_the_frames():
    still = np.stack([frame(5)] * 4)
    still[:, 4:12, 4:12] = RED  # in every frame
    result = ew.explain(ClipScorer(), still, regions="supervoxels", n_regions=8)
    assert result.regions == {"kind": "supervoxels", "n_regions": 8}
    spans = (result.region_frames() > 0).sum(axis=1)
    assert spans.max() == 4  # a region that goes through all four frames
    top = result.labels == result.order[0]
    assert top[:, 4:12, 4:12].all()  # the red square in every frame is one region
    with pytest.raises(ValueError, match='"supervoxels" is for a clip'):
        ew.explain(ClipScorer(), frame(0), regions="supervoxels")


def test_frame_order_is_kept_from_the_folder_to_the_map(tmp_path):
    names = [f"frame{i}.png" for i in range(1, 11)]
    red_frame = 9  # frame10.png: tenth in name order, second in a plain string sort
    for i, name in enumerate(names):
        pixels = frame(i)
        if i == red_frame:
            pixels[20:28, 4:12] = RED
        Image.fromarray(pixels).save(tmp_path / name)
    result = ew.explain(ClipScorer(), tmp_path, regions="grid", grid=(2, 2), frames=5)
    assert result.frames["names"] == [f"frame{i}.png" for i in (2, 4, 6, 8, 10)]
    assert result.frames["indices"] == [1, 3, 5, 7, 9] and result.frames["source"] == "folder"
    shown = top_frame(result)
    assert result.frames["names"][shown] == "frame10.png"
    assert np.array_equal(result.image[shown], np.asarray(Image.open(tmp_path / "frame10.png")))
    assert result.order[0] == shown * 4 + 2  # its bottom left block
    # the same frames given the other way round: the map follows them to the front
    clip = [tmp_path / n for n in names[::-1]]
    back = ew.explain(ClipScorer(), clip, regions="grid", grid=(2, 2))
    assert back.frames["names"][0] == "frame10.png" and top_frame(back) == 0


def test_a_large_clip_is_searched_smaller_frame_by_frame_and_returned_at_full_size():
    clip = clip_with_red(3, key=2, size=96, box=(12, 36, 12, 36))
    model = ClipScorer(input_size=48)
    result = ew.explain(model, clip, regions="grid", grid=(2, 2))
    assert model.generated.shape == (3, 48, 48, 3)  # what the model saw: each frame halved
    assert result.labels.shape == (3, 96, 96) and result.attribution_map().shape == (3, 96, 96)
    assert result.extras["image"]["working_size"] == [48, 48]
    assert result.generation.image_size == (96, 96)
    assert top_frame(result) == 2 and result.order[0] == 8


def test_masking_a_clip_keeps_regions_exactly_and_blurs_each_frame_alone():
    clip = np.stack([np.full((8, 8, 3), 10, np.uint8), np.full((8, 8, 3), 250, np.uint8)])
    labels = np.stack([np.zeros((8, 8), int), np.ones((8, 8), int)])
    filler = fill_image(clip, 0)
    kept = compose(clip, filler, labels, np.array([[True, False], [False, True]]))
    assert np.array_equal(kept[0, 0], clip[0]) and not kept[0, 1].any()
    assert np.array_equal(kept[1, 1], clip[1]) and not kept[1, 0].any()
    blurred = fill_image(clip, "blur")
    assert (blurred[0] == 10).all() and (blurred[1] == 250).all()  # no frame bleeds into another
    # neighbours in a clip: beside in a frame, or at the same place in the next frame
    grid = np.arange(8).reshape(2, 2, 2)  # frame 0 holds 0..3, frame 1 holds 4..7
    assert region_neighbours(grid, 8)[0].tolist() == [1, 2, 4]


# -- user regions of a clip ---------------------------------------------------------------------
def test_a_clip_label_map_and_clip_masks_are_the_regions():
    clip = clip_with_red(3, key=0)
    ids = np.full((3, 32, 32), 40)
    ids[0, 4:12, 4:12] = 7  # the red square, given as a region of its own
    ids[1:, :16] = 9  # a region spanning two frames: the user's map may
    result = ew.explain(ClipScorer(), clip, regions=ids)
    assert result.regions == {"kind": "labels", "ids": [7, 9, 40]}
    assert result.regions["ids"][result.order[0]] == 7
    assert np.array_equal(np.asarray(result.regions["ids"])[result.labels], ids)
    masks = [ids == 7, ids == 9]
    result = ew.explain(ClipScorer(), clip, regions=masks)
    assert result.regions == {"kind": "masks", "masks": 2, "uncovered": 2}
    assert result.order[0] == 0 and result.labels.shape == (3, 32, 32)


def test_bad_clip_label_maps_are_clear_errors_before_the_model_is_asked():
    model = ImageOnly()
    model.supports_video = True  # takes clips, but generate must not be reached
    clip = clip_with_red(3, key=1)
    two = np.zeros((3, 32, 32), dtype=int)
    two[:, :, 16:] = 1
    cases = [
        (two[:2], r"the label map is 2 x 32 x 32 but the clip is 3 x 32 x 32 \(frames x"),
        (two[0], r"np.stack\(\[labels\] \* F\)"),  # an image's map for a clip
        (two - 1, "negative labels"),
        (np.full((3, 32, 32), 4), "one region only"),
        (two.astype(bool), "masks go in a list"),
        (np.arange(3 * 32 * 32).reshape(3, 32, 32) % 300, "300 regions, more than 256"),
    ]
    for labels, message in cases:
        with pytest.raises(ValueError, match=message):
            ew.explain(model, clip, regions=labels)
    with pytest.raises(ValueError, match="the masks are 32 x 32 but the clip is 3 x 32 x 32"):
        ew.explain(model, clip, regions=[two[0] == 1])
    with pytest.raises(ValueError, match="the grid has 320 regions, more than 256"):
        ew.explain(model, np.stack([frame(0)] * 5), regions="grid", grid=(8, 8))
    with pytest.raises(ValueError, match="F x H x W is a clip's"):
        ew.explain(ClipScorer(), frame(0), regions=two)


# -- saving ------------------------------------------------------------------------------------
def test_a_clip_result_saves_and_loads_with_its_frames(tmp_path):
    names = []
    for i in range(4):
        names.append(f"f{i}.png")
        Image.fromarray(clip_with_red(4, key=2)[i]).save(tmp_path / names[-1])
    result = ew.explain(ClipScorer(), [tmp_path / n for n in names], regions="grid", grid=(2, 2))
    back = ew.Explanation.load(result.save(tmp_path / "clip.npz"))
    assert np.array_equal(back.image, result.image) and np.array_equal(back.labels, result.labels)
    assert back.frames == result.frames and back.frames["names"] == names
    assert back.order == result.order and back.regions == result.regions
    assert np.array_equal(back.attribution_map(), result.attribution_map())
    assert back.metadata()["schema_version"] == ew.engine.explanation.SCHEMA_VERSION >= 4
    data = json.loads(json.dumps(result.to_dict()))
    assert data["frames"] == result.frames and data["image_size"] == [32, 32]
    assert np.array_equal(ew.Explanation.labels_from_dict(data), result.labels)
    assert np.array_equal(label_codec.unpack(label_codec.pack(result.labels)), result.labels)
    assert back.show().frames["count"] == 4  # a film strip (tests/test_clip_widget.py)
    assert back.to_html(tmp_path / "clip.html").is_file()


def test_a_clips_figure_is_the_papers_row_of_frames_each_under_one_colour_scale():
    """Issue 24: figure() draws the 1 x F panel, "Frame i" over each frame with its map."""
    result = ew.explain(ClipScorer(), clip_with_red(4, key=2), regions="grid", grid=(2, 2))
    figure = result.figure()
    frames = sorted((a for a in figure.axes if (a.get_gid() or "").startswith("frame-")),
                    key=lambda a: a.get_gid())  # fmt: skip
    assert [a.get_title() for a in frames] == [f"Frame {i}" for i in range(1, 5)]
    lefts = [a.get_position().x0 for a in frames]
    assert lefts == sorted(lefts)  # left to right, in the clip's order
    maps = [next(i for i in a.images if i.get_gid() == f"attribution-{f}") for f, a in
            enumerate(frames)]  # fmt: skip
    assert all(m.get_clim() == (0, 1) for m in maps)  # one scale over the clip
    shown = [np.asarray(m.get_array()) for m in maps]
    assert np.array_equal(np.stack(shown), result.attribution_map())
    assert max(range(4), key=lambda f: shown[f].max()) == 2  # the red square's frame is hottest
    assert shown[2][4:12, 4:12].min() == 1.0
    with pytest.raises(ValueError, match="boxes are drawn on an image"):
        result.figure(boxes=[(0, 0, 4, 4)])


def test_files_written_before_clips_still_load_as_images():
    old = ew.Explanation.load(DATA / "grid-schema3.npz")  # written by schema 3
    assert not old.is_clip and old.frames is None and old.n_frames is None
    assert old.regions == {"kind": "grid", "grid": [2, 3]} and old.labels.shape == (24, 32)
    assert old.attribution_map().shape == (24, 32) and old.order == [1, 4, 2, 5, 0, 3]
    assert ew.Explanation.load(DATA / "diagnosis-schema1.npz").frames is None


def test_an_explanation_checks_its_frames_record():
    result = ew.explain(ClipScorer(), clip_with_red(3, key=1), regions="grid", grid=(1, 2))
    fields = {k: getattr(result, k) for k in result.__dataclass_fields__}
    plain = ew.Explanation(**{**fields, "frames": None})
    assert plain.frames == {"source": "array", "count": 3, "indices": [0, 1, 2], "of": 3}
    with pytest.raises(ValueError, match="record of the clip's 3 frames"):
        ew.Explanation(**{**fields, "frames": {"count": 2}})
    with pytest.raises(ValueError, match=r"frames\['names'\] holds 1 values for 3 frames"):
        ew.Explanation(**{**fields, "frames": {"count": 3, "names": ["a"]}})
    six = np.broadcast_to(np.arange(32) * 6 // 32, (32, 32))  # the steps' 6 regions in one image
    with pytest.raises(ValueError, match="this explanation is of one image"):
        ew.Explanation(**{**fields, "image": result.image[0], "labels": six, "frames": {}})
    with pytest.raises(ValueError, match="region_frames is of a clip"):
        ew.Explanation.load(DATA / "grid-schema3.npz").region_frames()


def test_the_command_line_explains_a_folder_of_frames(tmp_path, capsys):
    """Issue 24: `eagle-widget explain FOLDER` takes a clip; bad clip options fail early."""
    from eagle_widget import cli

    clip = clip_with_red(3, key=2)  # kept by --frames 2 too (frames 0 and 2)
    folder = tmp_path / "clip"
    folder.mkdir()
    for i, name in enumerate(["f2.png", "f10.png", "f1.png"]):  # natural order: f1, f2, f10
        Image.fromarray(clip[[1, 2, 0][i]]).save(folder / name)  # so f1, f2, f10 = 0, 1, 2

    def run(*argv, model=None):
        code = cli.main([str(a) for a in argv], load=lambda *_: model or ClipScorer())
        return code, capsys.readouterr()

    code, seen = run("explain", folder, "--region-kind", "grid", "--grid", "2x2", "--out",
                     tmp_path / "out")  # fmt: skip
    assert code == 0, seen.err
    saved = json.loads((tmp_path / "out" / "result.json").read_text())
    assert saved["frames"]["names"] == ["f1.png", "f2.png", "f10.png"]
    back = ew.Explanation.load(tmp_path / "out" / "result.npz")
    assert back.n_frames == 3 and top_frame(back) == 2  # the red square's frame, f10.png
    assert (tmp_path / "out" / "figure.png").is_file()
    assert (tmp_path / "out" / "explanation.html").is_file()  # the film strip's page
    code, seen = run("explain", folder, "--frames", "2", "--out", tmp_path / "two")
    assert code == 0 and ew.Explanation.load(tmp_path / "two" / "result.npz").n_frames == 2
    code, seen = run("explain", folder, "--out", tmp_path / "o", model=ImageOnly())
    assert code != 0 and "takes images only" in seen.err, seen.err
    Image.fromarray(clip[0]).save(tmp_path / "one.png")
    code, seen = run("explain", tmp_path / "one.png", "--frames", "2", "--out", tmp_path / "o")
    assert code == 2 and "--frames samples a clip" in seen.err
