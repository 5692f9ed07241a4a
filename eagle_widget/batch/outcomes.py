"""What a batch item came to, and what each worker did: shared by both back ends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Outcome:
    """What one item came to: the job's result, or the one-line message of its error."""

    item: Any
    result: Any = None
    error: str | None = None
    worker: int = 0
    seconds: float = 0.0
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class WorkerStats:
    """Per-worker throughput for the summary: items, failures, busy seconds, work units."""

    worker: int
    items: int = 0
    failed: int = 0
    seconds: float = 0.0
    work: int = 0
    # where a Ray actor ran: {"node": node id, "gpus": Ray's GPU ids, "cuda_visible_devices"}
    where: dict | None = None

    def add(self, outcome: Outcome, work: int) -> None:
        self.items += 1
        self.failed += not outcome.ok
        self.seconds += outcome.seconds
        self.work += work

    def line(self, unit: str = "images") -> str:
        rate = self.work / self.seconds if self.seconds else 0.0
        per_item = self.seconds / self.items if self.items else 0.0
        place = ""
        if self.where:
            gpus = self.where.get("gpus") or []
            device = f", GPU {','.join(map(str, gpus))}" if gpus else ", CPU"
            place = f" on node {self.where['node'][:8]}{device}"
        return (
            f"worker {self.worker}{place}: {self.items} items ({self.failed} failed), {self.work} "
            f"{unit} in {self.seconds:.1f} s busy | {rate:.1f} {unit}/s, {per_item:.1f} s/item"
        )
