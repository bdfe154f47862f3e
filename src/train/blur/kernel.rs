//! The [`Kernel`] type and same-size 2-D convolution with reflect padding.

use anyhow::ensure;

/// Square blur kernel of odd side `size`, row-major weights (`data.len() == size * size`).
/// Applied by true convolution (the kernel is flipped), centred on the middle pixel.
#[derive(Clone, Debug, PartialEq)]
pub struct Kernel {
    /// Side length in pixels (odd).
    pub size: usize,
    /// Row-major weights, `size * size` of them; non-negative and summing to 1 for blur kernels.
    pub data: Vec<f32>,
}

impl Kernel {
    /// Identity kernel (a single 1 in the middle) of odd side `size`.
    pub fn delta(size: usize) -> Self {
        assert!(size % 2 == 1, "kernel size must be odd, got {size}");
        let mut data = vec![0.0; size * size];
        data[size * size / 2] = 1.0;
        Self { size, data }
    }

    /// Sum of the weights (1 for a normalised blur kernel).
    pub fn sum(&self) -> f32 {
        self.data.iter().sum()
    }

    /// The same blur `factor` times larger (for faces rendered `factor` times larger): the
    /// weights resampled bilinearly about the centre into an odd square of side
    /// ≈ `size · factor`, renormalised. `factor` 1 returns a copy.
    pub fn upscaled(&self, factor: f64) -> Self {
        assert!(factor >= 1.0, "upscale factor must be ≥ 1, got {factor}");
        if factor == 1.0 {
            return self.clone();
        }
        let size = ((self.size as f64 * factor).ceil() as usize) | 1;
        let (half_in, half_out) = ((self.size / 2) as f64, (size / 2) as f64);
        let at = |y: isize, x: isize| -> f32 {
            let n = self.size as isize;
            if (0..n).contains(&y) && (0..n).contains(&x) {
                self.data[(y * n + x) as usize]
            } else {
                0.0
            }
        };
        let mut data = vec![0.0f32; size * size];
        for (idx, v) in data.iter_mut().enumerate() {
            let sy = ((idx / size) as f64 - half_out) / factor + half_in;
            let sx = ((idx % size) as f64 - half_out) / factor + half_in;
            let (y0, x0) = (sy.floor(), sx.floor());
            let (fy, fx) = ((sy - y0) as f32, (sx - x0) as f32);
            let (y0, x0) = (y0 as isize, x0 as isize);
            *v = (1.0 - fy) * ((1.0 - fx) * at(y0, x0) + fx * at(y0, x0 + 1))
                + fy * ((1.0 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1));
        }
        Self::normalised(size, data)
    }

    /// One of the 8 symmetries of the square applied to the kernel: `turn` bit 2 transposes,
    /// bit 0 mirrors left–right, bit 1 top–bottom (0 = unchanged). Camera shake can point any
    /// way, so each is as plausible as the recorded one; the centre pixel stays the centre.
    pub fn turned(&self, turn: u8) -> Self {
        let n = self.size;
        let data = (0..n * n)
            .map(|idx| {
                let (mut y, mut x) = (idx / n, idx % n);
                if turn & 1 != 0 {
                    x = n - 1 - x;
                }
                if turn & 2 != 0 {
                    y = n - 1 - y;
                }
                if turn & 4 != 0 {
                    (y, x) = (x, y);
                }
                self.data[y * n + x]
            })
            .collect();
        Self { size: n, data }
    }

    /// A kernel of odd side `size` with `data` scaled to sum 1.
    pub(crate) fn normalised(size: usize, mut data: Vec<f32>) -> Self {
        let total: f32 = data.iter().sum();
        data.iter_mut().for_each(|v| *v /= total);
        Self { size, data }
    }

    /// Embeds an `h × w` row-major kernel in the smallest odd square whose centre pixel is
    /// within half a pixel of the kernel's centre of mass (integer shift only, so the weights
    /// are unchanged), then renormalises it to sum 1. Errors on negative weights or zero sum.
    pub fn centred_from_rect(h: usize, w: usize, weights: &[f32]) -> anyhow::Result<Self> {
        ensure!(h > 0 && w > 0, "empty kernel ({h}×{w})");
        ensure!(
            weights.len() == h * w,
            "kernel has {} weights, expected {h}×{w}",
            weights.len()
        );
        ensure!(
            weights.iter().all(|v| v.is_finite() && *v >= 0.0),
            "kernel has negative or non-finite weights"
        );
        let total: f64 = weights.iter().map(|&v| f64::from(v)).sum();
        ensure!(total > 0.0, "kernel weights sum to zero");
        let (mut cy, mut cx) = (0.0f64, 0.0f64);
        for (i, &v) in weights.iter().enumerate() {
            cy += (i / w) as f64 * f64::from(v);
            cx += (i % w) as f64 * f64::from(v);
        }
        let (cy, cx) = (cy / total, cx / total);
        let mut size = h.max(w) | 1;
        loop {
            let half = ((size - 1) / 2) as f64;
            let oy = (half - cy).round();
            let ox = (half - cx).round();
            let fits = |o: f64, n: usize| o >= 0.0 && o as usize + n <= size;
            if fits(oy, h) && fits(ox, w) {
                let (oy, ox) = (oy as usize, ox as usize);
                let mut data = vec![0.0f32; size * size];
                for r in 0..h {
                    for c in 0..w {
                        data[(r + oy) * size + c + ox] =
                            (f64::from(weights[r * w + c]) / total) as f32;
                    }
                }
                return Ok(Self { size, data });
            }
            size += 2;
        }
    }
}

/// Index of `i` (possibly outside `0..n`) mirrored into `0..n` without repeating the edge
/// pixel (`-1 → 1`, `n → n - 2`), periodically for offsets larger than the image.
pub(crate) fn reflect_index(i: isize, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n as isize - 1);
    let m = i.rem_euclid(period);
    if m < n as isize {
        m as usize
    } else {
        (period - m) as usize
    }
}

/// 2-D convolution of every channel of a CHW image (`c × h × w`, any values) with `kernel`,
/// reflect padding (edge pixel not repeated), same-size output. Only the non-zero taps are
/// visited, which makes sparse motion kernels cheap.
pub fn blur_rgb(chw: &[f32], c: usize, h: usize, w: usize, kernel: &Kernel) -> Vec<f32> {
    assert_eq!(
        chw.len(),
        c * h * w,
        "image buffer does not match {c}×{h}×{w}"
    );
    assert!(kernel.size % 2 == 1, "kernel size must be odd");
    let k = kernel.size;
    let r = k / 2;
    // out(y, x) = Σ k(i, j) · in(y + r - i, x + r - j) = Σ k(i, j) · pad(y + 2r - i, x + 2r - j).
    let taps: Vec<(usize, usize, f32)> = kernel
        .data
        .iter()
        .enumerate()
        .filter(|(_, v)| **v != 0.0)
        .map(|(idx, &v)| (2 * r - idx / k, 2 * r - idx % k, v))
        .collect();
    let (ph, pw) = (h + 2 * r, w + 2 * r);
    let col_src: Vec<usize> = (0..pw)
        .map(|x| reflect_index(x as isize - r as isize, w))
        .collect();
    let mut pad = vec![0.0f32; ph * pw];
    let mut out = vec![0.0f32; c * h * w];
    for ch in 0..c {
        let plane = &chw[ch * h * w..(ch + 1) * h * w];
        for (py, pad_row) in pad.chunks_exact_mut(pw).enumerate() {
            let src_row = &plane[reflect_index(py as isize - r as isize, h) * w..][..w];
            for (dst, &sx) in pad_row.iter_mut().zip(&col_src) {
                *dst = src_row[sx];
            }
        }
        let out_plane = &mut out[ch * h * w..(ch + 1) * h * w];
        for (y, out_row) in out_plane.chunks_exact_mut(w).enumerate() {
            for &(dy, dx, wt) in &taps {
                let src = &pad[(y + dy) * pw + dx..][..w];
                for (o, &s) in out_row.iter_mut().zip(src) {
                    *o += wt * s;
                }
            }
        }
    }
    out
}
