#!/usr/bin/env bash
# Install eagle-widget with the CPU build of torch (into .venv) and open a copy of the
# quickstart notebook (demo model, CPU) in JupyterLab; `eagle-widget demo` says where the
# copy is. Pass --html PATH to write an offline page instead.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
# Installing takes minutes even when nothing changed: skip it while what it installs (this
# script's pins, pyproject.toml) is what the last install recorded in the stamp.
stamp=.venv/.eagle-widget-installed
wanted="$(.venv/bin/python -c 'import hashlib, sys
print(hashlib.sha256(b"".join(open(p, "rb").read() for p in sys.argv[1:])).hexdigest())' \
  scripts/demo.sh pyproject.toml)"
if [ ! -x .venv/bin/eagle-widget ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  rm -f "$stamp"
  .venv/bin/pip install -q torch==2.13.0
  .venv/bin/pip install -q -e . jupyterlab
  echo "$wanted" > "$stamp"
fi
exec .venv/bin/eagle-widget demo "$@"
