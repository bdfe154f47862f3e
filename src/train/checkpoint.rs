//! Resumable checkpoints: generator, discriminator, both optimisers and the run state, written
//! atomically (a new folder is filled, then swapped in).
//!
//! Burnpack files keyed by parameter path and id. The generator's parameters (and the paths the
//! generator optimiser keeps beside its state) are stored under the names of the layout before
//! the model variants became enums ([`crate::weights::names`]), so checkpoints written before
//! and after that change load alike; the ids, which the optimiser state is keyed by, are kept.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::ModuleSnapshot;
use burn::store::burn_pack::{Reader, Writer};
use serde::{Deserialize, Serialize};

use crate::model::{Discriminator, Generator};
use crate::weights::names::{self, LegacyNames};

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
    /// Steps the `init_weights` this run started from had been trained (0 for a run from a
    /// random initialisation); exported weights count them in `trained_steps`.
    #[serde(default)]
    pub steps_before: usize,
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

/// File of the generator's moving average inside a checkpoint folder.
const EMA_FILE: &str = "generator_ema.bpk";

/// Save all state into `out/checkpoint` atomically.
pub fn save(
    out: &Path,
    generator: &Generator,
    ema: Option<&Generator>,
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
    save_generator(generator, &tmp.join("generator.bpk")).context("saving generator")?;
    if let Some(ema) = ema {
        save_generator(ema, &tmp.join(EMA_FILE)).context("saving generator average")?;
    }
    save_generator_optimiser(optim_g, &tmp.join("optim_g.bpk"))
        .context("saving generator optimiser")?;
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

/// Finish a [`save`] that was interrupted between its two renames: if `out/checkpoint` is
/// missing, the complete new folder (`checkpoint.tmp`, whose `state.json` is written last) or
/// else the previous one (`checkpoint.old`) takes its place. A half-written `checkpoint.tmp`
/// beside an intact checkpoint is left for the next [`save`] to replace. Returns what was done.
pub fn recover_interrupted(out: &Path) -> Result<Option<String>> {
    let final_dir = checkpoint_dir(out);
    if final_dir.join("state.json").exists() {
        return Ok(None);
    }
    let tmp = out.join("checkpoint.tmp");
    let old = out.join("checkpoint.old");
    let source = if tmp.join("state.json").exists() {
        tmp
    } else if old.join("state.json").exists() {
        old
    } else {
        return Ok(None);
    };
    if final_dir.exists() {
        fs::remove_dir_all(&final_dir)
            .with_context(|| format!("removing the incomplete {}", final_dir.display()))?;
    }
    fs::rename(&source, &final_dir).with_context(|| {
        format!(
            "restoring {} from {}",
            final_dir.display(),
            source.display()
        )
    })?;
    Ok(Some(format!(
        "recovered the checkpoint of an interrupted save from {}",
        source.display()
    )))
}

/// Drop the lines of a run's `log.jsonl` past `step` (logged after the checkpoint the run
/// resumes from), so a resumed run does not log those steps twice. Lines that do not parse
/// as a step record are kept.
pub fn truncate_log(log: &Path, step: usize) -> Result<()> {
    let text = match fs::read_to_string(log) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()), // no log yet
        Err(e) => return Err(e).with_context(|| format!("reading {}", log.display())),
    };
    let step_of = |line: &str| {
        serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|v| v.get("step").and_then(|s| s.as_u64()))
    };
    let kept: Vec<&str> = text
        .lines()
        .filter(|line| step_of(line).is_none_or(|s| s as usize <= step))
        .collect();
    if kept.len() == text.lines().count() {
        return Ok(());
    }
    let mut body = kept.join("\n");
    body.push('\n');
    crate::fsutil::write_atomic(log, body.as_bytes())
        .with_context(|| format!("rewriting {}", log.display()))
}

/// Restored training state.
pub struct Loaded {
    /// Generator with the saved parameters.
    pub generator: Generator,
    /// The moving average of the generator (plain device), if the checkpoint has one.
    pub ema: Option<Generator>,
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
    let generator =
        load_generator(generator, &dir.join("generator.bpk")).with_context(|| ctx("generator"))?;
    let ema = if dir.join(EMA_FILE).exists() {
        Some(
            load_generator(generator.valid(), &dir.join(EMA_FILE))
                .with_context(|| ctx("generator average"))?,
        )
    } else {
        None
    };
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
        ema,
        discriminator,
        optim_g,
        optim_d,
        state,
    })
}

/// Write `generator` to `path` as burnpack, under the file names of its parameters.
fn save_generator(generator: &Generator, path: &Path) -> Result<()> {
    let tensors = generator.collect(None, Some(Box::new(LegacyNames)), false);
    Writer::new(tensors).write_to_file(path)?;
    Ok(())
}

/// Load a generator file written by [`save_generator`] (or before the variants were enums) into
/// `generator`, whose parameters take the file's values and ids.
pub fn load_generator(mut generator: Generator, path: &Path) -> Result<Generator> {
    let tensors = Reader::from_file(path)?.into_tensors()?;
    names::load_tensors(&mut generator, tensors).map_err(anyhow::Error::msg)?;
    Ok(generator)
}

/// Write the generator optimiser's state to `path`, with the parameter paths it keeps (for
/// matching parameter groups; burnpack metadata keyed by parameter id) under their file names.
fn save_generator_optimiser(optim: &ModuleOptimizer, path: &Path) -> Result<()> {
    let reader = Reader::from_bytes(optim.into_bytes().map_err(anyhow::Error::msg)?)?;
    let scalars = reader.scalars().clone();
    let paths = reader.metadata().clone();
    let mut writer = Writer::new(reader.into_tensors()?);
    for (key, value) in &scalars {
        writer = writer.with_scalar(key, *value);
    }
    for (id, param_path) in &paths {
        writer = writer.with_metadata(id, &names::legacy_name(param_path));
    }
    writer.write_to_file(path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("face-deblur-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn folder(path: &Path, state: &str) {
        fs::create_dir_all(path).unwrap();
        fs::write(path.join("generator.bpk"), state).unwrap();
        fs::write(path.join("state.json"), state).unwrap();
    }

    #[test]
    fn an_interrupted_swap_is_finished_from_the_new_or_the_old_folder() {
        let out = scratch("recover");
        // Killed between the renames: no checkpoint, complete new and old folders.
        folder(&out.join("checkpoint.tmp"), "new");
        folder(&out.join("checkpoint.old"), "old");
        assert!(recover_interrupted(&out).unwrap().is_some());
        let state = fs::read_to_string(checkpoint_dir(&out).join("state.json")).unwrap();
        assert_eq!(state, "new");

        // Killed while the new folder was written (no state.json yet) after the old one moved.
        fs::remove_dir_all(checkpoint_dir(&out)).unwrap();
        fs::create_dir_all(out.join("checkpoint.tmp")).unwrap();
        assert!(recover_interrupted(&out).unwrap().is_some());
        let state = fs::read_to_string(checkpoint_dir(&out).join("state.json")).unwrap();
        assert_eq!(state, "old");

        // An intact checkpoint is left alone.
        assert!(recover_interrupted(&out).unwrap().is_none());
        let _ = fs::remove_dir_all(&out);
    }

    #[test]
    fn log_lines_past_the_checkpoint_are_dropped() {
        let out = scratch("log");
        let log = out.join("log.jsonl");
        fs::write(
            &log,
            "{\"step\":20}\n{\"step\":40}\nnot json\n{\"step\":60}\n",
        )
        .unwrap();
        truncate_log(&log, 40).unwrap();
        assert_eq!(
            fs::read_to_string(&log).unwrap(),
            "{\"step\":20}\n{\"step\":40}\nnot json\n"
        );
        let _ = fs::remove_dir_all(&out);
    }
}
