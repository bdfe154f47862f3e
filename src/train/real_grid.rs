//! Before/after grids of real blurred faces (no ground truth), rendered by `face-deblur eval`
//! so every evaluation shows what the model does to real photos next to its scores: aligned
//! face crops ([`render`]) and the faces of whole photos as `face-deblur restore` changes them
//! ([`render_photo_faces`]: detection, crop, restore, paste back).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use image::imageops::FilterType;
use image::{Rgb, RgbImage};

use crate::inference::Restorer;
use crate::pipeline::{FaceDetector, load_photo};
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
    let mut grid = blank_grid(faces.len(), tile);
    for (row, path) in faces.iter().enumerate() {
        let photo = load_photo(path).with_context(|| format!("reading {}", path.display()))?;
        let result = restore_photo(restorer, &photo, None, true, 1.0)
            .with_context(|| format!("restoring {}", path.display()))?;
        place_row(&mut grid, row, tile, [&photo.rgb_u8, &result.image]);
    }
    write_grid(&grid, out)
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
            let cut = |img: &RgbImage| {
                // The crop may reach past the photo's edge: clamp to the photo.
                let x = r.x.clamp(0, i64::from(img.width()) - 1) as u32;
                let y = r.y.clamp(0, i64::from(img.height()) - 1) as u32;
                let w = r.width.min(img.width() - x);
                let h = r.height.min(img.height() - y);
                image::imageops::crop_imm(img, x, y, w, h).to_image()
            };
            rows.push([cut(&photo.rgb_u8), cut(&result.image)]);
        }
    }
    let mut grid = blank_grid(rows.len(), tile);
    for (row, [before, after]) in rows.iter().enumerate() {
        place_row(&mut grid, row, tile, [before, after]);
    }
    write_grid(&grid, out)
}

/// White space between the tiles of a grid, px.
const GAP: u32 = 4;

/// A white grid for `rows` rows of two `tile`-px squares.
fn blank_grid(rows: usize, tile: u32) -> RgbImage {
    RgbImage::from_pixel(
        2 * tile + 3 * GAP,
        rows as u32 * (tile + GAP) + GAP,
        Rgb([255, 255, 255]),
    )
}

/// Puts `images` (before, after) side by side as row `row` of a grid of `tile`-px squares.
fn place_row(grid: &mut RgbImage, row: usize, tile: u32, images: [&RgbImage; 2]) {
    for (col, img) in images.into_iter().enumerate() {
        let small = image::imageops::resize(img, tile, tile, FilterType::Lanczos3);
        let x = GAP + col as u32 * (tile + GAP);
        let y = GAP + row as u32 * (tile + GAP);
        image::imageops::replace(grid, &small, i64::from(x), i64::from(y));
    }
}

/// Writes a grid atomically, PNG or JPEG by `out`'s extension.
fn write_grid(grid: &RgbImage, out: &Path) -> Result<()> {
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
