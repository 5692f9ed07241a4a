"""The Ray back end of the batch runner (jobs.py): one actor per worker, one item at a time.

Imported only when workers or a cluster are asked for. Each actor runs `setup()` once
(loads the model on its own GPU or CPU share) and then one item per call; the driver
keeps one item in flight per actor, so a slow item never holds back a static share. An
actor that dies mid-item is replaced and its item retried once, then recorded as failed.
A local cluster is private: bound to 127.0.0.1, no dashboard, no usage reporting, token
authentication with the token and all of Ray's state in a temp folder.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

from ..console import Progress, describe, say
from .outcomes import Outcome, WorkerStats

START_TIMEOUT_S = 600  # a loaded machine takes a minute; give up on a head that never listens
_HEAD_PORTS = (
    "port", "node-manager-port", "object-manager-port", "dashboard-agent-listen-port",
    "dashboard-agent-grpc-port", "runtime-env-agent-port", "metrics-export-port",
)  # fmt: skip


_AGENT_PORT_FILES = {  # port file of a node's agent -> its `ray start` option
    "dashboard_agent_listen_port": "dashboard-agent-listen-port",
    "metrics_agent_port": "dashboard-agent-grpc-port",
    "runtime_env_agent_port": "runtime-env-agent-port",
    "metrics_export_port": "metrics-export-port",
}


class LocalCluster:
    """A private one-node Ray cluster, started with `ray start --head --block` and stopped
    by its process id. Every port is chosen here and bound to 127.0.0.1.
    """

    def __init__(self, cpus: int, gpus: float | None = None):
        self.cpus = int(cpus)
        self.gpus = gpus
        self.folder: Path | None = None
        self.process: subprocess.Popen | None = None
        self.address = ""
        self._saved_environ: dict[str, str | None] = {}

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        # short path: Ray's Unix sockets live under it and must stay under 107 bytes
        self.folder = Path(tempfile.mkdtemp(prefix="ew-ray-"))
        token = self.folder / "auth_token"
        with open(os.open(token, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(secrets.token_hex(32))
        # the driver and the cluster read these; the token never goes to ~/.ray
        settings = {
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN_PATH": str(token),
            "RAY_USAGE_STATS_ENABLED": "0",
        }
        self._saved_environ = {name: os.environ.get(name) for name in settings}
        os.environ.update(settings)
        _reload_auth_settings()
        ports = {name: _free_port() for name in _HEAD_PORTS}
        self.address = f"127.0.0.1:{ports['port']}"
        command = [
            sys.executable, "-c", "from ray.scripts.scripts import main; main()",
            "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
            "--num-cpus", str(self.cpus), "--include-dashboard", "false",
            "--disable-usage-stats", "--temp-dir", str(self.folder),
            *[part for name, port in ports.items() for part in (f"--{name}", str(port))],
        ]  # fmt: skip
        if self.gpus is not None:
            command += ["--num-gpus", str(self.gpus)]
        log = open(self.folder / "ray-start.log", "wb")
        self.process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches the driver only; it stops the cluster
            preexec_fn=_die_with_parent,
        )  # fmt: skip
        log.close()
        self._deadline = time.monotonic() + START_TIMEOUT_S
        while not self._announce_agent_ports(ports):
            self._check_alive()
            time.sleep(0.1)
        while not _listening(ports["port"]):
            self._check_alive()
            time.sleep(0.5)

    def _announce_agent_ports(self, ports: dict) -> bool:
        """Write the agents' port files for them, as soon as the node has an id.

        The raylet dies when its dashboard agent has not written its port file within 15 s,
        and on a loaded machine that Python process takes longer just to import. The ports
        are ours (given to `ray start`), so the files can be written before the agents are
        up; the agents write the same numbers again. False until the node id is known.
        """
        session = self.folder / "session_latest"
        for gcs_file in session.glob("gcs_server_port_*"):
            node = gcs_file.name.rsplit("_", 1)[1]
            for stem, option in _AGENT_PORT_FILES.items():
                target = session / f"{stem}_{node}"
                if not target.exists():
                    partial = session / f".{target.name}"
                    partial.write_text(str(ports[option]))
                    partial.replace(target)  # never read half-written
            return True
        return False

    def connect(self) -> None:
        """ray.init to this cluster, once its raylet has registered (a minute when loaded)."""
        import ray

        while True:
            try:
                ray.init(address=self.address, log_to_driver=False, logging_level=logging.WARNING)
                return
            except (ConnectionError, RuntimeError):  # the node is not registered yet
                if ray.is_initialized():
                    ray.shutdown()
                self._check_alive()

    def _check_alive(self) -> None:
        if self.process.poll() is not None:
            tail = (self.folder / "ray-start.log").read_text(errors="replace")[-2000:]
            self.stop()
            raise RuntimeError(f"the local Ray cluster did not start:\n{tail}")
        if time.monotonic() > self._deadline:
            self.stop()
            raise RuntimeError(f"the local Ray cluster did not start in {START_TIMEOUT_S} s")

    def stop(self, log_dir=None) -> None:
        """Stop the head (it stops its raylet, workers and agents), keep its logs, tidy up."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self.folder is None:
            return
        if log_dir is not None:
            logs = self.folder / "session_latest" / "logs"
            try:
                shutil.copytree(logs, log_dir, dirs_exist_ok=True)
                shutil.copy2(self.folder / "ray-start.log", Path(log_dir) / "ray-start.log")
            except OSError as error:
                say(f"Ray's logs could not be copied to {log_dir}: {error}")
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None
        for name, value in self._saved_environ.items():  # as before the cluster
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _reload_auth_settings()


def _reload_auth_settings() -> None:
    """Make this process's Ray read RAY_AUTH_MODE and the token again: it caches both on
    first use, and an earlier cluster of this process had another token."""
    from ray._raylet import AuthenticationTokenLoader, Config

    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _die_with_parent() -> None:
    """In the head's process: get SIGTERM when the driver dies, even by SIGKILL (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Worker:
    """One actor: `setup()` once, then `work(context, item)` per call, errors as messages."""

    def __init__(self, setup, work, threads: int):
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(threads)
        self.work = work
        self.context = None
        self.setup_error = None
        try:
            self.context = setup()
        except Exception as error:  # reported by the first item, ends the run
            self.setup_error = describe(error)
        torch = sys.modules.get("torch")  # the model's threads follow this actor's CPU share
        if torch is not None:
            torch.set_num_threads(threads)

    def run(self, item):
        if self.setup_error is not None:
            return "setup", self.setup_error, 0.0
        began = time.perf_counter()
        try:
            return "done", self.work(self.context, item), time.perf_counter() - began
        except Exception as error:  # travels back as its message, not a Ray traceback
            return "failed", describe(error), time.perf_counter() - began


def run(
    items, work, *, setup, write, workers, address, cpus_per_worker, gpus_per_worker, label,
    size, log_dir, retries: int = 1, progress: bool = True,
) -> list[WorkerStats]:  # fmt: skip
    """See `jobs.run_jobs`."""
    import ray

    cluster = None
    connected_here = not ray.is_initialized()
    began = time.perf_counter()
    try:
        if connected_here:
            if address is None:
                cluster = LocalCluster(cpus=(workers or 1) * cpus_per_worker)
                say(f"starting a local Ray cluster ({cluster.cpus} CPUs, loopback only)...")
                cluster.start()
                cluster.connect()
            else:
                ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        if workers is None:
            workers = _workers_that_fit(ray.cluster_resources(), cpus_per_worker, gpus_per_worker)
        say(f"Ray ready in {time.perf_counter() - began:.1f} s; {workers} workers")
        return _hand_out(
            ray, items, work, setup, write, workers, cpus_per_worker, gpus_per_worker, label,
            size, retries, progress,
        )  # fmt: skip
    finally:
        if connected_here and ray.is_initialized():
            ray.shutdown()
        if cluster is not None:
            cluster.stop(log_dir)


def _workers_that_fit(resources: dict, cpus: int, gpus: float) -> int:
    if gpus:
        return max(1, int(resources.get("GPU", 0) // gpus))
    return max(1, int(resources.get("CPU", 1) // cpus))


class _CtrlC:
    """Ctrl-C as a flag that the hand-out loop checks between results.

    A KeyboardInterrupt raised wherever the signal lands can hit a finalizer, where Python
    ignores it, or the writer mid-item; checked here it always stops the run, between two
    written items. A second Ctrl-C interrupts at once.
    """

    def __init__(self):
        self.caught = False
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame) -> None:
        if self.caught:
            raise KeyboardInterrupt
        self.caught = True

    def check(self) -> None:
        if self.caught:
            raise KeyboardInterrupt

    def restore(self) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
            self.previous = None


class _NoBar:
    """The progress bar of a caller that prints its own line per item."""

    def update(self, images: int) -> None:
        pass

    def close(self, images: int) -> None:
        pass


def _hand_out(
    ray, items, work, setup, write, workers, cpus, gpus, label, size, retries, shown
) -> list[WorkerStats]:
    actor_class = ray.remote(Worker).options(
        num_cpus=cpus, num_gpus=gpus, max_restarts=0, max_task_retries=0
    )
    queue = deque((item, 1) for item in items)
    actors: dict[int, object] = {}
    running: dict[object, tuple[int, object, int]] = {}  # call -> (worker, item, attempt)
    stats = [WorkerStats(slot) for slot in range(workers)]
    progress = Progress(len(items), label="batch", unit="item") if shown else _NoBar()
    scored = 0

    def hand(slot: int) -> None:
        if queue:
            item, attempt = queue.popleft()
            running[actors[slot].run.remote(item)] = (slot, item, attempt)

    interrupted = _CtrlC()
    try:
        for slot in range(workers):
            actors[slot] = actor_class.remote(setup, work, cpus)
            hand(slot)
        while running:
            interrupted.check()
            ready, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
            if not ready:
                continue
            call = ready[0]
            slot, item, attempt = running.pop(call)
            try:
                status, value, seconds = ray.get(call)
            except ray.exceptions.RayActorError as error:  # its process died mid-item
                ray.kill(actors[slot], no_restart=True)
                actors[slot] = actor_class.remote(setup, work, cpus)
                if attempt <= retries:
                    say(f"worker {slot} died on {label(item)}; retrying it")
                    queue.appendleft((item, attempt + 1))
                else:
                    reason = " ".join(str(error).split())[:300]
                    outcome = Outcome(item, error=f"its worker died {attempt} times ({reason})",
                                      worker=slot, attempts=attempt)  # fmt: skip
                    stats[slot].add(outcome, 0)
                    write(outcome)
                    progress.update(scored)
                hand(slot)
                continue
            if status == "setup":
                raise RuntimeError(f"worker {slot} could not load: {value}")
            outcome = Outcome(item, worker=slot, seconds=seconds, attempts=attempt)
            if status == "done":
                outcome.result = value
            else:
                outcome.error = value
            work_done = size(value) if outcome.ok else 0
            scored += work_done
            stats[slot].add(outcome, work_done)
            write(outcome)
            progress.update(scored)
            hand(slot)
        progress.close(scored)
        return stats
    finally:  # also on Ctrl-C: no actor outlives the run
        interrupted.restore()
        for actor in actors.values():
            try:
                ray.kill(actor, no_restart=True)
            except Exception:  # already gone
                pass
