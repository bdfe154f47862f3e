#!/usr/bin/env bash
# Peak memory and wall time of restoring one ~24-megapixel photo (three faces) with the CLI:
#   bench/peak_rss.sh [cpu|gpu|auto] [N]  (default cpu; the value goes to --backend;
#                                          N > 1 restores a folder of N copies instead)
# Builds the release binary and examples/make_bench_photo.rs, writes the photo to a temporary
# folder, runs `face-deblur restore photo.jpg -o out.jpg --backend …` under /usr/bin/time -v
# and prints peak RSS and wall time. Needs GNU time (Debian: apt-get install time).
set -euo pipefail
cd "$(dirname "$0")/.."

backend="${1:-cpu}"
copies="${2:-1}"
[ -x /usr/bin/time ] || { echo "peak_rss.sh: /usr/bin/time (GNU time) is missing" >&2; exit 1; }

cargo build --release --quiet --bin face-deblur --example make_bench_photo

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
target/release/examples/make_bench_photo "$tmp/photo.jpg"
input="$tmp/photo.jpg"; output="$tmp/out.jpg"
if [ "$copies" -gt 1 ]; then
  mkdir "$tmp/in"
  for i in $(seq "$copies"); do cp "$tmp/photo.jpg" "$tmp/in/photo$i.jpg"; done
  input="$tmp/in"; output="$tmp/out"
fi

status=0
/usr/bin/time -v -o "$tmp/time.txt" \
  target/release/face-deblur restore "$input" -o "$output" --backend "$backend" \
  || status=$?
[ "$status" -eq 0 ] || { cat "$tmp/time.txt" >&2; echo "restore failed (exit $status)" >&2; exit "$status"; }

rss_kb="$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$tmp/time.txt")"
wall="$(sed -n 's/^[[:space:]]*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$tmp/time.txt")"
cpu_pct="$(sed -n 's/^[[:space:]]*Percent of CPU this job got: //p' "$tmp/time.txt")"
# h:mm:ss.ss or m:ss.ss → seconds
wall_s="$(awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }' <<<"$wall")"
echo "restore ${copies}× 24MP --backend $backend: peak RSS $((rss_kb / 1024)) MiB, wall ${wall_s} s, CPU ${cpu_pct}"
