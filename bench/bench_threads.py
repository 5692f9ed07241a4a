"""Torch threads for small models, alone and beside a competing load; prints JSON.

    python bench/bench_threads.py [--threads 1 2 auto] [--load 2] [--repeats 3] [--mid]

Times sentence-level explanations of demo scenes (lazy, 36 regions) with the demo model at
each thread count, first as the machine is, then beside `--load` busy processes (plain
Python loops, one per core by default: other people's jobs on a shared machine). `--mid`
adds teacher-forced batches of a ~25M-parameter Qwen2.5-VL built offline (448 x 448).
Thread counts alternate within each repeat, so both see the same background; the figures
to compare are the ratios within one run. "auto" is what HFModel does by itself: it times
one thread against all of torch's per kind of batch and keeps the faster.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # test helpers

import eagle_widget as ew  # noqa: E402
from eagle_widget.models.demo.scenes import CAPTION_PROMPT, make_scene  # noqa: E402


def competing_load(processes: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]


def stop(load: list[subprocess.Popen]) -> None:
    for process in load:
        process.kill()
        process.wait()


def demo_work(model, explanations: int):
    explainer = ew.Explainer(model, n_regions=36, search="lazy")
    scenes = [make_scene(5_000_000 + i, n_objects=3).image for i in range(explanations)]
    generations = [model.generate(image, CAPTION_PROMPT) for image in scenes]

    def run():
        for image, generation in zip(scenes, generations):
            explainer.explain(image, generation=generation)

    return run


def mid_work(images: int):
    import tiny_models

    network, processor = tiny_models.build_mid_qwen2_5_vl()
    model = ew.HFModel(network, processor, batch_size=8)
    image = (np.random.default_rng(1).random((448, 448, 3)) * 255).astype(np.uint8)
    generation = model.generate(image, CAPTION_PROMPT, max_new_tokens=8)
    copies = [image] * images
    positions = list(range(len(generation)))
    return model, lambda: model.token_probs(copies, generation, positions)


def measure(model, work, thread_counts, repeats) -> dict[str, float]:
    """Median seconds of work() per thread count (set on the adapter), counts interleaved."""
    seconds: dict[str, list[float]] = {str(t): [] for t in thread_counts}
    for _ in range(repeats):
        for threads in thread_counts:
            model.threads = None if threads == "auto" else threads
            start = time.perf_counter()
            work()
            seconds[str(threads)].append(time.perf_counter() - start)
    model.threads = None
    return {k: round(float(np.median(v)), 2) for k, v in seconds.items()}


def _count(text: str):
    return text if text == "auto" else int(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--threads", type=_count, nargs="+", default=[1, 2, "auto"], help='counts, or "auto"'
    )
    parser.add_argument("--load", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--explanations", type=int, default=2)
    parser.add_argument("--mid", action="store_true")
    parser.add_argument("--mid-images", type=int, default=8)
    args = parser.parse_args()

    demo = ew.load_demo_model()
    cases = [("demo: seconds for the explanations", demo, demo_work(demo, args.explanations))]
    if args.mid:
        mid, work = mid_work(args.mid_images)
        cases.append(("mid: seconds for the batch", mid, work))
    for _, model, work in cases:  # warm-up at every count
        measure(model, work, args.threads, 1)

    report = {
        "command": " ".join(["python", *sys.argv]),
        "cpu_count": os.cpu_count(),
        "torch_default_threads": torch.get_num_threads(),
        "load_average_at_start": os.getloadavg(),
        "auto": "threads=None: timed per kind of batch (devices.ThreadChooser)",
    }
    for condition in ("as is", f"beside {args.load} busy processes"):
        load = competing_load(args.load) if condition != "as is" else []
        try:
            report[condition] = {
                name: measure(model, work, args.threads, args.repeats)
                for name, model, work in cases
            }
        finally:
            stop(load)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
