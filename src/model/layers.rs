//! Layers shared by every network here (generator blocks, MMRB, discriminator, DRE): the
//! convolution shapes, the LeakyReLU slope and the channel-attention module.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::module::adaptive_avg_pool2d;

/// Slope of every LeakyReLU in the generator.
pub const LEAKY_SLOPE: f64 = 0.2;

/// The configuration of [`conv3x3`]: 3×3 with padding 1 (size-preserving).
fn conv3x3_config(channels_in: usize, channels_out: usize) -> Conv2dConfig {
    Conv2dConfig::new([channels_in, channels_out], [3, 3])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
}

/// A 3×3 convolution with padding 1 (size-preserving).
pub fn conv3x3(channels_in: usize, channels_out: usize, device: &Device) -> Conv2d {
    conv3x3_config(channels_in, channels_out).init(device)
}

/// A [`conv3x3`] whose weights and bias start at zero (it outputs zeros until trained).
pub fn zero_conv3x3(channels_in: usize, channels_out: usize, device: &Device) -> Conv2d {
    conv3x3_config(channels_in, channels_out)
        .with_initializer(burn::nn::Initializer::Zeros)
        .init(device)
}

/// A 1×1 convolution.
pub fn conv1x1(channels_in: usize, channels_out: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([channels_in, channels_out], [1, 1]).init(device)
}

/// A 1×1 convolution initialised to zero (the generator's output conv: a fresh generator
/// returns its input unchanged).
pub fn zero_conv1x1(channels_in: usize, channels_out: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([channels_in, channels_out], [1, 1])
        .with_initializer(burn::nn::Initializer::Zeros)
        .init(device)
}

/// A 4×4 stride-2 convolution with padding 1 (halves the spatial size).
pub fn conv_down(channels_in: usize, channels_out: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([channels_in, channels_out], [4, 4])
        .with_stride([2, 2])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init(device)
}

/// Channel attention (squeeze-excitation, Hu et al. 2018): global average pool → 1×1 conv
/// C→C/r → ReLU → 1×1 conv C/r→C → sigmoid gives one weight in (0, 1) per channel.
///
/// Used inside every residual block ([`ResBlock`](super::blocks::ResBlock), MMRB) and, on its
/// own, as the CA modules of the channel-attention feature discriminator (paper §3.4, eq. 4),
/// whose weights rank the prior channels.
#[derive(Module, Debug)]
pub struct ChannelAttention {
    squeeze: Conv2d,
    excite: Conv2d,
}

impl ChannelAttention {
    /// A CA module for `channels` channels with reduction `reduction` (at least 1 hidden unit).
    pub fn new(channels: usize, reduction: usize, device: &Device) -> Self {
        let hidden = (channels / reduction.max(1)).max(1);
        Self {
            squeeze: conv1x1(channels, hidden, device),
            excite: conv1x1(hidden, channels, device),
        }
    }

    /// Per-channel weights in (0, 1): `[batch, C, H, W]` → `[batch, C, 1, 1]`.
    pub fn weights(&self, x: Tensor<4>) -> Tensor<4> {
        let pooled = adaptive_avg_pool2d(x, [1, 1]); // [B, C, 1, 1]
        let hidden = relu(self.squeeze.forward(pooled)); // [B, C/r, 1, 1]
        sigmoid(self.excite.forward(hidden)) // [B, C, 1, 1]
    }

    /// The input scaled channel by channel by its own weights: `x ⊗ CA(x)`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let w = self.weights(x.clone());
        x * w
    }
}
