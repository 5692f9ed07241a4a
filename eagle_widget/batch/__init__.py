"""Batches: explain many images, here or on Ray workers, with one writer and resumable."""

from .explain import BatchReport, read_manifest, run_batch
from .jobs import RayNotInstalled, run_jobs
from .outcomes import Outcome, WorkerStats

__all__ = [
    "BatchReport",
    "Outcome",
    "RayNotInstalled",
    "WorkerStats",
    "read_manifest",
    "run_batch",
    "run_jobs",
]
