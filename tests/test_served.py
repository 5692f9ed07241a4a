"""The served-model adapter against a small fake OpenAI-compatible server (tests/fake_openai.py):
both modes, the probe, retries, concurrency, the cache, the request budget and bad answers.
The same adapter against a real vLLM server: tests/test_served_vllm.py."""

import json

import numpy as np
import pytest
from fake_openai import ANSWER, FakeServer, red_share
from PIL import Image

import eagle_widget as ew
from eagle_widget import cli
from eagle_widget.engine.explanation import APPROXIMATE_NOTE
from eagle_widget.models.served import OpenAIModel, ServerError

pytest.importorskip("openai")


def red_image(height=24, width=32, red_columns=8) -> np.ndarray:
    image = np.full((height, width, 3), (0, 90, 40), np.uint8)  # every masked copy differs
    image[:, :red_columns, 0] = 200
    return image


def masked_images(n=6) -> list[np.ndarray]:
    return [red_image(red_columns=c) for c in range(1, n + 1)]


@pytest.fixture
def server():
    with FakeServer() as fake:
        yield fake


def connect(server, **options) -> OpenAIModel:
    options.setdefault("log", lambda line: None)
    return OpenAIModel(server.url, "fake", max_retries=3, **options)


def test_probe_finds_exact_scoring_and_generation_has_the_servers_ids(server):
    lines = []
    model = connect(server, log=lines.append)
    generation = model.generate(red_image(), "Describe.")
    assert generation.token_ids == ANSWER  # the end-of-sequence id is dropped
    assert generation.tokens == ["a", " red", " square"]
    assert model.mode == "exact" and "exact scoring" in lines[-1]


def test_exact_mode_returns_the_servers_probabilities_one_request_per_image(server):
    model = connect(server)
    generation = model.generate(red_image(), "Describe.")
    images = masked_images()
    before = server.requests
    probs = model.token_probs(images, generation, [0, 2])
    expected = np.array([[red_share(image)] * 2 for image in images])
    np.testing.assert_allclose(probs, expected, rtol=1e-12)
    assert server.requests - before == len(images)


def test_a_repeated_call_is_answered_from_the_cache(server):
    model = connect(server)
    generation = model.generate(red_image(), "Describe.")
    first = model.token_probs(masked_images(), generation, [1])
    before = server.requests
    again = model.token_probs(masked_images(), generation, [1])
    assert server.requests == before
    np.testing.assert_array_equal(first, again)


def test_a_counterfactual_id_is_scored_as_its_own_sequence(server):
    model = connect(server)
    generation = model.generate(red_image(), "Describe.")
    before = server.requests
    probs = model.token_probs(masked_images(2), generation, [0, 1], token_ids=[1, 4])
    assert server.requests - before == 2 * 2  # the answer, and "a blue", per image
    np.testing.assert_allclose(probs[:, 1], [red_share(i) for i in masked_images(2)])
    assert model.requests_per_image(generation, [0, 1], [1, 4]) == 2


def test_requests_overlap_up_to_the_concurrency(server):
    server.delay = 0.05
    model = connect(server, concurrency=4)
    generation = model.generate(red_image(), "Describe.")
    model.token_probs(masked_images(8), generation, [0])
    assert server.max_in_flight == 4
    assert model.max_in_flight == 4


def test_rate_limited_requests_are_retried(server):
    model = connect(server)
    generation = model.generate(red_image(), "Describe.")
    server.fail_first = 2
    probs = model.token_probs([red_image(red_columns=4)], generation, [0])
    assert probs[0, 0] == pytest.approx(red_share(red_image(red_columns=4)))


def test_a_rate_limit_past_the_retries_is_one_clear_error(server):
    model = connect(server)
    generation = model.generate(red_image(), "Describe.")
    server.fail_first = 10
    with pytest.raises(ServerError, match=r"127\.0\.0\.1.*HTTP 429"):
        model.token_probs([red_image(red_columns=4)], generation, [0])
    server.fail_first = 0  # the model stays usable
    assert model.token_probs([red_image(red_columns=4)], generation, [0]).shape == (1, 1)


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ({"no_prompt_logprobs": True}, "no 'prompt_logprobs'"),
        ({"nan": True}, "'prompt_logprobs' holds nan"),
        ({"retokenise": [1, 4, 3]}, r"tokenised the answer as \[1, 4, 3\]"),
    ],
)
def test_bad_answers_name_the_server_and_the_field(server, breakage, message):
    model = connect(server, mode="exact")
    generation = model.generate(red_image(), "Describe.")
    for key, value in breakage.items():
        setattr(server, key, value)
    with pytest.raises(ServerError, match=message) as error:
        model.token_probs([red_image(red_columns=3)], generation, [0, 1, 2])
    assert server.url in str(error.value)


def test_a_hosted_api_is_scored_approximately_from_its_top_tokens(server):
    server.hosted = True
    lines = []
    model = connect(server, log=lines.append)
    generation = model.generate(red_image(), "Describe.")
    assert generation.text == "a red square"
    assert model.mode == "approximate" and "approximate scoring" in lines[-1]
    images = masked_images(3)
    before = server.requests
    blue = model._name_id(" blue")
    probs = model.token_probs(images, generation, [0, 2], token_ids=[generation.token_ids[0], 5])
    assert server.requests - before == 3 * 2  # one per image and position
    np.testing.assert_allclose(probs[:, 0], [red_share(i) for i in images], rtol=1e-12)
    assert (probs[:, 1] == 0).all()  # " circle" is not among the top tokens: the floor
    assert model.usage["floored"] == 3 and model.usage["values"] == 6
    other = model.token_probs(images, generation, [1], token_ids=[blue])
    np.testing.assert_allclose(other[:, 0], [1 - red_share(i) for i in images], rtol=1e-9)


def test_an_explanation_through_the_server_puts_the_red_regions_first(server):
    model = connect(server)
    image = red_image(red_columns=8)
    result = ew.explain(model, image, "Describe.", targets=[1], n_regions=8, search="greedy")
    red = image[..., 0] >= 128
    red_regions = {int(r) for r in np.unique(result.labels[red])}
    assert set(result.order[: len(red_regions)]) == red_regions
    assert result.scoring == "exact"
    # one request per image; the full image was scored by the probe, before the run
    assert result.extras["requests"] == result.images_scored - 1


def test_an_approximate_explanation_records_its_mode_requests_and_floor(server, tmp_path):
    server.hosted = True
    model = connect(server)
    result = ew.explain(model, red_image(), "Describe.", targets=[1, 2], n_regions=6)
    assert result.scoring == "approximate"
    assert result.extras["requests"] == 2 * result.images_scored  # per image and target
    assert result.extras["floored_share"] == 0.0  # the answer's words are always listed
    loaded = ew.Explanation.load(result.save(tmp_path / "r.npz"))
    assert loaded.scoring == "approximate"
    titles = [t.get_text() for t in loaded.figure().texts]
    assert APPROXIMATE_NOTE in titles  # the figure says so


def test_a_run_over_the_request_budget_is_refused_before_any_request(server):
    lines = []
    model = connect(server, max_requests=20, log=lines.append)
    generation = model.generate(red_image(), "Describe.")
    before = server.requests
    with pytest.raises(ValueError, match=r"could make \d+ requests, more than max_requests=20"):
        ew.Explainer(model, n_regions=8, search="greedy").start(red_image(), generation=generation)
    assert server.requests == before
    assert lines[-1].startswith("eagle-widget: at most ")


def test_load_model_connects_with_the_openai_prefix(server):
    model = ew.load_model("openai:" + server.url, model="fake", log=lambda line: None)
    assert isinstance(model, ew.OpenAIModel) and model.base_url == server.url
    with pytest.raises(ValueError, match="needs model="):
        ew.load_model("openai:" + server.url)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"base_url": "127.0.0.1:8000/v1"}, "base_url must be an http"),
        ({"model": ""}, "model must be"),
        ({"mode": "fast"}, "mode must be"),
        ({"concurrency": 0}, "concurrency must be"),
        ({"max_requests": 0}, "max_requests must be"),
        ({"timeout": -1}, "timeout must be"),
    ],
)
def test_bad_options_are_named_before_any_request(options, message):
    arguments = {"base_url": "http://127.0.0.1:9/v1", "model": "m", **options}
    with pytest.raises(ValueError, match=message):
        OpenAIModel(**arguments)


def test_a_server_that_is_not_there_is_one_clear_error():
    model = OpenAIModel("http://127.0.0.1:9/v1", "m", max_retries=0, log=lambda line: None)
    with pytest.raises(ServerError, match=r"no answer from http://127\.0\.0\.1:9/v1"):
        model.generate(red_image(), "Describe.")


def test_the_command_line_explains_through_a_server(server, tmp_path, capsys):
    server.hosted = True
    Image.fromarray(red_image()).save(tmp_path / "scene.png")
    argv = ["explain", str(tmp_path / "scene.png"), "--model", "openai:" + server.url]
    options = ["--served-model", "fake", "--concurrency", "2", "--regions", "6"]
    assert cli.main([*argv, *options, "--targets", "1", "--out", str(tmp_path / "out")]) == 0
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["scoring"] == "approximate" and result["extras"]["requests"] > 0
    assert "approximate scoring" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--model", "openai:http://127.0.0.1:9/v1"], "needs --served-model NAME"),
        (["--served-model", "m"], "--served-model goes with --model openai:URL"),
        (
            ["--model", "openai:http://x/v1", "--served-model", "m", "--api-key-env", "NO_SUCH_V"],
            "NO_SUCH_V: that variable is not set",
        ),
    ],
)
def test_the_command_line_names_bad_served_options(tmp_path, capsys, options, message):
    argv = ["explain", str(tmp_path / "missing.png"), *options, "--out", str(tmp_path / "o")]
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_the_served_copy_of_the_demo_weights_has_vllms_names(tmp_path):
    from safetensors.numpy import load_file

    from eagle_widget.models.demo import WEIGHTS_DIR
    from eagle_widget.models.demo.training.vllm_copy import WEIGHTS_FILE, write_served_copy

    folder = write_served_copy(tmp_path / "served")
    original = load_file(WEIGHTS_DIR / WEIGHTS_FILE)
    served = load_file(folder / WEIGHTS_FILE)
    assert len(served) == len(original)
    for name, tensor in original.items():
        want = name.replace("vision_tower.", "vision_tower.vision_model.", 1)
        np.testing.assert_array_equal(served[want], tensor)
    assert any(k.startswith("vision_tower.vision_model.encoder.") for k in served)
    assert (folder / "config.json").read_bytes() == (WEIGHTS_DIR / "config.json").read_bytes()


def test_a_batch_whose_server_dies_fails_clearly_and_resumes(server, tmp_path, capsys):
    first, second = red_image(), red_image(red_columns=16)
    second[0, 0] = (200, 77, 40)  # the server dies while it explains this image
    for name, image in (("one.png", first), ("two.png", second)):
        Image.fromarray(image).save(tmp_path / name)
    manifest = tmp_path / "items.jsonl"
    manifest.write_text('{"image": "one.png"}\n{"image": "two.png"}\n')
    seen = []
    server.goes_down = lambda image: (
        tuple(image[0, 0]) == (200, 77, 40) and (seen.append(1) or len(seen) > 5)
    )
    argv = ["explain", "--batch", str(manifest), "--model", "openai:" + server.url]
    argv += ["--served-model", "fake", "--regions", "6", "--targets", "1", "--out"]
    assert cli.main([*argv, str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "failed: " in err and f"no answer from {server.url}" in err
    results = sorted(p.parent.name for p in (tmp_path / "out").glob("*/result.json"))
    assert len(results) == 1
    server.down, server.goes_down = False, None  # the server is back
    assert cli.main([*argv, str(tmp_path / "out")]) == 0
    assert "1 already done, 1 to explain" in capsys.readouterr().err
    assert len(list((tmp_path / "out").glob("*/result.json"))) == 2
    # the dead run's answers for image two (the full and blank images and two more) were
    # kept in out/, so the resumed run asks only for the rest
    second_result = next(
        p for p in (tmp_path / "out").glob("*/result.json") if p.parent.name not in results
    )
    data = json.loads(second_result.read_text())
    assert data["extras"]["requests"] <= data["images_scored"] - 3


def test_a_server_without_prompt_logprobs_is_probed_as_approximate(server):
    server.no_prompt_logprobs = True
    model = connect(server)
    generation = model.generate(red_image(), "Describe.")
    assert model.mode == "approximate"
    probs = model.token_probs([red_image(red_columns=5)], generation, [2])
    assert probs[0, 0] == pytest.approx(red_share(red_image(red_columns=5)))


def test_a_nan_answer_during_the_probe_is_an_error_not_a_fallback(server):
    server.nan = True
    with pytest.raises(ServerError, match="'prompt_logprobs' holds nan"):
        connect(server).generate(red_image(), "Describe.")


def test_answers_kept_in_a_cache_file_are_not_paid_for_again(server, tmp_path):
    images = masked_images(4)
    first = connect(server, cache_file=tmp_path / "cache.sqlite")
    generation = first.generate(red_image(), "Describe.")
    want = first.token_probs(images, generation, [0, 2])
    before = server.requests
    again = connect(server, cache_file=tmp_path / "cache.sqlite", mode="exact")
    np.testing.assert_array_equal(again.token_probs(images, generation, [0, 2]), want)
    assert server.requests == before
    server.hosted = True  # approximate answers, keyed by token text, are kept too
    hosted = connect(server, cache_file=tmp_path / "cache.sqlite")
    answer = hosted.generate(red_image(), "Describe.")
    want = hosted.token_probs(images, answer, [1])
    later = connect(server, cache_file=tmp_path / "cache.sqlite")  # a new process, say
    answer = later.generate(red_image(), "Describe.")  # a hosted API's ids are its own
    before = server.requests
    np.testing.assert_array_equal(later.token_probs(images, answer, [1]), want)
    assert server.requests == before


@pytest.mark.parametrize("search", ["greedy", "efficient", "lazy"])
@pytest.mark.parametrize("seed", range(3))
def test_the_budgets_image_bound_holds_for_every_search(search, seed):
    """plan() refuses runs by max_images(N): no search may score more (synthetic scorers)."""
    from synthetic import VisibilityModel, block_image, scorer_family

    from eagle_widget.engine.search import max_images

    image = block_image(4, 4, cell=8, seed=seed)
    labels = ew.superpixels(image, 16)
    n = int(labels.max()) + 1
    model = VisibilityModel(labels, scorer_family(n, seed)[:3])
    for early_stop in (False, True):
        explainer = ew.Explainer(model, n_regions=16, search=search, early_stop=early_stop)
        result = explainer.explain(image, targets=[0, 1, 2])
        assert result.n_regions == n
        assert result.images_scored <= max_images(n)
        if search == "greedy" and not early_stop:  # nearly tight for the exact search
            assert result.images_scored >= max_images(n) - 6  # (a few sets repeat)
