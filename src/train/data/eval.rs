//! Fixed evaluation sets.

use anyhow::bail;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{EVAL_SYNTHETIC_SIZES, FaceDataset, Jitter, Sample};
use crate::train::blur::{
    DegradationParams, Kernel, KernelRole, KernelSource, RecordedKernels, defocus_kernel,
    gaussian_kernel, synthetic_kernel,
};

/// Defocus radii (px at 128²) cycled through by [`EvalKernels::Defocus`].
pub const EVAL_DEFOCUS_RADII: [f32; 5] = [2.0, 3.0, 4.0, 5.0, 6.0];
/// Gaussian σ (px at 128²) cycled through by [`EvalKernels::Gaussian`].
pub const EVAL_GAUSSIAN_SIGMAS: [f32; 4] = [1.5, 2.0, 2.5, 3.0];

/// Which kernels an evaluation set uses; sizes/kernels are cycled so every kind is equally
/// represented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvalKernels {
    /// Fresh synthetic kernels, sizes cycling through [`EVAL_SYNTHETIC_SIZES`].
    Synthetic,
    /// The held-out recorded kernels ([`KernelRole::Test`]) in turn.
    HeldOutRecorded,
    /// Even samples synthetic, odd samples held-out recorded.
    Mixed,
    /// Defocus disks, radii cycling through [`EVAL_DEFOCUS_RADII`].
    Defocus,
    /// Gaussian blurs, σ cycling through [`EVAL_GAUSSIAN_SIGMAS`].
    Gaussian,
    /// The four families in rotation: held-out recorded shake, synthetic shake, defocus,
    /// Gaussian (sample `i` uses family `i % 4`).
    Families,
}

/// How [`FaceDataset::eval_set`] degrades its images.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EvalPolicy {
    /// Kernel choice.
    pub kernels: EvalKernels,
    /// Fixed Gaussian noise σ in [0, 1] units (0 = none).
    pub noise_sigma: f32,
    /// JPEG quality, if compressed.
    pub jpeg_quality: Option<u8>,
    /// Face framing ([`Jitter::framing`]: 0 tight/detector crop, 1 FFHQ-style).
    pub framing: f64,
    /// Blur scale (≥ 1): kernel sizes, radii and σ are multiplied by it, for faces rendered
    /// larger than 128² with the same blur relative to the face (e.g. 2 at 256²).
    pub kernel_scale: f64,
}

impl Default for EvalPolicy {
    /// Mixed kernels, no noise, no JPEG (pure deblurring, as in the MSPL benchmarks), tight
    /// framing, kernels at their 128² size.
    fn default() -> Self {
        Self {
            kernels: EvalKernels::Mixed,
            noise_sigma: 0.0,
            jpeg_quality: None,
            framing: 0.0,
            kernel_scale: 1.0,
        }
    }
}

/// Odd kernel side for a 128²-scale `size` blown up by `scale`.
fn scaled_size(size: usize, scale: f64) -> usize {
    ((size as f64 * scale).round() as usize) | 1
}

/// Seed-stream tags that keep evaluation kernels and noise independent of each other.
const EVAL_KERNEL_TAG: u64 = 0x6b65_726e_656c_7331;
const EVAL_NOISE_TAG: u64 = 0x6e6f_6973_6573_7332;

impl FaceDataset {
    /// A fixed evaluation set of `count` unaugmented, uncropped pairs: images evenly spaced
    /// over the dataset, kernels chosen by `policy` (synthetic sizes and held-out recorded
    /// kernels in rotation), synthetic kernels and noise drawn from per-sample seed streams
    /// derived from `seed`. The same `seed` and `policy` always give the same samples, and
    /// sample `i` does not depend on how the training RNG was used.
    pub fn eval_set(
        &self,
        count: usize,
        seed: u64,
        policy: &EvalPolicy,
    ) -> anyhow::Result<Vec<Sample>> {
        let held_out: Vec<(usize, &RecordedKernels)> = match &self.opts.degradation.recorded {
            Some(rec) => rec
                .indices_with_role(KernelRole::Test)
                .into_iter()
                .map(|i| (i, &**rec))
                .collect(),
            None => Vec::new(),
        };
        let needs_recorded = matches!(
            policy.kernels,
            EvalKernels::HeldOutRecorded | EvalKernels::Mixed | EvalKernels::Families
        );
        if needs_recorded && held_out.is_empty() {
            bail!(
                "evaluation with {:?} needs the recorded kernels (none loaded)",
                policy.kernels
            );
        }
        (0..count)
            .map(|i| {
                let index = (i as u128 * self.len() as u128 / count as u128) as usize % self.len();
                let mut kernel_rng = ChaCha8Rng::seed_from_u64(seed ^ EVAL_KERNEL_TAG);
                kernel_rng.set_stream(i as u64);
                let mut noise_rng = ChaCha8Rng::seed_from_u64(seed ^ EVAL_NOISE_TAG);
                noise_rng.set_stream(i as u64);
                let (family, slot) = match policy.kernels {
                    EvalKernels::Synthetic => (1, i),
                    EvalKernels::HeldOutRecorded => (0, i),
                    EvalKernels::Mixed => (if i % 2 == 0 { 1 } else { 0 }, i / 2),
                    EvalKernels::Defocus => (2, i),
                    EvalKernels::Gaussian => (3, i),
                    EvalKernels::Families => (i % 4, i / 4),
                };
                let scale = policy.kernel_scale;
                let (source, kernel): (KernelSource, Kernel) = match family {
                    0 => {
                        let (k, rec) = held_out[slot % held_out.len()];
                        let name = rec.names[k].clone();
                        (
                            KernelSource::Recorded { index: k, name },
                            rec.kernels[k].upscaled(scale),
                        )
                    }
                    1 => {
                        let size = scaled_size(
                            EVAL_SYNTHETIC_SIZES[slot % EVAL_SYNTHETIC_SIZES.len()],
                            scale,
                        );
                        (
                            KernelSource::Synthetic { size },
                            synthetic_kernel(&mut kernel_rng, size),
                        )
                    }
                    2 => {
                        let radius =
                            EVAL_DEFOCUS_RADII[slot % EVAL_DEFOCUS_RADII.len()] * scale as f32;
                        (
                            KernelSource::Defocus { radius },
                            defocus_kernel(f64::from(radius)),
                        )
                    }
                    _ => {
                        let sigma =
                            EVAL_GAUSSIAN_SIGMAS[slot % EVAL_GAUSSIAN_SIGMAS.len()] * scale as f32;
                        (
                            KernelSource::Gaussian { sigma },
                            gaussian_kernel(f64::from(sigma)),
                        )
                    }
                };
                let params = DegradationParams {
                    source,
                    kernel: Some(kernel),
                    noise_sigma: policy.noise_sigma,
                    jpeg_quality: policy.jpeg_quality,
                };
                let jitter = Jitter {
                    framing: policy.framing,
                    ..Jitter::IDENTITY
                };
                let (blurred, sharp) =
                    self.render_pair(index, &jitter, &params, 0.0, &mut noise_rng)?;
                Ok(Sample {
                    blurred,
                    sharp,
                    size: self.opts.size,
                    kernel_size: params.kernel_size(),
                    kernel_label: params.kernel_label(),
                    kernel_family: params.source.family(),
                    index,
                })
            })
            .collect()
    }
}
