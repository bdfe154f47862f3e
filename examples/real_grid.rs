//! Before/after grid of real blurred faces restored with the shipped weights (for the README).
//!
//! `cargo run --release --example real_grid -- OUT.jpg FACE...` — each FACE is an aligned face
//! crop; each row shows the input and the restoration (aligned mode), 256 px each. The same
//! grid of a fixed set of faces is rendered by `face-deblur eval` (`real_grid.jpg`).

use std::path::PathBuf;

use anyhow::{Context, Result};
use burn::prelude::*;
use face_deblur::inference::Restorer;
use face_deblur::train::real_grid;
use face_deblur::weights;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (out, faces) = args
        .split_first()
        .context("usage: real_grid OUT.jpg FACE...")?;
    let device = Device::flex();
    let restorer = Restorer::from_loaded(weights::load_shipped(&device)?, &device);
    let faces: Vec<PathBuf> = faces.iter().map(PathBuf::from).collect();
    real_grid::render(&restorer, &faces, out.as_ref(), 256)?;
    println!("wrote {out}");
    Ok(())
}
