"""The paper's own numbers for EAGLE (docs/benchmarks.md), to print beside ours on its models."""

from __future__ import annotations

import re

# model -> task -> metric -> value
PAPER: dict[str, dict[str, dict[str, float]]] = {
    "LLaVA-1.5-7B": {
        "coco-caption": {"insertion_auc": 0.5970, "deletion_auc": 0.4554, "highest_score": 0.6259},
        "mmvp": {"insertion_auc": 0.7960, "deletion_auc": 0.7474},
        "coco-object": {"insertion_auc": 0.6395, "deletion_auc": 0.2047, "pg_box": 0.8052,
                        "pg_mask": 0.7792},
        "repope": {"insertion_auc": 0.6999, "deletion_auc": 0.2652, "amcr": 0.0844,
                   "csr_at_10": 0.7750},
    },
    "Qwen2.5-VL-3B": {
        "coco-caption": {"insertion_auc": 0.6479, "deletion_auc": 0.4345, "highest_score": 0.7039},
        "mmvp": {"insertion_auc": 0.8052, "deletion_auc": 0.7338},
        "coco-object": {"insertion_auc": 0.7353, "deletion_auc": 0.1628, "pg_box": 0.8104,
                        "pg_mask": 0.7745},
        "repope": {"insertion_auc": 0.7568, "deletion_auc": 0.1610, "amcr": 0.0849,
                   "csr_at_10": 0.8041},
    },
    "Qwen2.5-VL-7B": {
        "coco-caption": {"insertion_auc": 0.7006, "deletion_auc": 0.4597, "highest_score": 0.7578},
        "mmvp": {"insertion_auc": 0.7824, "deletion_auc": 0.6996},
        "coco-object": {"insertion_auc": 0.8109, "deletion_auc": 0.2127, "pg_box": 0.7785,
                        "pg_mask": 0.7383},
        "repope": {"insertion_auc": 0.7987, "deletion_auc": 0.0331, "amcr": 0.1442,
                   "csr_at_10": 0.7394},
    },
    "InternVL3.5-4B": {
        "coco-caption": {"insertion_auc": 0.7665, "deletion_auc": 0.4650, "highest_score": 0.8335},
        "mmvp": {"insertion_auc": 0.8012, "deletion_auc": 0.6782},
        "coco-object": {"insertion_auc": 0.8623, "deletion_auc": 0.1706, "pg_box": 0.8052,
                        "pg_mask": 0.7755},
        "repope": {"insertion_auc": 0.9114, "deletion_auc": 0.0440, "amcr": 0.0676,
                   "csr_at_10": 0.8000},
    },
}  # fmt: skip

_PATTERNS = {
    "LLaVA-1.5-7B": r"llava[-_.]?1[._]5[-_.]7b",
    "Qwen2.5-VL-3B": r"qwen2[._]5[-_.]vl[-_.]3b",
    "Qwen2.5-VL-7B": r"qwen2[._]5[-_.]vl[-_.]7b",
    "InternVL3.5-4B": r"internvl3[._]5[-_.]4b",
}


def paper_model(name: str | None) -> str | None:
    """The paper's name of a model id or path (e.g. Qwen/Qwen2.5-VL-3B-Instruct), if it is one
    of the paper's four models."""
    if not name:
        return None
    lowered = name.lower()
    return next((model for model, p in _PATTERNS.items() if re.search(p, lowered)), None)


def paper_numbers(model_name: str | None, task: str) -> dict[str, float] | None:
    model = paper_model(model_name)
    return PAPER[model][task] if model else None
