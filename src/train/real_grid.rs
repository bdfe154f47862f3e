//! Before/after grids of real blurred faces (no ground truth), rendered by `face-deblur eval`
//! so every evaluation shows what the model does to real photos next to its scores: aligned
//! face crops ([`render`]) and the faces of whole photos as `face-deblur restore` changes them
//! ([`render_photo_faces`]: detection, crop, restore, paste back).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use image::imageops::FilterType;
use image::{Rgb, RgbImage};

use crate::inference::Restorer;
use crate::pipeline::{FaceDetector, PhotoRect, load_photo};
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
    let mut rows = Vec::with_capacity(faces.len());
    for path in faces {
        let photo = load_photo(path).with_context(|| format!("reading {}", path.display()))?;
        let result = restore_photo(restorer, &photo, None, true, 1.0)
            .with_context(|| format!("restoring {}", path.display()))?;
        rows.push(vec![photo.rgb_u8, result.image]);
    }
    write_rows(&rows, tile, out)
}

/// Whole photos whose faces [`render_photo_faces`] shows, relative to the data root: GFPGAN
/// examples (Apache-2.0; also bundled in `assets/photos`), so the grid may be committed.
pub const PHOTO_GRID_PHOTOS: [&str; 2] =
    ["real/gfpgan/whole/00.jpg", "real/gfpgan/whole/10045.png"];

/// Restores each whole photo as `face-deblur restore` does (every detected face cropped,
/// restored at working size, its change pasted back) and writes a grid with one row per face:
/// the face's crop region of the photo before | after, scaled to `tile` px.
pub fn render_photo_faces(
    restorer: &Restorer,
    detector: &FaceDetector,
    photos: &[PathBuf],
    out: &Path,
    tile: u32,
) -> Result<()> {
    let mut rows = Vec::new();
    for path in photos {
        let photo = load_photo(path).with_context(|| format!("reading {}", path.display()))?;
        let result = restore_photo(restorer, &photo, Some(detector), false, 1.0)
            .with_context(|| format!("restoring {}", path.display()))?;
        for face in &result.faces {
            let r = face.crop.face_in_photo;
            rows.push(vec![
                region_of(&photo.rgb_u8, r),
                region_of(&result.image, r),
            ]);
        }
    }
    write_rows(&rows, tile, out)
}

/// The part of `r` that lies inside `img` (a face's crop square may reach past the edge).
pub fn region_of(img: &RgbImage, r: PhotoRect) -> RgbImage {
    let x = r.x.clamp(0, i64::from(img.width()) - 1) as u32;
    let y = r.y.clamp(0, i64::from(img.height()) - 1) as u32;
    let w = r.width.min(img.width() - x);
    let h = r.height.min(img.height() - y);
    image::imageops::crop_imm(img, x, y, w, h).to_image()
}

/// White space between the tiles of a grid, px.
const GAP: u32 = 4;

/// Writes a grid with one row per entry of `rows`, each image scaled to a `tile`-px square,
/// atomically to `out` (PNG or JPEG by its extension).
pub fn write_rows(rows: &[Vec<RgbImage>], tile: u32, out: &Path) -> Result<()> {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0) as u32;
    let mut grid = RgbImage::from_pixel(
        cols * tile + (cols + 1) * GAP,
        rows.len() as u32 * (tile + GAP) + GAP,
        Rgb([255, 255, 255]),
    );
    for (row, images) in rows.iter().enumerate() {
        for (col, img) in images.iter().enumerate() {
            let small = image::imageops::resize(img, tile, tile, FilterType::Lanczos3);
            let x = GAP + col as u32 * (tile + GAP);
            let y = GAP + row as u32 * (tile + GAP);
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
