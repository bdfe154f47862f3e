//! Half-precision inference, measured: runs a generator in f32 and in f16 (weights and
//! activations cast to f16) on the evaluation faces and reports the PSNR of each against the
//! sharp face, the PSNR of the f16 output against the f32 one, and the time of both.
//!
//! ```text
//! cargo run --release --example f16_quality -- [--faces N] [--weights FILE] [--backend cpu|gpu]
//!     [--data DIR]
//! ```
//!
//! Defaults: the shipped weights, 40 faces of each test set (CelebA test, UTKFace held-out,
//! seed 2022, the blur of `face-deblur eval`), the CPU (flex). `--backend gpu` uses the first
//! hardware GPU (wgpu), where f16 is what would be shipped; on the CPU the f16 arithmetic is
//! emulated, so only its quality is meaningful there, not its speed.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use burn::tensor::FloatDType;
use face_deblur::inference::{BackendChoice, half_precision, select_device};
use face_deblur::model::Generator;
use face_deblur::train::eval::test_sets;
use face_deblur::train::metrics::psnr;
use face_deblur::weights;

/// Forward `[B, 3, S, S]` values in [0, 1] through `g` (`half`: in f16) → [0, 1] f32 values and
/// the seconds the forward pass and read-back took.
fn run(
    g: &Generator,
    unit: &[f32],
    shape: [usize; 4],
    half: bool,
    device: &Device,
) -> (Vec<f32>, f64) {
    let x = Tensor::<4>::from_data(TensorData::new(unit.to_vec(), shape), device)
        .mul_scalar(2.0)
        .sub_scalar(1.0);
    let x = if half { x.cast(FloatDType::F16) } else { x };
    let start = Instant::now();
    let y = g.forward(x).image.cast(FloatDType::F32);
    let out: Vec<f32> = y
        .add_scalar(1.0)
        .mul_scalar(0.5)
        .clamp(0.0, 1.0)
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32 output");
    (out, start.elapsed().as_secs_f64())
}

fn main() -> Result<()> {
    let mut faces = 40usize;
    let mut weights_path: Option<PathBuf> = None;
    let mut backend = BackendChoice::Cpu;
    let mut data = PathBuf::from("../shared/data");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--faces" => faces = value()?.parse()?,
            "--weights" => weights_path = Some(value()?.into()),
            "--data" => data = value()?.into(),
            "--backend" => {
                backend = match value()?.as_str() {
                    "cpu" => BackendChoice::Cpu,
                    "gpu" => BackendChoice::Gpu,
                    other => bail!("unknown backend {other}"),
                }
            }
            other => bail!("unknown argument {other}"),
        }
    }
    let compute = select_device(backend);
    let device = compute.device.clone();
    let loaded = match &weights_path {
        Some(p) => weights::load(p, &device)?,
        None => weights::load_shipped(&device)?,
    };
    let g32 = loaded.modules.generator;
    let g16 = half_precision(g32.clone());
    let kernels = data.join("kernels/motion_kernels.safetensors");
    println!("device: {}", compute.description);
    println!(
        "| set | faces | PSNR in | PSNR f32 out | PSNR f16 out | f16 vs f32 (PSNR) | max abs diff (8-bit levels) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let (mut t32, mut t16, mut batches) = (0.0, 0.0, 0usize);
    for (name, samples) in test_sets(&data, &kernels, faces, 2022)? {
        let mut sums = [0.0f64; 4];
        let mut max_levels = 0.0f32;
        for chunk in samples.chunks(8) {
            let s = chunk[0].size;
            let shape = [chunk.len(), 3, s, s];
            let blurred: Vec<f32> = chunk
                .iter()
                .flat_map(|x| x.blurred.iter().copied())
                .collect();
            let (o32, a) = run(&g32, &blurred, shape, false, &device);
            let (o16, b) = run(&g16, &blurred, shape, true, &device);
            t32 += a;
            t16 += b;
            batches += 1;
            let plane = 3 * s * s;
            for (k, x) in chunk.iter().enumerate() {
                let (p32, p16) = (&o32[k * plane..][..plane], &o16[k * plane..][..plane]);
                sums[0] += psnr(&x.blurred, &x.sharp, 3, s, s);
                sums[1] += psnr(p32, &x.sharp, 3, s, s);
                sums[2] += psnr(p16, &x.sharp, 3, s, s);
                sums[3] += psnr(p16, p32, 3, s, s);
                let m = p32
                    .iter()
                    .zip(p16)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f32::max);
                max_levels = max_levels.max(m * 255.0);
            }
        }
        let n = samples.len() as f64;
        println!(
            "| {name} | {} | {:.3} | {:.3} | {:.3} | {:.1} | {:.1} |",
            samples.len(),
            sums[0] / n,
            sums[1] / n,
            sums[2] / n,
            sums[3] / n,
            max_levels
        );
    }
    println!(
        "forward of a batch of 8 (mean of {batches}): f32 {:.0} ms, f16 {:.0} ms",
        t32 / batches as f64 * 1e3,
        t16 / batches as f64 * 1e3
    );
    Ok(())
}
