//! Fixed evaluation sets.

use anyhow::bail;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{EVAL_SYNTHETIC_SIZES, FaceDataset, Jitter, Sample};
use crate::train::blur::{
    DegradationParams, KernelRole, KernelSource, RecordedKernels, synthetic_kernel,
};

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
}

impl Default for EvalPolicy {
    /// Mixed kernels, no noise, no JPEG (pure deblurring, as in the MSPL benchmarks).
    fn default() -> Self {
        Self {
            kernels: EvalKernels::Mixed,
            noise_sigma: 0.0,
            jpeg_quality: None,
        }
    }
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
        if policy.kernels != EvalKernels::Synthetic && held_out.is_empty() {
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
                let (synthetic, slot) = match policy.kernels {
                    EvalKernels::Synthetic => (true, i),
                    EvalKernels::HeldOutRecorded => (false, i),
                    EvalKernels::Mixed => (i % 2 == 0, i / 2),
                };
                let (source, kernel) = if synthetic {
                    let size = EVAL_SYNTHETIC_SIZES[slot % EVAL_SYNTHETIC_SIZES.len()];
                    (
                        KernelSource::Synthetic { size },
                        synthetic_kernel(&mut kernel_rng, size),
                    )
                } else {
                    let (k, rec) = held_out[slot % held_out.len()];
                    let name = rec.names[k].clone();
                    (
                        KernelSource::Recorded { index: k, name },
                        rec.kernels[k].clone(),
                    )
                };
                let params = DegradationParams {
                    source,
                    kernel: Some(kernel),
                    noise_sigma: policy.noise_sigma,
                    jpeg_quality: policy.jpeg_quality,
                };
                let (blurred, sharp) =
                    self.render_pair(index, &Jitter::IDENTITY, &params, &mut noise_rng)?;
                Ok(Sample {
                    blurred,
                    sharp,
                    size: self.opts.size,
                    kernel_size: params.kernel_size(),
                    kernel_label: params.kernel_label(),
                    index,
                })
            })
            .collect()
    }
}
