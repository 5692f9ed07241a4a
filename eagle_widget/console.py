"""What the command line and batch runs print: progress bars and one-line error messages."""

from __future__ import annotations

import sys
import time

from tqdm import tqdm


class Progress:
    """A progress bar on stderr: steps (or items), images scored, elapsed time and ETA.

    On a terminal, tqdm redraws one line that fits the terminal's width (`columns`, default:
    measured at each redraw) and blanks what a longer earlier line left behind; elsewhere
    (logs, CI) a plain line is printed every 10%.
    """

    def __init__(
        self,
        total: int,
        stream=None,
        columns: int | None = None,
        label: str = "explain",
        unit: str = "step",
    ):
        self.total = max(1, int(total))
        self.stream = stream or sys.stderr
        self.label = label
        # the figures first, the bar last: a narrow terminal shortens the bar, then cuts its end
        self.format = (
            f"{{desc}} {unit} {{n_fmt}}/{{total_fmt}} | {{images}} images | {{elapsed}} | "
            "ETA {remaining} |{bar}|"
        )
        self.done = 0
        self.began = time.perf_counter()
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._printed = -1
        self._bar = None
        if self.tty:
            self._bar = _Bar(
                total=self.total,
                file=self.stream,
                desc=label,
                bar_format=self.format,
                ncols=columns,
                dynamic_ncols=columns is None,
            )

    def update(self, images: int) -> None:
        self.done = min(self.total, self.done + 1)
        if self._bar is not None:
            self._bar.images = images
            self._bar.update(1)
            return
        decile = self.done * 10 // self.total
        if decile > self._printed:
            self._printed = decile
            self.stream.write(self.line(images) + "\n")
            self.stream.flush()

    def close(self, images: int) -> None:
        if self._bar is not None:
            self._bar.images = images
            self._bar.close()  # draws the last state and ends the line
        elif self._printed < 10:
            self.stream.write(self.line(images) + "\n")
        self.stream.flush()

    def line(self, images: int) -> str:
        """The line as a log shows it (no terminal: a bar of fixed width)."""
        return _Bar.format_meter(
            self.done,
            self.total,
            time.perf_counter() - self.began,
            prefix=self.label,
            bar_format=self.format,
            images=images,
        )


class _Bar(tqdm):
    """tqdm with the images scored as a field of the line."""

    images = 0

    @property
    def format_dict(self):
        return {**super().format_dict, "images": self.images}


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def strip(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def describe(error: BaseException) -> str:
    """One line for an error: the message of a bad-input error or of one of eagle-widget's
    own errors (written to be read, e.g. a ServerError), else its type and message."""
    ours = type(error).__module__.split(".")[0] == "eagle_widget"
    if ours or isinstance(error, (ValueError, TypeError, OSError)):
        return strip(error)
    return f"{type(error).__name__}: {strip(error)}"
