//! Helpers shared by `benches/restore.rs` and the benchmark examples
//! (`examples/make_bench_photo.rs`): test inputs built at run time, and the wgpu probe.
//!
//! Included with `#[path]`/`mod common;`, so not every user calls every function.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use image::imageops::FilterType;
use image::{ImageReader, RgbImage};

/// The package root (benches and examples run with it as the working directory under cargo,
/// but this does not depend on that).
pub fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The photo the whole-photo benchmark is made from: a scanned family photo with three faces.
pub fn source_photo() -> PathBuf {
    manifest_dir().join("assets/photos/gfpgan_10045.jpg")
}

/// An aligned face used as the per-face input.
pub fn source_face() -> PathBuf {
    manifest_dir().join("assets/faces/gfpgan_adele.jpg")
}

/// Pixels of the large test photo (a 24-megapixel camera, e.g. 6000×4000).
pub const TARGET_PIXELS: f64 = 24.0e6;

/// Decode an image file as 8-bit RGB.
pub fn read_rgb(path: &Path) -> RgbImage {
    ImageReader::open(path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()))
        .decode()
        .unwrap_or_else(|e| panic!("cannot decode {}: {e}", path.display()))
        .to_rgb8()
}

/// The aligned test face resized to `size`².
pub fn face(size: u32) -> RgbImage {
    image::imageops::resize(
        &read_rgb(&source_face()),
        size,
        size,
        FilterType::CatmullRom,
    )
}

/// Upscale [`source_photo`] (keeping its aspect ratio) to about [`TARGET_PIXELS`] and write it
/// to `out` as a quality-90 JPEG. Returns the photo's size.
pub fn make_large_photo(out: &Path) -> (u32, u32) {
    let src = read_rgb(&source_photo());
    let scale = (TARGET_PIXELS / (src.width() as f64 * src.height() as f64)).sqrt();
    let (w, h) = (
        (src.width() as f64 * scale).round() as u32,
        (src.height() as f64 * scale).round() as u32,
    );
    let big = image::imageops::resize(&src, w, h, FilterType::Triangle);
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    }
    let file = std::fs::File::create(out)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", out.display()));
    let mut writer = std::io::BufWriter::new(file);
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut writer, 90)
        .encode_image(&big)
        .unwrap_or_else(|e| panic!("cannot encode {}: {e}", out.display()));
    (w, h)
}

/// Whether a wgpu adapter exists (any, software included). `FACE_DEBLUR_SKIP_WGPU` set in
/// the environment means no. Creating the device panics in Burn when there is no adapter.
pub fn wgpu_available() -> Result<(), String> {
    if std::env::var_os("FACE_DEBLUR_SKIP_WGPU").is_some() {
        return Err("FACE_DEBLUR_SKIP_WGPU is set".into());
    }
    let probe = std::panic::catch_unwind(|| {
        let d = burn::prelude::Device::wgpu(burn::tensor::DeviceKind::DefaultDevice);
        let t = burn::prelude::Tensor::<1>::from_floats([1.0, 2.0], &d);
        t.sum().into_scalar::<f32>()
    });
    match probe {
        Ok(_) => Ok(()),
        Err(_) => Err("no wgpu adapter (install mesa-vulkan-drivers for lavapipe)".into()),
    }
}

/// What the default wgpu adapter probably is, for the printout: the first hardware GPU if
/// there is one, else a software adapter (lavapipe, WARP).
pub fn wgpu_description() -> String {
    match face_deblur::inference::hardware_gpu() {
        Some((_, description)) => description,
        None => "software adapter only (e.g. lavapipe: a CPU rasteriser, not a GPU)".into(),
    }
}

/// `d` in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Median of `v` (sorted in place); NaN for an empty slice.
pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}
