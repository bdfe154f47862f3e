//! `face-deblur train-dre`: unsupervised training of the degradation representation encoder
//! (Panini-Net's DRE) by momentum contrast (MoCo, He et al. 2020), then a linear read-out of
//! the blur size and a measurement of how well the representation predicts it on held-out
//! faces.
//!
//! A positive pair is two *different* faces degraded with the *same* parameters (kernel, noise
//! level, JPEG quality; each face gets its own augmentation, noise sample and crop), so the
//! encoder must describe the degradation, not the content. Negatives are the other keys of
//! the batch and a queue of keys from earlier batches. The key encoder is a momentum copy of
//! the query encoder.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};

use anyhow::{Context, Result, ensure};
use burn::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::blur::{RecordedKernels, sample_degradation};
use super::data::{DatasetOptions, FaceDataset, FaceSource, Split, recorded_kernels_path};
use crate::model::dre::DegradationEncoder;

mod moco;
mod readout;

#[cfg(test)]
use moco::value;
pub use moco::{DreModel, Moco, ProjectionHead, decorrelation_penalty, info_nce};
pub use readout::{ReadoutReport, fit_ridge, pearson, predict, readout_markdown, represent_images};
use readout::{represent, score};

/// Settings of a DRE training run (JSON; every field has a default).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DreConfig {
    /// Contrastive steps.
    pub steps: usize,
    /// Positive pairs per step.
    pub batch_pairs: usize,
    /// Random crop side of the 128² degraded faces (the generator trains on the same crops).
    pub crop: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Momentum of the key encoder.
    pub momentum: f64,
    /// Keys kept in the queue of negatives.
    pub queue: usize,
    /// InfoNCE temperature.
    pub temperature: f64,
    /// Weight of the decorrelation penalty on the representation (mean squared off-diagonal
    /// correlation of its features over the batch; 0 = off), against dimensional collapse.
    pub decorrelation: f64,
    /// Length of the projection the contrastive loss sees.
    pub projection_dim: usize,
    /// Faces (training split) used to fit the blur-size read-out.
    pub readout_faces: usize,
    /// Held-out faces (test split) the read-out is measured on.
    pub test_faces: usize,
    /// Seed of everything random.
    pub seed: u64,
    /// Root of the data (`faces/`, `kernels/`).
    pub data_dir: PathBuf,
}

impl Default for DreConfig {
    fn default() -> Self {
        Self {
            steps: 3000,
            batch_pairs: 16,
            crop: 64,
            lr: 1e-3,
            momentum: 0.999,
            queue: 256,
            temperature: 0.2,
            decorrelation: 0.0,
            projection_dim: 32,
            readout_faces: 1024,
            test_faces: 512,
            seed: 7,
            data_dir: PathBuf::from("../shared/data"),
        }
    }
}

/// One batch of positive pairs: `[B, 3, crop, crop]` each, [-1, 1] values.
struct PairBatch {
    query: Vec<f32>,
    key: Vec<f32>,
    n: usize,
    size: usize,
}

fn spawn_pairs(dataset: Arc<FaceDataset>, pairs: usize, seed: u64) -> Receiver<Result<PairBatch>> {
    let (tx, rx) = sync_channel(4);
    std::thread::Builder::new()
        .name("face-deblur-dre-loader".into())
        .spawn(move || {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            loop {
                let batch = (|| -> Result<PairBatch> {
                    let mut query = Vec::new();
                    let mut key = Vec::new();
                    let mut size = 0;
                    for _ in 0..pairs {
                        let params = sample_degradation(&mut rng, &dataset.options().degradation);
                        let a = rng.random_range(0..dataset.len());
                        let mut b = rng.random_range(0..dataset.len() - 1);
                        if b >= a {
                            b += 1;
                        }
                        let sa = dataset.sample_with_degradation(a, &params, &mut rng, true)?;
                        let sb = dataset.sample_with_degradation(b, &params, &mut rng, true)?;
                        size = sa.size;
                        query.extend(sa.blurred.iter().map(|v| v * 2.0 - 1.0));
                        key.extend(sb.blurred.iter().map(|v| v * 2.0 - 1.0));
                    }
                    Ok(PairBatch {
                        query,
                        key,
                        n: pairs,
                        size,
                    })
                })();
                if tx.send(batch).is_err() {
                    return;
                }
            }
        })
        .expect("spawn the DRE loader thread");
    rx
}

/// A loss/accuracy line of the log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DreLogPoint {
    /// Step.
    pub step: usize,
    /// Mean InfoNCE loss over the last window.
    pub loss: f64,
    /// Share of queries whose positive key scored highest.
    pub accuracy: f64,
}

/// Train the DRE into `out` (`dre.safetensors`, `dre_log.jsonl`, `dre_report.{json,md}`).
pub fn run(config: DreConfig, out: &Path, device: &Device) -> Result<ReadoutReport> {
    ensure!(config.batch_pairs >= 2, "batch_pairs must be at least 2");
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    std::fs::write(
        out.join("dre_config.json"),
        serde_json::to_string_pretty(&config)?,
    )?;
    let recorded = Arc::new(
        RecordedKernels::load(&recorded_kernels_path(&config.data_dir))
            .context("loading recorded blur kernels")?,
    );
    let sources = [FaceSource::CelebA, FaceSource::UtkFace];
    let mut opts = DatasetOptions::training(Some(recorded));
    opts.crop = (config.crop > 0).then_some(config.crop);
    let train = Arc::new(FaceDataset::new(
        &config.data_dir,
        Split::Train,
        &sources,
        opts.clone(),
    )?);
    let test = FaceDataset::new(&config.data_dir, Split::Test, &sources, opts)?;

    let mut moco = Moco::new(&config, device);
    let untrained = moco.encoder();
    let pairs = spawn_pairs(train.clone(), config.batch_pairs, config.seed);
    let bar = indicatif::ProgressBar::new(config.steps as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} DRE steps  {per_sec}  ETA {eta}  {msg}",
        )
        .expect("valid template"),
    );
    let mut log = std::fs::File::create(out.join("dre_log.jsonl"))?;
    let (mut loss_sum, mut acc_sum, mut window) = (0.0, 0.0, 0usize);
    for step in 1..=config.steps {
        let batch = pairs.recv().context("the DRE loader stopped")??;
        let shape = [batch.n, 3, batch.size, batch.size];
        let xq = Tensor::<4>::from_data(TensorData::new(batch.query, shape), device);
        let xk = Tensor::<4>::from_data(TensorData::new(batch.key, shape), device);
        let (loss, accuracy) = moco.step(xq, xk);
        loss_sum += loss;
        acc_sum += accuracy;
        window += 1;
        bar.set_position(step as u64);
        if step % 20 == 0 || step == config.steps {
            let point = DreLogPoint {
                step,
                loss: loss_sum / window as f64,
                accuracy: acc_sum / window as f64,
            };
            bar.set_message(format!(
                "InfoNCE {:.3} top-1 {:.2}",
                point.loss, point.accuracy
            ));
            writeln!(log, "{}", serde_json::to_string(&point)?)?;
            (loss_sum, acc_sum, window) = (0.0, 0.0, 0);
        }
    }
    bar.finish();
    drop(pairs);

    // Linear read-out of the blur size, measured on held-out faces.
    let encoder = moco.encoder();
    let whole = |d: &FaceDataset| {
        let mut o = d.options().clone();
        o.crop = None;
        o
    };
    let train_whole = FaceDataset::new(&config.data_dir, Split::Train, &sources, whole(&train))?;
    let test_whole = FaceDataset::new(&config.data_dir, Split::Test, &sources, whole(&test))?;
    let readout = |encoder: &DegradationEncoder| -> Result<(ReadoutReport, Vec<f64>, f64)> {
        // The same faces and degradations for both encoders.
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0x5eed);
        let (fx, fy) = represent(
            encoder,
            &train_whole,
            config.readout_faces,
            &mut rng,
            device,
        )?;
        let (tx, ty) = represent(encoder, &test_whole, config.test_faces, &mut rng, device)?;
        // λ ≈ 1 % of N on standardised features, against overfitting.
        let (w, b) = fit_ridge(&fx, &fy, 0.01 * fx.len() as f64);
        let pred: Vec<f64> = tx.iter().map(|x| predict(&w, b, x)).collect();
        let train_mean = fy.iter().sum::<f64>() / fy.len().max(1) as f64;
        Ok((score(&pred, &ty, fx.len(), train_mean), w, b))
    };
    let (before, _, _) = readout(&untrained)?;
    let (mut report, w, b) = readout(&encoder)?;
    report.untrained_mae_px = before.mae_px;
    report.untrained_pearson = before.pearson;
    let weight: Vec<f32> = w.iter().map(|&v| v as f32).collect();
    let encoder = encoder.with_blur_readout(&weight, b as f32);
    crate::weights::save_dre(
        &out.join(DRE_FILE),
        &encoder,
        &format!(
            "MoCo {} steps × {} pairs, {}px crops, CelebA+UTKFace (research-only data); \
             blur read-out MAE {:.2} px on {} held-out faces",
            config.steps, config.batch_pairs, config.crop, report.mae_px, report.test_faces
        ),
    )?;
    crate::fsutil::write_atomic(
        &out.join("dre_report.json"),
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    crate::fsutil::write_atomic(
        &out.join("dre_report.md"),
        readout_markdown(&report).as_bytes(),
    )?;
    Ok(report)
}

/// File name of the trained encoder inside the run folder.
pub const DRE_FILE: &str = "dre.safetensors";

#[cfg(test)]
mod tests;
