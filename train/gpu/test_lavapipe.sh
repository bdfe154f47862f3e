#!/usr/bin/env bash
# Tests the GPU training path end to end on this machine's software Vulkan (Mesa's lavapipe):
# a small bundle, then train/gpu/run.sh with `--backend gpu` forced onto the software adapter
# (FACE_DEBLUR_SOFTWARE_GPU=1) for 4 steps of train/gpu/lavapipe.json, then checks that the
# run trained on wgpu, that what comes back resumes, and that its weights restore a face on
# the CPU.
#
#   FACE_DEBLUR_SHARED=../shared bash train/gpu/test_lavapipe.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
bash train/gpu/bundle.sh 40 40 || true   # prints the size; a too-large tree is fine here
[ -f .gpu/face-deblur.xz ] && [ -f .gpu/data.tar ] || { echo "FAIL: no bundle"; exit 1; }
export OUT=/tmp/gpu-test-out FACE_DEBLUR_SOFTWARE_GPU=1
rm -rf "$OUT" /tmp/gpu-run /tmp/gpu-data && mkdir -p "$OUT"
bash train/gpu/run.sh 20 train/gpu/lavapipe.json
grep -q "training on GPU" "$OUT/train.out" || { echo "FAIL: did not train on wgpu"; exit 1; }
steps=$(grep -c '"step"' "$OUT/log.jsonl" || true)
[ -f "$OUT/best.safetensors" ] || { echo "FAIL: no exported weights"; exit 1; }
ls "$OUT"/checkpoint.tar.gz.* >/dev/null || { echo "FAIL: no checkpoint parts"; exit 1; }
# What comes back resumes here (CPU), one more step.
back=/tmp/gpu-test-back && rm -rf "$back" && mkdir -p "$back"
cat "$OUT"/checkpoint.tar.gz.* | tar -xzf - -C "$back"
cp "$OUT/log.jsonl" "$back/"
sed 's/"steps": 4/"steps": 5/' train/gpu/lavapipe.json >/tmp/gpu-test-5.json
BURN_DEVICE=flex /tmp/face-deblur-headless train --config /tmp/gpu-test-5.json --out "$back" \
  --resume --backend cpu >/tmp/gpu-test-resume.out 2>&1
grep -q '"step":5' "$back/log.jsonl" \
  || { echo "FAIL: the checkpoint did not resume"; tail -5 /tmp/gpu-test-resume.out; exit 1; }
/tmp/face-deblur-headless restore assets/faces/gfpgan_adele.jpg --aligned --backend cpu \
  --weights "$OUT/best.safetensors" -o /tmp/gpu-test-restored.png
echo "PASS: $steps log lines on wgpu, resumed on the CPU, weights restore a face"
