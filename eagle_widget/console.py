"""What the command line and batch runs print: progress bars and one-line error messages."""

from __future__ import annotations

import sys
import time


class Progress:
    """A progress bar on stderr: steps (or items), images scored, elapsed time and ETA.

    On a terminal it redraws one line; elsewhere (logs, CI) it prints a line every 10%.
    """

    def __init__(
        self, total: int, stream=None, width: int = 24, label: str = "explain", unit: str = "step"
    ):
        self.total = max(1, int(total))
        self.stream = stream or sys.stderr
        self.width = width
        self.label = label
        self.unit = unit
        self.done = 0
        self.began = time.perf_counter()
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._printed = -1

    def update(self, images: int) -> None:
        self.done = min(self.total, self.done + 1)
        if self.tty:
            self.stream.write("\r" + self.line(images))
            self.stream.flush()
        else:
            decile = self.done * 10 // self.total
            if decile > self._printed:
                self._printed = decile
                self.stream.write(self.line(images) + "\n")
                self.stream.flush()

    def close(self, images: int) -> None:
        if self.tty:
            self.stream.write("\r" + self.line(images) + "\n")
        elif self._printed < 10:
            self.stream.write(self.line(images) + "\n")
        self.stream.flush()

    def line(self, images: int) -> str:
        elapsed = time.perf_counter() - self.began
        filled = self.width * self.done // self.total
        bar = "#" * filled + "." * (self.width - filled)
        if self.done >= self.total:
            eta = "done"
        elif self.done:
            eta = f"ETA {clock(elapsed / self.done * (self.total - self.done))}"
        else:
            eta = "ETA ?"
        return (
            f"{self.label} [{bar}] {self.unit} {self.done}/{self.total} | {images} images | "
            f"{clock(elapsed)} | {eta}"
        )


def clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def strip(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def describe(error: BaseException) -> str:
    """One line for an error: the message of a bad-input error, else its type and message."""
    if isinstance(error, (ValueError, TypeError, OSError)):
        return strip(error)
    return f"{type(error).__name__}: {strip(error)}"
