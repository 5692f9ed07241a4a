"""The shipped demo model: a normal transformers checkpoint that sees its scenes.

The quality bars are checked on 200 unseen scenes (the model card reports 500, from
bench/bench_demo_model.py, which also times loading and a batch of 32 masked
images: timings are measured there, not asserted here).
"""

from __future__ import annotations

import numpy as np
import pytest

from eagle_widget.models.demo import WEIGHTS_DIR
from eagle_widget.models.demo.scenes import CAPTION_PROMPT, make_scene, question
from eagle_widget.models.demo.training import build, data
from eagle_widget.models.demo.training.quality import EVAL_SEED, evaluate, greedy_answers


@pytest.fixture(scope="module")
def hf(monkeypatch_module):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(WEIGHTS_DIR)
    processor = AutoProcessor.from_pretrained(WEIGHTS_DIR)
    return model.eval(), processor


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HUB_OFFLINE", "1")
    yield mp
    mp.undo()


@pytest.fixture(scope="module")
def demo(monkeypatch_module):
    import eagle_widget as ew

    return ew.load_demo_model()


def _messages(prompt: str) -> list[dict]:
    return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]


def test_weights_are_safetensors_under_10_mb():
    weights = WEIGHTS_DIR / "model.safetensors"
    assert weights.is_file()
    assert weights.stat().st_size < 10 * 2**20
    for name in ("config.json", "tokenizer.json", "processor_config.json", "chat_template.jinja"):
        assert (WEIGHTS_DIR / name).is_file(), name


def test_processor_expands_the_image_into_one_token_per_patch_like_the_training_data(hf):
    model, processor = hf
    scene = make_scene(EVAL_SEED)
    for prompt in (CAPTION_PROMPT, question("red", "circle")):
        text = processor.apply_chat_template(_messages(prompt), add_generation_prompt=True)
        inputs = processor(images=[scene.image], text=[text], return_tensors="pt")
        ids = inputs["input_ids"][0].tolist()
        n_image = ids.count(model.config.image_token_id)
        n_patches = (64 // model.config.vision_config.patch_size) ** 2
        assert n_image == n_patches == 64
        # the model turns the image into exactly as many features as there are image tokens
        features = model.get_image_features(pixel_values=inputs["pixel_values"]).pooler_output
        assert features[0].shape[0] == n_image
        # training and evaluation encode inputs the same way
        assert ids == list(data.prompt_ids(prompt))
        expected = data.pixel_values(scene.image[None])
        assert np.abs(inputs["pixel_values"].numpy() - expected).max() < 1e-5


def test_processor_resizes_other_image_sizes_to_64():
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(WEIGHTS_DIR)
    big = np.repeat(np.repeat(make_scene(EVAL_SEED).image, 2, axis=0), 2, axis=1)
    out = processor.image_processor(images=[big], return_tensors="np")["pixel_values"]
    assert out.shape == (1, 3, 64, 64)


def test_transformers_generate_captions_scenes_correctly(hf):
    model, processor = hf
    scenes = [make_scene(EVAL_SEED + 10_000 + i) for i in range(8)]
    text = processor.apply_chat_template(_messages(CAPTION_PROMPT), add_generation_prompt=True)
    right = 0
    for scene in scenes:
        inputs = processor(images=[scene.image], text=[text], return_tensors="pt")
        out = model.generate(**inputs, max_new_tokens=16, do_sample=False)
        answer = processor.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        right += answer.strip() == scene.caption
    assert right >= 7


def test_adapter_generation_matches_the_caption_and_the_fast_evaluation_path(demo, hf):
    model, _ = hf
    scenes = [make_scene(EVAL_SEED + 20_000 + i) for i in range(6)]
    fast = greedy_answers(model, [s.image for s in scenes], CAPTION_PROMPT)
    for scene, quick in zip(scenes, fast):
        generation = demo.generate(scene.image, CAPTION_PROMPT)
        assert generation.text == quick
        assert [t.strip() for t in generation.tokens] == generation.text.replace(",", " ,").split()
    assert sum(f == s.caption for f, s in zip(fast, scenes)) >= 5


def test_quality_bars_on_200_unseen_scenes(hf):
    model, _ = hf
    result = evaluate(model, n_scenes=200, n_biased=0)
    assert result["caption_exact_match"] >= 0.95, result["caption_errors"]
    assert result["colour_shape_word_accuracy"] >= 0.98
    assert result["yes_no_accuracy_outside_biased_case"] >= 0.95


def _gt_caption_generation(demo, scene):
    from eagle_widget.engine.types import Generation

    ids = data.word_ids(scene.tokens)
    tokens = [demo.tokenizer.decode([i]) for i in ids]
    tokens = [t if t == "," or k == 0 else " " + t for k, t in enumerate(tokens)]
    return Generation(CAPTION_PROMPT, ids, tokens, "".join(tokens), (64, 64))


def test_content_words_need_the_object_and_function_words_rest_on_the_prior(demo):
    """Black image: colour/shape words improbable, "a" probable; the object alone restores them."""
    content_blank, article_blank, content_alone = [], [], []
    for i in range(12):
        scene = make_scene(EVAL_SEED + 30_000 + i, n_objects=2)
        generation = _gt_caption_generation(demo, scene)
        black = np.zeros_like(scene.image)
        images = [black]
        for obj in scene.objects:  # keep one object, fill the rest black
            images.append(np.where(obj.mask[..., None], scene.image, 0).astype(np.uint8))
        probs = demo.token_probs(images, generation, range(len(generation)))
        for k, (word, owner) in enumerate(zip(scene.tokens, scene.token_objects)):
            if word == "a":
                article_blank.append(probs[0, k])
            elif owner is not None:
                content_blank.append(probs[0, k])
                content_alone.append(probs[1 + owner, k])
    assert np.mean(content_blank) < 0.1
    assert np.mean(article_blank) > 0.8
    assert np.mean(content_alone) > 0.8


def test_tokenizer_round_trips_captions_and_questions():
    tokenizer = build.build_tokenizer()
    caption = "a red circle, a green triangle and a blue square"
    ids = tokenizer.encode(caption, add_special_tokens=False)
    assert len(ids) == 11 and tokenizer.decode(ids) == caption
    assert tokenizer.decode(tokenizer.encode("Is there a red circle?")) == "is there a red circle?"


def _photo_like(seed: int = 0) -> np.ndarray:
    """Smooth gradients and noise at a camera-like size: nothing like a scene."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:240, 0:320]
    image = np.dstack([xx / 320 * 255, yy / 240 * 255, (xx + yy) / 560 * 255])
    return np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)


def test_scenes_look_like_scenes_and_photos_screenshots_noise_and_blanks_do_not():
    from PIL import Image

    from eagle_widget.models.demo.familiar import looks_like_a_scene

    assert all(looks_like_a_scene(make_scene(EVAL_SEED + s).image) for s in range(300))
    scaled = Image.fromarray(make_scene(3).image).resize((512, 512), Image.NEAREST)
    assert looks_like_a_scene(np.asarray(scaled))
    rng = np.random.default_rng(1)
    screenshot = Image.open(WEIGHTS_DIR.parents[3] / "docs" / "widget.png").convert("RGB")
    for foreign in (
        _photo_like(),
        np.asarray(screenshot),
        rng.integers(0, 256, (300, 300, 3), dtype=np.uint8),
        np.zeros((64, 64, 3), np.uint8),
        np.full((64, 64, 3), 255, np.uint8),
    ):
        assert not looks_like_a_scene(foreign)


def test_the_demo_model_says_once_what_it_knows_when_an_image_is_unlike_its_scenes(demo):
    import warnings

    from eagle_widget.models.demo.adapter import DemoModel
    from eagle_widget.models.demo.familiar import UnfamiliarImageWarning

    fresh = DemoModel(demo.model, demo.processor)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fresh.generate(make_scene(EVAL_SEED + 7).image, CAPTION_PROMPT)
        assert not caught  # its own world: nothing to say
        fresh.generate(_photo_like(0), CAPTION_PROMPT)
        fresh.generate(_photo_like(1), CAPTION_PROMPT)
    [note] = [w for w in caught if w.category is UnfamiliarImageWarning]
    text = str(note.message)
    assert "circles, squares and triangles" in text and "ew.load_model(" in text
    assert "eagle-widget[models]" in text


def _drawn_scene(rng, most: int, radii: tuple[int, int]) -> np.ndarray:
    """A 256 x 256 drawing in the scenes' style (grey ground, palette shapes), with shapes
    of other sizes and counts than the scenes have, free to touch and overlap."""
    from PIL import Image, ImageDraw

    from eagle_widget.models.demo.scenes import COLOUR_RGB, SHAPES

    image = Image.new("RGB", (256, 256), (128, 128, 128))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(1, most + 1))):
        fill = COLOUR_RGB[list(COLOUR_RGB)[rng.integers(4)]]
        shape, r = SHAPES[rng.integers(3)], int(rng.integers(*radii))
        x, y = (int(v) for v in rng.integers(r + 2, 256 - r - 2, 2))
        box = [x - r, y - r, x + r, y + r]
        if shape == "circle":
            draw.ellipse(box, fill=fill)
        elif shape == "square":
            draw.rectangle(box, fill=fill)
        else:
            draw.polygon([(x, y - r), (x - r, y + r), (x + r, y + r)], fill=fill)
    return np.asarray(image)


def test_every_degraded_answer_on_a_drawn_scene_is_warned_and_its_own_scenes_are_not(demo):
    """Issue 23 s2 row 14: on drawings in its own style 6 answers in 24 degenerated while the
    warning fired once. Now an answer outside its grammar, or a drawing whose shapes its
    scenes never had, is warned each time; its own unseen scenes never are."""
    import re
    import warnings

    from eagle_widget.models.demo.adapter import DemoModel
    from eagle_widget.models.demo.familiar import UnfamiliarImageWarning
    from eagle_widget.models.demo.scenes import COLOURS, SHAPES

    thing = f"a ({'|'.join(COLOURS)}) ({'|'.join(SHAPES)})"
    sound = re.compile(f"{thing}((, {thing})* and {thing})?")
    fresh = DemoModel(demo.model, demo.processor)
    rng = np.random.default_rng(1)
    degraded = warned_of_those = 0
    for most, radii in [(3, (25, 60)), (5, (15, 40)), (3, (8, 20)), (3, (60, 100))]:
        for _ in range(10):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                answer = fresh.generate(_drawn_scene(rng, most, radii), CAPTION_PROMPT).text
            warned = any(w.category is UnfamiliarImageWarning for w in caught)
            if not sound.fullmatch(answer.strip()):  # "a blank image" of drawn shapes too
                degraded += 1
                warned_of_those += warned
    assert degraded >= 4  # the drawings do make it degrade
    assert warned_of_those == degraded
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for seed in range(60):
            fresh.generate(make_scene(EVAL_SEED + 1000 + seed).image, CAPTION_PROMPT)
    assert not caught
