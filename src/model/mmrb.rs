//! The mixed multi-path residual block (MMRB) of Hu et al. 2022 ("blind face restoration with
//! generative facial prior", shared/papers/001_…), as an optional encoder block.
//!
//! The paper gives only the idea — "gradually extract weak texture features of input images"
//! through several parallel paths of different receptive fields, mixed back together, and
//! plug-and-play in any network. Our design (a documented choice, not the authors' code):
//!
//! ```text
//!            ┌─ conv3×3, dilation 1 (RF 3) ─ LReLU ─┐  C → C/2 each
//!   x ──────┼─ conv3×3, dilation 2 (RF 5) ─ LReLU ─┼─ concat (3C/2) ─ conv1×1 (mix) ─ LReLU
//!     │      └─ conv3×3, dilation 3 (RF 7) ─ LReLU ─┘
//!     │                                        ─ conv3×3 ─ squeeze-excitation ─ (+) ─▶
//!     └──────────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! The dilated paths see 3, 5 and 7 pixel neighbourhoods at the cost of a 3×3 conv each, so a
//! block gathers texture at three scales; the 1×1 conv mixes the paths channel by channel and
//! the trailing 3×3 conv mixes them spatially. Cost ≈ 1.33× a [`ResBlock`](super::blocks::ResBlock)
//! of the same width (24 vs 18 C² MACs per pixel).

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;
use burn::tensor::activation::leaky_relu;
use serde::{Deserialize, Serialize};

use super::layers::{ChannelAttention, LEAKY_SLOPE, conv1x1, conv3x3};

/// Dilations of the parallel paths.
pub const MMRB_DILATIONS: [usize; 3] = [1, 2, 3];

/// Which residual block the encoder groups (E1..E3) are built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EncoderBlock {
    /// The RCAN-style residual block with squeeze-excitation (DFPGnet).
    #[default]
    Residual,
    /// The mixed multi-path residual block ([`Mmrb`]).
    Mmrb,
}

/// A 3×3 convolution with `dilation`, padded to keep the size.
fn dilated3x3(channels_in: usize, channels_out: usize, dilation: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([channels_in, channels_out], [3, 3])
        .with_dilation([dilation, dilation])
        .with_padding(PaddingConfig2d::Explicit(
            dilation, dilation, dilation, dilation,
        ))
        .init(device)
}

/// Mixed multi-path residual block (see the module documentation).
#[derive(Module, Debug)]
pub struct Mmrb {
    paths: Vec<Conv2d>,
    mix: Conv2d,
    fuse: Conv2d,
    attention: ChannelAttention,
}

impl Mmrb {
    /// A block of `channels` channels (each path has `channels / 2`, at least 1).
    pub fn new(channels: usize, device: &Device) -> Self {
        let half = (channels / 2).max(1);
        Self {
            paths: MMRB_DILATIONS
                .iter()
                .map(|&d| dilated3x3(channels, half, d, device))
                .collect(),
            mix: conv1x1(half * MMRB_DILATIONS.len(), channels, device),
            fuse: conv3x3(channels, channels, device),
            attention: ChannelAttention::new(channels, 16, device),
        }
    }

    /// `[B, C, H, W]` → `[B, C, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let paths: Vec<Tensor<4>> = self
            .paths
            .iter()
            .map(|conv| leaky_relu(conv.forward(x.clone()), LEAKY_SLOPE))
            .collect();
        let mixed = leaky_relu(self.mix.forward(Tensor::cat(paths, 1)), LEAKY_SLOPE);
        let y = self.fuse.forward(mixed);
        self.attention.forward(y) + x
    }

    /// Multiply-accumulates per pixel of a block of `channels` channels.
    pub fn macs_per_pixel(channels: usize) -> u64 {
        let half = (channels / 2).max(1);
        let paths = MMRB_DILATIONS.len() * channels * half * 9;
        let mix = half * MMRB_DILATIONS.len() * channels;
        (paths + mix + channels * channels * 9) as u64
    }
}

/// A group of [`Mmrb`]s followed by a 3×3 conv, with an outer skip connection (the MMRB form
/// of [`ResGroup`](super::blocks::ResGroup)).
#[derive(Module, Debug)]
pub struct MmrbGroup {
    blocks: Vec<Mmrb>,
    tail: Conv2d,
}

impl MmrbGroup {
    /// `blocks` MMRBs of `channels` channels.
    pub fn new(channels: usize, blocks: usize, device: &Device) -> Self {
        Self {
            blocks: (0..blocks).map(|_| Mmrb::new(channels, device)).collect(),
            tail: conv3x3(channels, channels, device),
        }
    }

    /// Number of MMRBs.
    pub fn depth(&self) -> usize {
        self.blocks.len()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mmrb_keeps_the_shape_and_counts_its_macs() {
        let device = Device::flex();
        let block = Mmrb::new(8, &device);
        let x = Tensor::<4>::random([2, 8, 15, 13], burn::tensor::Distribution::Default, &device);
        let y = block.forward(x.clone());
        assert_eq!(y.dims(), [2, 8, 15, 13]);
        let change: f32 = (y - x).abs().max().into_scalar();
        assert!(change > 0.0, "a fresh block is not the identity");
        // 3 paths 8→4 (3×3) + mix 12→8 + fuse 8→8 (3×3).
        assert_eq!(Mmrb::macs_per_pixel(8), 3 * 8 * 4 * 9 + 12 * 8 + 8 * 8 * 9);
    }
}
