#!/usr/bin/env bash
# Device side of a GPU training run (issue 12 item 4): unpacks the bundle made by
# `train/gpu/bundle.sh`, trains with `--backend gpu` for at most MINUTES minutes, and leaves the
# exported weights, the log and the packed checkpoint in $OUT (the device tool brings those
# back: at most 8 files of 16 MiB each).
#
#   bash train/gpu/run.sh [MINUTES] [CONFIG]      (defaults: 8, train/gpu/gpu.json)
#
# Here (no GPU) it is tested on Mesa's lavapipe with FACE_DEBLUR_ALLOW_SOFTWARE_GPU=1 and a
# tiny config (`bash train/gpu/test_lavapipe.sh`). On the device machine, call it from the
# device tool with `carry: [".gpu", ".gl"]`; see train/gpu/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
minutes="${1:-8}"
config="${2:-train/gpu/gpu.json}"
out="${OUT:?set OUT to the folder that comes back}"
bundle=.gpu

# Vulkan loader and the NVIDIA ICD (device machines may lack the loader: the tool's README).
if compgen -G ".gl/*.deb" >/dev/null; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$nvidia_icd" ]; then
  export VK_DRIVER_FILES="$nvidia_icd"
fi

# xz, or Python's lzma where the image has no xz.
unxz_to() { if command -v xz >/dev/null; then xz -d -c "$1" >"$2"; else
  python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi; }
bin=/tmp/face-deblur-headless
unxz_to "$bundle/face-deblur.xz" "$bin"
chmod +x "$bin"
"$bin" --version | head -1
rm -rf /tmp/gpu-data && mkdir -p /tmp/gpu-data
tar -C /tmp/gpu-data -xf "$bundle/data.tar"

run=/tmp/gpu-run
mkdir -p "$run"
if [ -f "$bundle/checkpoint.tar.xz" ] && [ ! -f "$run/checkpoint/state.json" ]; then
  unxz_to "$bundle/checkpoint.tar.xz" /tmp/checkpoint.tar
  tar -C "$run" -xf /tmp/checkpoint.tar
fi
resume=()
[ -f "$run/checkpoint/state.json" ] && resume=(--resume)

# The config's data folders point into /tmp/gpu-data (see bundle.sh); the run stops at the
# config's `steps` or after MINUTES minutes, whichever comes first (SIGTERM between steps:
# the last checkpoint stays whole, checkpoints are written atomically).
set +e
timeout --signal=TERM "$((minutes * 60))" "$bin" train --config "$config" --out "$run" \
  --backend gpu "${resume[@]}" >"$out/train.out" 2>&1
rc=$?
set -e
echo "train exited with $rc (124: stopped at the time limit)"
grep -m1 "training on" "$out/train.out" || true
tail -n 5 "$out/train.out" | tr '\r' '\n' | tail -n 5

for f in best.safetensors latest.safetensors log.jsonl; do
  [ -f "$run/$f" ] && cp "$run/$f" "$out/"
done
if [ -d "$run/checkpoint" ]; then
  # The checkpoint (weights, moving average, optimiser state), gzipped, in ≤ 15 MiB parts:
  # here `cat checkpoint.tar.gz.* | tar -xzf - -C runs/NAME`, then train --resume.
  tar -C "$run" -czf - checkpoint | split -b 15M -d - "$out/checkpoint.tar.gz."
fi
ls -l "$out"
