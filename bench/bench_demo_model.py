"""Quality bars of the demo model on 500 unseen scenes, printed as JSON.

    python bench/bench_demo_model.py [--weights DIR] [--scenes 500] [--biased 200]

Loads the checkpoint the way users do (transformers Auto classes, offline) and reports
caption exact match, colour/shape word accuracy, yes/no accuracy outside the biased case,
how often the yellow-circle/blue-square prior wins over the image, load time and the time
of one teacher-forced batch of 32 masked images through the adapter.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np


def main() -> None:
    from eagle_widget.models.demo import WEIGHTS_DIR

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--scenes", type=int, default=500)
    parser.add_argument("--biased", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    from eagle_widget.models import load_model
    from eagle_widget.models.demo.scenes import CAPTION_PROMPT, make_scene
    from eagle_widget.models.demo.training.quality import evaluate

    torch.set_num_threads(args.threads)
    load_model(args.weights)  # warm imports
    start = time.perf_counter()
    demo = load_model(args.weights)
    load_seconds = time.perf_counter() - start

    scene = make_scene(123, n_objects=3)
    generation = demo.generate(scene.image, CAPTION_PROMPT)
    rng = np.random.default_rng(0)
    images = [
        np.where(rng.random((64, 64, 1)) < 0.5, scene.image, 0).astype(np.uint8) for _ in range(32)
    ]
    positions = list(range(len(generation)))
    demo.token_probs(images, generation, positions)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        demo.token_probs(images, generation, positions)
        times.append(time.perf_counter() - start)

    start = time.perf_counter()
    quality = evaluate(demo.model, n_scenes=args.scenes, n_biased=args.biased)
    result = {
        "weights": str(args.weights),
        "threads": args.threads,
        "load_seconds": round(load_seconds, 3),
        "batch32_teacher_forced_seconds_median": round(float(np.median(times)), 4),
        "evaluation_seconds": round(time.perf_counter() - start, 1),
        **quality,
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
