//! The DFPGnet generator 𝒢 (paper §3.1–3.3): encoder ℳ_E → prior estimation stream 𝒫 →
//! decoder ℳ_D, with SSFT at the prior stream's inputs and SFT where its outputs enter the
//! decoder.

use burn::nn::conv::{Conv2d, ConvTranspose2d, ConvTranspose2dConfig};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, tanh};

use serde::{Deserialize, Serialize};

use super::blocks::{LEAKY_SLOPE, ResGroup, Sft, conv_down, conv1x1, conv3x3};
use super::dre::{Dafi, DegradationEncoder};
use super::mmrb::{EncoderBlock, Mmrb};

/// How an estimated prior P̂_i enters the decoder features D_i.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FusionKind {
    /// SFT (DFPGnet, eq. 2): `α(P̂) ⊗ D + β(P̂)`.
    #[default]
    Sft,
    /// DAFI instead of SFT (Panini-Net): `m ⊙ conv1×1(P̂) + (1 − m) ⊙ D`, `m` from the DRE.
    Dafi,
    /// DAFI in addition to SFT: `m ⊙ SFT(D | P̂) + (1 − m) ⊙ D`, so the degradation decides,
    /// channel by channel, how much prior modulation to apply.
    SftDafi,
}

impl FusionKind {
    /// Whether this fusion needs the degradation representation encoder.
    pub fn uses_dre(self) -> bool {
        self != FusionKind::Sft
    }
}

/// Generator hyper-parameters. [`GeneratorConfig::paper`] is the published size;
/// [`GeneratorConfig::compact`] is what we can train on two CPU cores.
///
/// Serialised as JSON in weight files and training configs; the switches added after the
/// first weights shipped have serde defaults, so older files still load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratorConfig {
    /// Channels of the deblurring stream at H, H/2 and H/4.
    pub channels: [usize; 3],
    /// Channels of the estimated priors P̂1..P̂3 at H, H/2, H/4 (those of the teacher's layers).
    pub prior_channels: [usize; 3],
    /// Residual blocks in each encoder group (E1, E2, E3).
    pub encoder_blocks: usize,
    /// Residual blocks in each prior sub-network 𝒫_i.
    pub prior_blocks: usize,
    /// Residual blocks in the middle group that produces E4.
    pub middle_blocks: usize,
    /// Residual blocks in each decoder group.
    pub decoder_blocks: usize,
    /// Whether the prior estimation stream exists (false: ablation B1, encoder-decoder only).
    #[serde(default = "yes")]
    pub prior_stream: bool,
    /// Whether SSFT/SFT connect the two streams (false: ablation B3, the prior stream takes
    /// E_i as is and P̂_i is added to D_i through a 1×1 conv).
    #[serde(default = "yes")]
    pub feature_transforms: bool,
    /// Block type of the encoder groups E1..E3 (residual, or MMRB of Hu et al.).
    #[serde(default)]
    pub encoder_block: EncoderBlock,
    /// How the priors enter the decoder (SFT, DAFI, or both); DAFI adds the DRE.
    #[serde(default)]
    pub fusion: FusionKind,
}

fn yes() -> bool {
    true
}

impl GeneratorConfig {
    /// A DFPGnet generator (prior stream, SSFT/SFT, residual encoder blocks).
    pub fn new(
        channels: [usize; 3],
        prior_channels: [usize; 3],
        encoder_blocks: usize,
        prior_blocks: usize,
        middle_blocks: usize,
        decoder_blocks: usize,
    ) -> Self {
        Self {
            channels,
            prior_channels,
            encoder_blocks,
            prior_blocks,
            middle_blocks,
            decoder_blocks,
            prior_stream: true,
            feature_transforms: true,
            encoder_block: EncoderBlock::Residual,
            fusion: FusionKind::Sft,
        }
    }

    /// With or without the prior estimation stream.
    pub fn with_prior_stream(mut self, on: bool) -> Self {
        self.prior_stream = on;
        self
    }

    /// With or without SSFT/SFT.
    pub fn with_feature_transforms(mut self, on: bool) -> Self {
        self.feature_transforms = on;
        self
    }

    /// With this encoder block type.
    pub fn with_encoder_block(mut self, block: EncoderBlock) -> Self {
        self.encoder_block = block;
        self
    }

    /// With this prior fusion.
    pub fn with_fusion(mut self, fusion: FusionKind) -> Self {
        self.fusion = fusion;
        self
    }

    /// The configuration of the paper / SAPPGAN's DFPGNet_G: 64-128-256 channels, 5 blocks per
    /// group, 10 per prior group (≈44.7 M parameters).
    pub fn paper() -> Self {
        Self::new([64, 128, 256], [64, 128, 256], 5, 10, 5, 5)
    }

    /// A compact configuration sized for training on two CPU cores; same layout, fewer
    /// channels and blocks, with the prior channels of the face-recognition ResNet teacher.
    pub fn compact() -> Self {
        Self::new([24, 48, 96], [32, 32, 64], 1, 2, 2, 1)
    }

    /// Largest channel count and block count a configuration may ask for (the paper's model
    /// uses 256 channels and 10 blocks).
    pub const MAX_CHANNELS: usize = 4096;
    /// See [`Self::MAX_CHANNELS`].
    pub const MAX_BLOCKS: usize = 256;

    /// Whether the sizes are in range (1..=[`Self::MAX_CHANNELS`] channels, at most
    /// [`Self::MAX_BLOCKS`] blocks per group): a configuration read from a file is checked
    /// before anything is allocated for it.
    pub fn check(&self) -> Result<(), String> {
        let channels = self.channels.iter().chain(&self.prior_channels);
        if let Some(c) = channels
            .copied()
            .find(|&c| c == 0 || c > Self::MAX_CHANNELS)
        {
            return Err(format!(
                "channel count {c} is out of range (1..={})",
                Self::MAX_CHANNELS
            ));
        }
        let blocks = [
            self.encoder_blocks,
            self.prior_blocks,
            self.middle_blocks,
            self.decoder_blocks,
        ];
        if let Some(b) = blocks.into_iter().find(|&b| b > Self::MAX_BLOCKS) {
            return Err(format!(
                "block count {b} is out of range (0..={})",
                Self::MAX_BLOCKS
            ));
        }
        Ok(())
    }

    /// A lower bound on the generator's parameter count, computed without building it: the
    /// stem, the down/up-sampling convolutions and the residual blocks' 3×3 convolutions
    /// (MMRB encoder blocks, attention, fusion and the prior stream are not counted). A weight
    /// file must hold at least this many values.
    pub fn min_parameters(&self) -> u128 {
        let [c1, c2, c3] = self.channels.map(|c| c as u128);
        let squares = c1 * c1 + c2 * c2 + c3 * c3;
        let encoder = match self.encoder_block {
            EncoderBlock::Residual => self.encoder_blocks as u128 * 18 * squares,
            _ => 0,
        };
        27 * c1
            + 2 * 16 * (c1 * c2 + c2 * c3)
            + encoder
            + self.middle_blocks as u128 * 18 * c3 * c3
            + self.decoder_blocks as u128 * 18 * squares
    }

    /// Build the generator on `device`.
    pub fn init(&self, device: &Device) -> Generator {
        let [c1, c2, c3] = self.channels;
        let cs = self.channels;
        let prior = if self.prior_stream {
            Some(PriorStream::new(self, device))
        } else {
            None
        };
        let fusion = |i: usize| -> Option<PriorFusion> {
            if !self.prior_stream {
                return None;
            }
            let p = self.prior_channels[i];
            let dafi = self.fusion.uses_dre().then(|| Dafi::new(cs[i], device));
            Some(match (self.feature_transforms, self.fusion) {
                (true, FusionKind::Sft | FusionKind::SftDafi) => PriorFusion {
                    sft: Some(Sft::new(p, cs[i], cs[i], device)),
                    add: None,
                    dafi,
                },
                // B3 (no feature transforms) and DAFI-only project P̂ with a 1×1 conv.
                _ => PriorFusion {
                    sft: None,
                    add: Some(conv1x1(p, cs[i], device)),
                    dafi,
                },
            })
        };
        let up = |cin: usize, cout: usize| {
            ConvTranspose2dConfig::new([cin, cout], [4, 4])
                .with_stride([2, 2])
                .with_padding([1, 1])
                .init(device)
        };
        Generator {
            head: conv3x3(3, c1, device),
            enc1: ResGroup::with_block(c1, self.encoder_blocks, self.encoder_block, device),
            down1: conv_down(c1, c2, device),
            enc2: ResGroup::with_block(c2, self.encoder_blocks, self.encoder_block, device),
            down2: conv_down(c2, c3, device),
            enc3: ResGroup::with_block(c3, self.encoder_blocks, self.encoder_block, device),
            middle: ResGroup::new(c3, self.middle_blocks, device),
            prior,
            dre: (self.prior_stream && self.fusion.uses_dre())
                .then(|| DegradationEncoder::new(device)),
            fuse3: fusion(2),
            dec3: ResGroup::new(c3, self.decoder_blocks, device),
            up2: up(c3, c2),
            fuse2: fusion(1),
            dec2: ResGroup::new(c2, self.decoder_blocks, device),
            up1: up(c2, c1),
            fuse1: fusion(0),
            dec1: ResGroup::new(c1, self.decoder_blocks, device),
            to_rgb: zero_conv1x1(c1, 3, device),
        }
    }

    /// Multiply-accumulate operations of one forward pass on an `h`×`w` image (convolutions
    /// only; element-wise ops are not counted).
    pub fn macs(&self, h: usize, w: usize) -> u64 {
        let px = |level: usize| ((h >> level) * (w >> level)) as u64;
        let conv = |cin: usize, cout: usize, k: usize, level: usize| {
            (cin * cout * k * k) as u64 * px(level)
        };
        let group = |c: usize, blocks: usize, level: usize| {
            blocks as u64 * (2 * conv(c, c, 3, level)) + conv(c, c, 3, level)
        };
        let sft = |cond: usize, c: usize, level: usize| {
            2 * (conv(cond, c, 3, level) + conv(c, c, 1, level))
        };
        let encoder_group = |c: usize, level: usize| match self.encoder_block {
            EncoderBlock::Residual => group(c, self.encoder_blocks, level),
            EncoderBlock::Mmrb => {
                self.encoder_blocks as u64 * Mmrb::macs_per_pixel(c) * px(level)
                    + conv(c, c, 3, level)
            }
        };
        let [c1, c2, c3] = self.channels;
        let mut total = conv(3, c1, 3, 0)
            + encoder_group(c1, 0)
            + conv(c1, c2, 4, 1)
            + encoder_group(c2, 1)
            + conv(c2, c3, 4, 2)
            + encoder_group(c3, 2)
            + group(c3, self.middle_blocks, 2)
            + group(c3, self.decoder_blocks, 2)
            + conv(c3, c2, 4, 2) // transposed: one 4×4 tap set per input pixel
            + group(c2, self.decoder_blocks, 1)
            + conv(c2, c1, 4, 1)
            + group(c1, self.decoder_blocks, 0)
            + conv(c1, 3, 1, 0);
        if self.prior_stream {
            for (i, (&c, &p)) in self.channels.iter().zip(&self.prior_channels).enumerate() {
                total += group(c, self.prior_blocks, i);
                if c != p {
                    total += conv(c, p, 3, i);
                }
                total += if self.feature_transforms {
                    sft(c, c, i)
                } else {
                    0
                };
                total += match (self.feature_transforms, self.fusion) {
                    (true, FusionKind::Sft | FusionKind::SftDafi) => sft(p, c, i),
                    _ => conv(p, c, 1, i),
                };
            }
            if self.fusion.uses_dre() {
                total += DegradationEncoder::macs(h, w);
            }
        }
        total
    }
}

/// A 1×1 conv initialised to zero, so a fresh generator returns its input unchanged.
fn zero_conv1x1(channels_in: usize, channels_out: usize, device: &Device) -> Conv2d {
    burn::nn::conv::Conv2dConfig::new([channels_in, channels_out], [1, 1])
        .with_initializer(burn::nn::Initializer::Zeros)
        .init(device)
}

/// Largest |x| fed to atanh, so that ±1 inputs stay finite.
const ATANH_LIMIT: f64 = 0.999;

/// Where P̂_i enters D_i: SFT (eq. 2); in ablation B3 a plain 1×1-conv addition; with DAFI
/// an interpolation weighted by the degradation representation (see [`FusionKind`]).
#[derive(Module, Debug)]
pub struct PriorFusion {
    sft: Option<Sft>,
    add: Option<Conv2d>,
    dafi: Option<Dafi>,
}

impl PriorFusion {
    /// The fused features and, with DAFI, the per-channel weight of the prior side `[B, C]`.
    fn forward(
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
    branches: Vec<PriorBranch>,
}

impl PriorStream {
    fn new(config: &GeneratorConfig, device: &Device) -> Self {
        let branches = (0..3)
            .map(|i| {
                let (c, p) = (config.channels[i], config.prior_channels[i]);
                PriorBranch {
                    ssft: config.feature_transforms.then(|| Sft::new(c, c, c, device)),
                    group: ResGroup::new(c, config.prior_blocks, device),
                    out: (c != p).then(|| conv3x3(c, p, device)),
                }
            })
            .collect();
        Self { branches }
    }
}

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
mod tests {
    use super::*;

    fn tiny() -> GeneratorConfig {
        GeneratorConfig::new([4, 8, 8], [6, 8, 10], 1, 1, 1, 1)
    }

    #[test]
    fn forward_shapes_for_all_ablation_variants() {
        let device = Device::flex();
        let x = Tensor::<4>::zeros([2, 3, 16, 12], &device);
        for (prior, ft) in [(true, true), (true, false), (false, true)] {
            let g = tiny()
                .with_prior_stream(prior)
                .with_feature_transforms(ft)
                .init(&device);
            let out = g.forward(x.clone());
            assert_eq!(out.image.dims(), [2, 3, 16, 12]);
            if prior {
                let dims: Vec<_> = out.priors.iter().map(|p| p.dims()).collect();
                assert_eq!(dims, vec![[2, 6, 16, 12], [2, 8, 8, 6], [2, 10, 4, 3]]);
            } else {
                assert!(out.priors.is_empty());
            }
        }
    }

    #[test]
    fn mmrb_and_dafi_variants_run_and_report_their_masks() {
        let device = Device::flex();
        let x = Tensor::<4>::random(
            [2, 3, 16, 16],
            burn::tensor::Distribution::Uniform(-0.9, 0.9),
            &device,
        );
        for (block, fusion) in [
            (EncoderBlock::Mmrb, FusionKind::Sft),
            (EncoderBlock::Residual, FusionKind::Dafi),
            (EncoderBlock::Mmrb, FusionKind::SftDafi),
        ] {
            let config = tiny().with_encoder_block(block).with_fusion(fusion);
            let out = config.init(&device).forward(x.clone());
            assert_eq!(out.image.dims(), [2, 3, 16, 16]);
            // A fresh generator is still the identity (zero output conv).
            let diff: f32 = (out.image - x.clone()).abs().max().into_scalar();
            assert!(diff < 1e-4, "{block:?}/{fusion:?}: {diff}");
            let masks: Vec<_> = out.dafi_masks.iter().map(|m| m.dims()).collect();
            if fusion.uses_dre() {
                assert_eq!(masks, vec![[2, 4], [2, 8], [2, 8]]);
                assert_eq!(
                    out.degradation.map(|v| v.dims()),
                    Some([2, crate::model::dre::DRE_DIM])
                );
            } else {
                assert!(masks.is_empty() && out.degradation.is_none());
            }
            assert!(config.macs(16, 16) > tiny().macs(16, 16));
        }
    }

    #[test]
    fn fresh_generator_is_the_identity() {
        let device = Device::flex();
        let x = Tensor::<4>::random(
            [1, 3, 8, 8],
            burn::tensor::Distribution::Uniform(-0.99, 0.99),
            &device,
        );
        let out = tiny().init(&device).forward(x.clone());
        let diff: f32 = (out.image - x).abs().max().into_scalar();
        assert!(diff < 1e-4, "max difference {diff}");
    }

    #[test]
    fn output_is_in_signed_unit_range() {
        let device = Device::flex();
        let x = Tensor::<4>::random([1, 3, 8, 8], burn::tensor::Distribution::Default, &device);
        let out = tiny()
            .init(&device)
            .forward(x.mul_scalar(2.0).sub_scalar(1.0));
        let v: Vec<f32> = out.image.into_data().try_to_vec().unwrap();
        assert!(v.iter().all(|x| (-1.0..=1.0).contains(x)));
    }
}
