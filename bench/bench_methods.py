"""Every method of explain(method=...) on the demo model, one way: prints a table and JSON.

    python bench/bench_methods.py [--scenes 50] [--regions 24] [--methods eagle,tam] [--device cuda]

On correctly captioned unseen scenes, every colour word of the caption is explained by each
method over the same SLIC regions; the engine ranks the regions by each method's scores and
measures the curves (EAGLE's lazy search is its own ranking). Per method:
- pointing: the top-ranked region holds at least half of its pixels on the word's object
  (the "majority" rule of bench_demo_explain.py);
- insertion and deletion AUC of the word's probability (higher / lower is better);
- images the method scored itself (EAGLE: its whole search), its forward and backward
  passes (white-box methods), seconds of the method apart from the ranking step (EAGLE: the
  whole run) and of the whole explanation;
- peak memory: the adapter's peak_memory window around the method step (EAGLE: around the
  whole run); on the CPU the process's resident memory (models/memory.py), so the model's
  weights and the Python process are in every figure and "added" is what the method added.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

SEED = 7_000_000  # scenes of this benchmark, disjoint from training and other evaluations
METHODS = ("eagle", "occlusion", "rise", "tam", "llava-cam")


def majority_hit(labels: np.ndarray, region: int, mask: np.ndarray) -> bool:
    pixels = labels == region
    return bool((pixels & mask).sum() >= 0.5 * pixels.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=50, help="unseen scenes (50)")
    parser.add_argument("--regions", type=int, default=24)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda: device memory")
    args = parser.parse_args()
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]

    import eagle_widget as ew
    from eagle_widget.models.demo.scenes import COLOURS, make_scene

    model = ew.load_demo_model(device=args.device)
    rows = {m: [] for m in methods}
    scenes = 0
    seed = SEED
    while scenes < args.scenes:
        scene = make_scene(seed)
        seed += 1
        generation = model.generate(scene.image)
        if generation.text != scene.caption:
            continue
        scenes += 1
        for p, token in enumerate(generation.tokens):
            if token.strip() not in COLOURS:
                continue
            mask = scene.objects[scene.token_objects[p]].mask
            for method in methods:
                model.peak_memory(reset=True)
                began = time.perf_counter()
                result = ew.explain(model, scene.image, targets=[p], generation=generation,
                                    n_regions=args.regions, method=method)  # fmt: skip
                seconds = time.perf_counter() - began
                run_memory = model.peak_memory()
                cost = result.extras.get("method", {})
                memory = cost.get("peak_memory", run_memory)
                rows[method].append({
                    "pointing": majority_hit(result.labels, result.order[0], mask),
                    "insertion": result.insertion_auc,
                    "deletion": result.deletion_auc,
                    "images": cost.get("images", result.images_scored),
                    "forward": cost.get("forward_passes", 0),
                    "backward": cost.get("backward_passes", 0),
                    "method_seconds": cost.get("seconds", seconds),
                    "seconds": seconds,
                    "peak_mb": memory["peak_bytes"] / 2**20,
                    "added_mb": memory["added_bytes"] / 2**20,
                })  # fmt: skip
    summary = {
        m: {k: float(np.mean([r[k] for r in rs])) for k in rs[0]} | {"words": len(rs)}
        for m, rs in rows.items()
        if rs
    }
    header = ("method", "pointing", "ins AUC", "del AUC", "images", "fwd", "bwd",
              "method s", "total s", "peak MB", "added MB")  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for m, s in summary.items():
        print(
            f"| {m} | {s['pointing']:.3f} | {s['insertion']:.4f} | {s['deletion']:.4f} | "
            f"{s['images']:.1f} | {s['forward']:.1f} | {s['backward']:.1f} | "
            f"{s['method_seconds']:.3f} | {s['seconds']:.3f} | {s['peak_mb']:.0f} | "
            f"{s['added_mb']:.1f} |"
        )
    print(json.dumps({"scenes": scenes, "regions": args.regions, "methods": summary}, indent=1))


if __name__ == "__main__":
    main()
