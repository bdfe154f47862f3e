//! Before/after grid of real blurred faces restored with the shipped weights (for the README).
//!
//! `cargo run --release --example real_grid -- OUT.jpg FACE...` — each FACE is an aligned face
//! crop; each row shows the input and the restoration (aligned mode), 256 px each.

use anyhow::{Context, Result};
use burn::prelude::*;
use face_deblur::inference::Restorer;
use face_deblur::pipeline::load_photo;
use face_deblur::restore::restore_photo;
use face_deblur::weights;
use image::imageops::FilterType;
use image::{Rgb, RgbImage};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (out, faces) = args
        .split_first()
        .context("usage: real_grid OUT.jpg FACE...")?;
    let device = Device::flex();
    let restorer = Restorer::from_loaded(weights::load_shipped(&device)?, &device);
    let tile = 256u32;
    let gap = 4u32;
    let mut grid = RgbImage::from_pixel(
        2 * tile + 3 * gap,
        faces.len() as u32 * (tile + gap) + gap,
        Rgb([255, 255, 255]),
    );
    for (row, path) in faces.iter().enumerate() {
        let photo = load_photo(path)?;
        let result = restore_photo(&restorer, &photo, None, true, 1.0)?;
        for (col, img) in [&photo.rgb_u8, &result.image].into_iter().enumerate() {
            let small = image::imageops::resize(img, tile, tile, FilterType::Lanczos3);
            let x = gap + col as u32 * (tile + gap);
            let y = gap + row as u32 * (tile + gap);
            image::imageops::replace(&mut grid, &small, x as i64, y as i64);
        }
    }
    grid.save(out)?;
    println!("wrote {out}");
    Ok(())
}
