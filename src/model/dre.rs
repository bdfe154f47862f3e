//! Degradation representation encoder (DRE) and degradation-aware feature interpolation (DAFI),
//! after Panini-Net (Wang et al., AAAI 2022; shared/papers/003_…).
//!
//! The DRE is a small CNN that maps a degraded face to a vector describing *how* it is
//! degraded, not *who* it shows. It is trained alone, without labels, by contrastive learning
//! (MoCo, see `train::dre`): two different faces degraded with the same blur/noise/JPEG
//! parameters form a positive pair. A linear read-out fitted afterwards turns the vector into a
//! blur-size estimate in pixels (shown in the app, and used to measure the encoder).
//!
//! DAFI: from the DRE vector an MLP and a softmax give, per decoder scale and per channel, the
//! weights of two feature sources that are then interpolated, `m ⊙ A + (1 − m) ⊙ B`.

use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, softmax};
use burn::tensor::module::adaptive_avg_pool2d;

use super::layers::{LEAKY_SLOPE, conv_down, conv3x3};

/// Channels of the DRE's stages (at H, H/2, H/4, H/8); the last is the vector's length.
pub const DRE_CHANNELS: [usize; 4] = [16, 32, 64, 64];

/// Length of the degradation representation: mean and standard deviation of each channel of
/// the last stage.
pub const DRE_DIM: usize = 2 * DRE_CHANNELS[3];

/// Hidden units of the DAFI MLP.
pub const DAFI_HIDDEN: usize = 64;

/// The degradation representation encoder: the image minus its mean colour → conv3×3 (16) →
/// [4×4 stride-2 conv, conv3×3] × 3 (32, 64, 64), LeakyReLU(0.2) after each → the mean and
/// the log standard deviation of each channel over the image, a 128-vector. The standard
/// deviation measures the energy of each learned filter's response, which is what blur
/// removes (its log turns energy ratios into differences); subtracting the mean colour keeps
/// skin tone and lighting out. Receptive field ≈
/// 50 px, so it sees the largest kernels we train with (27 px) whole.
#[derive(Module, Debug)]
pub struct DegradationEncoder {
    head: Conv2d,
    stages: Vec<(Conv2d, Conv2d)>,
    /// Linear read-out of the blur kernel size (px) from the representation, fitted after the
    /// contrastive training (zero until then).
    blur_weight: Param<Tensor<2>>,
    blur_bias: Param<Tensor<1>>,
}

impl DegradationEncoder {
    /// A freshly initialised encoder.
    pub fn new(device: &Device) -> Self {
        let [c0, c1, c2, c3] = DRE_CHANNELS;
        Self {
            head: conv3x3(3, c0, device),
            stages: [(c0, c1), (c1, c2), (c2, c3)]
                .into_iter()
                .map(|(a, b)| (conv_down(a, b, device), conv3x3(b, b, device)))
                .collect(),
            blur_weight: Param::from_tensor(Tensor::zeros([DRE_DIM, 1], device)),
            blur_bias: Param::from_tensor(Tensor::zeros([1], device)),
        }
    }

    /// The degradation representation of `[B, 3, H, W]` faces in [-1, 1]: `[B, DRE_DIM]`.
    pub fn forward(&self, image: Tensor<4>) -> Tensor<2> {
        let centred = image.clone() - adaptive_avg_pool2d(image, [1, 1]);
        let mut x = leaky_relu(self.head.forward(centred), LEAKY_SLOPE);
        for (down, conv) in &self.stages {
            x = leaky_relu(down.forward(x), LEAKY_SLOPE);
            x = leaky_relu(conv.forward(x), LEAKY_SLOPE);
        }
        let [b, c, _, _] = x.dims();
        let mean = adaptive_avg_pool2d(x.clone(), [1, 1]);
        let var = adaptive_avg_pool2d((x - mean.clone()).square(), [1, 1]);
        // ln σ: differences of log-energies are energy ratios between filters, which a
        // linear layer can read regardless of how much texture the face has.
        let log_std = var.add_scalar(1e-6).log().mul_scalar(0.5);
        Tensor::cat(vec![mean.reshape([b, c]), log_std.reshape([b, c])], 1)
    }

    /// Blur kernel size in pixels estimated from representations `[B, DRE_DIM]` → `[B]`.
    pub fn blur_size(&self, representation: Tensor<2>) -> Tensor<1> {
        let [b, _] = representation.dims();
        (representation.matmul(self.blur_weight.val()) + self.blur_bias.val().unsqueeze())
            .reshape([b])
    }

    /// Replace the blur read-out with `weight` (`DRE_DIM` values) and `bias`.
    pub fn with_blur_readout(mut self, weight: &[f32], bias: f32) -> Self {
        assert_eq!(weight.len(), DRE_DIM, "read-out weight length");
        let device = self.blur_bias.val().device();
        self.blur_weight = Param::from_tensor(Tensor::from_data(
            TensorData::new(weight.to_vec(), [DRE_DIM, 1]),
            &device,
        ));
        self.blur_bias =
            Param::from_tensor(Tensor::from_data(TensorData::new(vec![bias], [1]), &device));
        self
    }

    /// Multiply-accumulates for one `h`×`w` image.
    pub fn macs(h: usize, w: usize) -> u64 {
        let px = |level: usize| ((h >> level) * (w >> level)) as u64;
        let [c0, c1, c2, c3] = DRE_CHANNELS;
        let mut total = (3 * c0 * 9) as u64 * px(0);
        for (level, (a, b)) in [(c0, c1), (c1, c2), (c2, c3)].into_iter().enumerate() {
            total += ((a * b * 16) as u64 + (b * b * 9) as u64) * px(level + 1);
        }
        total
    }
}

/// Degradation-aware feature interpolation at one scale: `m = softmax(MLP(v))` over two
/// sources per channel, output `m₀ ⊙ A + m₁ ⊙ B`.
#[derive(Module, Debug)]
pub struct Dafi {
    hidden: Linear,
    out: Linear,
    channels: usize,
}

impl Dafi {
    /// Interpolation of two `channels`-channel feature maps, conditioned on a DRE vector.
    pub fn new(channels: usize, device: &Device) -> Self {
        Self {
            hidden: LinearConfig::new(DRE_DIM, DAFI_HIDDEN).init(device),
            out: LinearConfig::new(DAFI_HIDDEN, 2 * channels).init(device),
            channels,
        }
    }

    /// The weight of source A per channel, `[B, C]` in (0, 1) (B gets `1 − m`).
    pub fn mask(&self, representation: Tensor<2>) -> Tensor<2> {
        let [b, _] = representation.dims();
        let h = leaky_relu(self.hidden.forward(representation), LEAKY_SLOPE);
        let logits = self.out.forward(h).reshape([b, 2, self.channels]);
        softmax(logits, 1)
            .slice([0..b, 0..1, 0..self.channels])
            .reshape([b, self.channels])
    }

    /// `m ⊙ a + (1 − m) ⊙ b` for `[B, C, H, W]` maps; returns the output and `m`.
    pub fn forward(
        &self,
        a: Tensor<4>,
        b: Tensor<4>,
        representation: Tensor<2>,
    ) -> (Tensor<4>, Tensor<2>) {
        let m = self.mask(representation);
        (Self::interpolate(a, b, m.clone()), m)
    }

    /// `m ⊙ a + (1 − m) ⊙ b` for `[B, C, H, W]` maps and a mask `m` of [`Dafi::mask`] (`[B, C]`).
    pub fn interpolate(a: Tensor<4>, b: Tensor<4>, m: Tensor<2>) -> Tensor<4> {
        let [n, c] = m.dims();
        let w = m.reshape([n, c, 1, 1]);
        a * w.clone() + b * w.neg().add_scalar(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dre_vector_and_dafi_mix_have_the_right_shapes_and_ranges() {
        let device = Device::flex();
        let dre = DegradationEncoder::new(&device);
        let x = Tensor::<4>::random([2, 3, 64, 48], burn::tensor::Distribution::Default, &device);
        let v = dre.forward(x);
        assert_eq!(v.dims(), [2, DRE_DIM]);
        let dre = dre.with_blur_readout(&[0.0; DRE_DIM], 7.5);
        let size: Vec<f32> = dre.blur_size(v.clone()).into_data().try_to_vec().unwrap();
        assert_eq!(size, vec![7.5, 7.5]);

        let dafi = Dafi::new(5, &device);
        let a = Tensor::<4>::ones([2, 5, 4, 4], &device);
        let b = Tensor::<4>::zeros([2, 5, 4, 4], &device);
        let (out, m) = dafi.forward(a, b, v);
        let m: Vec<f32> = m.into_data().try_to_vec().unwrap();
        assert_eq!(m.len(), 10);
        assert!(m.iter().all(|&w| w > 0.0 && w < 1.0));
        // With A = 1 and B = 0 the output is the mask itself, broadcast over the pixels.
        let out: Vec<f32> = out.into_data().try_to_vec().unwrap();
        assert!((out[0] - m[0]).abs() < 1e-6 && (out[16] - m[1]).abs() < 1e-6);
    }
}
