//! The prior estimation stream 𝒫 (paper §3.2) and where its estimates P̂_i enter the decoder
//! (SFT, eq. 2; a 1×1-conv addition in ablation B3; DAFI).
//!
//! Each fusion variant is its own type, so a generator holds exactly the modules its variant
//! uses. Burn puts the variant names into the parameter paths (`guidance.fusion.Sft.sft.2.…`);
//! weight files and checkpoints keep the names of the earlier layout (`fuse3.sft.…`), see
//! [`crate::weights::names`].

use burn::nn::conv::Conv2d;
use burn::prelude::*;

use crate::model::blocks::{ResGroup, Sft};
use crate::model::dre::{Dafi, DegradationEncoder};
use crate::model::layers::conv3x3;

/// The prior stream and the fusion of its estimates into the decoder: everything a generator
/// has beyond the encoder-decoder of ablation B1.
#[derive(Module, Debug)]
pub struct PriorGuidance {
    pub(super) stream: PriorStream,
    pub(super) fusion: PriorFusion,
}

/// What the prior side computed for one forward pass.
pub(super) struct Estimates {
    /// P̂1..P̂3.
    pub priors: Vec<Tensor<4>>,
    /// The DRE's representation (DAFI fusions only).
    pub degradation: Option<Tensor<2>>,
    /// DAFI weight of the prior side per channel at each scale (DAFI fusions only).
    pub masks: Vec<Tensor<2>>,
}

impl PriorGuidance {
    /// P̂_i = 𝒫_i(E_i) for the encoder features `e` (E1..E3) and, with DAFI, the degradation
    /// representation of `blurred` and the mixing weights it gives at each scale.
    pub(super) fn estimate(&self, e: [Tensor<4>; 3], blurred: &Tensor<4>) -> Estimates {
        let priors = e
            .into_iter()
            .zip(&self.stream.branches)
            .map(|(e, branch)| branch.forward(e))
            .collect();
        let (degradation, masks) = match self.fusion.dafi() {
            Some((dre, dafi)) => {
                // The DRE is pre-trained and frozen: no gradient flows back into it.
                let v = dre.forward(blurred.clone()).detach();
                let masks = dafi.iter().map(|d| d.mask(v.clone())).collect();
                (Some(v), masks)
            }
            None => (None, Vec::new()),
        };
        Estimates {
            priors,
            degradation,
            masks,
        }
    }

    /// The decoder features `d` at scale `i` (0: H, 1: H/2, 2: H/4) with P̂_i fused in.
    pub(super) fn fuse(&self, i: usize, d: Tensor<4>, estimates: &Estimates) -> Tensor<4> {
        let prior = estimates.priors[i].clone();
        match &self.fusion {
            PriorFusion::Sft(f) => f.sft[i].forward(d, prior),
            PriorFusion::Add(f) => d + f.add[i].forward(prior),
            PriorFusion::Dafi(f) => {
                Dafi::interpolate(f.add[i].forward(prior), d, estimates.masks[i].clone())
            }
            PriorFusion::SftDafi(f) => {
                let modulated = f.sft[i].forward(d.clone(), prior);
                Dafi::interpolate(modulated, d, estimates.masks[i].clone())
            }
        }
    }

    /// The degradation representation encoder (DAFI fusions only).
    pub fn dre(&self) -> Option<&DegradationEncoder> {
        self.fusion.dafi().map(|(dre, _)| dre)
    }

    /// This guidance with `dre` in place of its encoder; no-op without DAFI.
    pub(super) fn with_dre(mut self, dre: DegradationEncoder) -> Self {
        match &mut self.fusion {
            PriorFusion::Dafi(f) => f.dre = dre,
            PriorFusion::SftDafi(f) => f.dre = dre,
            PriorFusion::Sft(_) | PriorFusion::Add(_) => {}
        }
        self
    }
}

/// Where P̂_i enters D_i, at the three scales (index 0: H, 1: H/2, 2: H/4).
// A generator holds one, so the variants' sizes do not matter (and Burn has no `Module` for
// `Box`).
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum PriorFusion {
    /// SFT (DFPGnet, eq. 2): `α(P̂) ⊗ D + β(P̂)`.
    Sft(SftFusion),
    /// Ablation B3 (no feature transforms): `D + conv1×1(P̂)`.
    Add(AddFusion),
    /// DAFI instead of SFT (Panini-Net): `m ⊙ conv1×1(P̂) + (1 − m) ⊙ D`, `m` from the DRE.
    Dafi(DafiFusion),
    /// DAFI over SFT: `m ⊙ SFT(D | P̂) + (1 − m) ⊙ D`.
    SftDafi(SftDafiFusion),
}

impl PriorFusion {
    /// The DRE and the per-scale DAFI modules of a DAFI fusion.
    fn dafi(&self) -> Option<(&DegradationEncoder, &[Dafi; 3])> {
        match self {
            Self::Dafi(f) => Some((&f.dre, &f.dafi)),
            Self::SftDafi(f) => Some((&f.dre, &f.dafi)),
            Self::Sft(_) | Self::Add(_) => None,
        }
    }
}

/// [`PriorFusion::Sft`]: one SFT per scale.
#[derive(Module, Debug)]
pub struct SftFusion {
    pub(super) sft: [Sft; 3],
}

/// [`PriorFusion::Add`]: one 1×1 conv per scale.
#[derive(Module, Debug)]
pub struct AddFusion {
    pub(super) add: [Conv2d; 3],
}

/// [`PriorFusion::Dafi`]: the DRE, one 1×1 conv and one DAFI per scale.
#[derive(Module, Debug)]
pub struct DafiFusion {
    pub(super) dre: DegradationEncoder,
    pub(super) add: [Conv2d; 3],
    pub(super) dafi: [Dafi; 3],
}

/// [`PriorFusion::SftDafi`]: the DRE, one SFT and one DAFI per scale.
#[derive(Module, Debug)]
pub struct SftDafiFusion {
    pub(super) dre: DegradationEncoder,
    pub(super) sft: [Sft; 3],
    pub(super) dafi: [Dafi; 3],
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
    pub(super) branches: [PriorBranch; 3],
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
        let branches = std::array::from_fn(|i| {
            let (c, p) = (channels[i], prior_channels[i]);
            PriorBranch {
                ssft: feature_transforms.then(|| Sft::new(c, c, c, device)),
                group: ResGroup::new(c, blocks, device),
                out: (c != p).then(|| conv3x3(c, p, device)),
            }
        });
        Self { branches }
    }
}
