//! Image-quality metrics on CHW `f32` images with values in [0, 1] (peak value 1).
//!
//! * [`psnr`]: over all channels and pixels, `10 · log10(1 / MSE)`, capped at [`PSNR_CAP_DB`].
//! * [`ssim`]: Wang et al. 2004 SSIM with the reference settings (11×11 Gaussian window,
//!   σ = 1.5, K1 = 0.01, K2 = 0.03, L = 1, statistics over the "valid" window positions only,
//!   as in the authors' `ssim_index.m`), computed **per RGB channel and averaged**. Face
//!   deblurring papers report SSIM either on RGB or on the BT.601 luminance Y; for the Y variant
//!   call `ssim(&luma_bt601(a, h, w), &luma_bt601(b, h, w), 1, h, w)`.
//!
//! All sums are accumulated in `f64`.

/// PSNR reported for identical images (where the MSE is 0), in dB.
pub const PSNR_CAP_DB: f64 = 100.0;

/// Side of the SSIM Gaussian window.
pub const SSIM_WINDOW: usize = 11;

/// Standard deviation of the SSIM Gaussian window, in pixels.
pub const SSIM_SIGMA: f64 = 1.5;

const SSIM_C1: f64 = 0.01 * 0.01;
const SSIM_C2: f64 = 0.03 * 0.03;

/// Peak signal-to-noise ratio in dB of two `c × h × w` [0, 1] images (peak 1), over all
/// values; at most [`PSNR_CAP_DB`].
pub fn psnr(a: &[f32], b: &[f32], c: usize, h: usize, w: usize) -> f64 {
    let n = c * h * w;
    assert!(n > 0, "empty image");
    assert!(
        a.len() == n && b.len() == n,
        "image buffers do not match {c}×{h}×{w}"
    );
    let sse: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = f64::from(x) - f64::from(y);
            d * d
        })
        .sum();
    let mse = sse / n as f64;
    if mse <= 0.0 {
        PSNR_CAP_DB
    } else {
        (-10.0 * mse.log10()).min(PSNR_CAP_DB)
    }
}

/// BT.601 luminance `Y = 0.299 R + 0.587 G + 0.114 B` of a 3-channel CHW image, as a
/// `1 × h × w` image.
pub fn luma_bt601(chw: &[f32], h: usize, w: usize) -> Vec<f32> {
    let plane = h * w;
    assert_eq!(chw.len(), 3 * plane, "expected a 3×{h}×{w} image");
    (0..plane)
        .map(|i| 0.299 * chw[i] + 0.587 * chw[plane + i] + 0.114 * chw[2 * plane + i])
        .collect()
}

/// Normalised 1-D Gaussian of `size` taps and standard deviation `sigma`.
fn gaussian_taps(size: usize, sigma: f64) -> Vec<f64> {
    let centre = (size / 2) as f64;
    let taps: Vec<f64> = (0..size)
        .map(|i| (-((i as f64 - centre).powi(2)) / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f64 = taps.iter().sum();
    taps.iter().map(|t| t / total).collect()
}

/// "Valid" separable filtering of an `h × w` plane with `taps` in both directions:
/// `(h - k + 1) × (w - k + 1)` output.
fn filter_valid(plane: &[f64], h: usize, w: usize, taps: &[f64]) -> Vec<f64> {
    let k = taps.len();
    let (oh, ow) = (h - k + 1, w - k + 1);
    let mut rows = vec![0.0; h * ow];
    for y in 0..h {
        let src = &plane[y * w..(y + 1) * w];
        for x in 0..ow {
            rows[y * ow + x] = taps.iter().zip(&src[x..x + k]).map(|(t, v)| t * v).sum();
        }
    }
    let mut out = vec![0.0; oh * ow];
    for y in 0..oh {
        for (i, t) in taps.iter().enumerate() {
            let src = &rows[(y + i) * ow..(y + i + 1) * ow];
            for (o, v) in out[y * ow..(y + 1) * ow].iter_mut().zip(src) {
                *o += t * v;
            }
        }
    }
    out
}

/// Mean SSIM of one `h × w` channel pair with a Gaussian window of `taps`.
fn ssim_plane(a: &[f32], b: &[f32], h: usize, w: usize, taps: &[f64]) -> f64 {
    let x: Vec<f64> = a.iter().map(|&v| f64::from(v)).collect();
    let y: Vec<f64> = b.iter().map(|&v| f64::from(v)).collect();
    let xx: Vec<f64> = x.iter().map(|v| v * v).collect();
    let yy: Vec<f64> = y.iter().map(|v| v * v).collect();
    let xy: Vec<f64> = x.iter().zip(&y).map(|(p, q)| p * q).collect();
    let [mx, my, mxx, myy, mxy] = [&x, &y, &xx, &yy, &xy].map(|p| filter_valid(p, h, w, taps));
    let mut total = 0.0;
    for i in 0..mx.len() {
        let (ux, uy) = (mx[i], my[i]);
        let vx = mxx[i] - ux * ux;
        let vy = myy[i] - uy * uy;
        let cov = mxy[i] - ux * uy;
        total += ((2.0 * ux * uy + SSIM_C1) * (2.0 * cov + SSIM_C2))
            / ((ux * ux + uy * uy + SSIM_C1) * (vx + vy + SSIM_C2));
    }
    total / mx.len() as f64
}

/// Mean SSIM of two `c × h × w` [0, 1] images, averaged over channels (see the module
/// documentation). Images smaller than 11 px on a side use the largest odd window that fits
/// (same σ). 1 for identical images; symmetric in `a` and `b`.
pub fn ssim(a: &[f32], b: &[f32], c: usize, h: usize, w: usize) -> f64 {
    assert!(c > 0 && h > 0 && w > 0, "empty image");
    assert!(
        a.len() == c * h * w && b.len() == c * h * w,
        "image buffers do not match {c}×{h}×{w}"
    );
    let window = SSIM_WINDOW.min(h).min(w);
    // Largest odd number not above `window` (which is at least 1).
    let window = (window - 1) | 1;
    let taps = gaussian_taps(window, SSIM_SIGMA);
    let plane = h * w;
    (0..c)
        .map(|ch| {
            ssim_plane(
                &a[ch * plane..(ch + 1) * plane],
                &b[ch * plane..(ch + 1) * plane],
                h,
                w,
                &taps,
            )
        })
        .sum::<f64>()
        / c as f64
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn random_image(seed: u64, n: usize) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| rng.random::<f32>()).collect()
    }

    /// SSIM of one channel by direct 2-D windowing, to check the separable implementation.
    fn naive_ssim_plane(a: &[f32], b: &[f32], h: usize, w: usize) -> f64 {
        let g = gaussian_taps(SSIM_WINDOW, SSIM_SIGMA);
        let k = SSIM_WINDOW;
        let mut total = 0.0;
        let mut count = 0;
        for y0 in 0..=h - k {
            for x0 in 0..=w - k {
                let (mut ux, mut uy, mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
                for i in 0..k {
                    for j in 0..k {
                        let wt = g[i] * g[j];
                        let p = f64::from(a[(y0 + i) * w + x0 + j]);
                        let q = f64::from(b[(y0 + i) * w + x0 + j]);
                        ux += wt * p;
                        uy += wt * q;
                        sxx += wt * p * p;
                        syy += wt * q * q;
                        sxy += wt * p * q;
                    }
                }
                let (vx, vy, cov) = (sxx - ux * ux, syy - uy * uy, sxy - ux * uy);
                total += ((2.0 * ux * uy + SSIM_C1) * (2.0 * cov + SSIM_C2))
                    / ((ux * ux + uy * uy + SSIM_C1) * (vx + vy + SSIM_C2));
                count += 1;
            }
        }
        total / f64::from(count)
    }

    #[test]
    fn psnr_of_identical_images_is_capped() {
        let a = random_image(1, 3 * 8 * 8);
        assert_eq!(psnr(&a, &a, 3, 8, 8), PSNR_CAP_DB);
    }

    #[test]
    fn psnr_of_constant_offsets() {
        // Offset 0.1: MSE 0.01 → 20 dB (up to f32 rounding of 0.1).
        let a = vec![0.3f32; 3 * 16 * 16];
        let b = vec![0.4f32; 3 * 16 * 16];
        assert!((psnr(&a, &b, 3, 16, 16) - 20.0).abs() < 1e-5);
        // Offset 1/8, exact in f32: MSE 1/64 → 10·log10(64) dB.
        let a = vec![0.25f32; 12];
        let b = vec![0.375f32; 12];
        assert!((psnr(&a, &b, 3, 2, 2) - 10.0 * 64f64.log10()).abs() < 1e-12);
        // Half the values off by 0.2: MSE 0.02.
        let c: Vec<f32> = (0..12)
            .map(|i| if i % 2 == 0 { 0.5 } else { 0.7 })
            .collect();
        let d = vec![0.5f32; 12];
        assert!((psnr(&c, &d, 3, 2, 2) - (-10.0 * 0.02f64.log10())).abs() < 1e-5);
    }

    #[test]
    fn ssim_of_identical_images_is_one() {
        let a = random_image(2, 3 * 20 * 24);
        assert!((ssim(&a, &a, 3, 20, 24) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn ssim_of_constant_images_is_the_luminance_term() {
        // Zero variance: SSIM = (2 μx μy + C1) / (μx² + μy² + C1).
        let (p, q) = (0.5f64, 0.6f64);
        let expected = (2.0 * p * q + SSIM_C1) / (p * p + q * q + SSIM_C1);
        let a = vec![p as f32; 2 * 16 * 16];
        let b = vec![q as f32; 2 * 16 * 16];
        assert!((ssim(&a, &b, 2, 16, 16) - expected).abs() < 1e-6);
    }

    #[test]
    fn ssim_averages_channels() {
        // Channel 0 identical (SSIM 1), channel 1 two constants (known value).
        let n = 16 * 16;
        let noise = random_image(3, n);
        let mut a = noise.clone();
        let mut b = noise;
        a.extend(std::iter::repeat_n(0.2f32, n));
        b.extend(std::iter::repeat_n(0.8f32, n));
        let lum = (2.0 * 0.2 * 0.8 + SSIM_C1) / (0.04 + 0.64 + SSIM_C1);
        let got = ssim(&a, &b, 2, 16, 16);
        assert!((got - (1.0 + lum) / 2.0).abs() < 1e-6, "{got}");
    }

    #[test]
    fn ssim_matches_direct_windowing_and_is_symmetric() {
        let (h, w) = (19, 23);
        let a = random_image(4, h * w);
        let b: Vec<f32> = a
            .iter()
            .zip(random_image(5, h * w))
            .map(|(x, n)| 0.7 * x + 0.3 * n)
            .collect();
        let fast = ssim(&a, &b, 1, h, w);
        let slow = naive_ssim_plane(&a, &b, h, w);
        assert!((fast - slow).abs() < 1e-10, "{fast} vs {slow}");
        assert!((fast - ssim(&b, &a, 1, h, w)).abs() < 1e-12);
        assert!(fast > 0.3 && fast < 0.99, "{fast}");
    }

    #[test]
    fn ssim_drops_for_inverted_structure() {
        let a = random_image(6, 16 * 16);
        let inv: Vec<f32> = a.iter().map(|v| 1.0 - v).collect();
        assert!(ssim(&a, &inv, 1, 16, 16) < 0.0);
    }

    #[test]
    fn ssim_handles_images_smaller_than_the_window() {
        let a = random_image(7, 3 * 6 * 9);
        assert!((ssim(&a, &a, 3, 6, 9) - 1.0).abs() < 1e-12);
        let b: Vec<f32> = a.iter().map(|v| v * 0.5).collect();
        assert!(ssim(&a, &b, 3, 6, 9) < 1.0);
    }

    #[test]
    fn luma_weights_sum_to_one() {
        let grey = vec![0.4f32; 3 * 4];
        assert!(
            luma_bt601(&grey, 2, 2)
                .iter()
                .all(|y| (y - 0.4).abs() < 1e-6)
        );
    }
}
