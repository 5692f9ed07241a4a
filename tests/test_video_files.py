"""Video files (issue 24): decoded by PyAV, sampled evenly, in presentation order, with
their times, and explained like any other clip.

Each test writes its own H.264 file with PyAV, so the ground truth is known: frame i of the
source carries a white bar at column block i, and one frame holds a red square.
"""

from __future__ import annotations

import sys

import av
import numpy as np
import pytest
from PIL import Image
from test_video import ClipScorer, red, top_frame

import eagle_widget as ew
from eagle_widget.engine.clips import DEFAULT_VIDEO_FRAMES, VideoReaderMissing, read_clip

FPS = 6
SIZE = (48, 64)  # height, width: even, as yuv420p needs
BAR = 4  # columns per bar


def source_frame(index: int, red_square: bool = False) -> np.ndarray:
    pixels = np.full((*SIZE, 3), 60, dtype=np.uint8)
    pixels[:, index * BAR : (index + 1) * BAR] = 255  # where the bar is says which frame
    if red_square:
        pixels[16:32, 32:48] = (255, 0, 0)
    return pixels


def write_video(path, count: int, red_frame: int | None = None) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.height, stream.width = SIZE
        stream.pix_fmt = "yuv420p"
        for index in range(count):
            frame = av.VideoFrame.from_ndarray(source_frame(index, index == red_frame), "rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())  # flush the encoder's delayed frames


def bar_of(pixels: np.ndarray) -> int:
    """The source index a decoded frame shows: where its bright bar is."""
    return int(np.argmax(pixels[SIZE[0] // 2, :, 1])) // BAR


def test_a_video_file_is_sampled_evenly_in_presentation_order_with_its_times(tmp_path):
    video = tmp_path / "clip.mp4"
    write_video(video, 12)
    pixels, record = read_clip(video, frames=4)
    assert pixels.shape == (4, *SIZE, 3) and pixels.dtype == np.uint8
    assert record["source"] == "video" and record["name"] == "clip.mp4"
    assert record["indices"] == [1, 4, 7, 10] and record["of"] == 12 and record["count"] == 4
    assert [bar_of(p) for p in pixels] == record["indices"]  # each frame is the one it says
    assert record["times"] == pytest.approx([i / FPS for i in record["indices"]])
    assert record["fps"] == pytest.approx(FPS)
    # no `frames`: DEFAULT_VIDEO_FRAMES of a long video; every frame of a short one
    pixels, record = read_clip(video)
    assert len(pixels) == DEFAULT_VIDEO_FRAMES == len(record["times"])
    assert [bar_of(p) for p in pixels] == record["indices"] == [0, 2, 3, 5, 6, 8, 9, 11]
    short = tmp_path / "short.mp4"
    write_video(short, 3)
    pixels, record = read_clip(short)
    assert [bar_of(p) for p in pixels] == record["indices"] == [0, 1, 2]


def test_a_video_file_is_explained_on_the_frame_that_holds_the_object(tmp_path):
    video = tmp_path / "clip.mp4"
    write_video(video, 10, red_frame=7)
    model = ClipScorer()
    result = ew.explain(model, video, frames=5, regions="grid", grid=(2, 2))
    assert result.frames["indices"] == [1, 3, 5, 7, 9]
    assert red(model.generated).sum() > 0  # the square survives the codec
    assert top_frame(result) == 3  # the fourth sampled frame is source frame 7
    assert result.frame_times[3] == pytest.approx(7 / FPS)
    saved = tmp_path / "result.npz"
    result.save(saved)
    assert ew.Explanation.load(saved).frames == result.frames


def test_a_file_that_is_no_video_is_refused_by_name(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    with pytest.raises(ValueError, match="cannot read video broken.mp4"):
        read_clip(broken)
    with pytest.raises(ValueError, match="cannot read video broken.mp4"):
        ew.explain(ClipScorer(), broken)
    with pytest.raises(ValueError, match="file not found"):
        read_clip(tmp_path / "absent.mp4")


def test_without_pyav_a_video_file_says_which_package_to_install(tmp_path, monkeypatch):
    video = tmp_path / "clip.mp4"
    write_video(video, 2)
    monkeypatch.setitem(sys.modules, "av", None)  # import av now raises ImportError
    with pytest.raises(VideoReaderMissing, match=r"pip install av .*ship their own FFmpeg"):
        ew.explain(ClipScorer(), video)


def test_the_command_line_explains_a_video_file(tmp_path, capsys):
    from eagle_widget import cli

    video = tmp_path / "clip.mp4"
    write_video(video, 10, red_frame=7)

    def run(*argv):
        code = cli.main([str(a) for a in argv], load=lambda *_: ClipScorer())
        return code, capsys.readouterr()

    code, seen = run("explain", video, "--frames", "5", "--region-kind", "grid", "--grid",
                     "2x2", "--out", tmp_path / "out")  # fmt: skip
    assert code == 0, seen.err
    back = ew.Explanation.load(tmp_path / "out" / "result.npz")
    assert back.frames["indices"] == [1, 3, 5, 7, 9] and top_frame(back) == 3
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(bytes(100))
    code, seen = run("explain", broken, "--out", tmp_path / "o")
    assert code == 2 and "cannot read video broken.mp4" in seen.err, seen.err
    assert not (tmp_path / "o").exists()  # refused before anything is written
    # a manifest of clips; --frames samples those whose line gives none
    clip_folder(tmp_path / "frames", red_frame=2)
    (tmp_path / "m.jsonl").write_text('{"image": "frames", "id": "f"}\n{"image": "clip.mp4"}\n')
    code, seen = run("explain", "--batch", tmp_path / "m.jsonl", "--frames", "2", "--region-kind",
                     "grid", "--grid", "1x2", "--out", tmp_path / "many")  # fmt: skip
    assert code == 0, seen.err
    assert ew.Explanation.load(tmp_path / "many" / "f" / "result.npz").frames["indices"] == [0, 2]


# -- clips in a batch ---------------------------------------------------------------------------
def clip_folder(path, red_frame: int, count: int = 3):
    path.mkdir()
    for index in range(count):
        Image.fromarray(source_frame(index, index == red_frame)).save(path / f"f{index + 1}.png")
    return path


def test_a_batch_explains_folders_and_video_files_and_resumes_by_their_content(tmp_path):
    from eagle_widget.batch.explain import run_batch

    clip_folder(tmp_path / "frames", red_frame=2)
    write_video(tmp_path / "clip.mp4", 10, red_frame=7)
    (tmp_path / "m.jsonl").write_text(
        '{"image": "frames", "id": "folder"}\n'
        '{"image": "clip.mp4", "id": "video", "frames": 5}\n'
        '{"image": "clip.mp4", "id": "bad", "frames": 0}\n'
    )
    out = tmp_path / "out"
    options = {"regions": "grid", "grid": (2, 2), "load": lambda *_: ClipScorer()}
    report = run_batch(tmp_path / "m.jsonl", out=out, **options)
    assert (report.done, report.failed) == (2, 1)
    rows = {row["id"]: row for row in report.rows}
    assert "frames must be a positive int, got 0" in rows["line0003"]["error"]
    folder = ew.Explanation.load(out / "folder" / "result.npz")
    assert folder.frames["names"] == ["f1.png", "f2.png", "f3.png"] and top_frame(folder) == 2
    video = ew.Explanation.load(out / "video" / "result.npz")
    assert video.frames["indices"] == [1, 3, 5, 7, 9] and top_frame(video) == 3
    assert (out / "folder" / "explanation.html").is_file()
    # resumed: nothing again; a changed frame redoes its clip only
    assert run_batch(tmp_path / "m.jsonl", out=out, **options).skipped == 2
    Image.fromarray(source_frame(0, red_square=True)).save(tmp_path / "frames" / "f1.png")
    again = run_batch(tmp_path / "m.jsonl", out=out, **options)
    assert again.skipped == 1 and again.done == 2
    assert red(ew.Explanation.load(out / "folder" / "result.npz").image[0]).any()
    # frames belongs to clips; another batch-wide frames is another run
    (tmp_path / "one.jsonl").write_text('{"image": "frames/f1.png", "frames": 2}\n')
    report = run_batch(tmp_path / "one.jsonl", out=tmp_path / "o", **options)
    assert "frames samples a clip" in report.rows[0]["error"]
    with pytest.raises(ValueError, match="holds a batch run with other options|other options"):
        run_batch(tmp_path / "m.jsonl", out=out, frames=2, **options)


def test_a_clip_sent_to_a_worker_needs_no_shared_disk(tmp_path):
    """What the driver packs for a Ray worker holds the clip's files themselves: the worker
    explains them with the originals gone, under their own names."""
    import shutil

    from eagle_widget.batch.explain import explain_item, with_image_bytes

    asked = {"prompt": None, "targets": "all", "n_regions": 4, "search": "lazy",
             "early_stop": "auto", "max_new_tokens": 8, "working_size": "auto",
             "method": "eagle", "regions": "grid", "grid": [2, 2]}  # fmt: skip
    folder = clip_folder(tmp_path / "frames", red_frame=1)
    write_video(tmp_path / "clip.mp4", 6, red_frame=3)
    video = {"image": tmp_path / "clip.mp4", "asked": asked, "frames": 3}
    packed = [with_image_bytes({"image": folder, "asked": asked}), with_image_bytes(video)]
    shutil.rmtree(folder)
    (tmp_path / "clip.mp4").unlink()
    from_folder, from_video = (explain_item(ClipScorer(), item) for item in packed)
    assert from_folder.frames["names"] == ["f1.png", "f2.png", "f3.png"]
    assert top_frame(from_folder) == 1
    assert from_video.frames["name"] == "clip.mp4" and from_video.frames["indices"] == [1, 3, 5]
    assert top_frame(from_video) == 1  # the second sampled frame is source frame 3
