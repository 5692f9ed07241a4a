"""Images per second through a real vLLM CPU server (the demo model) at concurrency 1, 4 and
16 against the same model in-process, same images, one run; and the requests one
explanation makes in each scoring mode. Prints JSON; not collected as a test.

    python bench/bench_served.py [--images 32] [--regions 16]

The server runs in a loopback-only network namespace (tests/vllm_server.py); its venv is
built by scripts/vllm_venv.sh on first use (~6 GB).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from vllm_server import NAME, VLLMServer, inside  # noqa: E402

import eagle_widget as ew  # noqa: E402
from eagle_widget.engine.masking import compose, fill_image  # noqa: E402
from eagle_widget.engine.regions import superpixels  # noqa: E402
from eagle_widget.models.demo.scenes import CAPTION_PROMPT, make_scene  # noqa: E402


def masked(image: np.ndarray, count: int) -> list[np.ndarray]:
    labels = superpixels(image, 24)
    keep = np.random.default_rng(0).random((count, int(labels.max()) + 1)) < 0.5
    return list(compose(image, fill_image(image, 0), labels, keep))


def timed(call) -> tuple[float, object]:
    began = time.perf_counter()
    result = call()
    return time.perf_counter() - began, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--regions", type=int, default=16)
    args = parser.parse_args()
    scene = make_scene(seed=1, objects=[("red", "circle"), ("blue", "square")])
    images = masked(scene.image, args.images)
    demo = ew.load_demo_model()
    generation = demo.generate(scene.image, CAPTION_PROMPT)
    positions = list(range(len(generation)))
    demo.token_probs(images[:2], generation, positions)  # warm-up
    local_s, local = timed(lambda: demo.token_probs(images, generation, positions))
    report = {"images": len(images), "targets": len(positions), "in_process_s": local_s}
    quiet = dict(log=lambda line: None)
    with tempfile.TemporaryDirectory() as folder, VLLMServer(Path(folder)) as server:
        with inside(server):
            warm = ew.OpenAIModel(server.url, NAME, **quiet)
            warm.token_probs(masked(scene.image, 4)[::-1], warm.generate(scene.image), [0])
            for concurrency in (1, 4, 16):
                model = ew.OpenAIModel(server.url, NAME, concurrency=concurrency, **quiet)
                model.mode = "exact"  # no probe: every image is a new request
                seconds, probs = timed(lambda m=model: m.token_probs(images, generation, positions))
                report[f"served_c{concurrency}_s"] = seconds
                report[f"served_c{concurrency}_images_per_s"] = len(images) / seconds
                report[f"served_c{concurrency}_max_in_flight"] = model.max_in_flight
                report["max_abs_difference"] = float(np.abs(probs - local).max())
            report["in_process_images_per_s"] = len(images) / local_s
            options = dict(targets="circle", n_regions=args.regions)
            in_process = ew.explain(demo, scene.image, CAPTION_PROMPT, **options)
            for mode in ("exact", "approximate"):
                model = ew.OpenAIModel(server.url, NAME, mode=mode, **quiet)
                seconds, result = timed(
                    lambda m=model: ew.explain(m, scene.image, CAPTION_PROMPT, **options)
                )
                report[f"explain_{mode}"] = {
                    "regions": result.n_regions,
                    "targets": result.n_targets,
                    "images": result.images_scored,
                    "requests": result.extras["requests"],
                    "seconds": seconds,
                    "insertion_auc_vs_in_process": result.insertion_auc - in_process.insertion_auc,
                    "deletion_auc_vs_in_process": result.deletion_auc - in_process.deletion_auc,
                    "same_order_steps": next(
                        (
                            i
                            for i, (a, b) in enumerate(zip(result.order, in_process.order))
                            if a != b
                        ),
                        result.n_regions,
                    ),
                }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
