//! `face-deblur train` (DFPGnet, resumable) and `face-deblur train-dre` (the degradation
//! representation encoder for DAFI).

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::device::BackendChoice;
use crate::train::config::TrainConfig;
use crate::train::dre;

/// Run `face-deblur train`: `config` (JSON; default: the compact defaults) into the run
/// folder `out`; `print_config` prints the configuration and returns.
pub fn run_train(
    config: Option<PathBuf>,
    out: &Path,
    resume: bool,
    backend: BackendChoice,
    print_config: bool,
) -> Result<()> {
    let config = match config {
        Some(path) => TrainConfig::load(&path)?,
        None => TrainConfig::compact_default(),
    };
    if print_config {
        println!("{}", serde_json::to_string_pretty(&config)?);
        return Ok(());
    }
    let compute = super::device_with_notice(backend);
    eprintln!("training on {}", compute.description);
    crate::train::run::run(config, out, resume, &compute.device)
}

/// Run `face-deblur train-dre`: `config` (JSON; default: the defaults) into the run folder
/// `out`, then print the read-out report.
pub fn run_train_dre(config: Option<PathBuf>, out: &Path, backend: BackendChoice) -> Result<()> {
    let config: dre::DreConfig = match config {
        Some(path) => serde_json::from_str(&std::fs::read_to_string(&path)?)?,
        None => dre::DreConfig::default(),
    };
    let compute = super::device_with_notice(backend);
    let report = dre::run(config, out, &compute.device)?;
    println!("{}", dre::readout_markdown(&report));
    Ok(())
}
