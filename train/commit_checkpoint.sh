#!/usr/bin/env bash
# Commits a training run's latest checkpoint into train/checkpoints/NAME (checkpoint/, the
# log lines up to that step, best.safetensors, curves.png; README line 1 gets the step):
#   bash train/commit_checkpoint.sh RUN_DIR NAME [PID]
# With PID (the `face-deblur train` process) the run is paused (SIGSTOP) right after it saved
# a checkpoint, copied, then continued (SIGCONT), so the copy is one consistent step.
# Dev tool: not part of the tests or CI.
set -euo pipefail
cd "$(dirname "$0")/.."
run=$1 name=$2 pid=${3:-}
dest=train/checkpoints/$name
step() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['step'])" "$run/checkpoint/state.json"; }
if [ -n "$pid" ]; then
  s0=$(step)
  echo "waiting for the checkpoint after step $s0 ..." >&2
  while [ "$(step 2>/dev/null || echo "$s0")" = "$s0" ]; do sleep 5; done
  sleep 8   # let the save finish writing every file
  kill -STOP "$pid"
  trap 'kill -CONT "$pid"' EXIT
fi
n=$(step)
mkdir -p "$dest/checkpoint"
cp "$run"/checkpoint/* "$dest/checkpoint/"
python3 - "$run/log.jsonl" "$n" > "$dest/log.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    if line.strip() and json.loads(line).get("step", 0) <= int(sys.argv[2]):
        print(line, end="")
PY
cp "$run/best.safetensors" "$dest/"
[ -f "$run/curves.png" ] && cp "$run/curves.png" "$dest/"
for f in "$run"/checkpoint/*; do cmp -s "$f" "$dest/checkpoint/$(basename "$f")" || { echo "copy differs: $f" >&2; exit 1; }; done
sed -i "1s/.*/# Checkpoint of runs\/$name (step $n)/" "$dest/README.md"
git add -f "$dest"
best=$(python3 -c "
import json,sys
v=[json.loads(l) for l in open(sys.argv[1]) if 'psnr_output' in l]
b=max(v,key=lambda r:r['psnr_output']); print(f\"{b['psnr_output']:.2f} @{b['step']}\")" "$dest/log.jsonl" 2>/dev/null || echo "?")
git commit -q -m "runs/$name checkpoint at step $n (validation best $best)" -- "$dest"
echo "committed $dest at step $n (best $best)"
