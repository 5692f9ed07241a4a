"""The searches on a real model: lazy and efficient against exact greedy on the demo model.

    python bench/bench_demo_search.py [--scenes 10] [--regions 32 48] [--threads 2]

For each unseen scene (sentence level: every caption token; word level: the first shape
word) every search orders the same superpixels; reported per search and N: images scored
and seconds (mean), and the largest and mean |AUC - greedy's AUC| over the scenes for the
insertion and deletion curves. Prints JSON; not collected as a test.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

SEED = 4_000_000  # scenes of this benchmark, disjoint from training and other evaluations
# label -> (search, early_stop); "lazy" is the default: it stops early ("auto")
SEARCHES = {
    "greedy": ("greedy", "auto"),
    "lazy": ("lazy", "auto"),
    "lazy, no early stop": ("lazy", False),
    "efficient": ("efficient", "auto"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=10)
    parser.add_argument("--regions", type=int, nargs="+", default=[32, 48])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    import eagle_widget as ew
    from eagle_widget.models.demo.scenes import SHAPES, make_scene

    model = ew.load_demo_model()
    rows = []
    for i in range(args.scenes):
        scene = make_scene(SEED + i)
        generation = model.generate(scene.image, "Describe the image.")
        shape = next(k for k, t in enumerate(generation.tokens) if t.strip() in SHAPES)
        for level, targets in (("sentence", None), ("word", [shape])):
            for n in args.regions:
                explainer = {
                    s: ew.Explainer(
                        model, n_regions=n, search=SEARCHES[s][0], early_stop=SEARCHES[s][1]
                    )
                    for s in SEARCHES
                }
                results = {}
                for search, explainer_ in explainer.items():
                    began = time.perf_counter()
                    result = explainer_.explain(scene.image, targets=targets, generation=generation)
                    results[search] = (result, time.perf_counter() - began)
                exact = results["greedy"][0]
                for search, (result, seconds) in results.items():
                    rows.append(
                        {
                            "level": level,
                            "n": int(exact.n_regions),
                            "asked": n,
                            "search": search,
                            "images": result.images_scored,
                            "of_greedy": result.images_scored / exact.images_scored,
                            "seconds": seconds,
                            "d_ins": abs(result.insertion_auc - exact.insertion_auc),
                            "d_del": abs(result.deletion_auc - exact.deletion_auc),
                        }
                    )
    table = {}
    for level in ("sentence", "word"):
        for n in args.regions:
            for search in SEARCHES:
                group = [
                    r
                    for r in rows
                    if r["level"] == level and r["asked"] == n and r["search"] == search
                ]
                table[f"{level} {search} @ N~{n}"] = {
                    "regions_mean": float(np.mean([r["n"] for r in group])),
                    "images_mean": float(np.mean([r["images"] for r in group])),
                    "of_greedy": round(float(np.mean([r["of_greedy"] for r in group])), 3),
                    "seconds_mean": round(float(np.mean([r["seconds"] for r in group])), 2),
                    "max_d_ins_auc": round(float(max(r["d_ins"] for r in group)), 4),
                    "mean_d_ins_auc": round(float(np.mean([r["d_ins"] for r in group])), 4),
                    "max_d_del_auc": round(float(max(r["d_del"] for r in group)), 4),
                    "mean_d_del_auc": round(float(np.mean([r["d_del"] for r in group])), 4),
                }
    command = (
        "python bench/bench_demo_search.py "
        f"--scenes {args.scenes} --regions {' '.join(map(str, args.regions))} "
        f"--threads {args.threads}"
    )
    print(json.dumps({"command": command, "scenes": args.scenes, "table": table}, indent=1))


if __name__ == "__main__":
    main()
