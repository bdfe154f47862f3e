//! The DFPGnet generator 𝒢 (paper §3.1–3.3): encoder ℳ_E → prior estimation stream 𝒫 →
//! decoder ℳ_D, with SSFT at the prior stream's inputs and SFT where its outputs enter the
//! decoder.
//!
//! [`config`]: hyper-parameters and construction; [`prior`]: the prior stream and the fusion
//! modules. (Burn names the weights after the struct fields, not the files: the tensor names
//! of the weight files are those of the single-file generator.)

mod config;
mod prior;

pub use config::{FusionKind, GeneratorConfig};
pub use prior::{PriorBranch, PriorFusion, PriorStream};

use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, tanh};

use super::blocks::ResGroup;
use super::dre::DegradationEncoder;
use super::layers::LEAKY_SLOPE;

/// Largest |x| fed to atanh, so that ±1 inputs stay finite.
const ATANH_LIMIT: f64 = 0.999;

/// What the generator returns: the restored image and the estimated deep-feature priors.
#[derive(Debug, Clone)]
pub struct GeneratorOutput {
    /// Restored image `[B, 3, H, W]` in [-1, 1].
    pub image: Tensor<4>,
    /// P̂1 `[B, p1, H, W]`, P̂2 `[B, p2, H/2, W/2]`, P̂3 `[B, p3, H/4, W/4]`; empty without a
    /// prior stream.
    pub priors: Vec<Tensor<4>>,
    /// The DRE's degradation representation `[B, DRE_DIM]` (DAFI models only).
    pub degradation: Option<Tensor<2>>,
    /// DAFI weight of the prior side per channel at H, H/2, H/4 (`[B, c_i]`; DAFI models only).
    pub dafi_masks: Vec<Tensor<2>>,
}

/// The DFPGnet generator 𝒢. Input: `[B, 3, H, W]` in [-1, 1] with H, W multiples of 4.
#[derive(Module, Debug)]
pub struct Generator {
    head: Conv2d,
    enc1: ResGroup,
    down1: Conv2d,
    enc2: ResGroup,
    down2: Conv2d,
    enc3: ResGroup,
    middle: ResGroup,
    prior: Option<PriorStream>,
    dre: Option<DegradationEncoder>,
    fuse3: Option<PriorFusion>,
    dec3: ResGroup,
    up2: ConvTranspose2d,
    fuse2: Option<PriorFusion>,
    dec2: ResGroup,
    up1: ConvTranspose2d,
    fuse1: Option<PriorFusion>,
    dec1: ResGroup,
    to_rgb: Conv2d,
}

impl Generator {
    /// Restore `blurred` (`[B, 3, H, W]`, [-1, 1], H and W multiples of 4).
    pub fn forward(&self, blurred: Tensor<4>) -> GeneratorOutput {
        let [_, _, h, w] = blurred.dims();
        assert!(
            h % 4 == 0 && w % 4 == 0,
            "generator input must be a multiple of 4, got {h}×{w}"
        );
        // Encoder ℳ_E (§3.1).
        let e0 = self.head.forward(blurred.clone()); // [B, c1, H, W]
        let e1 = self.enc1.forward(e0.clone()); // [B, c1, H, W]
        let x = leaky_relu(self.down1.forward(e1.clone()), LEAKY_SLOPE); // [B, c2, H/2, W/2]
        let e2 = self.enc2.forward(x); // [B, c2, H/2, W/2]
        let x = leaky_relu(self.down2.forward(e2.clone()), LEAKY_SLOPE); // [B, c3, H/4, W/4]
        let e3 = self.enc3.forward(x); // [B, c3, H/4, W/4]
        let e4 = self.middle.forward(e3.clone()); // [B, c3, H/4, W/4]

        // Prior estimation stream 𝒫 (§3.2): P̂_i = 𝒫_i(E_i).
        let priors: Vec<Tensor<4>> = match &self.prior {
            Some(stream) => [e1, e2, e3]
                .into_iter()
                .zip(&stream.branches)
                .map(|(e, branch)| branch.forward(e))
                .collect(),
            None => Vec::new(),
        };
        // Degradation representation (DAFI models): the DRE is pre-trained and frozen, so no
        // gradient flows back into it.
        let degradation = self
            .dre
            .as_ref()
            .map(|dre| dre.forward(blurred.clone()).detach());
        let prior = |i: usize| priors.get(i).cloned();
        let mut masks: Vec<Option<Tensor<2>>> = vec![None, None, None];
        let mut fuse =
            |fusion: &Option<PriorFusion>, d: Tensor<4>, i: usize| match (fusion, prior(i)) {
                (Some(f), Some(p)) => {
                    let (out, mask) = f.forward(d, p, degradation.clone());
                    masks[i] = mask;
                    out
                }
                _ => d,
            };

        // Decoder ℳ_D (§3.3): SFT(P̂3) → group → up → SFT(P̂2) → group → up → SFT(P̂1) → group.
        let d = fuse(&self.fuse3, e4, 2);
        let d = self.dec3.forward(d); // [B, c3, H/4, W/4]
        let d = leaky_relu(self.up2.forward(d), LEAKY_SLOPE); // [B, c2, H/2, W/2]
        let d = fuse(&self.fuse2, d, 1);
        let d = self.dec2.forward(d);
        let d = leaky_relu(self.up1.forward(d), LEAKY_SLOPE); // [B, c1, H, W]
        let d = fuse(&self.fuse1, d, 0);
        let d0 = self.dec1.forward(d) + e0; // global skip E0 → D0
        let residual = self.to_rgb.forward(d0); // [B, 3, H, W]
        // Global residual in the pre-tanh domain: tanh(atanh(x) + r) is x when r = 0, so the
        // zero-initialised output conv starts the generator at the identity.
        let x = blurred.clamp(-ATANH_LIMIT, ATANH_LIMIT);
        let atanh_x = (x.clone().add_scalar(1.0) / x.neg().add_scalar(1.0))
            .log()
            .mul_scalar(0.5);
        GeneratorOutput {
            image: tanh(residual + atanh_x),
            priors,
            degradation,
            dafi_masks: masks.into_iter().flatten().collect(),
        }
    }

    /// The degradation representation encoder (DAFI models only).
    pub fn dre(&self) -> Option<&DegradationEncoder> {
        self.dre.as_ref()
    }

    /// This generator with `dre` (a pre-trained encoder) in place of its own; no-op for a
    /// generator without DAFI.
    pub fn with_dre(mut self, dre: DegradationEncoder) -> Self {
        if self.dre.is_some() {
            self.dre = Some(dre);
        }
        self
    }
}

#[cfg(test)]
mod tests;
