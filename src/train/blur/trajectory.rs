//! Random camera-shake kernels after Boracchi & Foi (2012).
//!
//! G. Boracchi and A. Foi, "Modeling the Performance of Image Restoration From Motion Blur",
//! IEEE Trans. Image Processing 21(8), 2012, model the path of a hand-held camera during the
//! exposure as a 2-D particle moving with constant speed on a fine (sub-pixel) grid:
//!
//! * the particle starts at the origin with a unit velocity in a uniformly random direction;
//! * at every one of `N` steps the velocity receives, all scaled by the photographer's
//!   `anxiety ~ U(0, 0.1)`,
//!   - a Gaussian random change (strength `gaussian_term ~ U(0, 10)`),
//!   - a centripetal pull back towards the origin (strength `centripetal ~ U(0, 0.7)`),
//!     which gives the trajectory inertia and keeps it from drifting away, and
//!   - with probability `big_shake_freq * anxiety` (`big_shake_freq ~ U(0, 0.2)`) an impulsive
//!     "abrupt shake" that turns it roughly around (angle `pi + U(-0.5, 0.5)`, double speed),
//!     as when the shutter button is pressed;
//! * the velocity is then renormalised so every step has the same length, `L / (N - 1)`.
//!
//! This is a transcription of the authors' `createTrajectory.m` (defaults `N = 2000`, `L = 60`),
//! the generator used for the DeblurGAN, UMSN/MSPL and DFPGnet training sets.
//! [`synthetic_kernel`] then keeps the first fraction `T ~ U(0.5, 1)` of the path (the exposure
//! time, as in the authors' `createPSFs.m`), rescales it to fit a square support of the requested
//! odd size, centres its mean position (= the kernel's centre of mass) exactly on the central
//! pixel so a blurred image is not shifted against its sharp original, and rasterises it
//! sub-pixel: every path sample deposits equal mass on its four neighbouring pixels with bilinear
//! weights. The result is non-negative and sums to 1.

use rand::Rng;

use super::Kernel;

/// Number of path samples of the fine-grid trajectory (`numT` of `createTrajectory.m`).
pub const TRAJECTORY_SAMPLES: usize = 2000;

/// Total path length in the generator's own units (`MaxTotalLength`); the path is rescaled to
/// the kernel support afterwards, so this only sets the scale of the centripetal term.
pub const TRAJECTORY_LENGTH: f64 = 60.0;

/// One standard-normal draw (Box–Muller), so no distribution crate is needed.
pub fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    normal_pair(rng).0
}

/// Two independent standard-normal draws from one Box–Muller transform.
pub fn normal_pair<R: Rng + ?Sized>(rng: &mut R) -> (f64, f64) {
    // `1 - U[0,1)` lies in (0, 1], so the logarithm is finite.
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    let r = (-2.0 * u1.ln()).sqrt();
    let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
    (r * c, r * s)
}

/// Random camera-shake path of `samples` points (`[x, y]`, generator units, starting at the
/// origin; see the module documentation for the model). `samples` must be at least 2.
pub fn random_trajectory<R: Rng + ?Sized>(rng: &mut R, samples: usize) -> Vec<[f64; 2]> {
    assert!(samples >= 2, "a trajectory needs at least two samples");
    let anxiety = 0.1 * rng.random::<f64>();
    let centripetal = 0.7 * rng.random::<f64>();
    let gaussian_term = 10.0 * rng.random::<f64>();
    let big_shake_freq = 0.2 * rng.random::<f64>();
    let angle = std::f64::consts::TAU * rng.random::<f64>();
    let step = TRAJECTORY_LENGTH / (samples - 1) as f64;

    let (mut vx, mut vy) = (angle.cos(), angle.sin());
    let scale0 = if anxiety > 0.0 { anxiety } else { step };
    vx *= scale0;
    vy *= scale0;

    let mut path = Vec::with_capacity(samples);
    let (mut x, mut y) = (0.0f64, 0.0f64);
    path.push([x, y]);
    for _ in 1..samples {
        // Impulsive shake: reverse the direction (plus a random turn), double speed.
        let (mut dvx, mut dvy) = (0.0, 0.0);
        if rng.random::<f64>() < big_shake_freq * anxiety {
            let turn = std::f64::consts::PI + (rng.random::<f64>() - 0.5);
            let (s, c) = turn.sin_cos();
            dvx = 2.0 * (vx * c - vy * s);
            dvy = 2.0 * (vx * s + vy * c);
        }
        let (nx, ny) = normal_pair(rng);
        dvx += anxiety * (gaussian_term * nx - centripetal * x) * step;
        dvy += anxiety * (gaussian_term * ny - centripetal * y) * step;
        vx += dvx;
        vy += dvy;
        let norm = (vx * vx + vy * vy).sqrt();
        if norm > 0.0 {
            vx *= step / norm;
            vy *= step / norm;
        } else {
            vx = step;
            vy = 0.0;
        }
        x += vx;
        y += vy;
        path.push([x, y]);
    }
    path
}

/// Random camera-shake blur kernel of odd side `size` (at least 3), following
/// Boracchi & Foi 2012 (see the module documentation). The blur extent (the largest distance
/// of the path from its centre, per axis) is drawn uniformly from 50–100 % of the half size,
/// so larger kernels mean stronger blur. Non-negative, sums to 1, centre of mass on the
/// central pixel.
pub fn synthetic_kernel<R: Rng + ?Sized>(rng: &mut R, size: usize) -> Kernel {
    assert!(
        size >= 3 && size % 2 == 1,
        "kernel size must be odd and >= 3, got {size}"
    );
    let path = random_trajectory(rng, TRAJECTORY_SAMPLES);
    let exposure = 0.5 + 0.5 * rng.random::<f64>();
    let used = ((exposure * path.len() as f64).round() as usize).clamp(2, path.len());
    let path = &path[..used];
    let extent_fraction = 0.5 + 0.5 * rng.random::<f64>();

    let n = path.len() as f64;
    let mean_x = path.iter().map(|p| p[0]).sum::<f64>() / n;
    let mean_y = path.iter().map(|p| p[1]).sum::<f64>() / n;
    let radius = path
        .iter()
        .map(|p| (p[0] - mean_x).abs().max((p[1] - mean_y).abs()))
        .fold(0.0f64, f64::max);
    let half = ((size - 1) / 2) as f64;
    let scale = if radius > 1e-12 {
        half * extent_fraction / radius
    } else {
        0.0
    };

    let mut data = vec![0.0f64; size * size];
    let last = (size - 2) as f64;
    for p in path {
        // Positions lie in [0, size - 1] by construction of `scale`.
        let px = (half + (p[0] - mean_x) * scale).clamp(0.0, (size - 1) as f64);
        let py = (half + (p[1] - mean_y) * scale).clamp(0.0, (size - 1) as f64);
        let x0 = px.floor().min(last);
        let y0 = py.floor().min(last);
        let (fx, fy) = (px - x0, py - y0);
        let (ix, iy) = (x0 as usize, y0 as usize);
        data[iy * size + ix] += (1.0 - fx) * (1.0 - fy);
        data[iy * size + ix + 1] += fx * (1.0 - fy);
        data[(iy + 1) * size + ix] += (1.0 - fx) * fy;
        data[(iy + 1) * size + ix + 1] += fx * fy;
    }
    let total: f64 = data.iter().sum();
    Kernel {
        size,
        data: data.iter().map(|&v| (v / total) as f32).collect(),
    }
}
