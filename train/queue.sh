#!/usr/bin/env bash
# Runs the same-budget comparison runs one after another (issue #3 ablation, issue #6 variants):
#   bash train/queue.sh BINARY [NAME...]   (names: dre b6 b6_seed2 dafi mmrb mmrb_dafi b1 b3 b4 b6_vgg16)
# Each run trains into runs/cmp/NAME (resuming if a checkpoint is there) and is then evaluated
# with `eval --suite training --faces 40` into runs/cmp/NAME/eval. Results are summarised by train/summarise.py.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=$1; shift
names=${*:-dre b6 b6_seed2 dafi mmrb mmrb_dafi b1 b3 b4 b6_vgg16}
for name in $names; do
  if [ "$name" = dre ]; then
    [ -f train/checkpoints/dre/dre.safetensors ] || "$bin" train-dre --config train/dre.json --out train/checkpoints/dre --backend cpu
    continue
  fi
  config=train/ablation/$name.json
  [ -f "$config" ] || config=train/compare/$name.json
  out=runs/cmp/$name
  resume=""; [ -f "$out/checkpoint/state.json" ] && resume=--resume
  "$bin" train --config "$config" --out "$out" --backend cpu $resume || continue
  [ -f "$out/eval/eval.json" ] || "$bin" eval --suite training --weights "$out/best.safetensors" --faces 40 --out "$out/eval" --backend cpu
done
echo QUEUE_DONE
