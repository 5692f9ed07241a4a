"""Size of result.json's label map for a photo: as a list of numbers and packed, as JSON.

    python bench/bench_result_json.py [--size 4000 6000] [--regions 16]

A photo-like image (gradients, waves and noise) is split into superpixels at full size, as
the CLI does; prints JSON with both sizes in bytes.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    from eagle_widget.engine import superpixels
    from eagle_widget.engine.explanation import _pack_labels

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, nargs=2, default=(4000, 6000), metavar=("H", "W"))
    parser.add_argument("--regions", type=int, default=16)
    args = parser.parse_args()
    h, w = args.size
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    waves = (np.sin(xx / 300) * np.cos(yy / 200) + 1) * 127
    image = np.dstack([xx / w * 255, yy / h * 255, waves])
    image = np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)
    began = time.perf_counter()
    labels = superpixels(image, args.regions)
    print(
        json.dumps(
            {
                "shape": [h, w],
                "regions": int(labels.max()) + 1,
                "superpixel_seconds": round(time.perf_counter() - began, 1),
                "labels_as_list_bytes": len(json.dumps(labels.tolist())),
                "labels_packed_bytes": len(json.dumps(_pack_labels(labels))),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
