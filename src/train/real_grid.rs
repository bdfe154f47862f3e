//! Before/after grid of real blurred faces (no ground truth), rendered by `face-deblur eval`
//! so every evaluation shows what the model does to real photos next to its scores.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use image::imageops::FilterType;
use image::{Rgb, RgbImage};

use crate::inference::Restorer;
use crate::pipeline::load_photo;
use crate::restore::restore_photo;

/// The fixed real faces of the grid, relative to the data root: permissively licensed inputs
/// only (GFPGAN and VQFR examples, Apache-2.0; KAIR test faces, MIT), so the grid may be
/// committed.
pub const REAL_GRID_FACES: [&str; 8] = [
    "real/gfpgan/faces/Adele_crop.png",
    "real/gfpgan/faces/Julia_Roberts_crop.png",
    "real/gfpgan/faces/Paris_Hilton_crop.png",
    "real/vqfr/faces/Elin_Nordegren_0001_00_lq.png",
    "real/vqfr/faces/Jesse_Ventura_0001_00_lq.png",
    "real/vqfr/faces/Michael_Chang_0001_00_lq.png",
    "real/kair/faces/face_01.png",
    "real/kair/faces/face_05.png",
];

/// Restores each aligned face crop as the CLI's `--aligned` mode does and writes a grid with
/// one row per face (input | restored, `tile` px each) to `out` (format from its extension).
pub fn render(restorer: &Restorer, faces: &[PathBuf], out: &Path, tile: u32) -> Result<()> {
    let gap = 4u32;
    let mut grid = RgbImage::from_pixel(
        2 * tile + 3 * gap,
        faces.len() as u32 * (tile + gap) + gap,
        Rgb([255, 255, 255]),
    );
    for (row, path) in faces.iter().enumerate() {
        let photo = load_photo(path).with_context(|| format!("reading {}", path.display()))?;
        let result = restore_photo(restorer, &photo, None, true, 1.0)
            .with_context(|| format!("restoring {}", path.display()))?;
        for (col, img) in [&photo.rgb_u8, &result.image].into_iter().enumerate() {
            let small = image::imageops::resize(img, tile, tile, FilterType::Lanczos3);
            let x = gap + col as u32 * (tile + gap);
            let y = gap + row as u32 * (tile + gap);
            image::imageops::replace(&mut grid, &small, i64::from(x), i64::from(y));
        }
    }
    let format = if out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"))
    {
        image::ImageFormat::Png
    } else {
        image::ImageFormat::Jpeg
    };
    let mut encoded = Vec::new();
    grid.write_to(&mut std::io::Cursor::new(&mut encoded), format)
        .context("encoding the grid")?;
    crate::fsutil::write_atomic(out, &encoded)
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}
