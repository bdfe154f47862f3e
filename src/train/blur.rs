//! Blur synthesis for training and evaluation: camera-shake kernels, recorded kernels,
//! convolution, and the full degradation (blur → Gaussian noise → optional JPEG).
//!
//! Images are planar CHW `f32` slices with values in [0, 1] (`chw_unit`). Everything random
//! takes an explicit RNG, so a `rand_chacha::ChaCha8Rng` seeded with a fixed value reproduces
//! the same kernels and degraded images bit for bit.
//!
//! # Recorded-kernel split
//!
//! The 39 recorded kernels of `kernels/motion_kernels.safetensors` are split by name
//! ([`KernelRole`]):
//! * **train**: `dfdnet_m_09..m_32` (24 kernels, 7–35 px) and `shen_k27`;
//! * **test** (held out, never seen in training): `kair12_00..11`, the 12 kernels of
//!   Levin et al./KAIR (25 px) commonly used to benchmark deblurring;
//! * **unused** by default: `kair_k_large_1/2` (67/70 px), larger than half of a 128² face.

mod kernel;
mod optical;
mod recorded;
mod trajectory;

use std::sync::Arc;

use anyhow::{Context, bail};
use rand::Rng;

pub use kernel::{Kernel, blur_rgb};
pub use optical::{convolve_kernels, defocus_kernel, gaussian_kernel};
pub use recorded::{KernelRole, RecordedKernels};
pub use trajectory::{
    TRAJECTORY_LENGTH, TRAJECTORY_SAMPLES, normal_pair, random_trajectory, standard_normal,
    synthetic_kernel,
};

/// Where the blur kernel of one degradation comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum KernelSource {
    /// No blur (noise/JPEG only).
    None,
    /// A fresh Boracchi & Foi camera-shake kernel of this odd size.
    Synthetic {
        /// Kernel side in pixels.
        size: usize,
    },
    /// Recorded kernel number `index` of [`RecordedKernels`].
    Recorded {
        /// Index into [`RecordedKernels::kernels`].
        index: usize,
        /// Its name, for labels.
        name: String,
    },
    /// A defocus disk ([`defocus_kernel`]).
    Defocus {
        /// Disk radius in pixels.
        radius: f32,
    },
    /// A Gaussian soft-focus blur ([`gaussian_kernel`]).
    Gaussian {
        /// Standard deviation in pixels.
        sigma: f32,
    },
}

impl KernelSource {
    /// The blur family, for per-family reports: `"none"`, `"recorded shake"`,
    /// `"synthetic shake"`, `"defocus"` or `"gaussian"`.
    pub fn family(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Recorded { .. } => "recorded shake",
            Self::Synthetic { .. } => "synthetic shake",
            Self::Defocus { .. } => "defocus",
            Self::Gaussian { .. } => "gaussian",
        }
    }

    /// Whether this is camera shake (synthetic or recorded).
    pub fn is_shake(&self) -> bool {
        matches!(self, Self::Synthetic { .. } | Self::Recorded { .. })
    }
}

/// Settings for [`sample_degradation`]. Shares are probabilities in [0, 1].
#[derive(Clone, Debug)]
pub struct DegradationConfig {
    /// Share of samples left unblurred (still noised/compressed), so the model learns to
    /// leave sharp faces alone.
    pub no_blur_share: f32,
    /// Share of samples blurred with a recorded kernel (from `recorded_allowed`); the rest
    /// get a synthetic kernel. Treated as 0 when `recorded` is `None` or the list is empty.
    pub recorded_share: f32,
    /// Smallest and largest synthetic kernel size (odd, inclusive), e.g. 13 and 27.
    pub synthetic_size_range: (usize, usize),
    /// The recorded kernels, if loaded.
    pub recorded: Option<Arc<RecordedKernels>>,
    /// Indices of the recorded kernels that may be drawn.
    pub recorded_allowed: Vec<usize>,
    /// Smallest and largest factor a drawn recorded kernel is enlarged by (drawn uniformly;
    /// `(1, 1)` keeps them as recorded, without an extra random draw).
    pub recorded_scale_range: (f32, f32),
    /// Turn each drawn recorded kernel by a random one of the square's 8 symmetries
    /// ([`Kernel::turned`]): 8× the recorded shapes (off: as recorded, no extra draw).
    pub recorded_turns: bool,
    /// Share of samples blurred with a defocus disk.
    pub defocus_share: f32,
    /// Smallest and largest defocus radius in pixels (drawn uniformly).
    pub defocus_radius_range: (f32, f32),
    /// Share of samples blurred with a Gaussian (soft focus).
    pub gaussian_share: f32,
    /// Smallest and largest Gaussian σ in pixels (drawn uniformly).
    pub gaussian_sigma_range: (f32, f32),
    /// Share of the camera-shake kernels (synthetic or recorded) that are also seen through a
    /// soft lens: convolved with a Gaussian of σ from `soft_focus_sigma_range`.
    pub soft_focus_share: f32,
    /// Smallest and largest σ of that extra Gaussian, in pixels.
    pub soft_focus_sigma_range: (f32, f32),
    /// Largest Gaussian noise standard deviation (in [0, 1] units); drawn uniformly from 0 to it.
    pub max_noise_sigma: f32,
    /// Share of samples JPEG-compressed after blur and noise.
    pub jpeg_share: f32,
    /// Smallest and largest JPEG quality (inclusive, 1–100).
    pub jpeg_quality_range: (u8, u8),
}

impl DegradationConfig {
    /// Training defaults: 10 % no blur, 20 % recorded *train* kernels, 70 % synthetic
    /// 13–27 px kernels; noise σ ≤ 4/255; 25 % JPEG at quality 70–95.
    pub fn training(recorded: Option<Arc<RecordedKernels>>) -> Self {
        let recorded_allowed = recorded
            .as_ref()
            .map(|r| r.indices_with_role(KernelRole::Train))
            .unwrap_or_default();
        Self {
            no_blur_share: 0.1,
            recorded_share: 0.2,
            synthetic_size_range: (13, 27),
            recorded,
            recorded_allowed,
            recorded_scale_range: (1.0, 1.0),
            recorded_turns: false,
            defocus_share: 0.0,
            defocus_radius_range: (1.0, 1.0),
            gaussian_share: 0.0,
            gaussian_sigma_range: (1.0, 1.0),
            soft_focus_share: 0.0,
            soft_focus_sigma_range: (0.5, 0.5),
            max_noise_sigma: 4.0 / 255.0,
            jpeg_share: 0.25,
            jpeg_quality_range: (70, 95),
        }
    }

    /// The mix of blurs seen in real photos, for 128² faces: 5 % no blur, 20 % recorded *train*
    /// shake kernels, 45 % synthetic shake of 13–41 px (a third of all shake also seen through
    /// a soft lens, Gaussian σ 0.5–1.5), 18 % defocus disks of radius 1.5–7 px, 12 % Gaussian
    /// σ 1–3.5 px; noise σ ≤ 5/255; 30 % JPEG at quality 60–95.
    pub fn photo(recorded: Option<Arc<RecordedKernels>>) -> Self {
        Self {
            no_blur_share: 0.05,
            recorded_share: 0.2,
            synthetic_size_range: (13, 41),
            defocus_share: 0.18,
            defocus_radius_range: (1.5, 7.0),
            gaussian_share: 0.12,
            gaussian_sigma_range: (1.0, 3.5),
            soft_focus_share: 0.33,
            soft_focus_sigma_range: (0.5, 1.5),
            max_noise_sigma: 5.0 / 255.0,
            jpeg_share: 0.3,
            jpeg_quality_range: (60, 95),
            ..Self::training(recorded)
        }
    }

    /// Longer camera shake: the largest synthetic kernel `factor` times as large (kept odd)
    /// and every drawn recorded kernel enlarged by a random factor from 1 to `factor` (≥ 1).
    pub fn lengthen_shake(&mut self, factor: f64) {
        let largest = (self.synthetic_size_range.1 as f64 * factor).round() as usize | 1;
        self.synthetic_size_range.1 = largest;
        self.recorded_scale_range = (1.0, factor as f32);
    }
}

/// Uniform draw from an inclusive `(lo, hi)` range (`lo` when the range is empty).
fn uniform<R: Rng + ?Sized>(rng: &mut R, (lo, hi): (f32, f32)) -> f32 {
    if hi > lo {
        rng.random_range(lo..=hi)
    } else {
        lo
    }
}

/// One concrete degradation: the kernel (already generated), noise level and JPEG quality.
#[derive(Clone, Debug, PartialEq)]
pub struct DegradationParams {
    /// Where the kernel came from.
    pub source: KernelSource,
    /// The blur kernel; `None` means no blur.
    pub kernel: Option<Kernel>,
    /// Standard deviation of the additive Gaussian noise, [0, 1] units.
    pub noise_sigma: f32,
    /// JPEG quality (1–100) if the result is compressed.
    pub jpeg_quality: Option<u8>,
}

impl DegradationParams {
    /// Side of the blur kernel, 0 when there is none.
    pub fn kernel_size(&self) -> usize {
        self.kernel.as_ref().map_or(0, |k| k.size)
    }

    /// Short label: `"none"`, `"synthetic_21"` or the recorded kernel's name.
    pub fn kernel_label(&self) -> String {
        match &self.source {
            KernelSource::None => "none".into(),
            KernelSource::Synthetic { size } => format!("synthetic_{size}"),
            KernelSource::Recorded { name, .. } => name.clone(),
            KernelSource::Defocus { radius } => format!("defocus_r{radius:.1}"),
            KernelSource::Gaussian { sigma } => format!("gaussian_s{sigma:.1}"),
        }
    }
}

/// Draws one degradation following `cfg` (generating the synthetic kernel, if any, now).
pub fn sample_degradation<R: Rng + ?Sized>(
    rng: &mut R,
    cfg: &DegradationConfig,
) -> DegradationParams {
    let recorded = cfg
        .recorded
        .as_ref()
        .filter(|_| !cfg.recorded_allowed.is_empty());
    let recorded_share = if recorded.is_some() {
        cfg.recorded_share
    } else {
        0.0
    };
    let u: f32 = rng.random();
    let recorded_end = cfg.no_blur_share + recorded_share;
    let defocus_end = recorded_end + cfg.defocus_share;
    let gaussian_end = defocus_end + cfg.gaussian_share;
    let (source, kernel) = if u < cfg.no_blur_share {
        (KernelSource::None, None)
    } else if let Some(rec) = recorded.filter(|_| u < recorded_end) {
        let index = cfg.recorded_allowed[rng.random_range(0..cfg.recorded_allowed.len())];
        let name = rec.names[index].clone();
        let kernel = if cfg.recorded_scale_range.1 > 1.0 {
            let factor = uniform(rng, cfg.recorded_scale_range).max(1.0);
            rec.kernels[index].upscaled(f64::from(factor))
        } else {
            rec.kernels[index].clone()
        };
        let kernel = if cfg.recorded_turns {
            kernel.turned(rng.random_range(0..8))
        } else {
            kernel
        };
        (KernelSource::Recorded { index, name }, Some(kernel))
    } else if u < defocus_end {
        let radius = uniform(rng, cfg.defocus_radius_range).max(0.5);
        (
            KernelSource::Defocus { radius },
            Some(defocus_kernel(f64::from(radius))),
        )
    } else if u < gaussian_end {
        let sigma = uniform(rng, cfg.gaussian_sigma_range).max(0.1);
        (
            KernelSource::Gaussian { sigma },
            Some(gaussian_kernel(f64::from(sigma))),
        )
    } else {
        let (lo, hi) = cfg.synthetic_size_range;
        let size = 2 * rng.random_range(lo / 2..=hi.max(lo) / 2) + 1;
        (
            KernelSource::Synthetic { size },
            Some(synthetic_kernel(rng, size)),
        )
    };
    // Camera shake seen through a soft lens (no extra draws when the share is 0, so older
    // configurations reproduce their samples exactly).
    let kernel = match kernel {
        Some(k) if cfg.soft_focus_share > 0.0 && source.is_shake() => {
            if rng.random::<f32>() < cfg.soft_focus_share {
                let sigma = uniform(rng, cfg.soft_focus_sigma_range).max(0.1);
                Some(convolve_kernels(&k, &gaussian_kernel(f64::from(sigma))))
            } else {
                Some(k)
            }
        }
        other => other,
    };
    let noise_sigma = rng.random::<f32>() * cfg.max_noise_sigma;
    let jpeg_quality = (rng.random::<f32>() < cfg.jpeg_share).then(|| {
        let (lo, hi) = cfg.jpeg_quality_range;
        rng.random_range(lo.clamp(1, 100)..=hi.clamp(lo.clamp(1, 100), 100))
    });
    DegradationParams {
        source,
        kernel,
        noise_sigma,
        jpeg_quality,
    }
}

/// Full degradation of a CHW [0, 1] image: blur (reflect padding), then Gaussian noise, then
/// optional JPEG round trip; the result is clamped to [0, 1]. `rng` drives only the noise.
pub fn apply_degradation<R: Rng + ?Sized>(
    chw_unit: &[f32],
    c: usize,
    h: usize,
    w: usize,
    params: &DegradationParams,
    rng: &mut R,
) -> anyhow::Result<Vec<f32>> {
    let blurred = match &params.kernel {
        Some(k) => blur_rgb(chw_unit, c, h, w, k),
        None => chw_unit.to_vec(),
    };
    add_noise_and_jpeg(blurred, c, h, w, params, rng)
}

/// The part of [`apply_degradation`] after the blur: adds N(0, σ²) noise to every value,
/// clamps to [0, 1] and, if `params.jpeg_quality` is set, JPEG-encodes and decodes the image
/// (`c` must then be 1 or 3).
pub fn add_noise_and_jpeg<R: Rng + ?Sized>(
    mut chw: Vec<f32>,
    c: usize,
    h: usize,
    w: usize,
    params: &DegradationParams,
    rng: &mut R,
) -> anyhow::Result<Vec<f32>> {
    assert_eq!(
        chw.len(),
        c * h * w,
        "image buffer does not match {c}×{h}×{w}"
    );
    let sigma = f64::from(params.noise_sigma);
    if sigma > 0.0 {
        for pair in chw.chunks_mut(2) {
            let (n0, n1) = normal_pair(rng);
            for (v, n) in pair.iter_mut().zip([n0, n1]) {
                *v = (f64::from(*v) + sigma * n) as f32;
            }
        }
    }
    for v in &mut chw {
        *v = v.clamp(0.0, 1.0);
    }
    match params.jpeg_quality {
        Some(q) => jpeg_round_trip(&chw, c, h, w, q),
        None => Ok(chw),
    }
}

/// JPEG-encodes a CHW [0, 1] image (1 or 3 channels) at `quality` and decodes it again.
pub fn jpeg_round_trip(
    chw_unit: &[f32],
    c: usize,
    h: usize,
    w: usize,
    quality: u8,
) -> anyhow::Result<Vec<f32>> {
    use image::{ExtendedColorType, ImageEncoder, codecs::jpeg::JpegEncoder};
    let color = match c {
        1 => ExtendedColorType::L8,
        3 => ExtendedColorType::Rgb8,
        _ => bail!("JPEG needs 1 or 3 channels, got {c}"),
    };
    let plane = h * w;
    let mut interleaved = vec![0u8; c * plane];
    for (p, px) in interleaved.chunks_exact_mut(c).enumerate() {
        for (ch, v) in px.iter_mut().enumerate() {
            *v = (chw_unit[ch * plane + p].clamp(0.0, 1.0) * 255.0).round() as u8;
        }
    }
    let mut encoded = Vec::new();
    JpegEncoder::new_with_quality(&mut encoded, quality.clamp(1, 100))
        .write_image(&interleaved, w as u32, h as u32, color)
        .context("JPEG encoding")?;
    let decoded = image::load_from_memory_with_format(&encoded, image::ImageFormat::Jpeg)
        .context("JPEG decoding")?;
    let bytes = if c == 1 {
        decoded.to_luma8().into_raw()
    } else {
        decoded.to_rgb8().into_raw()
    };
    let mut out = vec![0.0f32; c * plane];
    for (p, px) in bytes.chunks_exact(c).enumerate() {
        for (ch, &v) in px.iter().enumerate() {
            out[ch * plane + p] = f32::from(v) / 255.0;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
