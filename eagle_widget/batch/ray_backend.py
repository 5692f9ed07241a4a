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
# a replacement actor (its worker died) that Ray has not placed by then: the cluster lost the
# room for it, and the items left fail rather than wait forever
REPLACE_TIMEOUT_S = 300
_HEAD_PORTS = (
    "port", "node-manager-port", "object-manager-port", "dashboard-agent-listen-port",
    "dashboard-agent-grpc-port", "runtime-env-agent-port", "metrics-export-port",
    "ray-client-server-port",
)  # fmt: skip


# a node that joins a head: the head's own ports but the cluster's (the GCS, Ray Client)
_NODE_PORTS = tuple(name for name in _HEAD_PORTS if name not in ("port", "ray-client-server-port"))

_AGENT_PORT_FILES = {  # port file of a node's agent -> its `ray start` option
    "dashboard_agent_listen_port": "dashboard-agent-listen-port",
    "metrics_agent_port": "dashboard-agent-grpc-port",
    "runtime_env_agent_port": "runtime-env-agent-port",
    "metrics_export_port": "metrics-export-port",
}


class LocalCluster:
    """A private one-node Ray cluster, started with `ray start --head --block` and stopped
    by its process id. Every port is chosen here and bound to 127.0.0.1. `address` is the
    head's (for ray.init and `ray start --address`), `client_address` its Ray Client server's
    (ray://127.0.0.1:PORT).
    """

    def __init__(self, cpus: int, gpus: float | None = None):
        self.cpus = int(cpus)
        self.gpus = gpus
        self.folder: Path | None = None
        self.process: subprocess.Popen | None = None
        self.address = ""
        self.client_address = ""
        self._saved_environ: dict[str, str | None] = {}
        self.nodes: list[subprocess.Popen] = []  # nodes added beside the head (add_node)

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
        self.client_address = f"ray://127.0.0.1:{ports['ray-client-server-port']}"
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
            self._check_head()
            time.sleep(0.1)
        while not _listening(ports["port"]):
            self._check_head()
            time.sleep(0.5)

    def _announce_agent_ports(self, ports: dict) -> bool:
        """Write the agents' port files for them, as soon as the node has an id.

        The raylet dies when its dashboard agent has not written its port file within 15 s,
        and on a loaded machine that Python process takes longer just to import. The ports
        are ours (given to `ray start`), so the files can be written before the agents are
        up; the agents write the same numbers again. False until the node id is known.
        """
        return _announce_agent_ports(self.folder, ports)

    def add_node(self, cpus: int, gpus: float | None = None, wrap: list[str] | None = None):
        """Start another node of this cluster on 127.0.0.1 (`ray start --address`, its own
        ports and temp folder), as a user adds a machine; returns its process (stop it, or
        kill its raylet, by pid). `gpus` declares GPUs Ray schedules (CUDA_VISIBLE_DEVICES
        per actor) whether or not they exist; `wrap` runs the command inside another, e.g.
        ["unshare", "-m", "sh", "-c", 'mount -t tmpfs tmpfs /data && exec "$0" "$@"'] for a
        node that cannot see the driver's files. Waits until the cluster counts it."""
        import ray

        folder = Path(tempfile.mkdtemp(prefix="ew-rn-"))
        ports = {name: _free_port() for name in _NODE_PORTS}
        command = [
            sys.executable, "-c", "from ray.scripts.scripts import main; main()",
            "start", "--address", self.address, "--block", "--node-ip-address", "127.0.0.1",
            "--num-cpus", str(int(cpus)), "--disable-usage-stats", "--temp-dir", str(folder),
            *[part for name, port in ports.items() for part in (f"--{name}", str(port))],
        ]  # fmt: skip
        if gpus is not None:
            command += ["--num-gpus", str(gpus)]
        log = open(folder / "ray-start.log", "wb")
        process = subprocess.Popen(
            [*(wrap or []), *command], stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent,
        )  # fmt: skip
        log.close()
        process.folder = folder
        self.nodes.append(process)
        before = len([n for n in ray.nodes() if n["Alive"]]) if ray.is_initialized() else None
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            announced = _announce_agent_ports(folder, ports)
            if before is None and announced:
                break
            if before is not None and len([n for n in ray.nodes() if n["Alive"]]) > before:
                break
            if process.poll() is not None or time.monotonic() > deadline:
                tail = (folder / "ray-start.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"a Ray node did not join the cluster:\n{tail}")
            time.sleep(0.2)
        return process

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
                self._check_head()

    def _check_head(self) -> None:
        if self.process.poll() is not None:
            tail = (self.folder / "ray-start.log").read_text(errors="replace")[-2000:]
            self.stop()
            raise RuntimeError(f"the local Ray cluster did not start:\n{tail}")
        if time.monotonic() > self._deadline:
            self.stop()
            raise RuntimeError(f"the local Ray cluster did not start in {START_TIMEOUT_S} s")

    def stop(self, log_dir=None) -> None:
        """Stop the added nodes and the head (it stops its raylet, workers and agents), keep
        its logs, tidy up."""
        for node in self.nodes:
            _stop(node)
            shutil.rmtree(node.folder, ignore_errors=True)
        self.nodes = []
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


def _announce_agent_ports(folder: Path, ports: dict) -> bool:
    """See LocalCluster._announce_agent_ports: for every node whose session is in `folder`."""
    session = folder / "session_latest"
    found = False
    for gcs_file in session.glob("gcs_server_port_*"):
        found = True
        node = gcs_file.name.rsplit("_", 1)[1]
        for stem, option in _AGENT_PORT_FILES.items():
            target = session / f"{stem}_{node}"
            if not target.exists():
                partial = session / f".{target.name}"
                partial.write_text(str(ports[option]))
                partial.replace(target)  # never read half-written
    return found


def _stop(process: subprocess.Popen) -> None:
    """Stop a `ray start --block` process by its pid (it stops its node)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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

    def where(self) -> dict:
        """The node and devices Ray gave this actor (its GPUs are CUDA_VISIBLE_DEVICES)."""
        import ray

        context = ray.get_runtime_context()
        return {
            "node": context.get_node_id(),
            "gpus": [str(g) for g in ray.get_gpu_ids()],
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        }

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
    size, log_dir, retries: int = 1, progress: bool = True, pack=None,
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
        resources = ray.cluster_resources()
        if workers is None:
            workers = _workers_that_fit(resources, cpus_per_worker, gpus_per_worker)
        _check_fits(resources, workers, cpus_per_worker, gpus_per_worker)
        nodes = len([node for node in ray.nodes() if node["Alive"]])
        say(
            f"Ray ready in {time.perf_counter() - began:.1f} s; {workers} workers on a cluster "
            f"of {nodes} node{'s' * (nodes != 1)}"
        )
        return _hand_out(
            ray, items, work, setup, write, workers, cpus_per_worker, gpus_per_worker, label,
            size, retries, progress, pack,
        )  # fmt: skip
    finally:
        if connected_here and ray.is_initialized():
            ray.shutdown()
        if cluster is not None:
            cluster.stop(log_dir)


def _check_fits(resources: dict, workers: int, cpus: int, gpus: float) -> None:
    """Refuse, before any actor loads a model, workers the cluster cannot place all at once
    (one that never starts would keep its item forever)."""
    have_gpus, have_cpus = resources.get("GPU", 0), resources.get("CPU", 0)
    if gpus and not have_gpus:
        raise ValueError(
            f"--gpus-per-worker {gpus:g} asks for GPUs, and the Ray cluster has none (its "
            f"resources: {have_cpus:g} CPUs); use --gpus-per-worker 0 or a cluster with GPUs"
        )
    if gpus and workers * gpus > have_gpus + 1e-9:
        raise ValueError(
            f"{workers} workers x {gpus:g} GPUs need {workers * gpus:g} GPUs, and the Ray "
            f"cluster has {have_gpus:g}: ask for at most {int(have_gpus // gpus)} workers"
        )
    if workers * cpus > have_cpus + 1e-9:
        raise ValueError(
            f"{workers} workers x {cpus} CPUs need {workers * cpus} CPUs, and the Ray cluster "
            f"has {have_cpus:g}: ask for at most {max(1, int(have_cpus // cpus))} workers"
        )


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
    ray, items, work, setup, write, workers, cpus, gpus, label, size, retries, shown, pack
) -> list[WorkerStats]:
    actor_class = ray.remote(Worker).options(
        num_cpus=cpus, num_gpus=gpus, max_restarts=0, max_task_retries=0
    )
    queue = deque((item, 1) for item in items)
    actors: dict[int, object] = {}
    running: dict[object, tuple[int, object, int]] = {}  # call -> (worker, item, attempt)
    # a replacement actor gets no item until it answers where(): if the cluster lost the
    # room for it (a node died), the others take the queue instead of waiting on it
    starting: dict[object, int] = {}  # where() call -> worker
    stats = [WorkerStats(slot) for slot in range(workers)]
    progress = Progress(len(items), label="batch", unit="item") if shown else _NoBar()
    scored = 0
    idle_since = None

    def hand(slot: int) -> None:
        if queue:
            item, attempt = queue.popleft()
            running[actors[slot].run.remote(pack(item) if pack else item)] = (slot, item, attempt)

    def fail(item, slot: int, attempt: int, why: str) -> None:
        outcome = Outcome(item, error=why, worker=slot, attempts=attempt)
        stats[slot].add(outcome, 0)
        write(outcome)
        progress.update(scored)

    interrupted = _CtrlC()
    try:
        for slot in range(workers):
            actors[slot] = actor_class.remote(setup, work, cpus)
            hand(slot)
        while running or (queue and starting):
            interrupted.check()
            if not running:  # only replacements left: wait for one, but not forever
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > REPLACE_TIMEOUT_S:
                    while queue:
                        item, attempt = queue.popleft()
                        fail(item, 0, attempt, "no worker could be placed on the cluster "
                             f"within {REPLACE_TIMEOUT_S} s (a node was lost)")  # fmt: skip
                    break
            else:
                idle_since = None
            ready, _ = ray.wait([*running, *starting], num_returns=1, timeout=0.5)
            if not ready:
                continue
            call = ready[0]
            if call in starting:  # a replacement is up: where did Ray put it, and go
                slot = starting.pop(call)
                try:
                    stats[slot].where = ray.get(call)
                except ray.exceptions.RayActorError:
                    continue  # it died too; its slot stays empty
                hand(slot)
                continue
            slot, item, attempt = running.pop(call)
            try:
                status, value, seconds = ray.get(call)
            except ray.exceptions.RayActorError as error:  # its process or node died mid-item
                ray.kill(actors[slot], no_restart=True)
                actors[slot] = actor_class.remote(setup, work, cpus)  # Ray places it anew
                starting[actors[slot].where.remote()] = slot
                stats[slot].where = None
                if attempt <= retries:
                    say(f"worker {slot} died on {label(item)}; retrying it")
                    queue.appendleft((item, attempt + 1))
                    idle = [s for s in actors if s != slot and s not in starting.values()
                            and all(r[0] != s for r in running.values())]  # fmt: skip
                    if idle:  # a worker with nothing to do takes it at once
                        hand(idle[0])
                else:
                    reason = " ".join(str(error).split())[:300]
                    fail(item, slot, attempt, f"its worker died {attempt} times ({reason})")
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
            if stats[slot].where is None:  # the actor is idle now: ask where Ray put it
                stats[slot].where = ray.get(actors[slot].where.remote())
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
