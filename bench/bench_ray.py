"""Items per second of a demo-model batch: one process, Ray with 1 worker, Ray with N workers.

    python bench/bench_ray.py [--items 16] [--regions 24] [--workers 1 2]
    python bench/bench_ray.py --workers 1 2 4 8 --gpus-per-worker 1   # G GPUs
    python bench/bench_ray.py --workers 1 2 4 --nodes 2               # two nodes

Prints JSON: the cluster's start-up seconds, and per run the wall seconds of the batch
(Ray start-up excluded), items/s, images/s and the overhead per item (wall time per item
minus the mean time a worker spent explaining it). The run without Ray uses one torch
thread, as each CPU actor does. Starts a private local Ray (loopback only); on a machine
shared with other users run it inside `unshare -n` after `ip link set lo up`. With
`--gpus-per-worker 1` every worker holds the model on its own GPU: the scaling check.
`--nodes 2`: a second node joins the cluster (`ray start --address`, as a user adds a
machine) and the runs join it as a user's driver does (`ray="auto"`), so the workers spread
over two nodes and every image travels as bytes; on one machine the point is the overhead
per item, not a speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=16)
    parser.add_argument("--regions", type=int, default=24)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--gpus-per-worker", type=float, default=0.0)
    parser.add_argument("--nodes", type=int, default=1, choices=[1, 2])
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import ray
    import torch
    from PIL import Image

    from eagle_widget.batch import run_batch
    from eagle_widget.batch.ray_backend import LocalCluster
    from eagle_widget.models.demo.scenes import make_scene

    folder = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    manifest = folder / "items.jsonl"
    with manifest.open("w") as f:
        for i in range(args.items):
            Image.fromarray(make_scene(100 + i).image).save(folder / f"{i}.png")
            f.write(json.dumps({"image": f"{i}.png", "id": f"item{i}"}) + "\n")
    options = {"n_regions": args.regions, "search": "lazy"}
    runs = []

    def measure(name: str, **where) -> None:
        began = time.perf_counter()
        report = run_batch(manifest, "demo", out=folder / name, **where, **options)
        wall = time.perf_counter() - began
        busy = sum(w.seconds for w in report.workers)
        images = sum(w.work for w in report.workers)
        runs.append({
            "run": name, "items": report.done, "failed": report.failed, "wall_s": round(wall, 2),
            "items_per_s": round(report.done / wall, 3), "images_per_s": round(images / wall, 1),
            "overhead_per_item_s": round((wall - busy / len(report.workers)) / args.items, 3),
            "per_worker_items": [w.items for w in report.workers],
        })  # fmt: skip

    if not args.gpus_per_worker:
        torch.set_num_threads(1)
        measure("no-ray")
    cpus = max(args.workers)  # one CPU per actor (GPU actors too)
    began = time.perf_counter()
    with LocalCluster(cpus=-(-cpus // args.nodes), gpus=None) as cluster:
        cluster.connect()
        join = {}
        if args.nodes == 2:
            cluster.add_node(cpus=cpus // 2)
            ray.shutdown()
            os.environ["RAY_ADDRESS"] = cluster.address
            join = {"ray": "auto"}
        startup = time.perf_counter() - began
        for workers in args.workers:
            measure(f"ray-{workers}", workers=workers, gpus_per_worker=args.gpus_per_worker,
                    **join)  # fmt: skip
        ray.shutdown()
    print(json.dumps({
        "items": args.items, "regions": args.regions, "cpus": os.cpu_count(), "nodes": args.nodes,
        "gpus_per_worker": args.gpus_per_worker, "ray_startup_s": round(startup, 1), "runs": runs,
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
