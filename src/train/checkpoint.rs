//! Resumable checkpoints: generator, discriminator, both optimisers and the run state, written
//! atomically (a new folder is filled, then swapped in).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use serde::{Deserialize, Serialize};

use crate::model::{Discriminator, Generator};

/// One validation measurement.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ValidationPoint {
    /// Generator step.
    pub step: usize,
    /// Mean PSNR (dB) of the blurred inputs.
    pub psnr_input: f64,
    /// Mean PSNR (dB) of the restored faces.
    pub psnr_output: f64,
    /// Mean SSIM of the blurred inputs.
    pub ssim_input: f64,
    /// Mean SSIM of the restored faces.
    pub ssim_output: f64,
}

/// Losses averaged over the steps since the last log line.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LossPoint {
    /// Generator step.
    pub step: usize,
    /// 𝓛_pixel.
    pub pixel: f64,
    /// 𝓛_prior.
    pub prior: f64,
    /// 𝓛_G,adv.
    pub adversarial: f64,
    /// 𝓛_𝒟^C.
    pub discriminator: f64,
}

/// Everything about a run that is not a tensor.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RunState {
    /// Generator steps done.
    pub step: usize,
    /// Seconds of training so far (all sessions).
    pub train_seconds: f64,
    /// Loss history.
    pub losses: Vec<LossPoint>,
    /// Validation history.
    pub validation: Vec<ValidationPoint>,
    /// Best validation PSNR so far and its step.
    pub best_psnr: Option<(f64, usize)>,
}

/// The checkpoint folder of a run.
pub fn checkpoint_dir(out: &Path) -> PathBuf {
    out.join("checkpoint")
}

/// Save all state into `out/checkpoint` atomically.
pub fn save(
    out: &Path,
    generator: &Generator,
    discriminator: Option<&Discriminator>,
    optim_g: &ModuleOptimizer,
    optim_d: Option<&ModuleOptimizer>,
    state: &RunState,
) -> Result<()> {
    let final_dir = checkpoint_dir(out);
    let tmp = out.join("checkpoint.tmp");
    let old = out.join("checkpoint.old");
    if tmp.exists() {
        fs::remove_dir_all(&tmp)?;
    }
    fs::create_dir_all(&tmp)?;
    let err = |what: &str, e: burn::store::RecordError| anyhow::anyhow!("saving {what}: {e}");
    generator
        .clone()
        .save_file(tmp.join("generator.bpk"))
        .map_err(|e| err("generator", e))?;
    optim_g
        .save(tmp.join("optim_g.bpk"))
        .map_err(|e| err("generator optimiser", e))?;
    if let (Some(d), Some(o)) = (discriminator, optim_d) {
        d.clone()
            .save_file(tmp.join("discriminator.bpk"))
            .map_err(|e| err("discriminator", e))?;
        o.save(tmp.join("optim_d.bpk"))
            .map_err(|e| err("discriminator optimiser", e))?;
    }
    fs::write(tmp.join("state.json"), serde_json::to_string_pretty(state)?)?;
    if old.exists() {
        fs::remove_dir_all(&old)?;
    }
    if final_dir.exists() {
        fs::rename(&final_dir, &old)?;
    }
    fs::rename(&tmp, &final_dir)?;
    if old.exists() {
        fs::remove_dir_all(&old)?;
    }
    Ok(())
}

/// Restored training state.
pub struct Loaded {
    /// Generator with the saved parameters.
    pub generator: Generator,
    /// Discriminator with the saved parameters (if the run has one).
    pub discriminator: Option<Discriminator>,
    /// Generator optimiser state.
    pub optim_g: ModuleOptimizer,
    /// Discriminator optimiser state.
    pub optim_d: Option<ModuleOptimizer>,
    /// Run state.
    pub state: RunState,
}

/// Load `out/checkpoint` into freshly initialised modules and optimisers.
pub fn load(
    out: &Path,
    generator: Generator,
    discriminator: Option<Discriminator>,
    optim_g: ModuleOptimizer,
    optim_d: Option<ModuleOptimizer>,
) -> Result<Loaded> {
    let dir = checkpoint_dir(out);
    let ctx = |what: &str| format!("loading {what} from {}", dir.display());
    let rec = |e: burn::store::RecordError| anyhow::anyhow!("{e}");
    let generator = generator
        .try_load_file(dir.join("generator.bpk"))
        .map_err(rec)
        .with_context(|| ctx("generator"))?;
    let optim_g = optim_g
        .load(dir.join("optim_g.bpk"))
        .map_err(rec)
        .with_context(|| ctx("generator optimiser"))?;
    let (discriminator, optim_d) = match (discriminator, optim_d) {
        (Some(d), Some(o)) => (
            Some(
                d.try_load_file(dir.join("discriminator.bpk"))
                    .map_err(rec)
                    .with_context(|| ctx("discriminator"))?,
            ),
            Some(
                o.load(dir.join("optim_d.bpk"))
                    .map_err(rec)
                    .with_context(|| ctx("discriminator optimiser"))?,
            ),
        ),
        _ => (None, None),
    };
    let text = fs::read_to_string(dir.join("state.json")).with_context(|| ctx("state"))?;
    let state = serde_json::from_str(&text).with_context(|| ctx("state"))?;
    Ok(Loaded {
        generator,
        discriminator,
        optim_g,
        optim_d,
        state,
    })
}
