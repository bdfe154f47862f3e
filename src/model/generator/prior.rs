//! The prior estimation stream 𝒫 (paper §3.2) and where its estimates P̂_i enter the decoder
//! (SFT, eq. 2; a 1×1-conv addition in ablation B3; DAFI).

use burn::nn::conv::Conv2d;
use burn::prelude::*;

use crate::model::blocks::{ResGroup, Sft};
use crate::model::dre::Dafi;
use crate::model::layers::conv3x3;

/// A 1×1 conv initialised to zero, so a fresh generator returns its input unchanged.
pub(super) fn zero_conv1x1(channels_in: usize, channels_out: usize, device: &Device) -> Conv2d {
    burn::nn::conv::Conv2dConfig::new([channels_in, channels_out], [1, 1])
        .with_initializer(burn::nn::Initializer::Zeros)
        .init(device)
}

/// Where P̂_i enters D_i: SFT (eq. 2); in ablation B3 a plain 1×1-conv addition; with DAFI
/// an interpolation weighted by the degradation representation (see [`FusionKind`]).
#[derive(Module, Debug)]
pub struct PriorFusion {
    pub(super) sft: Option<Sft>,
    pub(super) add: Option<Conv2d>,
    pub(super) dafi: Option<Dafi>,
}

impl PriorFusion {
    /// The fused features and, with DAFI, the per-channel weight of the prior side `[B, C]`.
    pub(super) fn forward(
        &self,
        features: Tensor<4>,
        prior: Tensor<4>,
        degradation: Option<Tensor<2>>,
    ) -> (Tensor<4>, Option<Tensor<2>>) {
        match (&self.dafi, degradation) {
            (Some(dafi), Some(v)) => {
                let prior_side = match (&self.sft, &self.add) {
                    (Some(sft), _) => sft.forward(features.clone(), prior),
                    (None, Some(conv)) => conv.forward(prior),
                    (None, None) => features.clone(),
                };
                let (out, mask) = dafi.forward(prior_side, features, v);
                (out, Some(mask))
            }
            _ => {
                let out = match (&self.sft, &self.add) {
                    (Some(sft), _) => sft.forward(features, prior),
                    (None, Some(conv)) => features + conv.forward(prior),
                    (None, None) => features,
                };
                (out, None)
            }
        }
    }
}

/// One sub-network 𝒫_i of the prior estimation stream (paper §3.2): SSFT (eq. 1) → residual
/// group → (a 3×3 conv to the teacher's channel count when it differs).
#[derive(Module, Debug)]
pub struct PriorBranch {
    ssft: Option<Sft>,
    group: ResGroup,
    out: Option<Conv2d>,
}

impl PriorBranch {
    /// `E_i` → `P̂_i`.
    pub fn forward(&self, e: Tensor<4>) -> Tensor<4> {
        let x = match &self.ssft {
            Some(ssft) => ssft.forward_self(e),
            None => e,
        };
        let x = self.group.forward(x);
        match &self.out {
            Some(conv) => conv.forward(x),
            None => x,
        }
    }
}

/// The prior estimation stream 𝒫 = {𝒫_1, 𝒫_2, 𝒫_3}.
#[derive(Module, Debug)]
pub struct PriorStream {
    pub(super) branches: Vec<PriorBranch>,
}

impl PriorStream {
    /// Branches from the deblurring stream's `channels` to the priors' `prior_channels`,
    /// `blocks` residual blocks each, with SSFT when `feature_transforms`.
    pub(super) fn new(
        channels: [usize; 3],
        prior_channels: [usize; 3],
        blocks: usize,
        feature_transforms: bool,
        device: &Device,
    ) -> Self {
        let branches = (0..3)
            .map(|i| {
                let (c, p) = (channels[i], prior_channels[i]);
                PriorBranch {
                    ssft: feature_transforms.then(|| Sft::new(c, c, c, device)),
                    group: ResGroup::new(c, blocks, device),
                    out: (c != p).then(|| conv3x3(c, p, device)),
                }
            })
            .collect();
        Self { branches }
    }
}
