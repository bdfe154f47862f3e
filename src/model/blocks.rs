//! The generator's building blocks: residual blocks with squeeze-excitation, residual groups,
//! the encoder groups of either block type and the spatial feature transforms (SFT, SSFT). The
//! layers they share with the MMRB, the discriminator and the DRE are in [`super::layers`].

use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::leaky_relu;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

use super::layers::{ChannelAttention, LEAKY_SLOPE, conv1x1, conv3x3, zero_conv3x3};
use super::mmrb::{EncoderBlock, MmrbGroup};

/// Residual block: conv3×3 → LeakyReLU(0.2) → conv3×3 → squeeze-excitation → + input.
/// No normalisation (as in RCAN-style restoration nets and SAPPGAN's DFPGNet_G).
#[derive(Module, Debug)]
pub struct ResBlock {
    conv1: Conv2d,
    conv2: Conv2d,
    attention: ChannelAttention,
}

impl ResBlock {
    /// A block of `channels` channels; the SE reduction is 16 (at least one hidden unit).
    pub fn new(channels: usize, device: &Device) -> Self {
        Self {
            conv1: conv3x3(channels, channels, device),
            conv2: conv3x3(channels, channels, device),
            attention: ChannelAttention::new(channels, 16, device),
        }
    }

    /// A block that starts as the identity: its second conv is zero, so the block adds
    /// nothing until training moves it (how [`ResGroup::deepened`] grows a trained network).
    pub fn identity(channels: usize, device: &Device) -> Self {
        Self {
            conv2: zero_conv3x3(channels, channels, device),
            ..Self::new(channels, device)
        }
    }

    /// `[B, C, H, W]` → `[B, C, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = leaky_relu(self.conv1.forward(x.clone()), LEAKY_SLOPE);
        let y = self.conv2.forward(y);
        self.attention.forward(y) + x
    }
}

/// A group of [`ResBlock`]s followed by a 3×3 conv, with an outer skip connection.
#[derive(Module, Debug)]
pub struct ResGroup {
    blocks: Vec<ResBlock>,
    tail: Conv2d,
}

impl ResGroup {
    /// `blocks` residual blocks of `channels` channels.
    pub fn new(channels: usize, blocks: usize, device: &Device) -> Self {
        Self {
            blocks: (0..blocks)
                .map(|_| ResBlock::new(channels, device))
                .collect(),
            tail: conv3x3(channels, channels, device),
        }
    }

    /// Number of residual blocks.
    pub fn depth(&self) -> usize {
        self.blocks.len()
    }

    /// This group with [`ResBlock::identity`] blocks appended up to `blocks` in all: the same
    /// function, more depth to train. `blocks` below the current depth is an error.
    pub fn deepened(mut self, blocks: usize, device: &Device) -> anyhow::Result<Self> {
        anyhow::ensure!(
            blocks >= self.blocks.len(),
            "cannot shrink a group of {} blocks to {blocks}",
            self.blocks.len()
        );
        let channels = self.tail.weight.dims()[0];
        while self.blocks.len() < blocks {
            self.blocks.push(ResBlock::identity(channels, device));
        }
        Ok(self)
    }

    /// `[B, C, H, W]` → `[B, C, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = self
            .blocks
            .iter()
            .fold(x.clone(), |y, block| block.forward(y));
        self.tail.forward(y) + x
    }
}

/// An encoder group E_i of either block type ([`EncoderBlock`] in the configuration).
///
/// Burn puts the variant name into the parameter paths (`enc1.Residual.blocks.0.…`); weight
/// files and checkpoints keep the names of the earlier layout (`enc1.blocks.0.…`,
/// `enc1.mmrb.0.…`), see [`crate::weights::names`].
#[derive(Module, Debug)]
pub enum EncoderGroup {
    /// Residual blocks with squeeze-excitation (DFPGnet).
    Residual(ResGroup),
    /// Mixed multi-path residual blocks.
    Mmrb(MmrbGroup),
}

impl EncoderGroup {
    /// `blocks` blocks of type `kind` and `channels` channels.
    pub fn new(channels: usize, blocks: usize, kind: EncoderBlock, device: &Device) -> Self {
        match kind {
            EncoderBlock::Residual => Self::Residual(ResGroup::new(channels, blocks, device)),
            EncoderBlock::Mmrb => Self::Mmrb(MmrbGroup::new(channels, blocks, device)),
        }
    }

    /// This group deepened to `blocks` blocks ([`ResGroup::deepened`]; residual groups only).
    pub fn deepened(self, blocks: usize, device: &Device) -> anyhow::Result<Self> {
        match self {
            Self::Residual(group) => Ok(Self::Residual(group.deepened(blocks, device)?)),
            Self::Mmrb(group) => {
                anyhow::ensure!(
                    group.depth() == blocks,
                    "MMRB encoder groups cannot be deepened"
                );
                Ok(Self::Mmrb(group))
            }
        }
    }

    /// `[B, C, H, W]` → `[B, C, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Self::Residual(group) => group.forward(x),
            Self::Mmrb(group) => group.forward(x),
        }
    }
}

/// Spatial feature transform (paper §3.3, eq. 2; Wang et al. 2018): a condition tensor is
/// mapped to per-pixel scale α and shift β for the features it modulates,
/// `SFT(D | α, β) = α ⊗ D + β`.
///
/// α is parameterised as `1 + a`, so a freshly initialised transform starts near the identity.
#[derive(Module, Debug)]
pub struct Sft {
    scale0: Conv2d,
    scale1: Conv2d,
    shift0: Conv2d,
    shift1: Conv2d,
}

impl Sft {
    /// Maps a condition of `condition_channels` to α, β of `feature_channels`, through a hidden
    /// layer of `hidden` channels (3×3 then 1×1 convs).
    pub fn new(
        condition_channels: usize,
        feature_channels: usize,
        hidden: usize,
        device: &Device,
    ) -> Self {
        Self {
            scale0: conv3x3(condition_channels, hidden, device),
            scale1: conv1x1(hidden, feature_channels, device),
            shift0: conv3x3(condition_channels, hidden, device),
            shift1: conv1x1(hidden, feature_channels, device),
        }
    }

    /// `(α, β) = F(condition)`, each `[B, C_feature, H, W]`.
    ///
    /// The two 3×3 convs read the same condition, so they run as one conv with both weight
    /// sets stacked (twice the output channels): on the CPU backend one wide convolution
    /// costs ≈ 1.4–1.6× one narrow one, not 2× (`cargo run --release --example conv_shapes`).
    /// The weights stay two convs, so weight files and checkpoints are unchanged.
    pub fn params(&self, condition: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let hidden = self.scale0.weight.dims()[0];
        let weight = Tensor::cat(vec![self.scale0.weight.val(), self.shift0.weight.val()], 0);
        let bias = match (&self.scale0.bias, &self.shift0.bias) {
            (Some(a), Some(b)) => Some(Tensor::cat(vec![a.val(), b.val()], 0)),
            _ => None,
        };
        let both = leaky_relu(
            conv2d(
                condition,
                weight,
                bias,
                ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
            ),
            0.1,
        );
        let a = both.clone().narrow(1, 0, hidden);
        let b = both.narrow(1, hidden, hidden);
        let scale = self.scale1.forward(a).add_scalar(1.0);
        let shift = self.shift1.forward(b);
        (scale, shift)
    }

    /// [`Sft::params`] with the two 3×3 convs run one after the other (the reference the
    /// fused path is tested against).
    #[cfg(test)]
    fn params_unfused(&self, condition: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let a = leaky_relu(self.scale0.forward(condition.clone()), 0.1);
        let scale = self.scale1.forward(a).add_scalar(1.0);
        let b = leaky_relu(self.shift0.forward(condition), 0.1);
        let shift = self.shift1.forward(b);
        (scale, shift)
    }

    /// `α ⊗ features + β` with `(α, β)` computed from `condition` (same spatial size).
    pub fn forward(&self, features: Tensor<4>, condition: Tensor<4>) -> Tensor<4> {
        let (scale, shift) = self.params(condition);
        features * scale + shift
    }

    /// Self-SFT (paper §3.2, eq. 1): the scale and shift come from the input itself.
    pub fn forward_self(&self, features: Tensor<4>) -> Tensor<4> {
        self.forward(features.clone(), features)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_keep_shape_and_ca_weights_are_in_unit_interval() {
        let device = Device::flex();
        let x = Tensor::<4>::random([2, 8, 6, 6], burn::tensor::Distribution::Default, &device);
        let block = ResBlock::new(8, &device);
        assert_eq!(block.forward(x.clone()).dims(), [2, 8, 6, 6]);
        let group = ResGroup::new(8, 2, &device);
        assert_eq!(group.forward(x.clone()).dims(), [2, 8, 6, 6]);
        for kind in [EncoderBlock::Residual, EncoderBlock::Mmrb] {
            let group = EncoderGroup::new(8, 2, kind, &device);
            assert_eq!(group.forward(x.clone()).dims(), [2, 8, 6, 6]);
        }
        let ca = ChannelAttention::new(8, 4, &device);
        let w = ca.weights(x.clone());
        assert_eq!(w.dims(), [2, 8, 1, 1]);
        let w: Vec<f32> = w.into_data().try_to_vec().unwrap();
        assert!(w.iter().all(|&v| v > 0.0 && v < 1.0));
        let sft = Sft::new(4, 8, 6, &device);
        let cond = Tensor::<4>::zeros([2, 4, 6, 6], &device);
        assert_eq!(sft.forward(x, cond).dims(), [2, 8, 6, 6]);
    }

    #[test]
    fn fused_sft_matches_two_separate_convs() {
        let device = Device::flex();
        let sft = Sft::new(5, 7, 6, &device);
        let cond = Tensor::<4>::random([3, 5, 9, 8], burn::tensor::Distribution::Default, &device);
        let (a, b) = sft.params(cond.clone());
        let (ra, rb) = sft.params_unfused(cond);
        for (x, y) in [(a, ra), (b, rb)] {
            assert_eq!(x.dims(), [3, 7, 9, 8]);
            let d: f32 = (x - y).abs().max().into_scalar();
            assert!(d < 1e-5, "fused and separate SFT differ by {d}");
        }
    }
}
