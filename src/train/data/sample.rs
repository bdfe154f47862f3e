//! A sharp/degraded pair ([`Sample`]) and samples stacked as a batch ([`Batch`]).

use anyhow::ensure;

/// One sharp/degraded training or evaluation pair.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Degraded image, CHW `3 × size × size`, [0, 1].
    pub blurred: Vec<f32>,
    /// Sharp image, same layout.
    pub sharp: Vec<f32>,
    /// Side length in pixels.
    pub size: usize,
    /// Blur kernel side (0 = no blur).
    pub kernel_size: usize,
    /// `"none"`, `"synthetic_<size>"` or the recorded kernel's name.
    pub kernel_label: String,
    /// Blur family ([`crate::train::blur::KernelSource::family`]).
    pub kernel_family: &'static str,
    /// Index of the image in its dataset.
    pub index: usize,
}

/// A batch of samples stacked as NCHW.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// Degraded images, `n × 3 × size × size`, [0, 1].
    pub blurred: Vec<f32>,
    /// Sharp images, same layout.
    pub sharp: Vec<f32>,
    /// Number of images.
    pub n: usize,
    /// Side length in pixels.
    pub size: usize,
    /// Blur kernel side of each image (0 = no blur).
    pub kernel_sizes: Vec<usize>,
}

impl Batch {
    /// Stacks samples, which must all have the same size.
    pub fn from_samples(samples: &[Sample]) -> anyhow::Result<Self> {
        let size = samples.first().map_or(0, |s| s.size);
        ensure!(
            samples.iter().all(|s| s.size == size),
            "samples of different sizes in one batch"
        );
        let mut blurred = Vec::with_capacity(samples.len() * 3 * size * size);
        let mut sharp = Vec::with_capacity(blurred.capacity());
        for s in samples {
            blurred.extend_from_slice(&s.blurred);
            sharp.extend_from_slice(&s.sharp);
        }
        let kernel_sizes = samples.iter().map(|s| s.kernel_size).collect();
        Ok(Self {
            blurred,
            sharp,
            n: samples.len(),
            size,
            kernel_sizes,
        })
    }
}
