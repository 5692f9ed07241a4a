"""Images scored, wall time and AUC difference against exact greedy, for every search.

Synthetic scorers (tests/synthetic.py: additive, interacting, redundant and mixed targets),
N regions in {16, 32, 48, 64}, several seeds. Prints JSON; not collected as a test.

    python bench/bench_search.py [--seeds 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # test helpers

from synthetic import VisibilityModel, bumpy, scorer_family  # noqa: E402

from eagle_widget.engine.explanation import Explanation  # noqa: E402
from eagle_widget.engine.objective import Objective  # noqa: E402
from eagle_widget.engine.regions import grid_regions  # noqa: E402
from eagle_widget.engine.search import run_search  # noqa: E402

CONFIGS = [
    ("greedy", {}),
    ("efficient", {"search_scope": 6, "pending_samples": 4, "update_step": 15}),
    ("lazy", {}),
]


def run(n: int, seed: int, name: str, options: dict, early_stop: float | None, bumps: float):
    labels = grid_regions(4, 4 * n, n)  # a strip of n equal regions
    effects = [bumpy(effect, bumps, seed) for effect in scorer_family(n, seed)]
    model = VisibilityModel(labels, effects, base=[0.05, 0.02, 0.1, 0.03, 0.05])
    image = np.full(labels.shape + (3,), 128, np.uint8)
    generation = model.generate(image, "bench")
    positions = list(range(5))
    objective = Objective(
        model, generation, positions, generation.token_ids, image, np.zeros_like(image), labels
    )
    began = time.perf_counter()
    steps = list(run_search(name, objective, early_stop, **options))
    seconds = time.perf_counter() - began
    p_full, p_blank = objective.references()
    result = Explanation(
        image=image,
        labels=labels,
        generation=generation,
        positions=positions,
        target_ids=generation.token_ids,
        steps=[s for s in steps if s.chain == "insert"]
        + [s for s in steps if s.chain == "remove"][::-1],
        p_full=p_full,
        p_blank=p_blank,
        images_scored=objective.images_scored,
    )
    return result, seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--bumps", type=float, default=0.0, help="amplitude of per-set pseudo-random bumps"
    )
    args = parser.parse_args()
    rows = []
    for n in (16, 32, 48, 64):
        for seed in range(args.seeds):
            exact, _ = run(n, seed, "greedy", {}, None, args.bumps)
            for name, options in CONFIGS:
                for early in (None, 0.01):
                    result, seconds = run(n, seed, name, options, early, args.bumps)
                    rows.append(
                        {
                            "n": n,
                            "seed": seed,
                            "search": name + (" +early_stop" if early else ""),
                            "images": result.images_scored,
                            "seconds": seconds,
                            "d_ins_auc": result.insertion_auc - exact.insertion_auc,
                            "d_del_auc": result.deletion_auc - exact.deletion_auc,
                            "images_vs_greedy": result.images_scored / exact.images_scored,
                        }
                    )
    summary = {}
    for row in rows:
        key = f"{row['search']} @ N={row['n']}"
        summary.setdefault(key, []).append(row)
    table = {
        key: {
            "images": float(np.mean([r["images"] for r in group])),
            "images_vs_greedy": round(float(np.mean([r["images_vs_greedy"] for r in group])), 3),
            "seconds": round(float(np.mean([r["seconds"] for r in group])), 3),
            "max_abs_d_ins_auc": round(float(max(abs(r["d_ins_auc"]) for r in group)), 4),
            "max_abs_d_del_auc": round(float(max(abs(r["d_del_auc"]) for r in group)), 4),
        }
        for key, group in summary.items()
    }
    print(json.dumps({"seeds": args.seeds, "bumps": args.bumps, "table": table}, indent=1))


if __name__ == "__main__":
    main()
