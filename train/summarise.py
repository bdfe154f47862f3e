#!/usr/bin/env python3
"""Summarise the same-budget comparison runs of train/queue.sh into one Markdown table.

    python3 train/summarise.py [RUNS_DIR=runs/cmp] > eval/comparison.md

For each run: final validation PSNR (32 val faces, from log.jsonl) and the eval of its best
weights (`eval --faces 40`, CelebA test + UTKFace held-out, pooled), overall and by blur size.
"""
import json
import sys
from pathlib import Path

runs = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/cmp")
ORDER = ["b1", "b3", "b4", "b6", "b6_seed2", "b6_vgg16", "mmrb", "dafi", "mmrb_dafi"]
LABEL = {
    "b1": "B1 encoder-decoder, L1",
    "b3": "B3 + prior stream, no SSFT/SFT",
    "b4": "B4 + SSFT/SFT",
    "b6": "B6 DFPGnet (+ CA discriminator, prior loss)",
    "b6_seed2": "B6 again, seed 2 (run-to-run spread; val PSNR on other val faces)",
    "b6_vgg16": "B6 with the VGG16 teacher",
    "mmrb": "B6 + MMRB encoder",
    "dafi": "B6 + DRE/DAFI (SFT+DAFI)",
    "mmrb_dafi": "B6 + MMRB + DRE/DAFI",
}
BINS = [("≤17 px", 1, 17), ("19–23 px", 18, 23), ("≥25 px", 24, 99)]


def pooled(sets, key, lo=None, hi=None):
    """Count-weighted mean of [input, output] over the test sets (optionally by kernel bin)."""
    n, acc = 0, [0.0, 0.0]
    for s in sets:
        groups = [s["overall"]] if lo is None else [
            g for k, g in s["by_kernel_size"].items() if lo <= int(k) <= hi]
        for g in groups:
            n += g["count"]
            acc = [a + g["count"] * v for a, v in zip(acc, g[key])]
    return (acc[0] / n, acc[1] / n, n) if n else None


rows = []
for name in ORDER + sorted(p.name for p in runs.iterdir() if p.is_dir() and p.name not in ORDER):
    d = runs / name
    if not (d / "eval" / "eval.json").exists():
        continue
    sets = json.loads((d / "eval" / "eval.json").read_text())
    val = [json.loads(l) for l in (d / "log.jsonl").read_text().splitlines() if "psnr_output" in l]
    last = val[-1] if val else None
    steps = last["step"] if last else 0
    psnr = pooled(sets, "psnr")
    ssim = pooled(sets, "ssim")
    ident = pooled(sets, "identity")
    lp = pooled(sets, "lpips_like")
    bins = [pooled(sets, "psnr", lo, hi) for _, lo, hi in BINS]
    rows.append((name, steps, last, psnr, ssim, ident, lp, bins))

if not rows:
    sys.exit("no evaluated runs under " + str(runs))
first = rows[0]
print(f"Same budget for every run: {first[1]} steps of batch 8 (64² crops), compact config, "
      "CPU. Eval: `face-deblur eval --faces 40` (CelebA test + UTKFace held-out pooled, 80 faces, "
      "fresh synthetic and held-out KAIR kernels). Val PSNR: 32 validation faces at the last step. "
      "ΔPSNR: output − input by kernel size.\n")
print("| run | val PSNR | PSNR | SSIM | identity ↓ | LPIPS-like ↓ | "
      + " | ".join(f"ΔPSNR {b[0]}" for b in BINS) + " |")
print("|---|---:|---:|---:|---:|---:|" + "---:|" * len(BINS))
_, _, last0, psnr0, ssim0, ident0, lp0, _ = first
print(f"| blurred input | {last0['psnr_input']:.2f} | {psnr0[0]:.2f} | {ssim0[0]:.3f} | {ident0[0]:.3f} "
      f"| {lp0[0]:.3f} | " + " | ".join("–" for _ in BINS) + " |")
for name, steps, last, psnr, ssim, ident, lp, bins in rows:
    cells = [f"{b[1] - b[0]:+.2f} (n={b[2]})" if b else "–" for b in bins]
    print(f"| {LABEL.get(name, name)} | {last['psnr_output']:.2f} | {psnr[1]:.2f} | {ssim[1]:.3f} "
          f"| {ident[1]:.3f} | {lp[1]:.3f} | " + " | ".join(cells) + " |")
