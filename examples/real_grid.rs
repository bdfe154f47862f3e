//! Before/after grids of real blurred faces restored with the shipped weights (for the README),
//! with the flip ensemble as `face-deblur restore` runs them.
//!
//! `cargo run --release --example real_grid -- OUT.jpg FACE...` — each FACE is an aligned face
//! crop; each row shows the input and the restoration (aligned mode), 256 px each.
//! `cargo run --release --example real_grid -- --photos OUT.jpg PHOTO...` — each PHOTO is a
//! whole photo; each row shows one detected face's crop region before and after restoring the
//! photo. `face-deblur eval` renders both for fixed inputs (`real_grid.jpg`, `photo_grid.jpg`).

use std::path::PathBuf;

use anyhow::{Context, Result};
use burn::prelude::*;
use face_deblur::inference::Restorer;
use face_deblur::pipeline::{DetectorConfig, FaceDetector};
use face_deblur::train::real_grid;
use face_deblur::weights;

fn main() -> Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let photos = args.first().is_some_and(|a| a == "--photos");
    if photos {
        args.remove(0);
    }
    let (out, inputs) = args
        .split_first()
        .context("usage: real_grid [--photos] OUT.jpg IMAGE...")?;
    let device = Device::flex();
    let restorer =
        Restorer::from_loaded(weights::load_shipped(&device)?, &device).with_flip_ensemble(true);
    let inputs: Vec<PathBuf> = inputs.iter().map(PathBuf::from).collect();
    if photos {
        let detector = FaceDetector::new(DetectorConfig::default())?;
        real_grid::render_photo_faces(&restorer, &detector, &inputs, out.as_ref(), 256)?;
    } else {
        real_grid::render(&restorer, &inputs, out.as_ref(), 256)?;
    }
    println!("wrote {out}");
    Ok(())
}
