#!/usr/bin/env bash
# Install everything the test suite needs (into .venv-test) and run the whole suite:
# Python unit tests, adapter tests with tiny offline models, JS unit tests, bundle check
# and real-browser tests in Debian's chromium. Fails when any test fails or none ran.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${EAGLE_TEST_VENV:-.venv-test}"

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# torch first, from this disk's wheels (a bare `torch` would pull a multi-GB CUDA build);
# the torchvision pair is what the processors of families with a video slot need.
"$venv/bin/pip" install -q torch==2.14.1 torchvision==0.29.1
"$venv/bin/pip" install -q -e ".[test]"

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi
fi
if [ -f js/package-lock.json ]; then (cd js && npm ci --no-audit --no-fund --silent); fi
# the real vLLM CPU server of tests/test_served_vllm.py: its own ~6 GB venv outside the
# clone, built once (a second call returns at once)
bash scripts/vllm_venv.sh >/dev/null

# pytest exits 5 when it collects no test: that is a failure here too (set -e).
"$venv/bin/python" -m pytest tests -p no:cacheprovider "$@"
