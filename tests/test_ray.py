"""Batches on Ray, run inside a network namespace that has only loopback (see ray_cases.py).

As root, `unshare -n` gives the test run a fresh namespace; there a local Ray cannot listen
on any interface but 127.0.0.1, nor reach another machine. Outside such a namespace, and
where one cannot be made, this test fails: it never starts Ray on the open network.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from ray_cases import loopback_only

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


@pytest.mark.slow
@pytest.mark.parametrize("cases", ["ray_cases.py", "ray_cluster_cases.py"])
def test_ray_batches_in_a_loopback_only_network_namespace(cases):
    """ray_cases.py: a private one-node cluster; ray_cluster_cases.py: a cluster of two
    nodes the user started, one of them with GPUs and without the driver's files."""
    pytest_run = [sys.executable, "-m", "pytest", str(TESTS / cases), "-q",
                  "-p", "no:cacheprovider"]  # fmt: skip
    if not loopback_only():
        inner = " ".join(f"'{part}'" for part in pytest_run)
        pytest_run = ["unshare", "-n", "sh", "-c", f"ip link set lo up && exec {inner}"]
    # the workers import this checkout's package, and the jobs of ray_cases from tests/
    path = os.pathsep.join(filter(None, [str(ROOT), str(TESTS), os.environ.get("PYTHONPATH")]))
    result = subprocess.run(
        pytest_run, cwd=ROOT, capture_output=True, text=True, timeout=1800,
        env={**os.environ, "PYTHONPATH": path},
    )  # fmt: skip
    report = (result.stdout + result.stderr)[-20000:]
    assert "unshare failed" not in report, f"cannot make a network namespace (root?):\n{report}"
    assert result.returncode == 0, report
    assert " passed" in result.stdout and "skipped" not in result.stdout, report
