//! `face-deblur train` (DFPGnet, resumable) and `face-deblur train-dre` (the degradation
//! representation encoder for DAFI).

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::device::BackendChoice;
use crate::train::config::TrainConfig;
use crate::train::dre;

/// Options of `face-deblur train` (its `--help` text).
#[derive(Debug, Clone, clap::Args)]
pub struct TrainCommand {
    /// Training configuration (JSON, only what differs from the defaults); without it, the
    /// compact defaults.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Run folder: checkpoints, log, curves, samples, best weights.
    #[arg(long, required_unless_present = "print_config")]
    pub out: Option<PathBuf>,
    /// Continue the checkpoint in --out.
    #[arg(long)]
    pub resume: bool,
    /// Compute backend.
    #[arg(long, value_enum)]
    pub backend: Option<BackendChoice>,
    /// Print the effective configuration (defaults filled in, the variant's and teacher's
    /// generator settings applied) as JSON and exit.
    #[arg(long)]
    pub print_config: bool,
}

/// Options of `face-deblur train-dre` (its `--help` text).
#[derive(Debug, Clone, clap::Args)]
pub struct TrainDreCommand {
    /// DRE configuration (JSON); without it, the defaults.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Run folder: dre.safetensors, log, read-out report.
    #[arg(long)]
    pub out: PathBuf,
    /// Compute backend.
    #[arg(long, value_enum)]
    pub backend: Option<BackendChoice>,
}

/// Run `face-deblur train`: the configuration (default: the compact defaults) into the run
/// folder, or only print the effective configuration.
pub fn run_train(cmd: TrainCommand) -> Result<()> {
    let TrainCommand {
        config,
        out,
        resume,
        backend,
        print_config,
    } = cmd;
    let config = match config {
        Some(path) => TrainConfig::load(&path)?,
        None => TrainConfig::compact_default(),
    };
    if print_config {
        println!("{}", serde_json::to_string_pretty(&config)?);
        return Ok(());
    }
    let out = out.context("--out is required")?;
    let compute = super::device_with_notice(backend.unwrap_or_default());
    eprintln!("training on {}", compute.description);
    crate::train::run::run(config, &out, resume, &compute.device)
}

/// Run `face-deblur train-dre`: the configuration (default: the defaults) into the run
/// folder, then print the read-out report.
pub fn run_train_dre(cmd: TrainDreCommand) -> Result<()> {
    let TrainDreCommand {
        config,
        out,
        backend,
    } = cmd;
    let config: dre::DreConfig = match config {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read DRE config {}", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("DRE config {} is not valid", path.display()))?
        }
        None => dre::DreConfig::default(),
    };
    let compute = super::device_with_notice(backend.unwrap_or_default());
    let report = dre::run(config, &out, &compute.device)?;
    println!("{}", dre::readout_markdown(&report));
    Ok(())
}
