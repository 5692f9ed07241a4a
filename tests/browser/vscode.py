"""VS Code's notebook output webview as a test host (vscode_host/host.js), served as static
files by a Jupyter server on 127.0.0.1 together with a real kernel.

The npm artefacts are cached outside the clone (~/.cache/eagle-widget/vscode-host, or
$EAGLE_WIDGET_CACHE/vscode-host): the real renderer bundle and require.js come from the
registry through `npm pack` (only the one file each is kept), @jupyterlab/services is bundled
from js/node_modules by the project's esbuild (js/host/build.mjs). The four themes captured
from VS Code live beside the clone, in ../shared/vscode-themes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "js"
PAGE = Path(__file__).with_name("vscode_host")
THEMES = ROOT.parent / "shared" / "vscode-themes"
THEME_NAMES = ("light", "dark", "hc", "hclight")  # files NAME.json
# the registry packages and the one file the host takes from each
PACKED = {
    "ipywidgets.js": ("@vscode/jupyter-ipywidgets8@1.0.9", "package/dist/ipywidgets.js"),
    "require.js": ("requirejs@2.3.7", "package/require.js"),
}
ANYWIDGET = Path(sys.prefix) / "share" / "jupyter" / "nbextensions" / "anywidget" / "index.js"


def cache_dir() -> Path:
    base = os.environ.get("EAGLE_WIDGET_CACHE") or Path.home() / ".cache" / "eagle-widget"
    return Path(base) / "vscode-host"


def _packed(spec: str, member: str) -> Path:
    """`member` of the npm package `spec`, fetched once with `npm pack`."""
    out = cache_dir() / spec.replace("/", "+") / Path(member).name
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", spec, "--silent", "--pack-destination", tmp],
                       check=True, capture_output=True, timeout=300)  # fmt: skip
        (tarball,) = Path(tmp).glob("*.tgz")
        with tarfile.open(tarball) as archive:
            data = archive.extractfile(member).read()
    partial = out.with_suffix(".partial")
    partial.write_bytes(data)
    partial.replace(out)
    return out


def _services() -> Path:
    """@jupyterlab/services as one ES module, rebuilt when js/package-lock.json changes."""
    lock = hashlib.sha256((JS / "package-lock.json").read_bytes()).hexdigest()[:12]
    out = cache_dir() / f"services-{lock}.js"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_suffix(".partial.js")
        subprocess.run(["node", "host/build.mjs", str(partial)], cwd=JS, check=True,
                       capture_output=True, timeout=300)  # fmt: skip
        partial.replace(out)
    return out


def themes() -> dict[str, dict]:
    """The four VS Code themes: {"light" | "dark" | "hc" | "hclight": captured theme}."""
    return {name: json.loads((THEMES / f"{name}.json").read_text()) for name in THEME_NAMES}


def missing() -> str | None:
    """Why the host cannot be built here, or None."""
    if not THEMES.is_dir():
        return f"the VS Code themes are missing: {THEMES}"
    if shutil.which("npm") is None or shutil.which("node") is None:
        return "node and npm are needed to build the VS Code host"
    if not (JS / "node_modules" / "@jupyterlab" / "services").is_dir():
        return "js/node_modules lacks @jupyterlab/services: run npm ci in js/"
    if not ANYWIDGET.is_file():
        return f"anywidget's nbextension is missing: {ANYWIDGET}"
    return None


def static_root(folder: Path) -> Path:
    """A folder for --ServerApp.extra_static_paths: the page is at /static/vscode/index.html."""
    page = folder / "vscode"
    page.mkdir(parents=True, exist_ok=True)
    for name in ("index.html", "host.js", "webview.css"):
        shutil.copy(PAGE / name, page / name)
    for name, (spec, member) in PACKED.items():
        shutil.copy(_packed(spec, member), page / name)
    shutil.copy(_services(), page / "services.js")
    shutil.copy(ANYWIDGET, page / "anywidget.js")
    return folder
