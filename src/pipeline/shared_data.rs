//! Detector measurements on the research data (ignored tests; run by hand with
//! `FACE_DEBLUR_SHARED=../shared cargo test --release --lib pipeline::shared_data -- --ignored
//! --nocapture`).
//!
//! - `recall_on_shared_data`: per folder of `$FACE_DEBLUR_SHARED/data/real`, faces found per whole
//!   photo and the fraction of aligned face crops (one face each) where a face is found, at
//!   several score thresholds.
//! - `framing_on_training_crops`: where the detector box sits inside CelebA / UTKFace training
//!   crops, to choose the crop margin and centre shift.
//! - `render_detections`: draws boxes (green) and crop squares (red) on the whole photos into
//!   `/tmp/face-deblur-detections/` for looking at.
//! - `round_trip_real_photos`: saves every whole photo in its own format and checks that size,
//!   ICC and EXIF (orientation 1) survive.
//! - `make_assets`: re-creates the small Apache-2.0 test photos in `assets/` (see its README).

use std::path::{Path, PathBuf};
use std::time::Instant;

use image::{Rgb, RgbImage};

use super::crop::{DEFAULT_MARGIN, square_around};
use super::detect::{DetectorConfig, FaceBox, FaceDetector};
use super::io::load_photo;

/// `$FACE_DEBLUR_SHARED/data/real`: the real photos and aligned crops.
fn real() -> PathBuf {
    crate::shared::dir("data").join("real")
}
const THRESHOLDS: [f32; 5] = [0.5, 1.0, 2.0, 3.0, 3.85];

fn image_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    files.retain(|p| {
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
        matches!(ext.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png")
    });
    files.sort();
    files
}

/// A detector that keeps everything down to the lowest threshold we report.
fn permissive_detector() -> FaceDetector {
    let config = DetectorConfig {
        score_threshold: f64::from(THRESHOLDS[0]),
        ..DetectorConfig::default()
    };
    FaceDetector::new(config).unwrap()
}

fn count_at(faces: &[FaceBox], threshold: f32) -> usize {
    faces.iter().filter(|f| f.score >= threshold).count()
}

#[test]
#[ignore = "needs FACE_DEBLUR_SHARED; prints measurements"]
fn recall_on_shared_data() {
    let detector = permissive_detector();
    println!("defaults: {:?}", DetectorConfig::default());
    println!("thresholds: {THRESHOLDS:?}");
    let mut folders: Vec<PathBuf> = std::fs::read_dir(real())
        .unwrap()
        .filter_map(|e| Some(e.ok()?.path()))
        .collect();
    folders.sort();
    for folder in folders {
        let name = folder.file_name().unwrap().to_string_lossy().into_owned();
        for file in image_files(&folder.join("whole")) {
            let photo = load_photo(&file).unwrap();
            let start = Instant::now();
            let faces = detector.detect(&photo.rgb_u8);
            let counts: Vec<usize> = THRESHOLDS.iter().map(|&t| count_at(&faces, t)).collect();
            println!(
                "{name}/whole/{} {}x{} {:?} exif {} icc {} {:?}: faces per threshold {counts:?} ({:.2} s)",
                file.file_name().unwrap().to_string_lossy(),
                photo.width(),
                photo.height(),
                photo.source_color,
                photo.exif.as_ref().map_or(0, Vec::len),
                photo.icc.as_ref().map_or(0, Vec::len),
                photo.orientation,
                start.elapsed().as_secs_f32()
            );
        }
        for sub in ["faces", "gray_faces"] {
            let files = image_files(&folder.join(sub));
            if files.is_empty() {
                continue;
            }
            let mut found = [0usize; THRESHOLDS.len()];
            let mut missed = Vec::new();
            for file in &files {
                let photo = load_photo(file).unwrap();
                let faces = detector.detect(&photo.rgb_u8);
                for (slot, &t) in found.iter_mut().zip(&THRESHOLDS) {
                    *slot += usize::from(count_at(&faces, t) > 0);
                }
                if count_at(&faces, DetectorConfig::default().score_threshold as f32) == 0 {
                    missed.push(file.file_name().unwrap().to_string_lossy().into_owned());
                }
            }
            let fractions: Vec<String> = found
                .iter()
                .map(|&n| {
                    format!(
                        "{n}/{} = {:.0}%",
                        files.len(),
                        100.0 * n as f32 / files.len() as f32
                    )
                })
                .collect();
            println!(
                "{name}/{sub}: crops with a face per threshold {fractions:?}; missed at default: {missed:?}"
            );
        }
    }
}

#[test]
#[ignore = "needs FACE_DEBLUR_SHARED; prints measurements"]
fn framing_on_training_crops() {
    let detector = FaceDetector::new(DetectorConfig::default()).unwrap();
    let sets = [
        ("celeba", "faces/celeba/test", true),
        ("utkface", "faces/utkface", false),
    ];
    for (name, sub, nested) in sets {
        let root = crate::shared::dir("data").join(sub);
        let mut files = Vec::new();
        if nested {
            for dir in std::fs::read_dir(&root)
                .unwrap()
                .filter_map(|e| Some(e.ok()?.path()))
            {
                files.extend(image_files(&dir));
            }
        } else {
            files = image_files(&root);
        }
        files.sort();
        files.truncate(300);
        let (mut size, mut cx, mut cy, mut found) = (Vec::new(), Vec::new(), Vec::new(), 0);
        for file in &files {
            let photo = load_photo(file).unwrap();
            // Training framing: the centred square of the crop.
            let side = photo.width().min(photo.height());
            let top = (photo.height() - side) / 2;
            let left = (photo.width() - side) / 2;
            let square = image::imageops::crop_imm(&photo.rgb_u8, left, top, side, side).to_image();
            let Some(face) = detector.detect(&square).first().copied() else {
                continue;
            };
            found += 1;
            let s = side as f32;
            size.push(face.w.max(face.h) / s);
            cx.push(face.center().0 / s);
            cy.push((face.center().1 - 0.5 * s) / face.h);
        }
        let median = |v: &mut Vec<f32>| {
            v.sort_by(f32::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(f32::NAN)
        };
        let box_frac = median(&mut size);
        println!(
            "{name}: found {found}/{} ; median box side / crop side {box_frac:.3} (margin {:.2}); \
             centre x {:.3} of side; crop centre is {:.3} box heights above the box centre",
            files.len(),
            1.0 / box_frac,
            median(&mut cx),
            median(&mut cy),
        );
    }
}

fn draw_rect(image: &mut RgbImage, x0: i64, y0: i64, w: i64, h: i64, color: Rgb<u8>) {
    let (width, height) = (i64::from(image.width()), i64::from(image.height()));
    let thickness = (width.max(height) / 400).max(2);
    let mut put = |x: i64, y: i64| {
        if (0..width).contains(&x) && (0..height).contains(&y) {
            image.put_pixel(x as u32, y as u32, color);
        }
    };
    for t in 0..thickness {
        for x in x0..x0 + w {
            put(x, y0 + t);
            put(x, y0 + h - 1 - t);
        }
        for y in y0..y0 + h {
            put(x0 + t, y);
            put(x0 + w - 1 - t, y);
        }
    }
}

#[test]
#[ignore = "needs FACE_DEBLUR_SHARED; writes PNGs to /tmp/face-deblur-detections"]
fn render_detections() {
    let detector = FaceDetector::new(DetectorConfig::default()).unwrap();
    let out_dir = Path::new("/tmp/face-deblur-detections");
    std::fs::create_dir_all(out_dir).unwrap();
    for folder in std::fs::read_dir(real())
        .unwrap()
        .filter_map(|e| Some(e.ok()?.path()))
    {
        for file in image_files(&folder.join("whole")) {
            let photo = load_photo(&file).unwrap();
            let mut canvas = photo.rgb_u8.clone();
            for face in detector.detect(&photo.rgb_u8) {
                let r = square_around(&face, DEFAULT_MARGIN);
                draw_rect(
                    &mut canvas,
                    r.x,
                    r.y,
                    r.width.into(),
                    r.height.into(),
                    Rgb([255, 0, 0]),
                );
                let (x, y) = (face.x as i64, face.y as i64);
                draw_rect(
                    &mut canvas,
                    x,
                    y,
                    face.w as i64,
                    face.h as i64,
                    Rgb([0, 255, 0]),
                );
            }
            let scale = 1024.0 / canvas.width().max(canvas.height()) as f32;
            if scale < 1.0 {
                let (w, h) = (
                    canvas.width() as f32 * scale,
                    canvas.height() as f32 * scale,
                );
                let filter = image::imageops::FilterType::Triangle;
                canvas = image::imageops::resize(&canvas, w as u32, h as u32, filter);
            }
            let name = format!(
                "{}_{}.png",
                folder.file_name().unwrap().to_string_lossy(),
                file.file_stem().unwrap().to_string_lossy()
            );
            canvas.save(out_dir.join(name)).unwrap();
        }
    }
}

/// (source under `real()`, destination under `assets/`, longest side after downscaling).
const ASSETS: [(&str, &str, u32); 5] = [
    (
        "gfpgan/whole/Blake_Lively.jpg",
        "photos/gfpgan_blake_lively.jpg",
        700,
    ),
    ("gfpgan/whole/00.jpg", "photos/gfpgan_00.jpg", 640),
    ("gfpgan/whole/10045.png", "photos/gfpgan_10045.jpg", 560),
    (
        "vqfr/faces/Elin_Nordegren_0001_00_lq.png",
        "faces/vqfr_elin_nordegren.jpg",
        256,
    ),
    ("gfpgan/faces/Adele_crop.png", "faces/gfpgan_adele.jpg", 256),
];

#[test]
#[ignore = "needs FACE_DEBLUR_SHARED; rewrites files in assets/"]
fn make_assets() {
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    for (source, destination, longest) in ASSETS {
        let photo = load_photo(real().join(source)).unwrap();
        let scale = (longest as f32 / photo.width().max(photo.height()) as f32).min(1.0);
        let (w, h) = (photo.width() as f32 * scale, photo.height() as f32 * scale);
        let filter = image::imageops::FilterType::Lanczos3;
        let small =
            image::imageops::resize(&photo.rgb_u8, w.round() as u32, h.round() as u32, filter);
        let out = assets.join(destination);
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        let mut bytes = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 85)
            .encode_image(&small)
            .unwrap();
        assert!(
            bytes.len() <= 100_000,
            "{destination} is {} bytes",
            bytes.len()
        );
        std::fs::write(&out, &bytes).unwrap();
        println!(
            "{destination}: {}x{}, {} bytes",
            small.width(),
            small.height(),
            bytes.len()
        );
    }
}

#[test]
#[ignore = "needs FACE_DEBLUR_SHARED; writes to /tmp/face-deblur-roundtrip"]
fn round_trip_real_photos() {
    let out_dir = Path::new("/tmp/face-deblur-roundtrip");
    std::fs::create_dir_all(out_dir).unwrap();
    for folder in std::fs::read_dir(real())
        .unwrap()
        .filter_map(|e| Some(e.ok()?.path()))
    {
        for file in image_files(&folder.join("whole")) {
            let photo = load_photo(&file).unwrap();
            let ext = file
                .extension()
                .unwrap()
                .to_string_lossy()
                .to_ascii_lowercase();
            let out = out_dir.join(format!("out.{ext}"));
            let start = Instant::now();
            super::save::save_photo(&photo, &photo.rgb_u8, &out).unwrap();
            let saved_in = start.elapsed().as_secs_f32();
            let again = load_photo(&out).unwrap();
            assert_eq!(again.rgb_u8.dimensions(), photo.rgb_u8.dimensions());
            assert_eq!(again.icc, photo.icc, "{}", file.display());
            let orientation = again
                .exif
                .as_deref()
                .and_then(super::metadata::exif_orientation);
            assert!(matches!(orientation, None | Some(1)), "{}", file.display());
            assert_eq!(
                again.exif.is_some(),
                photo.exif.is_some(),
                "{}",
                file.display()
            );
            println!("{}: saved in {saved_in:.2} s", file.display());
        }
    }
}
