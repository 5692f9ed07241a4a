"""The training script keeps working: a few steps write a loadable, deterministic checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eagle_widget.models.demo.scenes import CAPTION_PROMPT, make_scene
from eagle_widget.models.demo.training import build, data, train

TINY = ["--vision-steps", "3", "--text-steps", "3", "--batch-size", "8", "--threads", "1"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    train.main(["--out", str(out), *TINY, "--workers", "0", "--eval-scenes", "6"])
    return out


def test_training_writes_a_complete_checkpoint_folder(trained):
    names = {p.name for p in trained.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "processor_config.json"} <= names
    assert {"chat_template.jinja", "metrics.json", "MODEL_CARD.md"} <= names
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["config"]["text_steps"] == 3
    assert metrics["quality"]["n_scenes"] == 6
    card = (trained / "MODEL_CARD.md").read_text()
    assert "caption exact match" in card and "Wall time" in card


def test_checkpoint_loads_offline_with_the_auto_classes_and_generates(trained, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from transformers import (
        AutoModelForImageTextToText,
        AutoProcessor,
        LlavaForConditionalGeneration,
    )

    processor = AutoProcessor.from_pretrained(trained)
    model = AutoModelForImageTextToText.from_pretrained(trained)
    assert isinstance(model, LlavaForConditionalGeneration)
    messages = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": CAPTION_PROMPT}]}
    ]
    text = processor.apply_chat_template(messages, add_generation_prompt=True)
    inputs = processor(images=[make_scene(0).image], text=[text], return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    assert out.shape[1] > inputs["input_ids"].shape[1]  # it produced tokens


def test_training_is_deterministic_and_the_background_producer_gives_the_same_stream(tmp_path):
    import torch

    a = build.build_model(seed=0)
    b = build.build_model(seed=0)
    config = train.TrainConfig(vision_steps=2, text_steps=2, batch_size=4, threads=1, workers=0)
    model_a, _ = train.train(config, log=lambda _: None)
    config.workers = 1
    model_b, _ = train.train(config, log=lambda _: None)
    for (name, pa), pb in zip(model_a.state_dict().items(), model_b.state_dict().values()):
        assert torch.equal(pa, pb), name
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))


def test_training_changes_the_weights_where_it_should(tmp_path):
    """Stage 2 freezes the vision tower: after a text-only run it is unchanged."""
    import torch

    config = train.TrainConfig(vision_steps=0, text_steps=2, batch_size=4, threads=1, workers=0)
    fresh = build.build_model(seed=0)
    model, _ = train.train(config, log=lambda _: None)
    tower = dict(model.model.vision_tower.named_parameters())
    for name, p in fresh.model.vision_tower.named_parameters():
        assert torch.equal(p, tower[name]), name
    assert not torch.equal(fresh.lm_head.weight, model.lm_head.weight)


def test_text_batches_put_targets_on_the_answer_tokens_only():
    rng = np.random.default_rng(0)
    examples = [data.text_example(rng) for _ in range(16)]
    ids, mask, targets, pixels = data.text_batch(examples)
    assistant = data.vocab()["<assistant>"]
    assert pixels.shape == (16, 3, 64, 64)
    for e, row_ids, row_targets in zip(examples, ids, targets):
        assert row_ids[: len(e.input_ids)].tolist() == e.input_ids
        scored = np.flatnonzero(row_targets.numpy() != data.IGNORE)
        # the first target is the first answer word, predicted at the <assistant> token
        assert scored.min() == e.input_ids.index(assistant)
        assert row_targets[len(e.input_ids) :].eq(data.IGNORE).all()


def test_bad_arguments_are_rejected(tmp_path):
    with pytest.raises(SystemExit):
        train.main(["--out", str(tmp_path), "--threads", "0"])
