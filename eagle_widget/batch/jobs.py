"""The batch runner: items in, one job per item on workers, every outcome to one writer.

`run_jobs` knows nothing of models or explanations. A worker calls `setup()` once (load
a model) and then `work(context, item)` per item; the driver hands out items one at a
time and passes each `Outcome` to `write`, the only code that touches the output. The
local back end is a loop in this process; the Ray back end (`ray_backend`, imported only
when asked for) runs one actor per worker. Both call `write` the same way, so both give
the same files. `setup` and `work` must be top-level functions (or `functools.partial` objects
of them) so that Ray can ship them to its workers by reference.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..console import describe, say
from .outcomes import Outcome, WorkerStats

RAY_INSTALL = 'pip install "eagle-widget[ray]"'
RAY_CLIENT = "ray://"  # an address of a Ray Client server, which needs grpcio


class RayNotInstalled(RuntimeError):
    """Workers or a cluster were asked for, but Ray is not installed."""

    def __init__(self, what: str = "Ray is not installed"):
        super().__init__(f"{what}; install it with: {RAY_INSTALL}")


def ray_wanted(workers: int | None, ray: str | None) -> bool:
    """Workers or a cluster address mean Ray; neither means this process alone."""
    return workers is not None or ray is not None


def check_ray_installed(address: str | None = None) -> None:
    """Raise RayNotInstalled now, before anything slow starts: Ray is missing, or a ray://
    address needs Ray Client's grpcio (the `ray` extra brings both)."""
    if importlib.util.find_spec("ray") is None:
        raise RayNotInstalled()
    if str(address or "").startswith(RAY_CLIENT) and importlib.util.find_spec("grpc") is None:
        raise RayNotInstalled(f"{address} goes through Ray Client, which needs grpcio")


def run_jobs(
    items: Sequence,
    work: Callable[[Any, Any], Any],
    *,
    setup: Callable[[], Any],
    write: Callable[[Outcome], None],
    workers: int | None = None,
    ray: str | None = None,
    cpus_per_worker: int = 1,
    gpus_per_worker: float = 0.0,
    label: Callable[[Any], str] = str,
    size: Callable[[Any], int] = lambda result: 0,
    log_dir=None,
    progress: bool = True,
    pack: Callable[[Any], Any] | None = None,
) -> list[WorkerStats]:
    """Run `work` on every item and hand each outcome to `write`; returns per-worker stats.

    `workers=None, ray=None`: this process, one item after another. Otherwise Ray:
    `ray=None` starts a private local cluster (loopback only, its logs copied to `log_dir`)
    unless this process is already connected to one; `"auto"` joins the cluster of
    RAY_ADDRESS; any other string is a cluster address (`ray://head:10001`). An error in
    `work` fails its item only; an error in `setup` ends the run. `size(result)` counts
    the work of a result (images scored) for the progress bar and the stats.
    `progress=False`: no line or bar of its own per item, for a caller whose `write` prints
    one (evaluate), so that a run shows one progress line per item, on one clock.
    `pack(item)`: what goes to a Ray worker for an item, made as it is handed out (the
    image's bytes, read here: a worker on another machine need not see this one's files);
    `write` gets the item itself. Not used in this process.
    """
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if cpus_per_worker < 1:
        raise ValueError(f"cpus_per_worker must be at least 1, got {cpus_per_worker}")
    if gpus_per_worker < 0:
        raise ValueError(f"gpus_per_worker must be 0 or more, got {gpus_per_worker}")
    if not ray_wanted(workers, ray):
        return _run_here(items, work, setup, write, label if progress else None, size)
    check_ray_installed(ray)
    from . import ray_backend

    return ray_backend.run(
        items, work, setup=setup, write=write, workers=workers, address=ray,
        cpus_per_worker=cpus_per_worker, gpus_per_worker=gpus_per_worker, label=label,
        size=size, log_dir=log_dir, progress=progress, pack=pack,
    )  # fmt: skip


def _run_here(items, work, setup, write, label, size) -> list[WorkerStats]:
    stats = WorkerStats(0)
    if not items:
        return [stats]
    context = setup()
    for count, item in enumerate(items, start=1):
        if label is not None:
            say(f"[{count}/{len(items)}] {label(item)}")
        began = time.perf_counter()
        try:
            outcome = Outcome(item, result=work(context, item))
        except KeyboardInterrupt:
            raise
        except Exception as error:  # the item fails; the batch goes on
            outcome = Outcome(item, error=describe(error))
        outcome.seconds = time.perf_counter() - began
        stats.add(outcome, size(outcome.result) if outcome.ok else 0)
        write(outcome)
    return [stats]
