"""Prompt spans beside image regions on the demo model: what the answers rest on, and the cost.

    python bench/bench_prompt_spans.py [--scenes 20] [--regions 24] [--threads 1]

On unseen scenes, the demo model's yes/no questions ("Is there a red circle?") are explained
by image regions and the question's words (prompt_regions="word", lazy search), and by image
regions alone. Reported: answer accuracy; for "yes" on a present object, how often the top
prompt span is the object's colour or shape word and how often the top image region lies on
the object; for "no" on an absent one, the mean (image, prompt, prior) shares; for the
documented hallucination (a yellow circle, "Is there a blue square?" answered "yes"),
whether a prompt span outranks every image region; and images and seconds per explanation
with and without prompt spans (one run on this machine: compare ratios). Prints JSON; not
collected as a test.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

SEED = 6_000_000  # scenes of this benchmark, disjoint from training and other evaluations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=20)
    parser.add_argument("--regions", type=int, default=24)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--hallucinations", type=int, default=400, help="scenes to search")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    import eagle_widget as ew
    from eagle_widget.models.demo.scenes import COLOURS, SHAPES, make_scene, question

    demo = ew.load_demo_model()
    rng = np.random.default_rng(SEED)
    options = {"n_regions": args.regions, "search": "lazy", "targets": [0]}
    correct = asked = 0
    yes = {"n": 0, "top_span_is_its_word": 0, "top_region_on_it": 0}
    no_shares, cost = [], {"with spans": [], "image only": []}
    for s in range(args.scenes):
        scene = make_scene(SEED + s)
        present = scene.objects[int(rng.integers(len(scene.objects)))]
        absent = next(
            (c, p) for c in rng.permutation(COLOURS) for p in rng.permutation(SHAPES)
            if (c, p) not in scene.pairs
        )  # fmt: skip
        for pair, truth in (((present.colour, present.shape), "yes"), (absent, "no")):
            prompt = question(*pair)
            began = time.perf_counter()
            result = ew.explain(demo, scene.image, prompt=prompt, prompt_regions="word", **options)
            cost["with spans"].append((result.images_scored, time.perf_counter() - began))
            began = time.perf_counter()
            alone = ew.explain(demo, scene.image, prompt=prompt, **options)
            cost["image only"].append((alone.images_scored, time.perf_counter() - began))
            answer = result.generation.tokens[0].strip()
            asked += 1
            correct += answer == truth
            if truth == "yes" and answer == "yes":
                yes["n"] += 1
                spans = [r for r in result.order if r >= result.n_image_regions]
                top_span = result.spans[spans[0] - result.n_image_regions].text.lower()
                yes["top_span_is_its_word"] += top_span in pair
                top = next(r for r in result.order if r < result.n_image_regions)
                yes["top_region_on_it"] += bool(present.mask[result.labels == top].mean() > 0.5)
            if truth == "no" and answer == "no":
                no_shares.append(result.source_reliance[0])
    hallucinated = []
    for s in range(args.hallucinations):
        scene = make_scene(SEED + 100_000 + s, objects=[("yellow", "circle")])
        prompt = question("blue", "square")
        if demo.generate(scene.image, prompt, max_new_tokens=1).tokens[0].strip() != "yes":
            continue
        result = ew.explain(demo, scene.image, prompt=prompt, prompt_regions="word", **options)
        first_span = min(
            result.order.index(r) for r in range(result.n_image_regions, result.n_regions)
        )
        first_image = min(result.order.index(r) for r in range(result.n_image_regions))
        hallucinated.append(
            {
                "prompt_first": first_span < first_image,
                "shares": result.source_reliance[0].round(3).tolist(),
            }
        )
    report = {
        "command": f"python bench/bench_prompt_spans.py --scenes {args.scenes} --regions "
        f"{args.regions} --threads {args.threads} --hallucinations {args.hallucinations}",
        "answer_accuracy": correct / asked,
        "yes_present": {
            **yes,
            "top_span_is_its_word_share": yes["top_span_is_its_word"] / max(1, yes["n"]),
            "top_region_on_it_share": yes["top_region_on_it"] / max(1, yes["n"]),
        },
        "no_absent_mean_shares_image_prompt_prior": np.mean(no_shares, axis=0).round(3).tolist()
        if no_shares
        else None,
        "hallucinated_yes": {
            "found": len(hallucinated),
            "prompt_span_before_every_image_region": sum(h["prompt_first"] for h in hallucinated),
            "cases": hallucinated[:10],
        },
        "per_explanation": {
            kind: {
                "images": float(np.mean([c[0] for c in rows])),
                "seconds": float(np.mean([c[1] for c in rows])),
            }
            for kind, rows in cost.items()
        },
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
