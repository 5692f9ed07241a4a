"""Images per second of HFModel.token_probs against the reference's one-image-per-call loop.

Model: a ~25M-parameter Qwen2.5-VL built offline (tests/tiny_models.py), 448 x 448 image,
sentence-level targets (every generated token). The batched path (one teacher-forced pass
per batch, logits only at the targets, sequence cut after the last target) runs at batch
sizes 1, 4 and 16; the reference loop re-runs the processor on a PIL copy of each image and
computes the logits of every position, one image per call. Same model, same run; the two
paths' probabilities are compared too. Prints JSON; not collected as a test.

    python bench/bench_adapters.py [--device cuda] [--dtype bfloat16] [--images 32]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # test helpers

import tiny_models  # noqa: E402

from eagle_widget.models import HFModel  # noqa: E402
from eagle_widget.models.hf import SEQUENCE_FILL  # noqa: E402

PROMPT = "Describe the image."


def masked_copies(image: np.ndarray, count: int, seed: int = 0) -> list[np.ndarray]:
    """Copies of `image` with random 8 x 8 grids of cells blacked out (as a search sends)."""
    rng = np.random.default_rng(seed)
    height, width = image.shape[:2]
    cells = np.arange(64).reshape(8, 8).repeat(height // 8, 0).repeat(width // 8, 1)
    copies = []
    for _ in range(count):
        keep = rng.random(64) < 0.5
        copy = image.copy()
        copy[~keep[cells]] = 0
        copies.append(copy)
    return copies


def reference_probs(adapter: HFModel, images, generation, positions) -> np.ndarray:
    """One image per call: processor on a PIL copy, full sequence, logits at every position."""
    model, processor = adapter.model, adapter.processor
    text, add_special = adapter._prompt_text(PROMPT)
    rows = []
    for image in images:
        inputs = processor(
            text=[text],
            images=[Image.fromarray(image)],
            return_tensors="pt",
            add_special_tokens=add_special,
        )
        length = inputs["input_ids"].shape[1]
        answer = torch.tensor([generation.token_ids])
        for key, fill in SEQUENCE_FILL.items():
            if key in inputs:
                inputs[key] = torch.cat([inputs[key], torch.full_like(answer, fill)], dim=1)
        inputs["input_ids"] = torch.cat([inputs["input_ids"], answer], dim=1)
        inputs = {
            k: (
                v.to(adapter.device, adapter.dtype)
                if v.is_floating_point()
                else v.to(adapter.device)
            )
            for k, v in inputs.items()
        }
        with torch.inference_mode():
            logits = model(**inputs, use_cache=False).logits[0].float()
        probs = torch.softmax(logits, dim=-1)
        rows.append([float(probs[length - 1 + p, generation.token_ids[p]]) for p in positions])
    return np.asarray(rows)


def timed(function, repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        result = function()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model, processor = tiny_models.build_mid_qwen2_5_vl()
    adapter = HFModel(model, processor, device=args.device, dtype=args.dtype)
    image = (np.random.default_rng(1).random((448, 448, 3)) * 255).astype(np.uint8)
    generation = adapter.generate(image, PROMPT, max_new_tokens=args.new_tokens)
    positions = list(range(len(generation)))
    images = masked_copies(image, args.images)

    reference_probs(adapter, images[:2], generation, positions)  # warm-up
    seconds, reference = timed(
        lambda: reference_probs(adapter, images, generation, positions), args.repeats
    )
    reference_rate = len(images) / seconds
    batched = {}
    max_diff = 0.0
    for size in (1, 4, 16):
        adapter.batch_size = size
        adapter.token_probs(images[:size], generation, positions)  # warm-up
        seconds, probs = timed(
            lambda: adapter.token_probs(images, generation, positions), args.repeats
        )
        max_diff = max(max_diff, float(np.abs(probs - reference).max()))
        rate = len(images) / seconds
        batched[str(size)] = {
            "images_per_s": round(rate, 2),
            "ratio_to_reference": round(rate / reference_rate, 2),
        }
    report = {
        "model": "Qwen2.5-VL (tiny_models.build_mid_qwen2_5_vl)",
        "parameters_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 1),
        "device": str(adapter.device),
        "device_name": torch.cuda.get_device_name() if adapter.device.type == "cuda" else "cpu",
        "dtype": str(adapter.dtype).removeprefix("torch."),
        "threads": args.threads,
        "image": [448, 448],
        "prompt_tokens": adapter._last_length,
        "targets": len(positions),
        "images": len(images),
        "reference_images_per_s": round(reference_rate, 2),
        "batched": batched,
        "max_abs_diff_vs_reference": max_diff,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
