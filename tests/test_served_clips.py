"""Clips through the served adapter (issue 24): with frames_as_images a clip's F frames go as
F images of one user message, in frame order, against the fake server (tests/fake_openai.py),
which decodes every image it receives and scores the red share of them all, or of one of
them alone (`scored_image`): ground truth for which frame an explanation must find."""

import json

import numpy as np
import pytest
from fake_openai import ANSWER, FakeServer, red_share
from PIL import Image

import eagle_widget as ew
from eagle_widget import cli
from eagle_widget.engine.masking import compose, fill_image
from eagle_widget.models.served import ImageLimitError, OpenAIModel

pytest.importorskip("openai")

BACKGROUND = (0, 90, 40)  # not red (R < 128), and no masked pixel (0) looks like it


def noisy_clip(frames=3, height=16, width=20, seed=0) -> np.ndarray:
    """Frames of random pixels, each unlike the others: a reordering cannot go unseen."""
    return np.random.default_rng(seed).integers(0, 256, (frames, height, width, 3), np.uint8)


def red_clip(squares: dict[int, tuple[int, int]], frames=3, size=24) -> np.ndarray:
    """A clip with an 8 x 8 red square at (row, col) in each frame of `squares`."""
    clip = np.empty((frames, size, size, 3), np.uint8)
    clip[:] = BACKGROUND
    for index, (row, col) in squares.items():
        clip[index, row : row + 8, col : col + 8] = (200, 30, 30)
    return clip


def masked_clips(clip: np.ndarray, count: int, seed: int = 0) -> list[np.ndarray]:
    """`count` masked copies of `clip`: random 2 x 2 blocks of each frame kept, the rest 0."""
    frames, height, width = clip.shape[:3]
    rows, cols = np.indices((height, width))
    block = 2 * (rows >= height // 2) + (cols >= width // 2)
    labels = np.stack([block + 4 * i for i in range(frames)])
    keep = np.random.default_rng(seed).random((count, int(labels.max()) + 1)) < 0.5
    return list(compose(clip, fill_image(clip, 0), labels, keep))


@pytest.fixture
def server():
    with FakeServer() as fake:
        yield fake


def connect(server, **options) -> OpenAIModel:
    options.setdefault("log", lambda line: None)
    return OpenAIModel(server.url, "fake", max_retries=3, frames_as_images=True, **options)


def sent_as(server, request: int) -> list[str]:
    return [part["type"] for part in server.bodies[request]["messages"][0]["content"]]


def test_a_clips_frames_go_as_that_many_images_in_frame_order(server):
    model = connect(server)
    assert model.supports_video is True and ew.engine.protocol.supports_video_of(model)
    clip = noisy_clip(frames=3)
    generation = model.generate(clip, "What happens?")
    assert generation.token_ids == ANSWER and generation.image_size == (16, 20)
    for request in range(len(server.bodies)):  # generate, then the probe: the clip each time
        assert sent_as(server, request) == ["image_url"] * 3 + ["text"]
        assert server.bodies[request]["messages"][0]["content"][-1]["text"] == "What happens?"
        assert len(server.received[request]) == 3
        for got, want in zip(server.received[request], clip):
            np.testing.assert_array_equal(got, want)  # decoded pixels, frame by frame


def test_masked_clips_are_sent_as_their_masked_frames_one_request_each(server):
    model = connect(server)
    clip = noisy_clip(frames=3, seed=1)
    generation = model.generate(clip, "What happens?")
    clips = masked_clips(clip, 6)
    before = len(server.received)
    probs = model.token_probs(clips, generation, [0, 2])
    sent = server.received[before:]
    assert len(sent) == len(clips)  # exact: one request per masked clip
    for masked in clips:  # the requests ran concurrently: find each clip's by its pixels
        matches = [s for s in sent if all(np.array_equal(a, b) for a, b in zip(s, masked))]
        assert len(matches) == 1 and len(matches[0]) == 3
    want = np.array([[red_share(c)] * 2 for c in clips])  # the server's own score of them
    np.testing.assert_allclose(probs, want, rtol=1e-12)


def test_masked_clips_are_scored_approximately_per_clip_and_position(server):
    server.hosted = True
    model = connect(server)
    clip = noisy_clip(frames=2, seed=2)
    generation = model.generate(clip, "What happens?")
    assert model.mode == "approximate"
    clips = masked_clips(clip, 3, seed=3)
    before = len(server.received)
    probs = model.token_probs(clips, generation, [0, 1])
    assert len(server.received) - before == 3 * 2
    for images in server.received[before:]:
        assert any(all(np.array_equal(a, b) for a, b in zip(images, c)) for c in clips)
    np.testing.assert_allclose(probs, [[red_share(c)] * 2 for c in clips], rtol=1e-12)


def test_masked_clips_overlap_up_to_the_concurrency(server):
    server.delay = 0.05
    model = connect(server, concurrency=4)
    clip = noisy_clip(frames=2, seed=4)
    generation = model.generate(clip, "What happens?")
    model.token_probs(masked_clips(clip, 8, seed=5), generation, [0])
    assert server.max_in_flight == 4 and model.max_in_flight == 4


def test_a_clip_is_refused_without_the_option_before_any_request(server):
    model = OpenAIModel(server.url, "fake", log=lambda line: None)
    assert model.supports_video is False
    clip = noisy_clip()
    with pytest.raises(ValueError, match=r"this is a clip \(3 x 16 x 20 x 3\).*frames_as_images"):
        model.generate(clip, "What happens?")
    answer = ew.Generation("What happens?", ANSWER, ["a", " red", " square"], "", (16, 20))
    with pytest.raises(ValueError, match="frames_as_images=True"):
        model.token_probs(masked_clips(clip, 2), answer, [0])
    with pytest.raises(ValueError, match="takes images only"):
        ew.explain(model, clip, "What happens?")
    assert server.requests == 0


def test_masked_copies_of_other_frame_counts_are_refused(server):
    model = connect(server)
    clip = noisy_clip(frames=3, seed=6)
    generation = model.generate(clip, "What happens?")
    with pytest.raises(ValueError, match="one frame count"):
        model.token_probs([clip, clip[:2]], generation, [0])


@pytest.mark.parametrize("scored", [0, 2])
def test_an_explanation_finds_the_one_frame_the_answer_depends_on(server, scored):
    """Red squares in frames 0 and 2 (a grid cell each), the server scoring only frame
    `scored`: that frame's square comes first and lights the map, the other's does not."""
    server.scored_image = scored
    model = connect(server)
    clip = red_clip({0: (0, 8), 2: (16, 0)})
    result = ew.explain(model, clip, "What happens?", targets=[1], regions="grid", grid=(3, 3))
    assert result.is_clip and result.frames["count"] == 3
    assert result.frames["indices"] == [0, 1, 2]
    red = clip[..., 0] >= 128
    wanted = {int(r) for r in np.unique(result.labels[scored][red[scored]])}
    other = 2 - scored
    decoys = {int(r) for r in np.unique(result.labels[other][red[other]])}
    assert len(wanted) == len(decoys) == 1 and result.order[0] in wanted
    heat = result.attribution_map()
    assert heat[scored][red[scored]].min() == heat.max() == 1.0
    assert heat[other][red[other]].max() < 1.0 and heat[1].max() < 1.0
    assert result.scoring == "exact" and result.extras["requests"] > 0


def test_a_servers_image_limit_is_one_clear_error_naming_the_flag(server):
    server.image_limit = 2
    model = connect(server)
    with pytest.raises(ImageLimitError, match=r"at most 2 image\(s\) per prompt") as error:
        model.generate(noisy_clip(frames=3), "What happens?")
    message = str(error.value)
    assert "--limit-mm-per-prompt '{\"image\": 3}'" in message and server.url in message
    assert server.requests == 1  # not mistaken for a hosted API and sent again
    generation = model.generate(noisy_clip(frames=2), "What happens?")  # within the limit
    assert model.mode == "exact" and generation.token_ids == ANSWER


def test_load_model_and_bad_values_of_the_option(server):
    model = ew.load_model("openai:" + server.url, model="fake", frames_as_images=True)
    assert model.supports_video is True
    with pytest.raises(ValueError, match="frames_as_images must be True or False"):
        OpenAIModel(server.url, "fake", frames_as_images="yes")


def test_the_command_line_explains_a_folder_of_frames_through_a_server(server, tmp_path):
    server.scored_image = 1
    clip = red_clip({1: (4, 12)}, frames=2)
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(clip):
        Image.fromarray(frame).save(folder / f"frame{i + 1}.png")
    argv = ["explain", str(folder), "--model", "openai:" + server.url, "--served-model", "fake"]
    options = ["--region-kind", "grid", "--grid", "2x2", "--targets", "1"]
    out = tmp_path / "out"
    assert cli.main([*argv, "--frames-as-images", *options, "--out", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["frames"]["names"] == ["frame1.png", "frame2.png"]
    loaded = ew.Explanation.load(out / "result.npz")
    square = loaded.labels[1][4:12, 12:20]
    assert loaded.order[0] == int(np.unique(square)[0])  # the red square's block of frame 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--model", "openai:http://127.0.0.1:9/v1", "--served-model", "m"], "--frames-as-images"),
        (["--frames-as-images"], "--frames-as-images goes with --model openai:URL"),
    ],
)
def test_the_command_line_names_a_clip_without_the_option(tmp_path, capsys, options, message):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(red_clip({0: (0, 0)}, frames=2)):
        Image.fromarray(frame).save(folder / f"f{i}.png")
    assert cli.main(["explain", str(folder), *options, "--out", str(tmp_path / "o")]) == 2
    assert message in capsys.readouterr().err
