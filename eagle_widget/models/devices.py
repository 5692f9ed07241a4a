"""Devices, dtypes and batch sizes for the torch adapters."""

from __future__ import annotations

import ctypes
import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float": torch.float32,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
}
MAX_BATCH = 64
CPU_BATCH = 8
# A small model's batch on the CPU: its matrix products only fill two cores from about 16
# images on (the demo model: 2.0 ms an image at 8, 1.5 ms at 32 on two idle cores).
SMALL_CPU_BATCH = 32
TARGET_ROWS = 64  # logit rows per image the estimate leaves room for (a 64-token sentence)
# Below this many parameters a CPU model's threads are chosen by timing (ThreadChooser): on
# idle cores its batches run faster on all of them, beside other jobs a second thread waits
# for a core (bench_threads.py: the demo model and a 23M Qwen2.5-VL were 2.5x to 10x slower
# on two threads under load).
SMALL_MODEL_PARAMETERS = 100_000_000


def resolve_device(device: str | torch.device | None) -> torch.device:
    """The device to run on: the one asked for (checked), else cuda, then mps, then cpu."""
    if device is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        result = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"device must be 'cpu', 'cuda', 'cuda:N', 'mps' or a torch.device, got {device!r}"
        ) from None
    if result.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for but CUDA is not available here")
    if result.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r} was asked for but MPS is not available here")
    return result


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """A torch floating dtype from a name or dtype; None picks one that suits the device."""
    if dtype is None:
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device.type == "mps":
            return torch.float16
        return torch.float32
    if isinstance(dtype, torch.dtype):
        if dtype in DTYPES.values():
            return dtype
    elif isinstance(dtype, str) and dtype.lower().removeprefix("torch.") in DTYPES:
        return DTYPES[dtype.lower().removeprefix("torch.")]
    raise ValueError(
        f"dtype must be 'float32', 'float16', 'bfloat16' or the torch dtype, got {dtype!r}"
    )


def default_batch_size(model, sequence_length: int) -> int:
    """Images per forward pass that fit the device's free memory (an estimate, halved on OOM).

    Inference keeps one layer's activations at a time: about sequence x (3 x intermediate +
    8 x hidden) values per image, plus the vision tower's (counted as much again), plus the
    logits at up to TARGET_ROWS target positions. CPU and MPS get CPU_BATCH, a small model
    on the CPU SMALL_CPU_BATCH.
    """
    device = model.device
    if device.type == "cpu" and is_small(parameter_count(model)):
        return SMALL_CPU_BATCH
    if device.type != "cuda":
        return CPU_BATCH
    free, _ = torch.cuda.mem_get_info(device)
    free += torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)  # cached
    text = model.config.get_text_config()
    hidden = int(getattr(text, "hidden_size", 4096))
    inner = int(getattr(text, "intermediate_size", 4 * hidden) or 4 * hidden)
    per_image = sequence_length * (3 * inner + 8 * hidden) * torch.finfo(model.dtype).bits // 8
    per_image = 2 * per_image  # the vision tower and the allocator's slack
    per_image += TARGET_ROWS * int(text.vocab_size) * 6  # logits at the targets, and a float copy
    return max(1, min(MAX_BATCH, int(0.6 * free // max(per_image, 1))))


def is_out_of_memory(error: BaseException) -> bool:
    """A CUDA or MPS allocation failure (worth retrying with a smaller batch)."""
    if isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def release_memory(device: torch.device) -> None:
    """Hand cached blocks back after an out-of-memory error, before retrying."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()


# glibc maps a large freed block back to the OS and the next forward faults it in page by
# page again: a quarter of a small model's time on two threads (bench_vs_reference.py, greedy
# at 63 regions: 2.2 against 1.65 ms an image). Blocks under MMAP_THRESHOLD come from the
# heap instead, and up to TRIM_THRESHOLD of free heap is kept for the next batch.
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest
TRIM_THRESHOLD = 1024 * 1024 * 1024
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)


@functools.cache
def keep_freed_memory() -> bool:
    """Tell glibc's malloc to keep freed blocks for reuse (process-wide, once); False where
    the C library is not glibc. The process keeps its peak heap, up to TRIM_THRESHOLD."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        kept = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
        return kept and bool(libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    except (OSError, AttributeError):  # not Linux, or a C library without mallopt
        return False


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def is_small(parameters: int) -> bool:
    """A model this size runs its CPU batches on threads chosen by timing (ThreadChooser)."""
    return parameters < SMALL_MODEL_PARAMETERS


class ThreadChooser:
    """Runs a small CPU model's batches on one thread or on all of torch's, whichever did
    more images a second lately: all cores win on an idle machine, one thread beside other
    jobs. Each kind of call (a label and a batch-size class) tries both counts once, then
    uses the faster and tries the other again now and then, since the load changes; a try
    that loses waits twice as long before the next (at most MAX_WAIT batches).

    On the CPU torch gives the demo model the same bits at any thread count (tested), so the
    choice changes the speed, never the result.
    """

    WAIT = 8
    MAX_WAIT = 64
    MARGIN = 1.1  # more threads must be this much faster: else one, the kinder to neighbours

    def __init__(self, clock: Callable[[], float] = time.perf_counter):
        self.clock = clock
        self._kinds: dict[tuple, dict] = {}
        self._lock = threading.Lock()

    def run(self, label: str, size: int, work: Callable[[], object]):
        """work() on the thread count chosen for (label, size); its time is kept."""
        most = torch.get_num_threads()
        if most <= 1:
            return work()
        key = (label, max(int(size), 1).bit_length(), most)
        with self._lock:
            count, probing = self._pick(self._kinds.setdefault(key, _kind(most)))
        with cpu_threads(count):
            began = self.clock()
            result = work()
            seconds = self.clock() - began
        with self._lock:
            self._record(self._kinds[key], count, seconds / max(int(size), 1), probing)
        return result

    def counts(self) -> dict[tuple, int]:
        """The count each kind of call uses now (for benchmarks and tests)."""
        with self._lock:
            return {key: self._best(kind) for key, kind in self._kinds.items()}

    def _pick(self, kind: dict) -> tuple[int, bool]:
        untried = [c for c, rate in kind["rate"].items() if rate is None]
        if untried:
            return untried[0], False
        kind["calls"] += 1
        best = self._best(kind)
        if kind["calls"] % kind["wait"] == 0:
            return next(c for c in kind["rate"] if c != best), True
        return best, False

    def _record(self, kind: dict, count: int, per_image: float, probing: bool) -> None:
        before = self._best(kind) if probing else None
        old = kind["rate"][count]
        kind["rate"][count] = per_image if old is None else (old + per_image) / 2
        if probing:
            won = self._best(kind) == count != before
            kind["wait"] = self.WAIT if won else min(2 * kind["wait"], self.MAX_WAIT)

    def _best(self, kind: dict) -> int:
        one, most = kind["rate"].items()
        if one[1] is None or most[1] is None:
            return one[0]
        return most[0] if most[1] * self.MARGIN < one[1] else one[0]


def _kind(most: int) -> dict:
    return {"rate": {1: None, most: None}, "calls": 0, "wait": ThreadChooser.WAIT}


_threads_lock = threading.Lock()
_threads_state = {"depth": 0, "saved": 0}


@contextmanager
def cpu_threads(count: int | None) -> Iterator[None]:
    """torch's intra-op threads set to `count` for the block, then back (None: unchanged).

    The setting is process-wide, so nested or concurrent blocks restore the value seen by
    the first one to enter, once the last one leaves. Switching costs about 50 us.
    """
    if count is None:
        yield
        return
    with _threads_lock:
        if _threads_state["depth"] == 0:
            _threads_state["saved"] = torch.get_num_threads()
        _threads_state["depth"] += 1
        if torch.get_num_threads() != count:
            torch.set_num_threads(count)
    try:
        yield
    finally:
        with _threads_lock:
            _threads_state["depth"] -= 1
            saved = _threads_state["saved"]
            if _threads_state["depth"] == 0 and torch.get_num_threads() != saved:
                torch.set_num_threads(saved)
