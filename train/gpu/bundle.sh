#!/usr/bin/env bash
# Host side of a GPU training run (issue 12 item 4): builds the headless binary (no desktop
# app: `--no-default-features`), packs it with a face subset into `.gpu/` (ignored through
# .git/info/exclude) and prints what a device call would carry.
#
#   FACE_DEBLUR_SHARED=../shared bash train/gpu/bundle.sh [CELEBA_N] [UTK_N] [RUN_DIR]
#
# CELEBA_N / UTK_N: faces taken from each set (defaults 900 / 800; with a quarter of the
# CelebA validation faces), sized so that bundle + the sparse tree of train/gpu/README.md
# stay under the device tool's 64 MiB; RUN_DIR: a run folder whose checkpoint the device run
# resumes (default: none, the config's init_weights; a compact checkpoint adds ≈ 30 MiB and
# needs smaller subsets). See train/gpu/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
shared="${FACE_DEBLUR_SHARED:?set FACE_DEBLUR_SHARED to the research folder}"
celeba_n="${1:-900}"
utk_n="${2:-800}"
run_dir="${3:-}"
bundle=.gpu
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >>.git/info/exclude
rm -rf "$bundle" && mkdir -p "$bundle"

cargo build --release --no-default-features --bin face-deblur
strip -o "$bundle/face-deblur" target/release/face-deblur
xz -T0 -9e -f "$bundle/face-deblur"

# A deterministic subset of the faces (sorted names, every k-th), the kernels; JPEGs do not
# compress, so a plain tar.
data="$shared/data"
list="$bundle/files.txt"
# N evenly spaced lines of the sorted JPEGs under DIR.
pick() { find "$1" -name '*.jpg' | sort | awk -v n="$2" '{ l[NR] = $0 }
  END { for (i = 0; i < n && i < NR; i++) print l[1 + int(i * NR / n)] }'; }
(
  cd "$data"
  pick faces/celeba/train "$celeba_n"
  pick faces/celeba/val 150
  # UTKFace's split is by file name (Split::of_utkface_file): an evenly spaced pick spans all.
  pick faces/utkface "$utk_n"
  ls kernels/*.safetensors
) >"$list"
tar -C "$data" -cf "$bundle/data.tar" -T "$list"
rm "$list"

if [ -n "$run_dir" ]; then
  tar -C "$run_dir" -cf - checkpoint | xz -T0 -6 >"$bundle/checkpoint.tar.xz"
fi

# What a device call sends: tracked and untracked-not-ignored files that exist here, plus the
# carried .gpu/ (and .gl/ with the Vulkan loader, if made).
sizes() { git ls-files -co --exclude-standard -z | xargs -0 -r stat -c %s 2>/dev/null || true; }
tree=$(sizes | awk '{ s += $1 } END { print s + 0 }')
carried=("$bundle"); [ -d .gl ] && carried+=(.gl)
carry=$(du -cb "${carried[@]}" | tail -1 | cut -f1)
ls -l "$bundle"
awk -v t="$tree" -v c="$carry" 'BEGIN {
  printf "tree %.1f MiB + carried %.1f MiB = %.1f MiB (the device tool takes 64 MiB)\n", t / 2^20, c / 2^20, (t + c) / 2^20
  if (t + c > 64 * 2^20) { print "too large: make the sparse tree first (train/gpu/README.md)"; exit 1 }
}'
