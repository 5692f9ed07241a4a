"""Devices, dtypes and batch sizes for the torch adapters."""

from __future__ import annotations

import threading
from collections.abc import Iterator
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
TARGET_ROWS = 64  # logit rows per image the estimate leaves room for (a 64-token sentence)
# Below this many parameters a CPU forward runs on one thread: its matrix products are too
# small to share, and beside other jobs a second thread waits for a core (bench_threads.py:
# the demo model and a 23M Qwen2.5-VL were 2.5x to 10x slower on two threads under load).
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
    logits at up to TARGET_ROWS target positions. CPU and MPS get CPU_BATCH.
    """
    device = model.device
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


def default_threads(model) -> int | None:
    """CPU threads for a model's calls: 1 for a small model, None (torch's setting) otherwise."""
    if model.device.type != "cpu":
        return None
    parameters = sum(p.numel() for p in model.parameters())
    return 1 if parameters < SMALL_MODEL_PARAMETERS else None


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
