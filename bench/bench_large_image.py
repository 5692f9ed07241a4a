"""A large photo end to end: explained at the working size against at its full size.

    python bench/bench_large_image.py [--size 3000 4000] [--regions 24] [--threads 2]
                                                 [--skip-full]

A demo scene is scaled up to --size (height, width) and its word "circle" explained with the
lazy search three ways: at the working size (the default: the demo model's input size, 64 px
on the short side), at the full size (working_size=None, what every run did before), and on a
copy the caller shrank by hand to the working size (engine.images.resize). Reported for each:
wall and CPU seconds, images, seconds per image, peak memory; whether the working-size ranking
and curves equal the hand-shrunk ones; the bytes the widget sends to the front end. Prints
JSON; not collected as a test.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np
import torch
from PIL import Image

import eagle_widget as ew
from eagle_widget.engine.images import resize
from eagle_widget.wire import DISPLAY_MAX_SIDE, explanation_state


def timed(model, image, regions: int, **options) -> tuple[ew.Explanation, dict]:
    start, cpu = time.perf_counter(), time.process_time()
    result = ew.explain(model, image, targets="circle", n_regions=regions, search="lazy", **options)
    seconds = time.perf_counter() - start
    return result, {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(time.process_time() - cpu, 2),  # less moved by other jobs' load
        "images_scored": result.images_scored,
        "s_per_image": round(seconds / result.images_scored, 4),
        "regions": result.n_regions,
        "insertion_auc": round(result.insertion_auc, 4),
        "deletion_auc": round(result.deletion_auc, 4),
        "peak_rss_mb_so_far": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, nargs=2, default=[3000, 4000])
    parser.add_argument("--regions", type=int, default=24)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-full", action="store_true", help="skip the full-size run")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model = ew.load_demo_model()
    scene = ew.scenes.make_scene(seed=1, objects=[("red", "circle"), ("blue", "square")])
    height, width = args.size
    photo = np.asarray(Image.fromarray(scene.image).resize((width, height), Image.BILINEAR))

    working, at_working = timed(model, photo, args.regions)
    shape = tuple(working.extras["image"]["working_size"])
    by_hand, at_hand = timed(model, resize(photo, shape), args.regions)
    report = {
        "image": [height, width],
        "working_size": list(shape),
        "caption": working.generation.text,
        "working": at_working,
        "shrunk_by_hand": at_hand,
        "same_ranking_as_by_hand": working.order == by_hand.order,
        "same_curves_as_by_hand": bool(
            np.allclose(working.insertion_curve, by_hand.insertion_curve)
            and np.allclose(working.deletion_curve, by_hand.deletion_curve)
        ),
        "maps_at_photo_size": list(working.attribution_map().shape),
    }
    if not args.skip_full:
        full, at_full = timed(model, photo, args.regions, working_size=None)
        report["full_size"] = at_full
        report["speed_up"] = round(at_full["seconds"] / at_working["seconds"], 1)
    state = explanation_state(working)
    report["front_end"] = {
        "display_max_side": DISPLAY_MAX_SIDE,
        "labels_shape": state["labels_shape"],
        "bytes": {"image_png": len(state["image_png"]), "labels": len(state["labels"])},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
