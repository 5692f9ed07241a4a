"""All four benchmarks on the demo model over generated items; prints each table and JSON.

    python bench/bench_evaluate.py [--items 100] [--regions 32] [--search lazy]
                                              [--threads 1] [--out FOLDER]

The inputs are made as tests/benchmark_data.py makes them (scene images, COCO captions and
instances with polygons and RLE, MMVP's csv, POPE-style questions holding the demo model's
own hallucinations); `eagle-widget prepare` builds each task's list and `eagle-widget
evaluate` runs it, both through the command line's functions. Prints the table of every
task, seconds per item, and checks the demo's floors: pointing game (box) >= 0.95,
CSR@10% >= 0.9.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # test helpers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100, help="scenes and hallucinations")
    parser.add_argument("--regions", type=int, default=32)
    parser.add_argument("--search", default="lazy")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="keep the runs here")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    from benchmark_data import CAPTION_PROMPT, QUESTION_TEMPLATE, write_dataset

    import eagle_widget as ew
    from eagle_widget import cli

    model = ew.load_demo_model()
    folder = args.out or Path(tempfile.mkdtemp(prefix="bench-evaluate-"))
    began = time.perf_counter()
    data = write_dataset(folder / "data", model, args.items, repope_scan=40 * args.items)
    sources = {
        "coco-caption": ("captions", "images", CAPTION_PROMPT),
        "coco-object": ("instances", "images", CAPTION_PROMPT),
        "mmvp": ("mmvp", "mmvp_images", QUESTION_TEMPLATE),
        "repope": ("repope", "pope_images", QUESTION_TEMPLATE),
    }
    figures = {"dataset_seconds": round(time.perf_counter() - began, 1), "tasks": {}}
    load = lambda spec, device, dtype: model  # noqa: E731
    for task, (source, images, prompt) in sources.items():
        listed = folder / f"demo-{task}.json"
        began = time.perf_counter()
        prepare = ["prepare", task, "--annotations", data[source], "--images", data[images],
                   "--prompt", prompt, "--out", listed]  # fmt: skip
        code = cli.main([str(a) for a in prepare], load=load)
        prepared = time.perf_counter() - began
        run = folder / f"run-{task}"
        began = time.perf_counter()
        evaluate = ["evaluate", task, "--list", listed, "--images", data[images],
                    "--prompt", prompt, "--regions", args.regions, "--search", args.search,
                    "--out", run]  # fmt: skip
        code = cli.main([str(a) for a in evaluate], load=load) or code
        seconds = time.perf_counter() - began
        saved = json.loads((run / "metrics.json").read_text())["metrics"]
        figures["tasks"][task] = {
            "exit": code,
            "prepare_seconds": round(prepared, 1),
            "seconds_per_item": round(seconds / max(1, saved["items"]), 2),
            **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in saved.items()},
        }
        print(f"\n## {task}\n\n" + (run / "table.md").read_text(), file=sys.stderr)
    object_pg = figures["tasks"]["coco-object"]["pg_box"]
    csr = figures["tasks"]["repope"].get("csr_at_10")
    figures["checks"] = {"pg_box >= 0.95": object_pg >= 0.95, "csr_at_10 >= 0.9": csr >= 0.9}
    figures["settings"] = vars(args) | {"out": str(folder)}
    print(json.dumps(figures, indent=1))
    if not all(figures["checks"].values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
