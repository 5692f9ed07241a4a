#!/usr/bin/env bash
# Install eagle-widget with the CPU build of torch (into .venv) and open the quickstart
# notebook (demo model, CPU) in JupyterLab. Pass --html PATH to write an offline page instead.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q torch==2.13.0
.venv/bin/pip install -q -e . jupyterlab
exec .venv/bin/eagle-widget demo "$@"
