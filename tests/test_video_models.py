"""Clips through a transformers processor's video path (issue 24), on a tiny offline Qwen2-VL.

Ground truth, as tests/test_adapters.py has it for images: transformers' own greedy
`generate` on the official chat path (a {"type": "video"} message through
`processor.apply_chat_template(..., tokenize=True)`), whose per-step logits give the
probability of every generated token; teacher-forced scoring of the clip must reproduce them.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np
import pytest
import tiny_models
import torch

import eagle_widget as ew
from eagle_widget.models import HFModel, load_model
from eagle_widget.models.hf import VIDEO_FAMILIES

torch.set_num_threads(1)

PROMPT = "Describe the clip."
N_NEW = 6
TOL = 1e-5


@pytest.fixture(scope="module", autouse=True)
def offline():
    import huggingface_hub.constants

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
        yield


def _clip(seed: int = 0, frames: int = 4, size=(40, 64)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((frames, *size, 3)) * 255).astype(np.uint8)


def official_generate(model, processor, clip: np.ndarray, prompt: str, n: int):
    """transformers' own greedy run on the official chat path: (new ids, per-step probs)."""
    messages = [
        {
            "role": "user",
            "content": [{"type": "video", "video": clip}, {"type": "text", "text": prompt}],
        }
    ]
    inputs = processor.apply_chat_template(
        messages,
        add_generation_prompt=True,
        tokenize=True,
        return_dict=True,
        return_tensors="pt",
        do_sample_frames=False,  # every frame (Qwen3-VL's processor samples them by default)
    )
    assert "pixel_values_videos" in inputs  # the video path, not frames as images
    with torch.no_grad():
        out = model.generate(
            **inputs,
            max_new_tokens=n,
            do_sample=False,
            num_beams=1,
            output_logits=True,
            return_dict_in_generate=True,
        )
    new = out.sequences[0, inputs["input_ids"].shape[1] :].tolist()
    probs = torch.stack([torch.softmax(step[0].float(), -1) for step in out.logits])
    return new, probs.numpy().astype(np.float64)


@pytest.fixture(scope="module", params=VIDEO_FAMILIES)
def qwen(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param) / "model"
    tiny_models.save(request.param, folder)
    return load_model(str(folder), device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def truth(qwen):
    clip = _clip()
    ids, probs = official_generate(qwen.model, qwen.processor, clip, PROMPT, N_NEW)
    return clip, ids, probs


def test_a_clip_is_generated_and_teacher_forced_as_the_official_video_path_does(qwen, truth):
    clip, ids, probs = truth
    assert qwen.supports_video
    generation = qwen.generate(clip, PROMPT, max_new_tokens=N_NEW)
    assert generation.token_ids == ids and len(ids) == N_NEW
    assert generation.image_size == (40, 64)  # each frame's
    positions = list(range(len(generation)))
    scored = qwen.token_probs([clip], generation, positions)
    assert np.abs(scored[0] - probs[positions, generation.token_ids]).max() < TOL
    # the clip's answer is not the answer to its first frame alone: the frames are read
    first = qwen.token_probs([np.repeat(clip[:1], 4, axis=0)], generation, positions)
    assert np.abs(first[0] - scored[0]).max() > 1e-3


def test_a_batch_of_masked_clips_equals_the_clips_one_by_one_and_masking_a_frame_matters(
    qwen, truth
):
    clip = truth[0]
    generation = qwen.generate(clip, PROMPT, max_new_tokens=N_NEW)
    first, last = clip.copy(), clip.copy()
    first[0] = 0
    last[3, :20] = 0
    clips = [clip, first, last, np.zeros_like(clip), _clip(seed=5)]
    positions = list(range(len(generation)))
    batched = qwen.token_probs(clips, generation, positions)
    alone = np.concatenate([qwen.token_probs([c], generation, positions) for c in clips])
    assert np.abs(batched - alone).max() < TOL
    changes = np.abs(batched[1:] - batched[0]).max(axis=1)
    assert changes.min() > 1e-3, f"masking changed the probabilities only by {changes}"
    # the model sees every frame (no frames sampled away): in a longer clip, masking any one
    # frame alone matters
    long = _clip(seed=2, frames=12)
    answer = qwen.generate(long, PROMPT, max_new_tokens=N_NEW)
    one_masked = np.repeat(long[None], 12, axis=0)
    one_masked[np.arange(12), np.arange(12)] = 0
    probs = qwen.token_probs([long, *one_masked], answer, list(range(len(answer))))
    changes = np.abs(probs[1:] - probs[0]).max(axis=1)
    assert changes.min() > 1e-4, f"masking one frame changed the probabilities by {changes}"
    with pytest.raises(ValueError, match="clip 1 has 3 frames but clip 0 has 4"):
        qwen.token_probs([clip, clip[:3]], generation, positions)
    with pytest.raises(ValueError, match=r"has size \(40, 32\)"):
        qwen.token_probs([clip[:, :, :32]], generation, positions)


def test_an_explanation_of_a_clip_scores_the_clip_the_model_answered(qwen, truth):
    clip = truth[0]
    result = ew.explain(qwen, clip, PROMPT, regions="grid", grid=(1, 2), max_new_tokens=3)
    assert result.labels.shape == (4, 40, 64) and result.n_regions == 8
    generation = qwen.generate(clip, PROMPT, max_new_tokens=3)
    assert result.generation.token_ids == generation.token_ids
    direct = qwen.token_probs([clip, np.zeros_like(clip)], generation, result.positions)
    assert np.abs(result.p_full - direct[0]).max() < TOL
    assert np.abs(result.p_blank - direct[1]).max() < TOL


def test_a_family_without_a_tested_video_path_takes_images_only():
    llava = HFModel(*tiny_models.build("llava"))
    assert not llava.supports_video
    with pytest.raises(ValueError, match="takes images only"):
        ew.explain(llava, _clip(size=(56, 56)))
    with pytest.raises(ValueError, match="on images only here"):
        llava.generate(_clip(size=(56, 56)), PROMPT)
