"""The paper's four benchmarks (COCO captions and objects, MMVP, RePOPE) on any model.

    items = ew.benchmarks.load("coco-object", "list.json", "coco/val2017")
    result = ew.benchmarks.evaluate(model, items, out="runs/object")
    print(result.table())

Task readers (tasks.py), COCO masks (coco.py), the metrics (engine/metrics.py owns them), the
evaluation (evaluation.py), the report (report.py) and list building from annotations
(prepare.py).
"""

from ..engine.metrics import (
    amcr,
    box_mask,
    csr,
    curve_auc,
    deletion_auc,
    highest_score,
    insertion_auc,
    pointing_game,
    sensitive_targets,
)
from .coco import polygon_mask, rle_decode, rle_encode, segmentation_mask
from .evaluation import ItemResult, Options, evaluate, evaluate_item
from .prepare import prepare
from .report import EvaluationResult, aggregate
from .tasks import TASKS, Item, load, load_lists

__all__ = [
    "TASKS",
    "EvaluationResult",
    "Item",
    "ItemResult",
    "Options",
    "aggregate",
    "amcr",
    "box_mask",
    "csr",
    "curve_auc",
    "deletion_auc",
    "evaluate",
    "evaluate_item",
    "highest_score",
    "insertion_auc",
    "load",
    "load_lists",
    "pointing_game",
    "polygon_mask",
    "prepare",
    "rle_decode",
    "rle_encode",
    "segmentation_mask",
    "sensitive_targets",
]
