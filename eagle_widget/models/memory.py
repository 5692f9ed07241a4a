"""Peak memory over a window of work (protocol's MeasuresPeakMemory), on the model's device.

CUDA: torch's allocator counters. `peak_bytes` is torch.cuda.max_memory_allocated since the
reset (the weights included, as the paper's peak GPU memory is), `added_bytes` that less
what was allocated at the reset. Memory the allocator caches but has not handed out, and
other processes' memory, are not counted.

CPU (and MPS, whose unified memory is the process's): the process's resident set. On Linux
the reset writes 5 to /proc/self/clear_refs, which sets the kernel's high-water mark
(VmHWM) back to the current resident size (VmRSS); the window's peak is VmHWM when read.
Where that file cannot be written, the peak is ru_maxrss, the process's lifetime peak, and
`added_bytes` is how far the window raised it: a lower bound (0 when an earlier step had
peaked higher). Everything the process does in the window counts, not only the model's
work. tracemalloc is not used: it does not see torch's allocations.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

import torch

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


class PeakMemory:
    """One device's peak-memory window: reset(), then read()."""

    def __init__(self, device: torch.device):
        self.device = device
        self._base = 0
        self._how = ""

    def reset(self) -> dict:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
            self._how = "cuda max_memory_allocated"
        elif _reset_high_water_mark():
            self._base = _status_bytes("VmRSS")
            self._how = "process peak resident memory (VmHWM after a reset)"
        else:
            self._base = _max_rss_bytes()
            self._how = "process lifetime peak resident memory (ru_maxrss): a lower bound"
        return {"peak_bytes": self._base, "added_bytes": 0, "measured": self._how}

    def read(self) -> dict:
        if not self._how:
            raise ValueError("peak_memory() reads a window: call peak_memory(reset=True) first")
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device)
        elif self._how.startswith("process peak"):
            peak = _status_bytes("VmHWM")
        else:
            peak = _max_rss_bytes()
        return {"peak_bytes": int(peak), "added_bytes": max(0, int(peak - self._base)),
                "measured": self._how}  # fmt: skip


def _reset_high_water_mark() -> bool:
    try:
        CLEAR_REFS.write_text("5")
        return STATUS.is_file()
    except OSError:
        return False


def _status_bytes(field: str) -> int:
    for line in STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024  # the file says kB
    raise ValueError(f"{STATUS} has no {field}")


def _max_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # bytes on macOS, kB elsewhere
