//! Sharp-face probe: how much the weights gain on faces sharper than the training data.
//!
//! Our training and evaluation faces (CelebA, UTKFace) are soft; photographers' faces and the
//! independent held-out set are not. This probe takes the aligned 512² faces of
//! `$FACE_DEBLUR_SHARED/data/real/*/faces` (GFPGAN, VQFR, CodeFormer, DFDNet inputs) and the two
//! bundled faces in `assets/faces`, downscales each 4× to a sharp 128² face, blurs it with two
//! fixed synthetic camera-shake kernels (15 and 21 px), adds noise σ 2/255, quantises to 8 bits,
//! restores, and prints the mean PSNR before and after. A second line does the same with the 12
//! held-out recorded camera-shake kernels (KAIR/Levin, centred on their centre of mass, never
//! used in training; face k gets kernels k and k + 6 mod 12) — the kind of set the independent
//! evaluation of issue 12 uses (FFHQ-style aligned faces, recorded shake, σ 2/255).
//!
//! `FACE_DEBLUR_SHARED=../shared cargo run --release --example sharp_probe -- [WEIGHTS]`
//! (default: the shipped weights).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::prelude::*;
use face_deblur::inference::Restorer;
use face_deblur::train::blur::{
    Kernel, KernelRole, RecordedKernels, blur_rgb, standard_normal, synthetic_kernel,
};
use face_deblur::train::data::recorded_kernels_path;
use face_deblur::train::metrics::psnr;
use face_deblur::train::report::{rgb_to_unit_chw, unit_chw_to_rgb};
use face_deblur::weights;
use image::imageops::FilterType;
use rand::SeedableRng;

const SIZE: u32 = 128;
const NOISE_SIGMA: f32 = 2.0 / 255.0;

/// The aligned faces of the probe, sorted: 512² crops of the shared real-photo folders (1×1
/// placeholders skipped) and the bundled faces.
fn faces(shared: &Path) -> Result<Vec<PathBuf>> {
    let real = shared.join("data/real");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&real).with_context(|| format!("reading {}", real.display()))? {
        let faces = entry?.path().join("faces");
        let Ok(files) = std::fs::read_dir(&faces) else {
            continue;
        };
        for file in files {
            let path = file?.path();
            if image::image_dimensions(&path).is_ok_and(|(w, h)| w == 512 && h == 512) {
                out.push(path);
            }
        }
    }
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/faces");
    for file in std::fs::read_dir(&bundled)? {
        out.push(file?.path());
    }
    out.sort();
    Ok(out)
}

fn main() -> Result<()> {
    let shared = std::env::var_os("FACE_DEBLUR_SHARED")
        .map(PathBuf::from)
        .context("set FACE_DEBLUR_SHARED to the shared folder (with data/real)")?;
    let device = Device::flex();
    let restorer = match std::env::args().nth(1) {
        Some(path) => Restorer::load(path.as_ref(), &device)?,
        None => Restorer::from_loaded(weights::load_shipped(&device)?, &device),
    };
    let faces = faces(&shared)?;
    let sharp: Vec<Vec<f32>> = faces
        .iter()
        .map(|path| -> Result<Vec<f32>> {
            let face = image::open(path)
                .with_context(|| format!("reading {}", path.display()))?
                .to_rgb8();
            Ok(rgb_to_unit_chw(&image::imageops::resize(
                &face,
                SIZE,
                SIZE,
                FilterType::Lanczos3,
            )))
        })
        .collect::<Result<_>>()?;
    let synthetic = probe(&restorer, &sharp, |k, j| {
        let (seed, size) = [(1u64, 15usize), (2, 21)][j];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed * 1000 + k as u64);
        let kernel = synthetic_kernel(&mut rng, size);
        (kernel, rng)
    });
    report(
        "sharp probe",
        "2 synthetic kernels (15, 21 px)",
        faces.len(),
        synthetic,
    );
    let recorded = RecordedKernels::load(&recorded_kernels_path(&shared.join("data")))?;
    let held_out = recorded.indices_with_role(KernelRole::Test);
    let recorded_gain = probe(&restorer, &sharp, |k, j| {
        let index = held_out[(k + 6 * j) % held_out.len()];
        let rng = rand_chacha::ChaCha8Rng::seed_from_u64(5000 + 2 * k as u64 + j as u64);
        (recorded.kernels[index].clone(), rng)
    });
    report(
        "sharp probe, recorded shake",
        &format!("2 of the {} held-out recorded kernels", held_out.len()),
        faces.len(),
        recorded_gain,
    );
    Ok(())
}

/// Mean PSNR (dB) of the blurred and the restored faces: each face blurred twice, with the
/// kernel and noise generator that `kernel(face index, 0 or 1)` gives.
fn probe(
    restorer: &Restorer,
    sharp: &[Vec<f32>],
    kernel: impl Fn(usize, usize) -> (Kernel, rand_chacha::ChaCha8Rng),
) -> (f64, f64) {
    let (mut before, mut after, mut count) = (0.0, 0.0, 0usize);
    for (k, sharp) in sharp.iter().enumerate() {
        for j in 0..2 {
            let (kernel, mut rng) = kernel(k, j);
            let mut blurred = blur_rgb(sharp, 3, SIZE as usize, SIZE as usize, &kernel);
            for v in &mut blurred {
                *v += NOISE_SIGMA * standard_normal(&mut rng) as f32;
            }
            let blurred_img = unit_chw_to_rgb(&blurred, SIZE as usize);
            let blurred = rgb_to_unit_chw(&blurred_img);
            let restored = rgb_to_unit_chw(&restorer.restore(&blurred_img).image);
            before += psnr(&blurred, sharp, 3, SIZE as usize, SIZE as usize);
            after += psnr(&restored, sharp, 3, SIZE as usize, SIZE as usize);
            count += 1;
        }
    }
    let n = count.max(1) as f64;
    (before / n, after / n)
}

fn report(name: &str, kernels: &str, faces: usize, (before, after): (f64, f64)) {
    println!(
        "{name}: {faces} faces × {kernels}, 128², σ 2/255: {before:.2} → {after:.2} dB, gain {:+.2} dB",
        after - before
    );
}
