"""Where the lazy search's images go, step by step, on the demo model; and how few any search
could score at the same quality.

    python bench/bench_search_profile.py [--scenes 5] [--regions 36 64] [--threads 1]

Per scene, level (sentence: every caption token; word: the first shape word) and N, every
run orders the same superpixels. The model's answers are computed once per set and replayed
to every run (each run still counts the images it would have sent), so the runs compare by
images, not seconds. Prints, per N and level, the mean of:

- lazy (default), per phase: the references, its full sweeps (step 0 and the periodic
  refreshes), the lazy steps (re-score rounds until the best fresh gain beats every stale
  estimate, and how many candidates that re-scored), the step where it stopped early, and
  the finish (its fresh sweeps and the prefixes of what was left);
- what cheaper orderings lose: regions ranked by occlusion (each region filled alone, N
  images) or by greedy's first step (each region alone, kept and filled: 2N images), then
  the prefixes measured (2N images with the references): the floor of any search that
  measures both curves is 2N images (N - 1 prefix images per curve and the two ends);
- exact greedy, and lazy's variants given by --variants.

|AUC - greedy's AUC| is reported mean and max over scenes, for insertion and deletion.
Not collected as a test.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import defaultdict

import numpy as np

SEED = 4_000_000  # the scenes of bench_demo_search.py


class Replay:
    """An Objective's stand-in that answers each set from a store shared by several runs
    (filled from the real objective on first use) and counts the images it would send."""

    def __init__(self, objective, store: dict):
        from eagle_widget.engine.objective import Objective

        self.__class__ = type("ReplayObjective", (Replay, Objective), {})
        self.__dict__.update(objective.__dict__)
        self._oracle = objective
        self._store = store
        self._cache = {}
        self.images_scored = 0
        self.calls: list[int] = []  # new images per call, in order

    def keep_probs(self, keep):
        keep = np.asarray(keep, dtype=bool).reshape(-1, self.n_regions)
        keys = [row.tobytes() for row in keep]
        missing = list(dict.fromkeys(k for k in keys if k not in self._cache))
        new = [k for k in missing if k not in self._store]
        if new:
            rows = np.stack([np.frombuffer(k, dtype=bool) for k in new])
            for key, p in zip(new, self._oracle.keep_probs(rows)):
                self._store[key] = p
        for key in missing:
            self._cache[key] = self._store[key]
        self.images_scored += len(missing)
        if missing:
            self.calls.append(len(missing))
        return np.stack([self._cache[k] for k in keys])


def explanation_of(run, objective, steps):
    from eagle_widget.engine.explanation import Explanation

    p_full, p_blank = objective.references()
    return Explanation(
        image=run.image,
        labels=run.work_labels,
        generation=run.generation,
        positions=run.positions,
        target_ids=run.target_ids,
        steps=[s for s in steps if s.chain == "insert"]
        + [s for s in steps if s.chain == "remove"][::-1],
        p_full=p_full,
        p_blank=p_blank,
        images_scored=objective.images_scored,
    )


def profile_lazy(objective, early_stop: float, options: dict):
    """Run lazy, recording per step the images and calls it spent; split into phases."""
    from eagle_widget.engine.search import MIN_RISE, lazy

    objective.references()
    phases = {"references": objective.images_scored}
    steps, per_step = [], []
    seen_images, seen_calls = objective.images_scored, len(objective.calls)
    for step in lazy(objective, early_stop, **options):
        steps.append(step)
        per_step.append((objective.images_scored - seen_images, objective.calls[seen_calls:]))
        seen_images, seen_calls = objective.images_scored, len(objective.calls)
    n = objective.n_regions
    p_full, p_blank = objective.references()
    rises = p_full.mean() - p_blank.mean() >= MIN_RISE * early_stop
    stop = next(
        (
            i
            for i, s in enumerate(steps)
            if rises
            and s.insight >= p_full.mean() - early_stop
            and s.probs_delete.mean() <= p_blank.mean() + early_stop
        ),
        None,
    )
    stopped = stop is not None and stop < len(steps) - 1
    finish_at = stop + 1 if stopped else len(steps)  # the first step the finish placed
    sweeps = lazy_steps = rounds = rescored = 0
    sweep_images = lazy_images = 0
    for i, (images, calls) in enumerate(per_step[:finish_at]):
        left = n - i
        if calls and calls[0] >= 2 * left - 1 and left > options.get("lazy_batch", 4):
            sweeps += 1
            sweep_images += images
        else:
            lazy_steps += 1
            lazy_images += images
            rounds += len(calls)
            rescored += images / 2
    phases.update(
        {
            "sweeps": sweeps,
            "sweep_images": sweep_images,
            "lazy_steps": lazy_steps,
            "lazy_images": lazy_images,
            "rounds_per_lazy_step": rounds / max(lazy_steps, 1),
            "rescored_per_lazy_step": rescored / max(lazy_steps, 1),
            "stopped_at_step": finish_at if stopped else n,
            "left_at_stop": n - finish_at,
            "finish_images": sum(images for images, _ in per_step[finish_at:]),
        }
    )
    return steps, phases


def ranked_by(objective, scores):
    from eagle_widget.engine.search import ranked

    return list(ranked(objective, scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=5)
    parser.add_argument("--regions", type=int, nargs="+", default=[36, 64])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--variants",
        type=json.loads,
        default={},
        help='lazy variants, JSON {"label": {option: value, ...}}; "early_stop" sets the '
        "tolerance, an upper-case name one of search.py's constants (FINISH_SWEEPS)",
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    import eagle_widget as ew
    from eagle_widget.engine import search as search_module
    from eagle_widget.engine.baselines import occlusion
    from eagle_widget.engine.search import EARLY_STOP_TOL, SEARCH_OPTIONS, greedy
    from eagle_widget.models.demo.scenes import SHAPES, make_scene

    model = ew.load_demo_model()
    rows = defaultdict(list)  # (level, n, run) -> per-scene records
    for i in range(args.scenes):
        scene = make_scene(SEED + i)
        generation = model.generate(scene.image, "Describe the image.")
        shape = next(k for k, t in enumerate(generation.tokens) if t.strip() in SHAPES)
        for level, targets in (("sentence", None), ("word", [shape])):
            for n in args.regions:
                explainer = ew.Explainer(model, n_regions=n, search="lazy")
                run = explainer.start(scene.image, targets=targets, generation=generation)
                store: dict = {}
                real = run._objective

                def fresh(real=real, store=store):
                    return Replay(real, store)

                exact_obj = fresh()
                exact = explanation_of(run, exact_obj, list(greedy(exact_obj)))
                records = {}

                def record(
                    label, objective, steps, extra=None, run=run, records=records, exact=exact
                ):
                    result = explanation_of(run, objective, steps)
                    records[label] = {
                        "images": objective.images_scored,
                        "d_ins": result.insertion_auc - exact.insertion_auc,
                        "d_del": result.deletion_auc - exact.deletion_auc,
                        **(extra or {}),
                    }

                records["greedy"] = {"images": exact_obj.images_scored, "d_ins": 0.0, "d_del": 0.0}
                obj = fresh()
                steps, phases = profile_lazy(obj, EARLY_STOP_TOL, SEARCH_OPTIONS["lazy"])
                record("lazy (default)", obj, steps, phases)
                obj = fresh()
                record("occlusion + prefixes", obj, ranked_by(obj, occlusion(obj)))
                obj = fresh()
                first = obj.score_sets(np.eye(obj.n_regions, dtype=bool)).score
                record("greedy step 0 + prefixes", obj, ranked_by(obj, first))
                for label, options in args.variants.items():
                    options = dict(options)
                    tol = options.pop("early_stop", EARLY_STOP_TOL)
                    constants = {k: options.pop(k) for k in list(options) if k.isupper()}
                    saved = {k: getattr(search_module, k) for k in constants}
                    vars(search_module).update(constants)  # e.g. FINISH_SWEEPS
                    try:
                        obj = fresh()
                        steps, phases = profile_lazy(obj, tol, options)
                        record(label, obj, steps, phases)
                    finally:
                        vars(search_module).update(saved)
                for label, rec in records.items():
                    rows[(level, n, label)].append({**rec, "regions": int(real.n_regions)})
    table = {}
    for (level, n, label), group in rows.items():
        entry = {
            "regions": float(np.mean([g["regions"] for g in group])),
            "images": float(np.mean([g["images"] for g in group])),
            "mean_d_ins": round(float(np.mean([abs(g["d_ins"]) for g in group])), 4),
            "max_d_ins": round(float(max(abs(g["d_ins"]) for g in group)), 4),
            "mean_d_del": round(float(np.mean([abs(g["d_del"]) for g in group])), 4),
            "max_d_del": round(float(max(abs(g["d_del"]) for g in group)), 4),
        }
        for key in group[0]:
            if key not in ("images", "d_ins", "d_del", "regions"):
                entry[key] = round(float(np.mean([g[key] for g in group])), 2)
        table[f"{level} N~{n} {label}"] = entry
    command = (
        f"python bench/bench_search_profile.py --scenes {args.scenes} "
        f"--regions {' '.join(map(str, args.regions))} --threads {args.threads}"
        + (f" --variants '{json.dumps(args.variants)}'" if args.variants else "")
    )
    print(json.dumps({"command": command, "table": table}, indent=1))


if __name__ == "__main__":
    main()
