"""Hallucination diagnosis and mitigation on the demo model, against ground truth; prints JSON.

    python bench/bench_demo_hallucination.py [--scenes 400] [--write WEIGHTS_DIR]

On the first `--scenes` biased-case scenes (a yellow circle, no blue square) the model's
wrong "yes" answers to "Is there a blue square?" are diagnosed (the correct "no" explained
as a counterfactual target, lazy, 32 regions) and mitigated (the regions ranked last for
"no" removed one more at a time, up to half the image, regenerating after each).
Ground truth per case: the driver objects, whose removal alone turns the answer into "no".
- pointing: the region ranked last for "no" (the hallucination map's maximum) has at least
  half its pixels on a driver object; also on the yellow circle, on a blue object (removing
  a third object can flip the answer too: the model's "yes" is fragile, so that is counted);
- mitigation: share corrected, AMCR (never corrected counts 1), CSR@10%, removed area;
- the answer token's reliance: P("yes") with a blank image (prior) and the image's lift.
With --write, the figures (without the per-case rows) go to
WEIGHTS_DIR/hallucination_metrics.json and the model card there is regenerated.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np


def _on(mask_of_region: np.ndarray, mask: np.ndarray) -> bool:
    return bool(mask[mask_of_region].mean() >= 0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=400)
    parser.add_argument("--regions", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--write", type=Path, default=None, help="weights folder to update")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    import eagle_widget as ew
    from eagle_widget.models.demo.scenes import question
    from eagle_widget.models.demo.training.quality import (
        BLUE_SQUARE,
        YELLOW_CIRCLE,
        driver_objects,
        wrong_yes_cases,
    )

    model = ew.load_demo_model()
    asked = question(*BLUE_SQUARE)
    began = time.perf_counter()
    cases = wrong_yes_cases(model.model, args.scenes)
    rows, outcomes = [], []
    for index, scene in cases:
        t0 = time.perf_counter()
        diagnosis = ew.diagnose(model, scene.image, asked, correct="no", n_regions=args.regions)
        outcome = ew.mitigate(model, scene.image, asked, diagnosis.explanation, max_area=0.5)
        seconds = time.perf_counter() - t0
        drivers = driver_objects(model.model, scene)
        result = diagnosis.explanation
        hottest = result.labels == result.order[-1]
        kinds = [(o.colour, o.shape) for o in scene.objects]
        circle = kinds.index(YELLOW_CIRCLE)
        blue = [k for k, (colour, _) in enumerate(kinds) if colour == "blue"]
        outcomes.append(outcome)
        rows.append(
            {
                "scene": int(index),
                "objects": [" ".join(k) for k in kinds],
                "drivers": [" ".join(kinds[k]) for k in drivers],
                "answer": diagnosis.generation.text,
                "p_yes_blank": float(diagnosis.prior[0]),
                "visual_lift": float(diagnosis.visual[0]),
                "on_driver": any(_on(hottest, scene.objects[k].mask) for k in drivers),
                "on_yellow_circle": _on(hottest, scene.objects[circle].mask),
                "on_blue_object": any(_on(hottest, scene.objects[k].mask) for k in blue),
                "yellow_circle_is_driver": circle in drivers,
                "blue_object_is_driver": any(k in drivers for k in blue),
                "another_object_is_driver": any(k not in blue and k != circle for k in drivers),
                "corrected": outcome.corrected,
                "removed_area": outcome.removed_area,
                "revised": outcome.answer.text if outcome.answer else None,
                "images_scored": int(result.images_scored),
                "seconds": round(seconds, 2),
            }
        )
    if not rows:
        print(json.dumps({"scenes": args.scenes, "hallucinations": 0}))
        return
    metrics = ew.hallucination_metrics(outcomes)

    def share(key):
        return float(np.mean([r[key] for r in rows]))

    summary = {
        "command": "python bench/bench_demo_hallucination.py "
        f"--scenes {args.scenes} --regions {args.regions} --threads {args.threads}",
        "scenes": args.scenes,
        "hallucinations": len(rows),
        "hallucination_rate": len(rows) / args.scenes,
        "yellow_circle_is_a_driver": share("yellow_circle_is_driver"),
        "blue_object_is_a_driver": share("blue_object_is_driver"),
        "another_object_is_a_driver": share("another_object_is_driver"),
        "pointing_on_a_driver": share("on_driver"),
        "pointing_on_yellow_circle": share("on_yellow_circle"),
        "pointing_on_blue_object": share("on_blue_object"),
        "corrected": metrics["corrected"] / len(rows),
        "amcr": metrics["amcr"],
        "csr_at_10": metrics["csr_at_10"],
        "p_yes_blank_mean": float(np.mean([r["p_yes_blank"] for r in rows])),
        "visual_lift_mean": float(np.mean([r["visual_lift"] for r in rows])),
        "seconds_per_case_mean": float(np.mean([r["seconds"] for r in rows])),
        "seconds_total": round(time.perf_counter() - began, 1),
        "cases": rows,
    }
    print(json.dumps(summary, indent=1))
    if args.write is not None:
        from eagle_widget.models.demo.training.card import write_card

        kept = {k: v for k, v in summary.items() if k != "cases"}  # the package keeps figures
        (args.write / "hallucination_metrics.json").write_text(json.dumps(kept, indent=1) + "\n")
        write_card(args.write)
        print(
            f"wrote {args.write / 'hallucination_metrics.json'} and the model card", file=sys.stderr
        )


if __name__ == "__main__":
    main()
