#!/usr/bin/env bash
# Seconds per training step of `face-deblur train`, the product's own command, for one or more
# binaries side by side (e.g. a build before and after a change), alternating them per round.
#   bench/train_speed.sh CONFIG STEPS ROUNDS BIN...
# CONFIG is a training config (e.g. train/photo.json); it is copied with `steps`,
# `validate_every` and `checkpoint_every` set to STEPS and `validation_faces` to 6, and each
# binary trains it from scratch into a temporary folder. Printed per binary and round: the
# mean seconds per step that the trainer reports at its validation (all STEPS steps, the first
# included), then the median over rounds.
# Benchmark only: not part of the tests or CI. Needs ../shared (data and teacher weights).
set -euo pipefail
cd "$(dirname "$0")/.."
config=$1 steps=$2 rounds=$3
shift 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$config" "$steps" > "$tmp/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
c.update(steps=n, validate_every=n, checkpoint_every=n, validation_faces=6, schedule_start=0)
print(json.dumps(c))
PY
declare -A results
for r in $(seq "$rounds"); do
  for bin in "$@"; do
    rm -rf "$tmp/run"
    line=$(RUST_LOG=info "$bin" train --config "$tmp/config.json" --out "$tmp/run" --backend cpu 2>&1 \
      | grep -ao '([0-9.]* s/step)' | tail -1 | tr -d '()' | cut -d' ' -f1)
    echo "round $r: $bin: $line s/step"
    results[$bin]+="$line "
  done
done
for bin in "$@"; do
  med=$(python3 -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.3f}')" ${results[$bin]})
  echo "train step ($config, $steps steps): $bin median $med s/step"
done
