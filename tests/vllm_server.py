"""A real vLLM CPU server serving the demo model, in a loopback-only network namespace.

Used by tests/test_served_vllm.py and bench/bench_served.py. The server runs in
its own network namespace (`unshare -n`, then `ip link set lo up`), so nothing it does can
leave the machine; `inside(server)` moves the calling thread (and the threads it starts
from then on, e.g. the adapter's request pool) into that namespace to talk to it.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from eagle_widget.models.demo.training.vllm_copy import write_served_copy

ROOT = Path(__file__).resolve().parents[1]
PORT = 8000  # the namespace is the server's own: no port can be taken
NAME = "demo"
CLONE_NEWNET = 0x40000000
START_TIMEOUT = 600  # s; ~60 s on an idle 2-core CPU
DEMO_POSITIONS = 128  # the demo model's max_position_embeddings


def vllm_venv() -> Path:
    """The vLLM venv (scripts/vllm_venv.sh builds it once, then answers at once)."""
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "vllm_venv.sh")], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/vllm_venv.sh failed:\n{done.stderr[-3000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


class VLLMServer:
    """`with VLLMServer(folder) as server:` starts vLLM on the demo model, stops it by pid.

    images: the most images per prompt (--limit-mm-per-prompt), None for vLLM's default.
    max_model_len: above the demo's 128 positions (one image is 64 of them, so two images
    and a caption need more), the served copy's config says that many positions: its RoPE
    is computed for them, the same for the first 128 (so one image scores as before), and
    the model, trained on one image, sees the further ones for the first time.
    """

    def __init__(self, folder: Path, images: int | None = None, max_model_len: int = 128):
        self.folder = Path(folder)
        self.images, self.max_model_len = images, max_model_len
        self.url = f"http://127.0.0.1:{PORT}/v1"
        self.process: subprocess.Popen | None = None
        self.log = self.folder / "vllm.log"

    def __enter__(self) -> VLLMServer:
        python = vllm_venv() / "bin" / "python"
        weights = write_served_copy(self.folder / "weights")
        if self.max_model_len > DEMO_POSITIONS:
            config = json.loads((weights / "config.json").read_text())
            config["text_config"]["max_position_embeddings"] = self.max_model_len
            (weights / "config.json").write_text(json.dumps(config, indent=2))
        command = (
            f"ip link set lo up && exec {python} -m vllm.entrypoints.openai.api_server "
            f"--model {weights} --served-model-name {NAME} --host 127.0.0.1 --port {PORT} "
            f"--dtype float32 --enforce-eager --max-model-len {self.max_model_len} "
            "--gpu-memory-utilization 0.1 --max-logprobs 20"
        )
        if self.images is not None:  # vLLM 0.32 takes the limits as JSON
            command += f" --limit-mm-per-prompt '{json.dumps({'image': self.images})}'"
        env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1"}
        env.pop("PYTHONPATH", None)
        with open(self.log, "wb") as log:
            # unshare execs sh, which execs python: the server keeps this pid
            self.process = subprocess.Popen(
                ["unshare", "-n", "sh", "-c", command],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        try:
            self._wait_for_namespace()
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop the server by its pid (and wait, so the port and memory are free)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """Kill the server at once, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def _wait_for_namespace(self) -> None:
        """unshare makes the namespace a moment after it starts: until then its pid is still
        in ours, and `inside` would stay here (health checks then never reach the server)."""
        ours = os.readlink("/proc/thread-self/ns/net")
        deadline = time.monotonic() + 60
        while os.readlink(f"/proc/{self.process.pid}/ns/net") == ours:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"vLLM's network namespace was not made:\n{self.tail()}")
            time.sleep(0.05)

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        health = self.url.removesuffix("/v1") + "/health"
        with inside(self):
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"vLLM exited ({self.process.returncode}):\n{self.tail()}")
                try:
                    with urllib.request.urlopen(health, timeout=5):
                        return
                except OSError:
                    time.sleep(1)
        raise RuntimeError(f"vLLM was not healthy after {START_TIMEOUT} s:\n{self.tail()}")

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@contextlib.contextmanager
def inside(server: VLLMServer):
    """Run the calling thread (and threads it starts) in the server's network namespace."""
    if os.readlink(f"/proc/{server.process.pid}/ns/net") == os.readlink("/proc/thread-self/ns/net"):
        raise RuntimeError("the vLLM server is not in a network namespace of its own")
    libc = ctypes.CDLL(None, use_errno=True)
    own = os.open(f"/proc/{os.getpid()}/task/{_thread_id()}/ns/net", os.O_RDONLY)
    theirs = os.open(f"/proc/{server.process.pid}/ns/net", os.O_RDONLY)
    try:
        if libc.setns(theirs, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns into the server's network namespace")
        yield
    finally:
        libc.setns(own, CLONE_NEWNET)
        os.close(own)
        os.close(theirs)


def _thread_id() -> int:
    import threading

    return threading.get_native_id()
