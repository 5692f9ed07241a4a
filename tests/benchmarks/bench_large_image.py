"""A large photo end to end: explanation time on the demo model and what the browser gets.

    python tests/benchmarks/bench_large_image.py [--size 3000 4000] [--regions 24] [--threads 2]

A demo scene is scaled up to --size (height, width) and its word "circle" explained with the
lazy search. Reported: seconds to segment, to explain, per scored image, and the bytes of
the image and label map that the widget and the offline page send to the front end (both
shrunk to at most widget.DISPLAY_MAX_SIDE a side). Prints JSON; not collected as a test.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from PIL import Image

import eagle_widget as ew
from eagle_widget.engine.regions import superpixels
from eagle_widget.wire import DISPLAY_MAX_SIDE, explanation_state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, nargs=2, default=[3000, 4000])
    parser.add_argument("--regions", type=int, default=24)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model = ew.load_demo_model()
    scene = ew.scenes.make_scene(seed=1, objects=[("red", "circle"), ("blue", "square")])
    height, width = args.size
    image = np.asarray(Image.fromarray(scene.image).resize((width, height), Image.BILINEAR))

    start = time.perf_counter()
    superpixels(image, args.regions)
    segment = time.perf_counter() - start
    start = time.perf_counter()
    result = ew.explain(model, image, targets="circle", n_regions=args.regions, search="lazy")
    seconds = time.perf_counter() - start
    state = explanation_state(result)
    report = {
        "image": [height, width],
        "caption": result.generation.text,
        "regions": result.n_regions,
        "segment_s": round(segment, 2),
        "explain_s": round(seconds, 1),
        "images_scored": result.images_scored,
        "s_per_image": round(seconds / result.images_scored, 3),
        "display_max_side": DISPLAY_MAX_SIDE,
        "front_end_labels_shape": state["labels_shape"],
        "front_end_bytes": {"image_png": len(state["image_png"]), "labels": len(state["labels"])},
        "full_size_label_bytes": int(result.labels.size * 2),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
