"""Our searches against the reference's loop, in one run, with a profile by stage; prints JSON.

    python bench/bench_vs_reference.py [--regions 36 64] [--fixed-threads 1]
    python bench/bench_vs_reference.py --model mid --device cuda --dtype bfloat16
    python bench/bench_vs_reference.py --v2 ../EAGLE/interpretation/efficient_attribution_v2.py

`--v2 PATH` also runs the authors' batched search (their `efficient_attribution_v2.py`, June
2026, beside its `submodular_vision.py` in their checkout; fetched by the user and imported
from there at run time, never copied into this repository) on the same label map, image and
targets: their class calls the model with a B x H x W x 3 batch of masked images, and a small
wrapper sends each batch to our adapter's `token_probs` in one call. It runs with their
driver's settings (search_scope 8, pending_samples 4, update_step 10) and their class's
defaults, at each `--v2-batch` size; its order is then measured by our engine (not counted in
its time) so that every AUC here is computed one way. `--v2-runs` times each (default 3) and
reports the median and the spread.

The reference loop is written here from docs/method.md's description, not from its code: plain
greedy, one image per model call, the region masks kept as a stack of full-size int64
arrays, each masked image handed to the processor as a PIL copy, the whole answer fed and
the softmax taken at every position. It orders the same superpixels of the same image for
the same sentence-level targets (every caption token) as every search of ours.

Reported per number of regions: wall seconds (ours: the median of `--repeats` runs; the
reference runs once, long enough to average the machine's noise), images scored, insertion
and deletion AUC and the speed-up over the reference; a profile of our greedy and default
search by stage (masking, image processing, tensor assembly, forward, softmax/gather and
checks, input checks, objective and search bookkeeping); and the model's bare batched forward
on the very batches our greedy sent, one round right after each greedy run (the ratio
reported is the median over these pairs, each timed under the same background load).
Threads: ours are timed by the adapter (one or all of torch's per kind of batch, see
devices.ThreadChooser) unless `--fixed-threads`; the reference gets the faster of the two for
its one-image calls, timed before it runs. On a shared machine compare the ratios, not the
seconds. Models: `demo` (the embedded one, a 64 x 64 scene) or `mid` (a ~25M Qwen2.5-VL
built offline with random weights, the scene scaled to 448 x 448).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import sys
import time
import types
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # test helpers

import eagle_widget as ew  # noqa: E402
from eagle_widget.engine import metrics  # noqa: E402
from eagle_widget.engine import objective as objective_module  # noqa: E402
from eagle_widget.engine.masking import fill_image  # noqa: E402
from eagle_widget.engine.objective import Objective  # noqa: E402
from eagle_widget.engine.regions import superpixels  # noqa: E402
from eagle_widget.models import hf as hf_module  # noqa: E402
from eagle_widget.models.demo.scenes import CAPTION_PROMPT, make_scene  # noqa: E402
from eagle_widget.models.devices import cpu_threads  # noqa: E402

RUNS = (  # (label, search, early_stop)
    ("greedy", "greedy", "auto"),
    ("efficient", "efficient", "auto"),
    ("lazy (default)", "lazy", "auto"),
    ("lazy, no early stop", "lazy", False),
)


class ReferenceGreedy:
    """The reference's greedy, one image per call (see the module docstring)."""

    def __init__(self, adapter, image, generation, positions, labels):
        self.adapter = adapter
        self.image = image
        self.generation = generation
        self.positions = positions
        self.n = int(labels.max()) + 1
        self.masks = np.stack([labels == k for k in range(self.n)]).astype(np.int64)
        self.areas = self.masks.reshape(self.n, -1).mean(axis=1)
        self.text, self.add_special = adapter._prompt_text(generation.prompt)
        self.images = 0

    def probs(self, image: np.ndarray) -> np.ndarray:
        adapter = self.adapter
        inputs = adapter.processor(
            text=[self.text],
            images=[Image.fromarray(image)],
            return_tensors="pt",
            add_special_tokens=self.add_special,
        )
        length = inputs["input_ids"].shape[1]
        inputs = hf_module._extend(dict(inputs), self.generation.token_ids)
        device, dtype = adapter.device, adapter.dtype
        inputs = {
            k: v.to(device, dtype) if v.is_floating_point() else v.to(device)
            for k, v in inputs.items()
        }
        with torch.inference_mode():
            logits = adapter.model(**inputs, use_cache=False).logits[0].float()
        probs = torch.softmax(logits, dim=-1).cpu().numpy()
        self.images += 1
        ids = self.generation.token_ids
        return np.array([probs[length - 1 + p, ids[p]] for p in self.positions])

    def masked(self, chosen: list[int]) -> tuple[np.ndarray, np.ndarray]:
        mask = self.masks[chosen].sum(axis=0)[..., None]
        insertion = (self.image * mask).astype(np.uint8)
        deletion = (self.image * (1 - mask)).astype(np.uint8)
        return insertion, deletion

    def run(self) -> dict:
        order: list[int] = []
        curve_insert, curve_delete = [], []
        remaining = list(range(self.n))
        while remaining:
            best, best_score, best_probs = None, -np.inf, None
            for region in remaining:
                insertion, deletion = self.masked(order + [region])
                p_insert, p_delete = self.probs(insertion), self.probs(deletion)
                score = p_insert.mean() + (1 - p_delete).mean()
                if score > best_score:
                    best, best_score, best_probs = region, score, (p_insert, p_delete)
            order.append(best)
            remaining.remove(best)
            curve_insert.append(best_probs[0].mean())
            curve_delete.append(best_probs[1].mean())
        # the last step shows every region (p_full) and removes every region (p_blank)
        p_full, p_blank = curve_insert[-1], curve_delete[-1]
        x = np.concatenate([[0.0], np.cumsum(self.areas[order])])
        ins = np.array([p_blank, *curve_insert])
        dele = np.array([p_full, *curve_delete])
        return {
            "images": self.images,
            "insertion_auc": float(np.trapezoid(ins, x)),
            "deletion_auc": float(np.trapezoid(dele, x)),
        }


V2_SETTINGS = {  # label -> their class's keyword arguments
    "their V2, 8/4/10": {"search_scope": 8, "pending_samples": 4, "update_step": 10},
    "their V2, class defaults": {},
}


def load_authors_v2(path: Path):
    """Their EfficientMLLMSubModularExplanationVisionV2, imported from their checkout."""
    os.environ.setdefault("TQDM_DISABLE", "1")  # their progress bars, on every step
    path = Path(path).resolve()
    if not (path.is_file() and (path.parent / "submodular_vision.py").is_file()):
        raise SystemExit(
            f"--v2: {path} is not efficient_attribution_v2.py beside submodular_vision.py"
        )
    try:
        import cv2  # noqa: F401
    except ImportError:  # their two files import it and never call it
        sys.modules["cv2"] = types.ModuleType("cv2")
    package = types.ModuleType("authors_interpretation")
    package.__path__ = [str(path.parent)]  # their package, without its __init__'s imports
    sys.modules["authors_interpretation"] = package
    module = importlib.import_module(f"authors_interpretation.{path.stem}")
    return module.EfficientMLLMSubModularExplanationVisionV2


class BatchesToProtocol:
    """Their model interface (called with a B x H x W x 3 float batch, returns B x T target
    probabilities) answered by one token_probs call of our adapter per batch."""

    def __init__(self, adapter, generation, positions):
        self.adapter, self.generation, self.positions = adapter, generation, positions
        self.device = torch.device("cpu")  # where they build their masks; the adapter moves it
        self.images = 0

    def __call__(self, batch):
        if batch.dim() == 3:
            batch = batch[None]
        arrays = batch.round().clamp(0, 255).to(torch.uint8).cpu().numpy()
        self.images += len(arrays)
        probs = self.adapter.token_probs(list(arrays), self.generation, self.positions)
        return torch.as_tensor(np.asarray(probs), dtype=torch.float32)


def measured_order(adapter, image, generation, positions, labels, order) -> dict:
    """Insertion and deletion AUC of a region order, scored by our engine (every prefix)."""
    n = int(labels.max()) + 1
    ids = [int(generation.token_ids[p]) for p in positions]
    objective = Objective(adapter, generation, positions, ids, image, fill_image(image, 0), labels)
    prefixes = np.zeros((n - 1, n), dtype=bool)
    for k in range(1, n):
        prefixes[k - 1 :, order[k - 1]] = True
    scores = objective.score_sets(prefixes)
    p_full, p_blank = objective.references()
    insertion = np.vstack([p_blank, scores.probs_insert, p_full])
    deletion = np.vstack([p_full, scores.probs_delete, p_blank])
    areas = np.concatenate([[0.0], np.cumsum(objective.areas[np.asarray(order)])])
    areas[-1] = 1.0
    return {
        "insertion_auc": metrics.curve_auc(insertion, areas),
        "deletion_auc": metrics.curve_auc(deletion, areas),
    }


def run_authors_v2(v2_class, adapter, image, generation, positions, labels, batch, kwargs):
    """One run of their search; returns (seconds, images, order)."""
    model = BatchesToProtocol(adapter, generation, positions)
    with contextlib.redirect_stdout(io.StringIO()):  # their class prints its device
        search = v2_class(model, batch_size=batch or None, **kwargs)
    masks = [(labels == k).astype(np.float32)[..., None] for k in range(int(labels.max()) + 1)]
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        chosen, _ = search(image.astype(np.float32), masks)
    seconds = time.perf_counter() - start
    order = [int(labels[np.asarray(m)[..., 0] > 0][0]) for m in chosen]
    if sorted(order) != list(range(len(masks))):
        raise RuntimeError("their search did not return every region once")
    return seconds, model.images, order


class StageTimer:
    """Wall time per stage of our pipeline, by wrapping the functions that do each stage."""

    def __init__(self, adapter):
        self.seconds: dict[str, float] = {}
        self.patches = []
        self._wrap(objective_module, "compose", "masking")
        self._wrap(Objective, "keep_probs", "objective")
        self._wrap(adapter, "token_probs", "adapter")
        self._wrap(adapter, "_score", "score")
        self._wrap(adapter, "_encode", "image processing")
        self._wrap(hf_module, "_extend", "tensor assembly")
        self._wrap(adapter.model, "forward", "forward")

    def _wrap(self, owner, name, stage):
        inner = getattr(owner, name)
        self.patches.append((owner, name, owner.__dict__.get(name)))

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                _sync()
                self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start

        setattr(owner, name, timed)

    def restore(self):
        for owner, name, original in reversed(self.patches):
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)

    def profile(self, total: float, runs: int) -> dict[str, float]:
        """Seconds per run by stage, over `runs` runs that took `total` seconds."""
        s = {k: v / runs for k, v in self.seconds.items()}
        total /= runs
        stages = {
            "masking": s.get("masking", 0.0),
            "image processing": s.get("image processing", 0.0),
            "tensor assembly": s.get("tensor assembly", 0.0),
            "forward": s.get("forward", 0.0),
            "softmax/gather and checks": s.get("score", 0.0)
            - s.get("image processing", 0.0)
            - s.get("tensor assembly", 0.0)
            - s.get("forward", 0.0),
            "adapter input checks": s.get("adapter", 0.0) - s.get("score", 0.0),
            "objective (cache, validation)": s.get("objective", 0.0)
            - s.get("masking", 0.0)
            - s.get("adapter", 0.0),
            "search and setup (SLIC, bookkeeping)": total - s.get("objective", 0.0),
        }
        return {k: round(v, 3) for k, v in stages.items()}


def _sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def reference_threads(reference, image, tries: int = 30) -> int:
    """The faster thread count for the reference's one-image calls: 1 or torch's."""
    seconds = {}
    for count in sorted({1, torch.get_num_threads()}):
        with cpu_threads(count):
            reference.probs(image)
            start = time.perf_counter()
            for _ in range(tries):
                reference.probs(image)
            seconds[count] = time.perf_counter() - start
    return min(seconds, key=seconds.get)


def threads_for(adapter, size: int) -> int | None:
    """The thread count our batches of `size` images ran on: as fixed, or as timed."""
    if adapter.threads is not None or adapter.thread_choice is None:
        return adapter.threads
    key = ("score", size.bit_length(), torch.get_num_threads())
    return adapter.thread_choice.counts().get(key)


class BareForward:
    """The model call alone on the batches our greedy sent, inputs prepared beforehand, each
    on the thread count our calls settled on for its size; one round per greedy run, right
    after it, so that each pair sees the same background load."""

    def __init__(self, adapter, batches, generation, positions):
        self.adapter = adapter
        self.images = sum(len(images) for images in batches)
        stop = max(positions)
        self.prepared = []
        with torch.inference_mode():
            for images in batches:
                inputs = adapter._encode(images, generation.prompt)
                length = inputs["input_ids"].shape[1]
                rows = torch.tensor([length - 1 + p for p in positions], device=adapter.device)
                extended = hf_module._extend(inputs, generation.token_ids[:stop])
                self.prepared.append((extended, rows, threads_for(adapter, len(images))))
        self.per_image()  # warm-up

    def per_image(self) -> float:
        """Seconds an image, one round over every prepared batch."""
        model = self.adapter.model
        forward = type(model).forward  # the class's: StageTimer's stopwatch is on the instance
        with torch.inference_mode():
            _sync()
            start = time.perf_counter()
            for inputs, rows, threads in self.prepared:
                with cpu_threads(threads):
                    forward(model, **inputs, logits_to_keep=rows, use_cache=False)
            _sync()
        return (time.perf_counter() - start) / self.images


def authors_v2_rows(v2_class, adapter, image, generation, positions, labels, args) -> list:
    """Their V2 at each setting: the batch size that is fastest for it, its median of runs
    and their spread, its order's AUCs by our engine."""
    rows = []
    for label, kwargs in V2_SETTINGS.items():
        best = None
        for batch in args.v2_batch:
            runs = [
                run_authors_v2(
                    v2_class, adapter, image, generation, positions, labels, batch, kwargs
                )
                for _ in range(args.v2_runs)
            ]
            seconds = [r[0] for r in runs]
            if best is None or np.median(seconds) < np.median(best[1]):
                best = (batch, seconds, runs[0][1], runs[0][2])
        batch, seconds, images, order = best
        rows.append(
            {
                "run": f"{label}, batch {batch or 'all'}",
                "seconds": float(np.median(seconds)),
                "spread_seconds": [round(min(seconds), 3), round(max(seconds), 3)],
                "images": images,
                **measured_order(adapter, image, generation, positions, labels, order),
            }
        )
    return rows


def load(args):
    scene = make_scene(args.seed, n_objects=3)
    if args.model == "demo":
        return ew.load_demo_model(device=args.device, dtype=args.dtype), scene.image
    import tiny_models

    model, processor = tiny_models.build_mid_qwen2_5_vl()
    adapter = ew.HFModel(model, processor, device=args.device, dtype=args.dtype or "float32")
    image = np.asarray(Image.fromarray(scene.image).resize((448, 448), Image.NEAREST))
    return adapter, image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("demo", "mid"), default="demo")
    parser.add_argument("--regions", type=int, nargs="+", default=[36, 64])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (torch's)")
    parser.add_argument(
        "--fixed-threads", type=int, default=None, help="our calls on this many (default: timed)"
    )
    parser.add_argument("--seed", type=int, default=1, help="scene seed (3 objects)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each of ours (median)")
    parser.add_argument("--new-tokens", type=int, default=16, help="answer length, mid model")
    parser.add_argument(
        "--bare-images",
        type=int,
        default=None,
        help="about this many of greedy's images, every k-th batch, for the bare forward "
        "(default: all of them for demo, 1024 for mid)",
    )
    parser.add_argument("--v2", type=Path, default=None, help="their efficient_attribution_v2.py")
    parser.add_argument(
        "--v2-batch", type=int, nargs="+", default=[32, 64, 0], help="their batch_size (0: all)"
    )
    parser.add_argument("--v2-runs", type=int, default=3, help="timed runs of each V2 setting")
    args = parser.parse_args()
    v2_class = load_authors_v2(args.v2) if args.v2 else None
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    adapter, image = load(args)
    if args.fixed_threads is not None:
        adapter.threads = args.fixed_threads
    generation = adapter.generate(image, CAPTION_PROMPT, max_new_tokens=args.new_tokens)
    positions = list(range(len(generation)))
    report = {
        "command": " ".join(["python", *sys.argv]),
        "model": args.model,
        "device": str(adapter.device),
        "dtype": str(adapter.dtype).removeprefix("torch."),
        "torch_threads": torch.get_num_threads(),
        "adapter_threads": adapter.threads if adapter.threads is not None else "timed",
        "batch_size": adapter.batch_size,
        "image": list(image.shape[:2]),
        "caption": generation.text,
        "targets": len(positions),
        "runs": [],
    }
    for n in args.regions:
        labels = superpixels(image, n)
        reference = ReferenceGreedy(adapter, image, generation, positions, labels)
        ref_threads = (
            adapter.threads if adapter.threads is not None else reference_threads(reference, image)
        )
        reference.images = 0
        start = time.perf_counter()
        with cpu_threads(ref_threads):
            ref = reference.run()
        ref_seconds = time.perf_counter() - start
        rows = [{"run": "reference greedy", "seconds": ref_seconds, **ref}]
        profiles = {}
        for label, search, early_stop in RUNS:
            explainer = ew.Explainer(adapter, n_regions=n, search=search, early_stop=early_stop)
            recorded = []
            most = args.bare_images or (10**6 if args.model == "demo" else 1024)
            stride = -(-n * (n + 1) // most)  # keep every stride-th batch, spread over the run
            sent = [0]
            timer = StageTimer(adapter)
            score = adapter._score
            if label == "greedy":  # keep the images it scores, for the bare forward

                def keeping(images, *rest, _score=score, recorded=recorded, sent=sent, k=stride):
                    if sent[0] % k == 0:
                        recorded.append(list(images))  # one batch as sent
                    sent[0] += 1
                    return _score(images, *rest)

                adapter._score = keeping
            times, bare, ratios = [], None, []
            try:
                for _ in range(args.repeats):  # the median: one short run is at the mercy of noise
                    start = time.perf_counter()
                    result = explainer.explain(image, generation=generation)
                    times.append(time.perf_counter() - start)
                    if recorded:  # the first run's batches are enough
                        adapter._score = score
                        bare = bare or BareForward(adapter, recorded, generation, positions)
                        pair = bare.per_image()
                        ratios.append((times[-1] / result.images_scored / pair, pair))
            finally:
                timer.restore()
                adapter.__dict__.pop("_score", None)
            seconds = float(np.median(times))
            rows.append(
                {
                    "run": f"ours {label}",
                    "seconds": seconds,
                    "images": result.images_scored,
                    "insertion_auc": result.insertion_auc,
                    "deletion_auc": result.deletion_auc,
                }
            )
            if label in ("greedy", "lazy (default)"):
                profiles[label] = timer.profile(sum(times), len(times))
            if label == "greedy":  # robust to load that changes between the two timings
                greedy_over_own_forward = sum(times) / timer.seconds["forward"]
            if recorded:
                greedy_over_bare = float(np.median([r for r, _ in ratios]))
                per_image = float(np.median([b for _, b in ratios]))
                ours_threads = threads_for(adapter, adapter.batch_size)
        if v2_class is not None:
            with cpu_threads(ref_threads):  # their calls are timed as the reference's are
                rows += authors_v2_rows(
                    v2_class, adapter, image, generation, positions, labels, args
                )
        for row in rows:
            row["speedup"] = round(ref_seconds / row["seconds"], 1)
            row["ms_per_image"] = round(1000 * row["seconds"] / row["images"], 2)
            row["seconds"] = round(row["seconds"], 3)
            row["d_ins_auc"] = round(row["insertion_auc"] - ref["insertion_auc"], 4)
            row["d_del_auc"] = round(row["deletion_auc"] - ref["deletion_auc"], 4)
            row["insertion_auc"] = round(row["insertion_auc"], 4)
            row["deletion_auc"] = round(row["deletion_auc"], 4)
        report["runs"].append(
            {
                "regions_asked": n,
                "regions": int(labels.max()) + 1,
                "reference_threads": ref_threads,
                "our_full_batch_threads": ours_threads,
                "table": rows,
                "profile_seconds": profiles,
                "bare_forward_ms_per_image": round(1000 * per_image, 3),
                "greedy_over_bare_forward": round(greedy_over_bare, 2),  # median of the pairs
                "greedy_over_its_own_forward_time": round(greedy_over_own_forward, 2),
            }
        )
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
