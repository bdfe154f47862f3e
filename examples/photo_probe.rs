//! Whole-photo probe: what `face-deblur restore` does to a photo whose faces are blurred, with
//! the sharp photo as reference.
//!
//! The use-matched evaluation (`face-deblur eval`) measures the network on face crops; this
//! probe measures the path a user's photo takes: detection, a square crop per face, restoration
//! at the 128² working size (flip ensemble, as the CLI), the change upscaled and pasted back.
//! Photos: the sharp phone portraits of `$FACE_DEBLUR_SHARED/data/real/gpen_selfies/whole` and
//! GFPGAN's `Blake_Lively.jpg`, each downscaled so its longer side is at most 1200 px (faces of
//! ≈ 250–500 px, a portrait photographer's range). Each is blurred whole with 4 of the 12
//! held-out recorded camera-shake kernels (KAIR/Levin, never used in training) enlarged `×S`
//! (default 2: 51–53 px, at the working size of these faces ≈ 10–25 px), noise σ 2/255, 8
//! bits. PSNR is taken over the crop square of every face found in the blurred photo (where the
//! restore can change pixels), before and after.
//!
//! `FACE_DEBLUR_SHARED=../shared cargo run --release --example photo_probe -- [--scale S]
//! [--grid OUT.jpg] [--photo PATH]... [WEIGHTS]` — `--grid` writes sharp | blurred | restored
//! of each face of the first kernel; `--photo` (repeatable) probes those photos instead.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::prelude::*;
use face_deblur::inference::Restorer;
use face_deblur::pipeline::{DetectorConfig, FaceDetector, Photo, load_photo};
use face_deblur::restore::restore_photo;
use face_deblur::train::blur::{KernelRole, RecordedKernels, blur_rgb, standard_normal};
use face_deblur::train::data::recorded_kernels_path;
use face_deblur::train::real_grid::{self, region_of};
use face_deblur::train::report::{rgb_to_unit_chw, unit_chw_to_rgb_wh};
use face_deblur::weights;
use image::RgbImage;
use image::imageops::FilterType;
use rand::SeedableRng;

const MAX_SIDE: u32 = 1200;
const NOISE_SIGMA: f32 = 2.0 / 255.0;

/// Sum of squared 8-bit differences over the part of a square region inside the photo.
fn sq_err(a: &RgbImage, b: &RgbImage, x0: i64, y0: i64, side: u32) -> (f64, usize) {
    let (mut sum, mut n) = (0.0, 0);
    for y in y0.max(0)..(y0 + i64::from(side)).min(i64::from(a.height())) {
        for x in x0.max(0)..(x0 + i64::from(side)).min(i64::from(a.width())) {
            let (p, q) = (
                a.get_pixel(x as u32, y as u32),
                b.get_pixel(x as u32, y as u32),
            );
            for c in 0..3 {
                let d = f64::from(p[c]) - f64::from(q[c]);
                sum += d * d;
                n += 1;
            }
        }
    }
    (sum, n)
}

fn psnr(sum: f64, n: usize) -> f64 {
    10.0 * (255.0f64.powi(2) / (sum / n as f64)).log10()
}

fn photos(shared: &Path) -> Result<Vec<PathBuf>> {
    let dir = shared.join("data/real/gpen_selfies/whole");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    out.sort();
    out.push(shared.join("data/real/gfpgan/whole/Blake_Lively.jpg"));
    Ok(out)
}

fn main() -> Result<()> {
    let shared = std::env::var_os("FACE_DEBLUR_SHARED")
        .map(PathBuf::from)
        .context("set FACE_DEBLUR_SHARED to the shared folder (with data/real)")?;
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut take = |flag: &str| -> Option<String> {
        let i = args.iter().position(|a| a == flag)?;
        args.remove(i);
        (i < args.len()).then(|| args.remove(i))
    };
    let scale: f64 = take("--scale").map_or(Ok(2.0), |s| s.parse())?;
    let grid_out = take("--grid");
    let mut chosen = Vec::new();
    while let Some(path) = take("--photo") {
        chosen.push(PathBuf::from(path));
    }
    let photos = if chosen.is_empty() {
        photos(&shared)?
    } else {
        chosen
    };
    let device = Device::flex();
    let restorer = match args.first() {
        Some(path) => Restorer::load(path.as_ref(), &device)?,
        None => Restorer::from_loaded(weights::load_shipped(&device)?, &device),
    }
    .with_flip_ensemble(true);
    let detector = FaceDetector::new(DetectorConfig::default())?;
    let recorded = RecordedKernels::load(&recorded_kernels_path(&shared.join("data")))?;
    let held_out = recorded.indices_with_role(KernelRole::Test);
    let mut grid_rows: Vec<Vec<RgbImage>> = Vec::new();
    let (mut total_before, mut total_after, mut total_n, mut faces) = (0.0, 0.0, 0usize, 0);
    for (p, path) in photos.iter().enumerate() {
        // Upright, as `restore` reads it (EXIF orientation applied).
        let img = load_photo(path)?.rgb_u8;
        let factor = (f64::from(MAX_SIDE) / f64::from(img.width().max(img.height()))).min(1.0);
        let (w, h) = (
            (f64::from(img.width()) * factor).round() as u32,
            (f64::from(img.height()) * factor).round() as u32,
        );
        let sharp = image::imageops::resize(&img, w, h, FilterType::Lanczos3);
        let sharp_chw = rgb_to_unit_chw(&sharp);
        let (mut before, mut after, mut n) = (0.0, 0.0, 0usize);
        for (j, &k) in [0usize, 3, 6, 9].iter().enumerate() {
            let kernel = recorded.kernels[held_out[k % held_out.len()]].upscaled(scale);
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(100 * p as u64 + j as u64);
            let mut blurred = blur_rgb(&sharp_chw, 3, h as usize, w as usize, &kernel);
            for v in &mut blurred {
                *v += NOISE_SIGMA * standard_normal(&mut rng) as f32;
            }
            let blurred = unit_chw_to_rgb_wh(&blurred, w, h);
            let photo = Photo::from_rgb("blurred.png", blurred.clone());
            let Ok(result) = restore_photo(&restorer, &photo, Some(&detector), false, 1.0) else {
                println!("{}: kernel {k}: no face found", path.display());
                continue;
            };
            for face in &result.faces {
                let r = face.crop.face_in_photo;
                let (sb, nb) = sq_err(&sharp, &blurred, r.x, r.y, r.width);
                let (sa, _) = sq_err(&sharp, &result.image, r.x, r.y, r.width);
                before += sb;
                after += sa;
                n += nb;
                faces += 1;
                if j == 0 && grid_out.is_some() {
                    grid_rows.push(vec![
                        region_of(&sharp, r),
                        region_of(&blurred, r),
                        region_of(&result.image, r),
                    ]);
                }
            }
        }
        if n > 0 {
            println!(
                "{} ({w}×{h}): {:.2} → {:.2} dB",
                path.file_name().unwrap_or_default().to_string_lossy(),
                psnr(before, n),
                psnr(after, n)
            );
        }
        total_before += before;
        total_after += after;
        total_n += n;
    }
    println!(
        "photo probe (kernels ×{scale}, {faces} face crops): {:.2} → {:.2} dB, gain {:+.2} dB",
        psnr(total_before, total_n),
        psnr(total_after, total_n),
        psnr(total_after, total_n) - psnr(total_before, total_n)
    );
    if let Some(out) = grid_out {
        real_grid::write_rows(&grid_rows, 320, out.as_ref())?;
        println!("wrote {out}");
    }
    Ok(())
}
