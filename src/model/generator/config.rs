//! The generator's hyper-parameters ([`GeneratorConfig`]), how the priors are fused
//! ([`FusionKind`]), and building a [`Generator`] from them.

use burn::nn::conv::ConvTranspose2dConfig;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::Generator;
use super::prior::{
    AddFusion, DafiFusion, PriorFusion, PriorGuidance, PriorStream, SftDafiFusion, SftFusion,
};
use crate::model::blocks::{EncoderGroup, ResGroup, Sft};
use crate::model::dre::{Dafi, DegradationEncoder};
use crate::model::layers::{conv_down, conv1x1, conv3x3, zero_conv1x1};
use crate::model::mmrb::{EncoderBlock, Mmrb};

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
        let up = |cin: usize, cout: usize| {
            ConvTranspose2dConfig::new([cin, cout], [4, 4])
                .with_stride([2, 2])
                .with_padding([1, 1])
                .init(device)
        };
        let encoder =
            |c: usize| EncoderGroup::new(c, self.encoder_blocks, self.encoder_block, device);
        Generator {
            head: conv3x3(3, c1, device),
            enc1: encoder(c1),
            down1: conv_down(c1, c2, device),
            enc2: encoder(c2),
            down2: conv_down(c2, c3, device),
            enc3: encoder(c3),
            middle: ResGroup::new(c3, self.middle_blocks, device),
            guidance: self.prior_stream.then(|| self.guidance(device)),
            dec3: ResGroup::new(c3, self.decoder_blocks, device),
            up2: up(c3, c2),
            dec2: ResGroup::new(c2, self.decoder_blocks, device),
            up1: up(c2, c1),
            dec1: ResGroup::new(c1, self.decoder_blocks, device),
            to_rgb: zero_conv1x1(c1, 3, device),
        }
    }

    /// The prior stream and the fusion of its estimates, as this configuration asks.
    fn guidance(&self, device: &Device) -> PriorGuidance {
        let (cs, ps) = (self.channels, self.prior_channels);
        let sft = || std::array::from_fn(|i| Sft::new(ps[i], cs[i], cs[i], device));
        // B3 (no feature transforms) and DAFI-only project P̂ with a 1×1 conv.
        let add = || std::array::from_fn(|i| conv1x1(ps[i], cs[i], device));
        let dafi = || std::array::from_fn(|i| Dafi::new(cs[i], device));
        let dre = || DegradationEncoder::new(device);
        let fusion = match (self.feature_transforms, self.fusion) {
            (true, FusionKind::Sft) => PriorFusion::Sft(SftFusion { sft: sft() }),
            (false, FusionKind::Sft) => PriorFusion::Add(AddFusion { add: add() }),
            (true, FusionKind::SftDafi) => PriorFusion::SftDafi(SftDafiFusion {
                dre: dre(),
                sft: sft(),
                dafi: dafi(),
            }),
            (_, FusionKind::Dafi) | (false, FusionKind::SftDafi) => PriorFusion::Dafi(DafiFusion {
                dre: dre(),
                add: add(),
                dafi: dafi(),
            }),
        };
        PriorGuidance {
            stream: PriorStream::new(
                self.channels,
                self.prior_channels,
                self.prior_blocks,
                self.feature_transforms,
                device,
            ),
            fusion,
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
