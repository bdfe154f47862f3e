//! Optical blur kernels: defocus (a uniform disk, the out-of-focus point spread function of a
//! lens with a round aperture), Gaussian (soft focus, mild lens softness) and the convolution
//! of two kernels (camera shake seen through a soft lens).

use super::Kernel;

/// Sub-samples per pixel and axis when rasterising the defocus disk (antialiased edge).
const DISK_SUPERSAMPLING: usize = 8;

/// Defocus kernel: a disk of `radius` pixels (at least 0.5), antialiased by supersampling,
/// in the smallest odd square that holds it. Non-negative, sums to 1, centred.
pub fn defocus_kernel(radius: f64) -> Kernel {
    assert!(
        radius.is_finite() && radius >= 0.5,
        "defocus radius must be at least 0.5 px, got {radius}"
    );
    let half = radius.ceil() as usize;
    let size = 2 * half + 1;
    let s = DISK_SUPERSAMPLING;
    let r2 = radius * radius;
    let mut data = vec![0.0f32; size * size];
    for (idx, v) in data.iter_mut().enumerate() {
        let (row, col) = ((idx / size) as f64, (idx % size) as f64);
        let mut inside = 0usize;
        for sy in 0..s {
            for sx in 0..s {
                let y = row - half as f64 + (sy as f64 + 0.5) / s as f64 - 0.5;
                let x = col - half as f64 + (sx as f64 + 0.5) / s as f64 - 0.5;
                if x * x + y * y <= r2 {
                    inside += 1;
                }
            }
        }
        *v = inside as f32;
    }
    Kernel::normalised(size, data)
}

/// Gaussian kernel of standard deviation `sigma` pixels (> 0), truncated at 3σ (side
/// `2·ceil(3σ) + 1`, at least 3). Non-negative, sums to 1, centred.
pub fn gaussian_kernel(sigma: f64) -> Kernel {
    assert!(
        sigma.is_finite() && sigma > 0.0,
        "Gaussian sigma must be positive, got {sigma}"
    );
    let half = ((3.0 * sigma).ceil() as usize).max(1);
    let size = 2 * half + 1;
    let profile: Vec<f64> = (0..size)
        .map(|i| {
            let d = i as f64 - half as f64;
            (-d * d / (2.0 * sigma * sigma)).exp()
        })
        .collect();
    let data = (0..size * size)
        .map(|idx| (profile[idx / size] * profile[idx % size]) as f32)
        .collect();
    Kernel::normalised(size, data)
}

/// Full 2-D convolution of two kernels (`a ⊛ b`): the blur of applying `a` then `b`. Side
/// `a.size + b.size - 1` (odd when both are); sums to the product of their sums.
pub fn convolve_kernels(a: &Kernel, b: &Kernel) -> Kernel {
    let size = a.size + b.size - 1;
    let mut data = vec![0.0f32; size * size];
    for (ia, &va) in a.data.iter().enumerate().filter(|(_, v)| **v != 0.0) {
        let (ya, xa) = (ia / a.size, ia % a.size);
        for (ib, &vb) in b.data.iter().enumerate() {
            let (yb, xb) = (ib / b.size, ib % b.size);
            data[(ya + yb) * size + xa + xb] += va * vb;
        }
    }
    Kernel { size, data }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn centre_of_mass(k: &Kernel) -> (f64, f64) {
        let (mut y, mut x) = (0.0, 0.0);
        for (i, &v) in k.data.iter().enumerate() {
            y += (i / k.size) as f64 * f64::from(v);
            x += (i % k.size) as f64 * f64::from(v);
        }
        (y, x)
    }

    #[test]
    fn disk_is_normalised_centred_and_round() {
        for radius in [0.5, 1.5, 3.2, 6.0] {
            let k = defocus_kernel(radius);
            assert_eq!(k.size, 2 * radius.ceil() as usize + 1);
            assert!((k.sum() - 1.0).abs() < 1e-5);
            let (cy, cx) = centre_of_mass(&k);
            let half = (k.size / 2) as f64;
            assert!((cy - half).abs() < 1e-4 && (cx - half).abs() < 1e-4);
            // Corners lie outside the disk for radii ≥ 1.5; the centre is at full weight.
            let max = k.data.iter().copied().fold(0.0f32, f32::max);
            assert_eq!(k.data[k.size * k.size / 2], max);
            if radius >= 1.5 {
                assert_eq!(k.data[0], 0.0, "radius {radius}");
            }
        }
    }

    #[test]
    fn disk_area_matches_pi_r_squared() {
        let k = defocus_kernel(5.0);
        let max = k.data.iter().copied().fold(0.0f32, f32::max);
        let area: f32 = k.data.iter().map(|v| v / max).sum();
        let expected = std::f32::consts::PI * 25.0;
        assert!((area - expected).abs() / expected < 0.02, "area {area}");
    }

    #[test]
    fn gaussian_has_the_requested_spread() {
        let sigma = 1.7;
        let k = gaussian_kernel(sigma);
        assert!((k.sum() - 1.0).abs() < 1e-5);
        let half = (k.size / 2) as f64;
        let var: f64 = k
            .data
            .iter()
            .enumerate()
            .map(|(i, &v)| ((i % k.size) as f64 - half).powi(2) * f64::from(v))
            .sum();
        assert!((var.sqrt() - sigma).abs() < 0.05, "std {}", var.sqrt());
    }

    #[test]
    fn convolving_with_a_delta_changes_nothing_but_the_canvas() {
        let g = gaussian_kernel(1.0);
        let both = convolve_kernels(&g, &Kernel::delta(3));
        assert_eq!(both.size, g.size + 2);
        for (i, &v) in g.data.iter().enumerate() {
            let (y, x) = (i / g.size + 1, i % g.size + 1);
            assert!((both.data[y * both.size + x] - v).abs() < 1e-7);
        }
        assert!((both.sum() - 1.0).abs() < 1e-5);
    }

    #[test]
    fn variances_add_under_convolution() {
        let a = gaussian_kernel(1.0);
        let b = gaussian_kernel(2.0);
        let c = convolve_kernels(&a, &b);
        let half = (c.size / 2) as f64;
        let var: f64 = c
            .data
            .iter()
            .enumerate()
            .map(|(i, &v)| ((i / c.size) as f64 - half).powi(2) * f64::from(v))
            .sum();
        assert!((var - 5.0).abs() < 0.25, "variance {var}");
    }
}
