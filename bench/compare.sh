#!/usr/bin/env bash
# Burn vs PyTorch (and ONNX Runtime) on the DFPGnet generator: parity and speed on the CPU.
#   bench/compare.sh [compare.py options, e.g. --random paper --runs 10 --rounds 3 --no-onnx]
# Sets up bench/.venv (torch, numpy, onnxruntime, onnx, onnxscript from PyPI; the torch wheel
# pulls several GB of nvidia-* packages) if missing, builds examples/dump_restore.rs, then runs
# bench/compare.py. The second-to-last line is:
#   train step (generator, L1, batch 8 at 64²): ours X ms, pytorch Y ms, ratio X/Y
# and the last: restore 128px: ours X ms, pytorch Y ms, ratio X/Y
# Benchmark only: not part of the tests or CI.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=bench/.venv
packages=(torch numpy onnxruntime onnx onnxscript)
if ! "$venv/bin/python" -c "import torch, numpy, onnxruntime, onnx" 2>/dev/null; then
  echo "setting up $venv (${packages[*]}) ..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip >&2
  "$venv/bin/pip" install --quiet "${packages[@]}" >&2
fi

cargo build --release --quiet --example dump_restore
"$venv/bin/python" bench/compare.py "$@"
