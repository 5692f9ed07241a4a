"""EAGLE on the demo model, checked against the scenes' object masks; prints JSON.

    python bench/bench_demo_explain.py [--scenes 100] [--write WEIGHTS_DIR]

- Pointing game: word-level EAGLE (lazy, 32 regions) on every colour and shape word of
  correctly captioned unseen scenes; a hit when the top region lies on the named object's
  mask. Reported for words whose colour or shape is unique in the scene and, separately,
  for words shared by two objects (e.g. two red objects: either red object's mask counts as
  "the named object" only for its own word, so these are harder by construction).
  Three hit rules: "majority" (at least half of the top region's pixels on the mask, the
  bar), "overlap" (any pixel) and "centroid" (the region's pixel nearest its centroid).
- Insertion: the word's probability with nothing shown (p_blank, all black), with only its
  object shown, on the insertion curve once the search has inserted 70% of the object (and
  the image area inserted by then), and on the full image.
- Reliance (prior = p_blank, visual = p_full - p_blank) per word class over the scenes.
- Time of a sentence-level explanation with 50 regions, lazy.
With --write, the figures go to WEIGHTS_DIR/explain_metrics.json and the model card there is
regenerated.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

SEED = 3_000_000  # scenes for this benchmark, disjoint from training and the other evaluations


def top_region_hits(labels: np.ndarray, region: int, mask: np.ndarray) -> dict[str, bool]:
    pixels = labels == region
    ys, xs = np.nonzero(pixels)
    nearest = np.argmin((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2)
    inside = (pixels & mask).sum()
    return {
        "majority": bool(inside >= 0.5 * pixels.sum()),
        "overlap": bool(inside > 0),
        "centroid": bool(mask[ys[nearest], xs[nearest]]),
    }


def word_class(word: str) -> str:
    from eagle_widget.models.demo.scenes import COLOURS, SHAPES

    if word in COLOURS:
        return "colour"
    if word in SHAPES:
        return "shape"
    return {",": "comma"}.get(word, word)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=100)
    parser.add_argument("--regions", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--write", type=Path, default=None, help="weights folder to update")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    import eagle_widget as ew
    from eagle_widget.models.demo.scenes import CAPTION_PROMPT, make_scene

    torch.set_num_threads(args.threads)
    model = ew.load_demo_model()
    word_explainer = ew.Explainer(model, n_regions=args.regions, search="lazy")
    sentence_explainer = ew.Explainer(model, n_regions=50, search="lazy")

    hits = {"unique": [], "shared": []}
    p_blank, p_object_first, p_full, p_object_only, area_object_first = [], [], [], [], []
    reliance: dict[str, list[tuple[float, float]]] = {}
    wrong_captions = 0
    images_scored = []
    start = time.perf_counter()
    for i in range(args.scenes):
        scene = make_scene(SEED + i)
        generation = model.generate(scene.image, CAPTION_PROMPT)
        words = [t.strip() for t in generation.tokens]
        prior, visual = word_explainer.token_reliance(scene.image, generation)
        for word, a, b in zip(words, prior, visual):
            reliance.setdefault(word_class(word), []).append((float(a), float(b)))
        if generation.text != scene.caption:
            wrong_captions += 1
            continue
        for k, (word, owner) in enumerate(zip(scene.tokens, scene.token_objects)):
            if owner is None or word == "a":
                continue
            obj = scene.objects[owner]
            attribute = "colour" if word == obj.colour else "shape"
            shared = any(
                getattr(o, attribute) == word for j, o in enumerate(scene.objects) if j != owner
            )
            explanation = word_explainer.explain(scene.image, generation=generation, targets=[k])
            images_scored.append(explanation.images_scored)
            hit = top_region_hits(explanation.labels, explanation.order[0], obj.mask)
            hits["shared" if shared else "unique"].append(hit)
            # insertion curve at the first step where 70% of the object is shown
            per_region = np.bincount(explanation.labels[obj.mask], minlength=explanation.n_regions)[
                explanation.order
            ]
            covered = np.cumsum(per_region) / obj.area
            k_obj = int(np.argmax(covered >= 0.7)) + 1
            p_blank.append(float(explanation.p_blank[0]))
            p_full.append(float(explanation.p_full[0]))
            p_object_first.append(float(explanation.insertion_curve[k_obj, 0]))
            area_object_first.append(float(explanation.areas[k_obj]))
            only = np.where(obj.mask[..., None], scene.image, 0).astype(np.uint8)
            p_object_only.append(float(model.token_probs([only], generation, [k])[0, 0]))
    word_seconds = time.perf_counter() - start

    sentence_times = []
    for i in range(5):
        scene = make_scene(SEED + 10_000 + i, n_objects=3)
        t0 = time.perf_counter()
        sentence_explainer.explain(scene.image, prompt=CAPTION_PROMPT)
        sentence_times.append(time.perf_counter() - t0)

    def rates(group):
        if not group:
            return {"n": 0}
        return {"n": len(group), **{k: float(np.mean([h[k] for h in group])) for k in group[0]}}

    result = {
        "command": " ".join(["python", *sys.argv]),
        "scenes": args.scenes,
        "regions": args.regions,
        "search": "lazy",
        "fill": 0,
        "wrong_captions_skipped": wrong_captions,
        "pointing_game_unique_words": rates(hits["unique"]),
        "pointing_game_shared_words": rates(hits["shared"]),
        "content_word_p_blank_mean": float(np.mean(p_blank)),
        "content_word_p_object_alone_mean": float(np.mean(p_object_only)),
        "content_word_p_once_70pct_of_object_inserted_mean": float(np.mean(p_object_first)),
        "area_inserted_by_then_mean": float(np.mean(area_object_first)),
        "content_word_p_full_mean": float(np.mean(p_full)),
        "reliance_prior_visual_mean_by_word": {
            k: [
                round(float(np.mean([a for a, _ in v])), 3),
                round(float(np.mean([b for _, b in v])), 3),
            ]
            for k, v in sorted(reliance.items())
        },
        "word_level_images_scored_mean": float(np.mean(images_scored)),
        "word_level_seconds_total": round(word_seconds, 1),
        "sentence_level_50_regions_seconds": [round(t, 2) for t in sentence_times],
    }
    print(json.dumps(result, indent=1))
    if args.write is not None:
        from eagle_widget.models.demo.training.card import write_card

        (args.write / "explain_metrics.json").write_text(json.dumps(result, indent=1) + "\n")
        write_card(args.write)


if __name__ == "__main__":
    main()
