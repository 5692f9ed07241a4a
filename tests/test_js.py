"""The front end: node unit tests, the committed bundle, and JS agreeing with the engine."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from widget_models import READ_STATE, caption_model, jsonable, scene

import eagle_widget as ew
from eagle_widget.wire import explanation_state

ROOT = Path(__file__).resolve().parents[1]
JS = ROOT / "js"
STATIC = ROOT / "eagle_widget" / "static"
NODE = shutil.which("node")
NPM = shutil.which("npm")

pytestmark = pytest.mark.skipif(
    NODE is None or NPM is None, reason="node/npm are not installed: the JS tests need Node 18+"
)


def run(cmd, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=JS, capture_output=True, text=True, timeout=300, **kwargs)


def install_node_modules() -> None:
    """npm ci when the build or type-check tools are missing (needs the npm registry)."""
    if not all((JS / "node_modules" / name).is_dir() for name in ("esbuild", "typescript")):
        proc = run([NPM, "ci", "--no-audit", "--no-fund"])
        assert proc.returncode == 0, f"npm ci failed (needs the npm registry):\n{proc.stderr}"


def test_node_unit_tests_pass():
    """`npm test`: the type check of the @ts-check modules (tsc), then node's unit tests."""
    install_node_modules()
    proc = run([NPM, "test", "--silent"])
    assert proc.returncode == 0, f"npm test failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"
    assert "# fail 0" in proc.stdout and "# pass 0" not in proc.stdout


def test_committed_bundle_is_what_the_sources_build(tmp_path):
    install_node_modules()
    proc = run([NODE, "build.mjs", str(tmp_path)])
    assert proc.returncode == 0, proc.stderr
    for name in ("widget.js", "page.js", "widget.css"):
        built = (tmp_path / name).read_bytes()
        committed = (STATIC / name).read_bytes()
        assert built == committed, (
            f"eagle_widget/static/{name} is out of date: run `cd js && npm run build` and commit"
        )


def test_bundle_is_self_contained():
    code = (STATIC / "widget.js").read_text()
    assert "export default" in code or "export {" in code
    for marker in ("http://", "https://", "import(", 'from "', "require("):
        assert marker not in code, f"the bundle must not load anything at run time ({marker})"


# Reads the trait state of a finished result the way the widget does and prints the
# front end's curves, AUCs and per-token gain maps.
_DERIVE = """
import { readFileSync } from "node:fs";
import { decodeResult } from "%(src)s/codecs.js";
import { applyResult, curvePoints, normalizeGains, regionGains, startRun, targetColumns,
         trapezoidAuc } from "%(src)s/state.js";
%(read_state)sconst state = applyResult(startRun(raw.run, raw.n_regions), decodeResult(raw.result));
const maps = { all: Array.from(normalizeGains(regionGains(state))) };
for (const t of raw.run.targets) {
  maps[t] = Array.from(normalizeGains(regionGains(state, targetColumns(state, [t]))));
}
const ins = curvePoints(state, "insertion");
const del = curvePoints(state, "deletion");
console.log(JSON.stringify({ maps, ins: ins.map((p) => p.value), del: del.map((p) => p.value),
  aucIns: trapezoidAuc(ins), aucDel: trapezoidAuc(del), order: Array.from(state.order) }));
"""


def test_front_end_maps_and_curves_equal_the_engine(tmp_path):
    ex = ew.explain(caption_model(), scene(), n_regions=16)  # sentence level
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(jsonable(explanation_state(ex))))
    script = tmp_path / "derive.mjs"
    script.write_text(_DERIVE % {"src": (JS / "src").as_posix(), "read_state": READ_STATE})
    proc = subprocess.run(
        [NODE, str(script), str(state_file)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["order"] == ex.order
    assert np.allclose(out["ins"], ex.insertion_curve.mean(axis=1), atol=1e-6)
    assert np.allclose(out["del"], ex.deletion_curve.mean(axis=1), atol=1e-6)
    assert out["aucIns"] == pytest.approx(ex.insertion_auc, abs=1e-6)
    assert out["aucDel"] == pytest.approx(ex.deletion_auc, abs=1e-6)
    assert np.allclose(out["maps"]["all"], ex.region_values("gain"), atol=1e-5)
    for t in ex.positions:
        assert np.allclose(out["maps"][str(t)], ex.region_values("gain", target=t), atol=1e-5)
