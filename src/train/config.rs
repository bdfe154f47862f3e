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

/// Which training data a run draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataMix {
    /// The original mix: tight framing, camera shake only (13–27 px synthetic + recorded),
    /// noise ≤ 4/255; validation on fresh synthetic shake without noise.
    #[default]
    Training,
    /// Data like real photos: framings from the detector's crop to FFHQ's, shake up to 41 px
    /// (some through a soft lens), defocus and Gaussian blur, noise ≤ 5/255, more JPEG;
    /// validation on the use-matched families (both framings, σ 2/255).
    Photo,
}

impl DataMix {
    /// Equal parts of its validation set: 1 for the training mix, 6 for the photo mix (3 blur
    /// families × 2 framings); each part holds `validation_faces / parts` faces.
    pub fn validation_parts(self) -> usize {
        match self {
            DataMix::Training => 1,
            DataMix::Photo => 6,
        }
    }
}

/// Everything a training run needs; `face-deblur train --config FILE` reads it
/// ([`TrainConfig::load`]).
///
/// Every field has a default ([`TrainConfig::compact_default`]), so a JSON file lists only what
/// differs, also inside `generator`; `face-deblur train --print-config` shows the effective
/// configuration, which is also what is saved beside a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Ablation variant (B6 = full DFPGnet).
    pub variant: Variant,
    /// Generator size; its `prior_stream`/`feature_transforms` follow `variant` and its
    /// `prior_channels` follow `teacher` ([`TrainConfig::from_json`] sets them; a file that
    /// sets them otherwise is refused).
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
    /// Training data mix.
    pub data: DataMix,
    /// Linear learning-rate warm-up steps, counted from `schedule_start`.
    pub warmup_steps: usize,
    /// Cosine decay length in steps after the warm-up (0 = the paper's exponential decay
    /// per epoch, `lr_decay_per_epoch`).
    pub cosine_steps: usize,
    /// Final learning rate of the cosine decay, relative to the peak.
    pub lr_min_factor: f64,
    /// Step at which this schedule starts (a run resumed with a new schedule counts from
    /// here; earlier steps keep the factor of step 0 of the schedule).
    pub schedule_start: usize,
    /// Clip each parameter's gradient to this L2 norm (none = no clipping).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grad_clip_norm: Option<f64>,
    /// Steps trained on the pixel loss alone: before this step neither the prior loss nor the
    /// discriminator is used (nor the teacher run), so the pixel loss settles first.
    pub pixel_only_until: usize,
    /// Pre-trained degradation encoder (`face-deblur train-dre`), required when the
    /// generator's `fusion` uses DAFI; relative paths are relative to the working directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dre_weights: Option<PathBuf>,
    /// Keep an exponential moving average of the generator's weights with this decay per
    /// step (e.g. 0.999); validation, the exported best weights and the checkpoint's
    /// `generator_ema.bpk` use the average. None = no average.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ema_decay: Option<f64>,
    /// Sharper training targets: widen the framing of training faces whose window would be
    /// upscaled so that every target is downscaled at least this much (e.g. 1.2; the CelebA
    /// tight window, 116 px, then always comes at about the FFHQ framing). None = off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_source_scale: Option<f64>,
    /// Start a new run from these weights (an exported `best.safetensors` or a shipped file)
    /// instead of a random initialisation; their generator may have fewer encoder, middle and
    /// decoder blocks than `generator`, which are then added as identity blocks
    /// ([`crate::model::Generator::deepened`]). Ignored when resuming a checkpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_weights: Option<PathBuf>,
    /// Stronger camera shake (≥ 1): synthetic shake kernels up to this many times the data
    /// mix's largest size, and recorded training kernels enlarged by a random factor from 1
    /// to it (e.g. 1.6 with the photo mix: shake up to 65 px on 128² faces, where the mix
    /// stops at 41). None = the mix as it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shake_scale_max: Option<f64>,
    /// Turn each recorded training kernel by a random one of the square's 8 symmetries
    /// (rotations by 90° and mirrors): camera shake points any way, and the 25 recorded
    /// training kernels each point one way. Off = as recorded.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub recorded_turns: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self::compact_default()
    }
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
            data: DataMix::Training,
            warmup_steps: 0,
            cosine_steps: 0,
            lr_min_factor: 0.01,
            schedule_start: 0,
            grad_clip_norm: None,
            pixel_only_until: 0,
            dre_weights: None,
            ema_decay: None,
            min_source_scale: None,
            init_weights: None,
            shake_scale_max: None,
            recorded_turns: false,
        }
    }

    /// Read a JSON config file ([`TrainConfig::from_json`]).
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read training config {}", path.display()))?;
        Self::from_json(&text).with_context(|| format!("training config {}", path.display()))
    }

    /// Parse a JSON config: fields left out (also inside `generator`) take the values of
    /// [`TrainConfig::compact_default`]; the generator's `prior_stream`/`feature_transforms`
    /// are set from `variant` and its `prior_channels` from `teacher`, and a JSON that gives
    /// them other values is refused (the variant and the teacher decide them). The result has
    /// passed [`TrainConfig::check`].
    pub fn from_json(text: &str) -> anyhow::Result<Self> {
        let mut value: serde_json::Value = serde_json::from_str(text).context("not valid JSON")?;
        let object = value
            .as_object_mut()
            .context("a training config is a JSON object")?;
        let given = match object.remove("generator") {
            None => serde_json::Map::new(),
            Some(serde_json::Value::Object(given)) => given,
            Some(other) => anyhow::bail!("`generator` must be an object, not {other}"),
        };
        let mut generator = serde_json::to_value(Self::default().generator)?;
        let fields = generator
            .as_object_mut()
            .context("a generator config serialises as an object")?;
        for (key, field) in &given {
            anyhow::ensure!(fields.contains_key(key), "generator: unknown field `{key}`");
            fields.insert(key.clone(), field.clone());
        }
        object.insert("generator".into(), generator);
        let mut config: Self = serde_json::from_value(value).context("not a training config")?;
        let derived = config.generator_config();
        let g = &config.generator;
        let variant = format!("variant {:?}", config.variant).to_lowercase();
        let which = |on: bool, yes: &str, no: &str| {
            format!("{variant}, which {}", if on { yes } else { no })
        };
        for (key, agrees, why, decides) in [
            (
                "prior_stream",
                g.prior_stream == derived.prior_stream,
                which(
                    derived.prior_stream,
                    "has a prior stream",
                    "has no prior stream",
                ),
                "the variant",
            ),
            (
                "feature_transforms",
                g.feature_transforms == derived.feature_transforms,
                which(
                    derived.feature_transforms,
                    "uses SSFT/SFT",
                    "uses no SSFT/SFT",
                ),
                "the variant",
            ),
            (
                "prior_channels",
                g.prior_channels == derived.prior_channels,
                format!(
                    "the {:?} teacher, whose priors have {:?} channels",
                    config.teacher, derived.prior_channels
                ),
                "the teacher",
            ),
        ] {
            if let Some(value) = given.get(key) {
                anyhow::ensure!(
                    agrees,
                    "generator.{key} = {value} contradicts {why}: leave it out ({decides} decides it)"
                );
            }
        }
        config.generator = derived;
        config.check()?;
        Ok(config)
    }

    /// Consistency checks that serde cannot express.
    pub fn check(&self) -> anyhow::Result<()> {
        self.generator
            .check()
            .map_err(|e| anyhow::anyhow!("generator: {e}"))?;
        if let Some(d) = self.ema_decay {
            anyhow::ensure!(
                (0.0..1.0).contains(&d),
                "ema_decay must be in [0, 1), not {d}"
            );
        }
        if let Some(m) = self.shake_scale_max {
            anyhow::ensure!(
                m.is_finite() && (1.0..=4.0).contains(&m),
                "shake_scale_max must be between 1 and 4, not {m}"
            );
        }
        if let Some(m) = self.min_source_scale {
            anyhow::ensure!(
                m.is_finite() && m >= 0.0,
                "min_source_scale must be a non-negative number, not {m}"
            );
        }
        let parts = self.data.validation_parts();
        anyhow::ensure!(
            self.validation_faces >= parts,
            "validation_faces must be at least {parts} with the {:?} data mix (one per part of \
             its validation set), not {}",
            self.data,
            self.validation_faces
        );
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

    /// The generator config with the variant's switches and the teacher's channels applied
    /// (what [`TrainConfig::from_json`] stores in `generator`; a config built in code may
    /// still differ).
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

    /// Learning rate factor at `step`: with `cosine_steps` a linear warm-up then a cosine
    /// decay to `lr_min_factor`, counted from `schedule_start` (and `lr_min_factor` after the
    /// end); otherwise `decay^(step / steps_per_epoch)`.
    pub fn lr_factor(&self, step: usize) -> f64 {
        if self.cosine_steps == 0 {
            return self
                .lr_decay_per_epoch
                .powf(step as f64 / self.steps_per_epoch.max(1) as f64);
        }
        let t = step.saturating_sub(self.schedule_start);
        if t < self.warmup_steps {
            return (t + 1) as f64 / self.warmup_steps as f64;
        }
        let progress = ((t - self.warmup_steps) as f64 / self.cosine_steps as f64).min(1.0);
        let min = self.lr_min_factor;
        min + (1.0 - min) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
    }

    /// Whether step `step` (0-based count of steps done) uses the prior loss and the
    /// discriminator.
    pub fn adversarial_phase(&self, step: usize) -> bool {
        step >= self.pixel_only_until
    }
}

#[cfg(test)]
mod tests;
