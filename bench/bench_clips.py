"""Images scored, seconds and AUC difference against exact greedy per clip explanation:
lazy, greedy and the efficient search on 5-frame clips with a 5 x 5 grid per frame (125
regions, the authors' video setting). Not collected as a test.

    python bench/bench_clips.py [--seeds 5] [--frames 5] [--grid 5]

The model is a synthetic clip scorer (tests/synthetic.py's targets over the 125 blocks:
additive, interacting, redundant and mixed), so the best order is known to greedy and the
seconds are the engine's own (masking F x H x W clips, the search), not a network's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from itertools import product
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # test helpers

from synthetic import VisibilityModel, scorer_family  # noqa: E402

import eagle_widget as ew  # noqa: E402
from eagle_widget.engine.regions import grid_regions  # noqa: E402

BLOCK = 8  # pixels per block side
# the sentence (all five targets at once) and one word: the target of pairwise interactions
LEVELS = {"sentence": None, "word": [4]}
SEARCHES = [
    ("greedy", {}, None),
    ("efficient", {"search_scope": 6, "pending_samples": 4, "update_step": 15}, None),
    ("lazy", {}, "auto"),
]


class ClipVisibility(VisibilityModel):
    """VisibilityModel over an F x H x W block map: takes clips."""

    supports_video = True

    def visible(self, clip: np.ndarray) -> np.ndarray:
        shown = np.asarray(clip).any(axis=-1)
        counts = np.bincount(self.object_map.ravel(), weights=shown.ravel(),
                             minlength=self.n_objects)  # fmt: skip
        return counts / self._sizes

    def generate(self, image, prompt, max_new_tokens=64):
        generation = super().generate(np.asarray(image)[0], prompt, max_new_tokens)
        return generation


def one(seed: int, frames: int, grid: int) -> dict:
    side = grid * BLOCK
    per_frame = grid_regions(side, side, grid * grid)
    blocks = np.stack([per_frame + f * grid * grid for f in range(frames)])
    model = ClipVisibility(blocks, scorer_family(frames * grid * grid, seed),
                           base=[0.05, 0.02, 0.1, 0.03, 0.05])  # fmt: skip
    clip = np.full((frames, side, side, 3), 128, np.uint8)
    out = {}
    for (level, targets), (name, options, early_stop) in product(LEVELS.items(), SEARCHES):
        began = time.perf_counter()
        result = ew.explain(model, clip, regions="grid", grid=(grid, grid), search=name,
                            early_stop=early_stop, targets=targets, **options)  # fmt: skip
        out[f"{level} {name}"] = {
            "images": int(result.images_scored),
            "seconds": time.perf_counter() - began,
            "ins": float(result.insertion_auc),
            "del": float(result.deletion_auc),
            "regions": int(result.n_regions),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--grid", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # greedy's cost warning: its cost is the point here
    runs = [one(seed, args.frames, args.grid) for seed in range(args.seeds)]
    summary = {}
    for level, (name, _, _) in product(LEVELS, SEARCHES):
        key, greedy = f"{level} {name}", f"{level} greedy"
        rows = [r[key] for r in runs]
        d_ins = [abs(r[key]["ins"] - r[greedy]["ins"]) for r in runs]
        d_del = [abs(r[key]["del"] - r[greedy]["del"]) for r in runs]
        summary[key] = {
            "images": float(np.mean([r["images"] for r in rows])),
            "seconds": float(np.mean([r["seconds"] for r in rows])),
            "ins_auc": float(np.mean([r["ins"] for r in rows])),
            "del_auc": float(np.mean([r["del"] for r in rows])),
            "max_abs_d_ins_vs_greedy": float(max(d_ins)),
            "max_abs_d_del_vs_greedy": float(max(d_del)),
        }
    print("| level, search | images | seconds | ins AUC | del AUC | max dIns | max dDel |")
    print("|---|---|---|---|---|---|---|")
    for name, s in summary.items():
        print(f"| {name} | {s['images']:.0f} | {s['seconds']:.2f} | {s['ins_auc']:.4f} | "
              f"{s['del_auc']:.4f} | {s['max_abs_d_ins_vs_greedy']:.4f} | "
              f"{s['max_abs_d_del_vs_greedy']:.4f} |")  # fmt: skip
    print(json.dumps({"args": vars(args), "summary": summary, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
