//! Training configuration (saved as JSON beside the checkpoints).

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::model::{DiscriminatorConfig, GeneratorConfig, TeacherKind};

/// Which parts of DFPGnet are trained (paper Table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// B1: encoder-decoder only, L1 loss.
    B1,
    /// B3: + prior stream without feature transforms, L1 + unweighted prior loss.
    B3,
    /// B4: + SSFT/SFT.
    B4,
    /// B6: + channel-attention feature discriminator and CA-weighted prior loss (DFPGnet).
    B6,
}

impl Variant {
    /// Whether the generator has a prior stream.
    pub fn prior_stream(self) -> bool {
        self != Variant::B1
    }
    /// Whether SSFT/SFT connect the streams.
    pub fn feature_transforms(self) -> bool {
        matches!(self, Variant::B1 | Variant::B4 | Variant::B6)
    }
    /// Whether the CA feature discriminator is trained and weights the prior loss.
    pub fn adversarial(self) -> bool {
        self == Variant::B6
    }
}

/// Everything a training run needs; `face-deblur train --config FILE` reads it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Ablation variant (B6 = full DFPGnet).
    pub variant: Variant,
    /// Generator size; its `prior_stream`/`feature_transforms` are set from `variant` and
    /// its `prior_channels` from `teacher`.
    pub generator: GeneratorConfig,
    /// Feature discriminator channels.
    pub discriminator_channels: [usize; 3],
    /// Teacher providing the ground-truth priors.
    pub teacher: TeacherKind,
    /// λ_G,adv (eq. 10).
    pub lambda_adv: f64,
    /// λ_prior (eq. 10).
    pub lambda_prior: f64,
    /// Generator learning rate (paper: 1e-4).
    pub lr_generator: f64,
    /// Discriminator learning rate (paper: 1e-5).
    pub lr_discriminator: f64,
    /// Learning-rate factor per epoch (paper: 0.99).
    pub lr_decay_per_epoch: f64,
    /// Steps per "epoch" for the learning-rate decay: one pass over the 14,369 training faces
    /// (CelebA train + 80% of UTKFace) at batch 8 = 1796 steps.
    pub steps_per_epoch: usize,
    /// Faces per step.
    pub batch_size: usize,
    /// Face size the sharp images are resized to (square).
    pub image_size: usize,
    /// Random crop side taken from each degraded face (0 = whole face).
    pub crop: usize,
    /// Total generator steps.
    pub steps: usize,
    /// Save a checkpoint every this many steps.
    pub checkpoint_every: usize,
    /// Validate every this many steps.
    pub validate_every: usize,
    /// Number of validation faces (fixed, whole faces).
    pub validation_faces: usize,
    /// Seed of everything random.
    pub seed: u64,
    /// Root of the data (`faces/`, `kernels/`).
    pub data_dir: PathBuf,
    /// Folder with the teachers' weight files.
    pub teacher_weights_dir: PathBuf,
    /// Pre-trained degradation encoder (`face-deblur train-dre`), required when the
    /// generator's `fusion` uses DAFI; relative paths are relative to the working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dre_weights: Option<PathBuf>,
}

impl TrainConfig {
    /// The defaults we train the shipped compact model with.
    pub fn compact_default() -> Self {
        Self {
            variant: Variant::B6,
            generator: GeneratorConfig::compact(),
            discriminator_channels: [32, 64, 64],
            teacher: TeacherKind::FaceResnet,
            lambda_adv: 0.05,
            lambda_prior: 1.0,
            lr_generator: 1e-4,
            lr_discriminator: 1e-5,
            lr_decay_per_epoch: 0.99,
            steps_per_epoch: 1796,
            batch_size: 8,
            image_size: 128,
            crop: 64,
            steps: 100_000,
            checkpoint_every: 200,
            validate_every: 200,
            validation_faces: 32,
            seed: 1,
            data_dir: PathBuf::from("../shared/data"),
            teacher_weights_dir: PathBuf::from("../shared/weights"),
            dre_weights: None,
        }
    }

    /// Read a JSON config file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read training config {}", path.display()))?;
        let config: Self = serde_json::from_str(&text)
            .with_context(|| format!("training config {} is not valid", path.display()))?;
        config
            .check()
            .with_context(|| format!("training config {}", path.display()))?;
        Ok(config)
    }

    /// Consistency checks that serde cannot express.
    pub fn check(&self) -> anyhow::Result<()> {
        let fusion = self.generator.fusion;
        if fusion.uses_dre() {
            anyhow::ensure!(
                self.variant.prior_stream() && self.variant.feature_transforms(),
                "fusion {fusion:?} needs a variant with the prior stream and feature transforms (b4 or b6)"
            );
            anyhow::ensure!(
                self.dre_weights.is_some(),
                "fusion {fusion:?} needs `dre_weights` (train one with `face-deblur train-dre`)"
            );
        }
        Ok(())
    }

    /// The generator config with the variant's switches and the teacher's channels applied.
    pub fn generator_config(&self) -> GeneratorConfig {
        let mut g = self.generator.clone();
        g.prior_stream = self.variant.prior_stream();
        g.feature_transforms = self.variant.feature_transforms();
        g.prior_channels = self.teacher.prior_channels();
        g
    }

    /// The discriminator config for this run.
    pub fn discriminator_config(&self) -> DiscriminatorConfig {
        DiscriminatorConfig::new(self.teacher.prior_channels(), self.discriminator_channels)
    }

    /// Learning rate factor at `step`: `decay^(step / steps_per_epoch)`.
    pub fn lr_factor(&self, step: usize) -> f64 {
        self.lr_decay_per_epoch
            .powf(step as f64 / self.steps_per_epoch.max(1) as f64)
    }
}
