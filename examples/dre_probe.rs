//! What a degradation representation encoder encodes: linear (ridge) read-outs of the blur
//! kernel size, the noise level and the JPEG quality from its 128-vector, fitted on training
//! faces and scored (Pearson r) on held-out faces, for trained encoders and an untrained one.
//!
//! ```text
//! cargo run --release --example dre_probe -- [--data DIR] [--fit N] [--test N] runs/dre/dre.safetensors ...
//! ```
//!
//! The faces are whole 128² CelebA + UTKFace faces with the training degradations (blur, noise
//! σ ≤ 4/255, JPEG on a quarter), the same for every encoder.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use face_deblur::model::dre::DegradationEncoder;
use face_deblur::train::blur::{RecordedKernels, sample_degradation};
use face_deblur::train::data::{
    DatasetOptions, FaceDataset, FaceSource, Split, recorded_kernels_path,
};
use face_deblur::train::dre::{fit_ridge, pearson, predict, represent_images};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What is read out: kernel side, blur extent (the kernel's spatial standard deviation, px),
/// its elongation along x/y and along the diagonals (second moments, in [-1, 1]), noise σ
/// (8-bit levels), JPEG quality (100 = none).
const TARGETS: [&str; 6] = [
    "kernel size",
    "blur extent",
    "elongation x/y",
    "elongation diag.",
    "noise σ",
    "JPEG quality",
];

/// Degraded faces (`[0, 1]` CHW) with their targets.
struct Probe {
    images: Vec<Vec<f32>>,
    targets: Vec<[f64; 6]>,
}

/// Extent and the two elongation components of a kernel (zeros for none).
fn moments(kernel: Option<&face_deblur::train::blur::Kernel>) -> [f64; 3] {
    let Some(k) = kernel else {
        return [0.0; 3];
    };
    let (mut mx, mut my) = (0.0, 0.0);
    let at = |i: usize| {
        (
            f64::from(k.data[i]),
            (i % k.size) as f64,
            (i / k.size) as f64,
        )
    };
    for i in 0..k.data.len() {
        let (w, x, y) = at(i);
        mx += w * x;
        my += w * y;
    }
    let (mut vxx, mut vyy, mut vxy) = (0.0, 0.0, 0.0);
    for i in 0..k.data.len() {
        let (w, x, y) = at(i);
        vxx += w * (x - mx).powi(2);
        vyy += w * (y - my).powi(2);
        vxy += w * (x - mx) * (y - my);
    }
    let t = (vxx + vyy).max(1e-9);
    [t.sqrt(), (vxx - vyy) / t, 2.0 * vxy / t]
}

fn probe(dataset: &FaceDataset, count: usize, seed: u64) -> Result<Probe> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut images = Vec::new();
    let mut targets = Vec::new();
    for _ in 0..count {
        let index = rng.random_range(0..dataset.len());
        let params = sample_degradation(&mut rng, &dataset.options().degradation);
        let s = dataset.sample_with_degradation(index, &params, &mut rng, false)?;
        let [extent, ex, ed] = moments(params.kernel.as_ref());
        targets.push([
            s.kernel_size as f64,
            extent,
            ex,
            ed,
            f64::from(params.noise_sigma) * 255.0,
            f64::from(params.jpeg_quality.unwrap_or(100)),
        ]);
        images.push(s.blurred);
    }
    Ok(Probe { images, targets })
}

/// Participation ratio of the features' correlation matrix R, `d² / ‖R‖²_F`: how many
/// independent directions the `d` features span (1 = all the same, d = uncorrelated).
fn effective_dim(x: &[Vec<f32>]) -> f64 {
    let d = x[0].len();
    let cols: Vec<Vec<f64>> = (0..d)
        .map(|j| {
            let c: Vec<f64> = x.iter().map(|r| f64::from(r[j])).collect();
            let m = c.iter().sum::<f64>() / c.len() as f64;
            let sd = (c.iter().map(|v| (v - m).powi(2)).sum::<f64>())
                .sqrt()
                .max(1e-12);
            c.iter().map(|v| (v - m) / sd).collect()
        })
        .collect();
    let mut frob = 0.0;
    for a in &cols {
        for b in &cols {
            let r: f64 = a.iter().zip(b).map(|(p, q)| p * q).sum();
            frob += r * r;
        }
    }
    (d * d) as f64 / frob.max(1e-12)
}

fn main() -> Result<()> {
    let mut data = PathBuf::from("../shared/data");
    let (mut fit, mut test) = (1024usize, 512usize);
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--data" => data = value()?.into(),
            "--fit" => fit = value()?.parse()?,
            "--test" => test = value()?.parse()?,
            s if s.starts_with("--") => bail!("unknown option {s}"),
            _ => files.push(PathBuf::from(a)),
        }
    }
    let device = Device::flex();
    let recorded = Arc::new(RecordedKernels::load(&recorded_kernels_path(&data))?);
    let opts = DatasetOptions::training(Some(recorded));
    let sources = [FaceSource::CelebA, FaceSource::UtkFace];
    let train = FaceDataset::new(&data, Split::Train, &sources, opts.clone())?;
    let held_out = FaceDataset::new(&data, Split::Test, &sources, opts)?;
    let size = train.options().size;
    let (pf, pt) = (probe(&train, fit, 11)?, probe(&held_out, test, 12)?);
    let mut encoders = vec![("untrained".to_string(), DegradationEncoder::new(&device))];
    for f in files {
        let e = face_deblur::weights::load_dre(&f, &device)?;
        encoders.push((f.display().to_string(), e));
    }
    println!("Pearson r of ridge read-outs on {test} held-out faces (fitted on {fit}):\n");
    println!(
        "| encoder | {} | effective dim. |\n|---|{}",
        TARGETS.join(" | "),
        "---:|".repeat(TARGETS.len() + 1)
    );
    for (name, e) in &encoders {
        let (fx, tx) = (
            represent_images(e, &pf.images, size, &device)?,
            represent_images(e, &pt.images, size, &device)?,
        );
        let cells: Vec<String> = (0..TARGETS.len())
            .map(|k| {
                let fy: Vec<f64> = pf.targets.iter().map(|t| t[k]).collect();
                let ty: Vec<f64> = pt.targets.iter().map(|t| t[k]).collect();
                let (w, b) = fit_ridge(&fx, &fy, 0.01 * fx.len() as f64);
                let pred: Vec<f64> = tx.iter().map(|x| predict(&w, b, x)).collect();
                format!("{:.3}", pearson(&pred, &ty))
            })
            .collect();
        println!(
            "| {name} | {} | {:.1} |",
            cells.join(" | "),
            effective_dim(&fx)
        );
    }
    Ok(())
}
