"""One background worker thread per widget: runs jobs one at a time, newest request wins.

The kernel's main thread must stay free while a search runs (or the browser's clicks are
not processed), so the widget hands its work to a `Worker`. Submitting a job cancels the
running one cooperatively (its cancel flag is set and the engine run it drives is told to
stop at the next batch boundary) and replaces any job still waiting.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import threading
import weakref
from collections.abc import Callable

log = logging.getLogger(__name__)

_thread_ids = itertools.count()
_open_workers: weakref.WeakSet[Worker] = weakref.WeakSet()


@atexit.register
def _close_open_workers() -> None:
    """At interpreter exit, stop the workers before torch is torn down: a daemon thread still
    inside a torch call then aborts the process ("terminate called without an active
    exception"), as several widgets alive at the end of a script did."""
    for worker in list(_open_workers):
        worker.close(timeout=10.0)


class Job:
    """A unit of work with a cancel flag; `fn(job)` checks `job.cancelled` between phases."""

    def __init__(self, fn: Callable[[Job], None], name: str = "job"):
        self.fn = fn
        self.name = name
        self.done = threading.Event()
        self.superseded = False  # cancelled because a newer job replaced it
        self._cancel = threading.Event()
        self._run = None
        self._lock = threading.Lock()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self, superseded: bool = False) -> None:
        """Ask the job to stop; also stops the engine run it attached (thread-safe)."""
        with self._lock:
            self.superseded = self.superseded or superseded
            self._cancel.set()
            run = self._run
        if run is not None:
            run.cancel()

    def attach(self, run) -> None:
        """Register the engine run this job drives, so that cancel() reaches it."""
        with self._lock:
            self._run = run
            cancelled = self._cancel.is_set()
        if cancelled:
            run.cancel()

    def __repr__(self) -> str:
        state = "done" if self.done.is_set() else "cancelled" if self.cancelled else "active"
        return f"Job({self.name!r}, {state})"


class Worker:
    """A worker thread that runs submitted jobs in order, at most one waiting at a time."""

    def __init__(self, name: str = "eagle-widget"):
        self.name = f"{name}-{next(_thread_ids)}"
        self._cond = threading.Condition()
        self._pending: Job | None = None
        self._current: Job | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        _open_workers.add(self)

    def submit(self, fn: Callable[[Job], None], name: str = "job") -> Job:
        """Queue `fn`; cancel the running job and drop the one still waiting."""
        job = Job(fn, name)
        with self._cond:
            if self._closed:
                raise RuntimeError(f"worker {self.name} is closed; no new work is accepted")
            if self._pending is not None:
                self._pending.cancel(superseded=True)
                self._pending.done.set()
            if self._current is not None:
                self._current.cancel(superseded=True)
            self._pending = job
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
            self._cond.notify_all()
        return job

    def cancel(self) -> None:
        """Cancel the running job and the waiting one (which still runs, to report it)."""
        with self._cond:
            jobs = [j for j in (self._current, self._pending) if j is not None]
        for job in jobs:
            job.cancel()

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._current is not None or self._pending is not None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no job runs or waits; False if `timeout` seconds passed first."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._current is None and self._pending is None, timeout
            )

    def close(self, timeout: float | None = 5.0) -> None:
        """Cancel everything and let the thread end (waits up to `timeout` seconds)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self.cancel()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._closed)
                if self._pending is None:  # closed and nothing left
                    return
                job, self._pending = self._pending, None
                self._current = job
            try:
                job.fn(job)
            except BaseException:  # the job reports its own errors; never kill the thread
                log.exception("eagle-widget job %s failed", job.name)
            finally:
                with self._cond:
                    self._current = None
                    job.done.set()
                    self._cond.notify_all()
