"""Fixtures for real-browser tests: a Jupyter server on 127.0.0.1 and Debian's chromium.

Servers run in a temporary root with their own config, runtime and settings folders, no
token, and are stopped by their pid (kernels first, through the REST API).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 2.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - localhost
        return response.read()


class JupyterServer:
    """`jupyter lab` or `jupyter notebook` serving `root` on a free localhost port."""

    def __init__(self, app: str, root: Path, home: Path, extra_args: tuple[str, ...] = ()):
        self.app = app
        self.root = root
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings = home / "settings"
        news = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
        news.parent.mkdir(parents=True, exist_ok=True)
        news.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        env = dict(os.environ)
        env.update(
            JUPYTER_CONFIG_DIR=str(home / "config"),
            JUPYTER_RUNTIME_DIR=str(home / "runtime"),
            IPYTHONDIR=str(home / "ipython"),
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
            OMP_NUM_THREADS="1",
            PYTHONUNBUFFERED="1",
        )
        self.log = open(home / f"{app}.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter",
                app,
                "--no-browser",
                "--expose-app-in-browser",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={self.port}",
                "--ServerApp.port_retries=0",
                f"--ServerApp.root_dir={root}",
                "--IdentityProvider.token=",
                "--ServerApp.password=",
                "--ServerApp.disable_check_xsrf=True",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
                *extra_args,
            ],
            cwd=root,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.home = home

    def wait_ready(self, timeout: float = 90.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.app} exited: {self.read_log()[-3000:]}")
            try:
                json.loads(_get(f"{self.url}/api/status"))
                return
            except (urllib.error.URLError, ConnectionError, ValueError, TimeoutError):
                time.sleep(0.3)
        raise RuntimeError(f"{self.app} did not start in {timeout} s: {self.read_log()[-3000:]}")

    def read_log(self) -> str:
        self.log.flush()
        return (self.home / f"{self.app}.log").read_text(errors="replace")

    def stop(self) -> None:
        """Shut the kernels down through the API, then stop the server by its pid."""
        try:
            for kernel in json.loads(_get(f"{self.url}/api/kernels")):
                request = urllib.request.Request(
                    f"{self.url}/api/kernels/{kernel['id']}", method="DELETE"
                )
                urllib.request.urlopen(request, timeout=10).close()  # noqa: S310 - localhost
        except (urllib.error.URLError, ConnectionError, ValueError, TimeoutError):
            pass
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()


@pytest.fixture
def jupyter(tmp_path_factory):
    """Start servers on demand: jupyter("lab" | "notebook", notebook_json) -> (server, path)."""
    servers: list[JupyterServer] = []

    def start(app: str, notebook: dict, name: str = "widget_demo.ipynb"):
        root = tmp_path_factory.mktemp(f"{app}-root")
        home = tmp_path_factory.mktemp(f"{app}-home")
        (root / name).write_text(json.dumps(notebook))
        server = JupyterServer(app, root, home)
        servers.append(server)
        server.wait_ready()
        return server, name

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def vscode_server(tmp_path_factory):
    """A Jupyter server whose static files include VS Code's output webview (vscode.py):
    the host page is at /static/vscode/index.html. Skips where the host cannot be built."""
    import vscode

    if why := vscode.missing():
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("vscode")
    static = vscode.static_root(tmp / "static")
    (tmp / "root").mkdir()
    static_paths = f"--ServerApp.extra_static_paths={json.dumps([str(static)])}"
    server = JupyterServer("lab", tmp / "root", tmp, (static_paths,))
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
