"""Benchmark inputs in the public formats, generated from the demo model's scenes.

`write_dataset(folder, demo, n)` writes what a user would download, made from scenes with
known masks: scene images, a COCO captions file and a COCO instances file (the shapes as
categories; polygons, compressed and uncompressed RLE in turn), MMVP's Questions.csv with
its images, and POPE-style yes/no questions. The questions are in the demo's own words
("Is there a blue square?"); the RePOPE file holds the demo model's known hallucinations
(scenes with a yellow circle and no blue square where it says "yes") and some questions it
answers right, which `prepare` must drop.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from PIL import Image

from eagle_widget.benchmarks import rle_encode
from eagle_widget.models.demo.scenes import SHAPES, question
from eagle_widget.models.demo.training.quality import BLUE_SQUARE, eval_scenes, wrong_yes_cases

CAPTION_PROMPT = "Describe the image."  # the demo's caption prompt, given as --prompt
QUESTION_TEMPLATE = "{question}"  # the demo answers bare questions, not the RePOPE template
CATEGORIES = [{"id": i + 1, "name": shape} for i, shape in enumerate(SHAPES)]


def mask_polygon(mask: np.ndarray) -> list[float]:
    """The outline of a mask as one flat COCO polygon through the pixel corners' midlines."""
    from skimage.measure import find_contours

    contour = max(find_contours(np.pad(mask, 1).astype(float), 0.5), key=len)
    points = contour[:, ::-1] - 1 + 0.5  # (row, col) -> (x, y) in pixel-centre coordinates
    return [round(float(v), 2) for v in points.ravel()]


def write_dataset(folder: Path, demo, n: int, repope_scan: int | None = None) -> dict:
    """Write n scenes (captions, instances, MMVP) and about n RePOPE questions; returns paths
    and the scenes (by file name) for ground truth."""
    folder = Path(folder)
    images = folder / "images"
    mmvp_images = folder / "mmvp"
    images.mkdir(parents=True, exist_ok=True)
    mmvp_images.mkdir(exist_ok=True)
    scenes = eval_scenes(n, start=500)
    truth = {}
    coco_images, captions, instances = [], [], []
    rows = []
    for i, scene in enumerate(scenes):
        name = f"scene-{i:04d}.png"
        Image.fromarray(scene.image).save(images / name)
        Image.fromarray(scene.image).save(mmvp_images / f"{i + 1}.png")
        truth[name] = scene
        coco_images.append({"id": i, "file_name": name, "height": 64, "width": 64})
        captions.append({"id": i, "image_id": i, "caption": scene.caption})
        for k, obj in enumerate(scene.objects):
            x0, y0, x1, y1 = obj.box
            kind = (i + k) % 3
            segmentation = (
                [mask_polygon(obj.mask)] if kind == 0 else rle_encode(obj.mask, kind == 1)
            )
            instances.append(
                {
                    "id": len(instances),
                    "image_id": i,
                    "category_id": SHAPES.index(obj.shape) + 1,
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "segmentation": segmentation,
                    "iscrowd": 0,
                }
            )
        colour, shape = scene.pairs[0] if i % 2 else ("green", "triangle")
        rows.append(
            {
                "Index": i + 1,
                "Question": question(colour, shape),
                "Options": "(a) yes (b) no",
                "Correct Answer": "(a)" if scene.has(colour, shape) else "(b)",
            }
        )
    (folder / "captions.json").write_text(
        json.dumps({"images": coco_images, "annotations": captions}), encoding="utf-8"
    )
    (folder / "instances.json").write_text(
        json.dumps({"images": coco_images, "annotations": instances, "categories": CATEGORIES}),
        encoding="utf-8",
    )
    with open(folder / "Questions.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    # RePOPE: the model's hallucinated blue squares, and as many scenes it answers right
    wrong = wrong_yes_cases(demo.model, repope_scan or 40 * n)[:n]
    right = [s for s in scenes if not s.has(*BLUE_SQUARE)][: max(2, n // 4)]
    questions = []
    pope = folder / "pope"
    pope.mkdir(exist_ok=True)
    for j, scene in enumerate([s for _, s in wrong] + right):
        name = f"pope-{j:04d}.png"
        Image.fromarray(scene.image).save(pope / name)
        truth[name] = scene
        questions.append(
            {"question_id": j, "image": name, "text": question(*BLUE_SQUARE), "label": "no"}
        )
    (folder / "repope.jsonl").write_text(
        "".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8"
    )
    return {
        "folder": folder,
        "images": images,
        "mmvp_images": mmvp_images,
        "pope_images": pope,
        "captions": folder / "captions.json",
        "instances": folder / "instances.json",
        "mmvp": folder / "Questions.csv",
        "repope": folder / "repope.jsonl",
        "truth": truth,
        "hallucinations": len(wrong),
    }


def run_cli(args, model=None):
    """The command line with a loader that counts loads (and fails when given no model)."""
    from eagle_widget import cli

    loads = []

    def load(spec, device, dtype):
        loads.append(spec)
        if model is None:
            raise AssertionError("the model was loaded")
        return model

    return cli.main([str(a) for a in args], load=load), loads
