//! The read-out of `train-dre`: how well the representation predicts the blur kernel size on
//! held-out faces (a ridge regression fitted on training faces), and its report.

use anyhow::Result;
use burn::prelude::*;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::convert::tensor_to_f32;
use crate::model::dre::{DRE_DIM, DegradationEncoder};
use crate::train::blur::sample_degradation;
use crate::train::data::FaceDataset;

/// How well the representation predicts the blur kernel size on held-out faces.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReadoutReport {
    /// Faces the linear read-out was fitted on (training split).
    pub fit_faces: usize,
    /// Held-out faces it was measured on (test split).
    pub test_faces: usize,
    /// Mean absolute error of the predicted kernel size, pixels.
    pub mae_px: f64,
    /// MAE of always predicting the mean size (the baseline to beat).
    pub baseline_mae_px: f64,
    /// Pearson correlation of predicted and true size.
    pub pearson: f64,
    /// Rows: (true-size bin label, faces, mean prediction, standard deviation).
    pub bins: Vec<(String, usize, f64, f64)>,
    /// The same read-out on the untrained (randomly initialised) encoder: what the
    /// architecture gives before contrastive training.
    #[serde(default)]
    pub untrained_mae_px: f64,
    /// Pearson correlation of the untrained encoder's read-out.
    #[serde(default)]
    pub untrained_pearson: f64,
}

/// Representations of `count` random faces of `dataset` degraded as in training (whole 128²
/// faces, no augmentation), with their true kernel sizes.
pub(super) fn represent(
    encoder: &DegradationEncoder,
    dataset: &FaceDataset,
    count: usize,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Result<(Vec<Vec<f32>>, Vec<f64>)> {
    let mut features = Vec::new();
    let mut sizes = Vec::new();
    let mut pending: Vec<Vec<f32>> = Vec::new();
    let size = dataset.options().size;
    for _ in 0..count {
        let index = rng.random_range(0..dataset.len());
        let params = sample_degradation(rng, &dataset.options().degradation);
        let s = dataset.sample_with_degradation(index, &params, rng, false)?;
        sizes.push(s.kernel_size as f64);
        pending.push(s.blurred);
        if pending.len() == 16 {
            features.extend(represent_images(encoder, &pending, size, device)?);
            pending.clear();
        }
    }
    features.extend(represent_images(encoder, &pending, size, device)?);
    Ok((features, sizes))
}

/// DRE vectors of blurred faces given as CHW values in [0, 1] of `size`² (run 16 at a time).
pub fn represent_images(
    encoder: &DegradationEncoder,
    images: &[Vec<f32>],
    size: usize,
    device: &Device,
) -> Result<Vec<Vec<f32>>> {
    let mut out = Vec::with_capacity(images.len());
    for chunk in images.chunks(16) {
        let data: Vec<f32> = chunk.iter().flatten().copied().collect();
        let x = crate::inference::signed_batch(data, [chunk.len(), 3, size, size], device);
        let v = tensor_to_f32(encoder.forward(x))?;
        out.extend(v.chunks(DRE_DIM).map(<[f32]>::to_vec));
    }
    Ok(out)
}

/// Pearson correlation of two equally long series (0 when either is constant).
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().max(1) as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va.sqrt() * vb.sqrt()).max(1e-12)
}

/// Ridge regression `y ≈ X·w + b` on standardised features; returns `(w, b)` in the original
/// feature units.
pub fn fit_ridge(x: &[Vec<f32>], y: &[f64], lambda: f64) -> (Vec<f64>, f64) {
    let n = x.len().max(1) as f64;
    let d = x.first().map_or(0, Vec::len);
    let mean: Vec<f64> = (0..d)
        .map(|j| x.iter().map(|r| f64::from(r[j])).sum::<f64>() / n)
        .collect();
    let std: Vec<f64> = (0..d)
        .map(|j| {
            let var = x
                .iter()
                .map(|r| (f64::from(r[j]) - mean[j]).powi(2))
                .sum::<f64>()
                / n;
            var.sqrt().max(1e-8)
        })
        .collect();
    let y_mean = y.iter().sum::<f64>() / n;
    let z = |r: &Vec<f32>, j: usize| (f64::from(r[j]) - mean[j]) / std[j];
    // Normal equations (ZᵀZ + λI) w = Zᵀ(y − ȳ), solved by Gaussian elimination.
    let mut a = vec![vec![0.0f64; d + 1]; d];
    for (r, &t) in x.iter().zip(y) {
        let zr: Vec<f64> = (0..d).map(|j| z(r, j)).collect();
        for i in 0..d {
            for j in 0..d {
                a[i][j] += zr[i] * zr[j];
            }
            a[i][d] += zr[i] * (t - y_mean);
        }
    }
    for (i, row) in a.iter_mut().enumerate() {
        row[i] += lambda;
    }
    for col in 0..d {
        let pivot = (col..d)
            .max_by(|&p, &q| a[p][col].abs().total_cmp(&a[q][col].abs()))
            .unwrap_or(col);
        a.swap(col, pivot);
        let pivot_row = a[col].clone();
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / pivot_row[col];
                for (v, &pv) in row.iter_mut().zip(&pivot_row).skip(col) {
                    *v -= f * pv;
                }
            }
        }
    }
    let w_std: Vec<f64> = (0..d).map(|i| a[i][d] / a[i][i]).collect();
    let w: Vec<f64> = (0..d).map(|j| w_std[j] / std[j]).collect();
    let b = y_mean - (0..d).map(|j| w[j] * mean[j]).sum::<f64>();
    (w, b)
}

/// The ridge read-out `b + x·w` of one representation.
pub fn predict(w: &[f64], b: f64, x: &[f32]) -> f64 {
    b + w.iter().zip(x).map(|(w, &x)| w * f64::from(x)).sum::<f64>()
}

/// Scores predictions against true sizes.
pub(super) fn score(
    pred: &[f64],
    truth: &[f64],
    fit_faces: usize,
    train_mean: f64,
) -> ReadoutReport {
    let n = truth.len().max(1) as f64;
    let mae = pred
        .iter()
        .zip(truth)
        .map(|(p, t)| (p - t).abs())
        .sum::<f64>()
        / n;
    let baseline = truth.iter().map(|t| (t - train_mean).abs()).sum::<f64>() / n;
    let pearson = pearson(pred, truth);
    let bins: [(&str, f64, f64); 6] = [
        ("none", -1.0, 0.5),
        ("7–11", 0.5, 11.5),
        ("13–17", 11.5, 17.5),
        ("19–23", 17.5, 23.5),
        ("25–29", 23.5, 29.5),
        ("31–35", 29.5, 99.0),
    ];
    let bins = bins
        .iter()
        .filter_map(|&(label, lo, hi)| {
            let ps: Vec<f64> = pred
                .iter()
                .zip(truth)
                .filter(|&(_, &t)| t > lo && t <= hi)
                .map(|(&p, _)| p)
                .collect();
            if ps.is_empty() {
                return None;
            }
            let m = ps.iter().sum::<f64>() / ps.len() as f64;
            let sd = (ps.iter().map(|p| (p - m).powi(2)).sum::<f64>() / ps.len() as f64).sqrt();
            Some((label.to_string(), ps.len(), m, sd))
        })
        .collect();
    ReadoutReport {
        fit_faces,
        test_faces: truth.len(),
        mae_px: mae,
        baseline_mae_px: baseline,
        pearson,
        bins,
        ..ReadoutReport::default()
    }
}

/// Markdown table of a read-out report.
pub fn readout_markdown(r: &ReadoutReport) -> String {
    let mut md = format!(
        "DRE blur-size read-out (ridge regression on the {}-d representation), fitted on {} \
         training faces, measured on {} held-out test faces (training degradations):\n\n\
         - MAE {:.2} px (predicting the mean: {:.2} px), Pearson r = {:.3}\n\
         - the same read-out on the untrained encoder: MAE {:.2} px, r = {:.3}\n\n\
         | true kernel size | faces | predicted (mean ± sd) |\n|---|---:|---:|\n",
        DRE_DIM,
        r.fit_faces,
        r.test_faces,
        r.mae_px,
        r.baseline_mae_px,
        r.pearson,
        r.untrained_mae_px,
        r.untrained_pearson
    );
    for (label, n, m, sd) in &r.bins {
        md.push_str(&format!("| {label} | {n} | {m:.1} ± {sd:.1} |\n"));
    }
    md
}
