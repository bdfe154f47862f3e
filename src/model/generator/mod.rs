//! The DFPGnet generator 𝒢 (paper §3.1–3.3): encoder ℳ_E → prior estimation stream 𝒫 →
//! decoder ℳ_D, with SSFT at the prior stream's inputs and SFT where its outputs enter the
//! decoder.
//!
//! [`config`]: hyper-parameters and construction; [`prior`]: the prior stream and the fusion
//! modules. (Burn names the weights after the struct fields and enum variants, not the files;
//! the tensor names of weight files and checkpoints are those of the earlier single-file,
//! enum-free generator, translated by [`crate::weights::names`].)

mod config;
mod prior;

pub use config::{FusionKind, GeneratorConfig};
pub use prior::{
    AddFusion, DafiFusion, PriorBranch, PriorFusion, PriorGuidance, PriorStream, SftDafiFusion,
    SftFusion,
};

use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, tanh};

use super::blocks::{EncoderGroup, ResGroup};
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
    enc1: EncoderGroup,
    down1: Conv2d,
    enc2: EncoderGroup,
    down2: Conv2d,
    enc3: EncoderGroup,
    middle: ResGroup,
    /// The prior stream and its fusion into the decoder; `None` in ablation B1.
    guidance: Option<PriorGuidance>,
    dec3: ResGroup,
    up2: ConvTranspose2d,
    dec2: ResGroup,
    up1: ConvTranspose2d,
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

        // Prior estimation stream 𝒫 (§3.2): P̂_i = 𝒫_i(E_i); with DAFI also the degradation
        // representation of the input.
        let guided = self
            .guidance
            .as_ref()
            .map(|g| (g, g.estimate([e1, e2, e3], &blurred)));
        let fuse = |i: usize, d: Tensor<4>| match &guided {
            Some((g, estimates)) => g.fuse(i, d, estimates),
            None => d,
        };

        // Decoder ℳ_D (§3.3): SFT(P̂3) → group → up → SFT(P̂2) → group → up → SFT(P̂1) → group.
        let d = fuse(2, e4);
        let d = self.dec3.forward(d); // [B, c3, H/4, W/4]
        let d = leaky_relu(self.up2.forward(d), LEAKY_SLOPE); // [B, c2, H/2, W/2]
        let d = fuse(1, d);
        let d = self.dec2.forward(d);
        let d = leaky_relu(self.up1.forward(d), LEAKY_SLOPE); // [B, c1, H, W]
        let d = fuse(0, d);
        let d0 = self.dec1.forward(d) + e0; // global skip E0 → D0
        let residual = self.to_rgb.forward(d0); // [B, 3, H, W]
        // Global residual in the pre-tanh domain: tanh(atanh(x) + r) is x when r = 0, so the
        // zero-initialised output conv starts the generator at the identity.
        let x = blurred.clamp(-ATANH_LIMIT, ATANH_LIMIT);
        let atanh_x = (x.clone().add_scalar(1.0) / x.neg().add_scalar(1.0))
            .log()
            .mul_scalar(0.5);
        let (priors, degradation, dafi_masks) = match guided {
            Some((_, e)) => (e.priors, e.degradation, e.masks),
            None => (Vec::new(), None, Vec::new()),
        };
        GeneratorOutput {
            image: tanh(residual + atanh_x),
            priors,
            degradation,
            dafi_masks,
        }
    }

    /// This trained generator (of configuration `from`) grown to the configuration `to`:
    /// encoder, middle and decoder groups deepened with identity blocks
    /// ([`ResGroup::deepened`]), so it computes exactly what it did and a new run can train
    /// the added depth (`init_weights` in a training config). Every other setting of `to`
    /// must equal `from`'s.
    pub fn deepened(
        self,
        from: &GeneratorConfig,
        to: &GeneratorConfig,
        device: &Device,
    ) -> anyhow::Result<Self> {
        let same_but_depth = GeneratorConfig {
            encoder_blocks: to.encoder_blocks,
            middle_blocks: to.middle_blocks,
            decoder_blocks: to.decoder_blocks,
            ..from.clone()
        };
        anyhow::ensure!(
            &same_but_depth == to,
            "only the encoder, middle and decoder depths may grow: {from:?} cannot become {to:?}"
        );
        Ok(Self {
            enc1: self.enc1.deepened(to.encoder_blocks, device)?,
            enc2: self.enc2.deepened(to.encoder_blocks, device)?,
            enc3: self.enc3.deepened(to.encoder_blocks, device)?,
            middle: self.middle.deepened(to.middle_blocks, device)?,
            dec3: self.dec3.deepened(to.decoder_blocks, device)?,
            dec2: self.dec2.deepened(to.decoder_blocks, device)?,
            dec1: self.dec1.deepened(to.decoder_blocks, device)?,
            ..self
        })
    }

    /// The degradation representation encoder (DAFI models only).
    pub fn dre(&self) -> Option<&DegradationEncoder> {
        self.guidance.as_ref().and_then(PriorGuidance::dre)
    }

    /// This generator with `dre` (a pre-trained encoder) in place of its own; no-op for a
    /// generator without DAFI.
    pub fn with_dre(mut self, dre: DegradationEncoder) -> Self {
        self.guidance = self.guidance.map(|g| g.with_dre(dre));
        self
    }
}

/// Moves every parameter off its initial value, so that the zero-initialised output conv
/// does not hide what the rest computes (for tests).
#[cfg(test)]
struct Perturb;

#[cfg(test)]
impl burn::module::ModuleMapper for Perturb {
    fn map_float<const D: usize>(
        &mut self,
        param: burn::module::Param<Tensor<D>>,
    ) -> burn::module::Param<Tensor<D>> {
        param.map(|t| {
            let noise = t.random_like(burn::tensor::Distribution::Uniform(-0.05, 0.05));
            t + noise
        })
    }
}

#[cfg(test)]
impl Generator {
    /// This generator with small random offsets on every parameter (see [`Perturb`]).
    pub(crate) fn perturbed(self) -> Self {
        self.map(&mut Perturb)
    }
}

#[cfg(test)]
mod tests;
