//! `face-deblur restore` end to end: good photos are restored, bad ones are reported and
//! skipped, inputs are never overwritten, the exit code tells whether anything failed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use image::{DynamicImage, GenericImageView, ImageBuffer, ImageFormat, Luma, Rgb};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_face-deblur"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("face-deblur-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn asset_face() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/faces/gfpgan_adele.jpg")
}

fn save(img: &DynamicImage, path: &Path, format: ImageFormat) {
    img.save_with_format(path, format).unwrap();
}

#[test]
fn restore_reports_bad_files_and_processes_the_rest() {
    let dir = scratch("mixed");
    let inputs = dir.join("in");
    std::fs::create_dir_all(&inputs).unwrap();
    let face = image::open(asset_face()).expect("bundled face asset");

    // Good inputs, some unusual.
    std::fs::copy(asset_face(), inputs.join("a_face.jpg")).unwrap();
    save(
        &DynamicImage::ImageRgb16(face.to_rgb16()),
        &inputs.join("b_16bit.png"),
        ImageFormat::Png,
    );
    save(
        &DynamicImage::ImageLuma8(face.to_luma8()),
        &inputs.join("c_gray.png"),
        ImageFormat::Png,
    );
    save(
        &DynamicImage::ImageRgba8(face.to_rgba8()),
        &inputs.join("d_alpha.png"),
        ImageFormat::Png,
    );
    let one: ImageBuffer<Rgb<u8>, _> = ImageBuffer::from_pixel(1, 1, Rgb([120, 90, 80]));
    save(
        &DynamicImage::ImageRgb8(one),
        &inputs.join("e_1x1.png"),
        ImageFormat::Png,
    );
    std::fs::write(
        inputs.join("f_cmyk.jpg"),
        common::cmyk_jpeg([10, 80, 120, 20]),
    )
    .unwrap();

    // Bad inputs.
    let jpeg = std::fs::read(asset_face()).unwrap();
    std::fs::write(inputs.join("x_truncated.jpg"), &jpeg[..jpeg.len() / 3]).unwrap();
    std::fs::write(inputs.join("x_empty.jpg"), b"").unwrap();
    std::fs::write(inputs.join("x_text.png"), b"this is not a picture\n").unwrap();
    std::fs::write(
        inputs.join("x_bomb.png"),
        common::png_header_bomb(20000, 20000),
    )
    .unwrap();

    let out = dir.join("out");
    let run = bin()
        .args(["restore", "--aligned", "--backend", "cpu", "-o"])
        .arg(&out)
        .arg(&inputs)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        !run.status.success(),
        "bad files must make the exit code non-zero:\n{stderr}"
    );

    for good in [
        "a_face.jpg",
        "b_16bit.png",
        "c_gray.png",
        "d_alpha.png",
        "e_1x1.png",
        "f_cmyk.jpg",
    ] {
        let path = out.join(good);
        assert!(path.exists(), "{good} was not written:\n{stderr}");
        let written = image::open(&path).unwrap();
        let original = image::open(inputs.join(good)).unwrap();
        assert_eq!(
            written.dimensions(),
            original.dimensions(),
            "{good} changed size"
        );
    }
    // Each bad file gets one error line that names it and says what is wrong with it.
    for (bad, reason) in [
        ("x_truncated.jpg", "cannot decode the image"),
        ("x_empty.jpg", "the file is empty"),
        ("x_text.png", "unsupported"),
        ("x_bomb.png", "too large (20000×20000)"),
    ] {
        assert!(!out.join(bad).exists(), "{bad} should not be written");
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("error:") && l.contains(bad))
            .collect();
        assert_eq!(lines.len(), 1, "one error line for {bad}:\n{stderr}");
        assert!(
            lines[0].contains(reason),
            "the error for {bad} does not say \"{reason}\": {}",
            lines[0]
        );
    }
    assert!(stderr.contains("6 of 10 photos restored"), "{stderr}");
    // The restored face differs from the input (trained weights), the alpha survives.
    let a = image::open(inputs.join("a_face.jpg")).unwrap().to_rgb8();
    let b = image::open(out.join("a_face.jpg")).unwrap().to_rgb8();
    assert_ne!(a, b, "restoration changed nothing");
    let alpha = image::open(out.join("d_alpha.png")).unwrap();
    assert!(alpha.color().has_alpha(), "alpha channel dropped");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn restore_never_overwrites_its_input() {
    let dir = scratch("overwrite");
    let input = dir.join("face.png");
    save(
        &image::open(asset_face()).unwrap(),
        &input,
        ImageFormat::Png,
    );
    let before = std::fs::read(&input).unwrap();
    let run = bin()
        .args(["restore", "--aligned", "--backend", "cpu", "-o"])
        .arg(&input)
        .arg(&input)
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert_eq!(std::fs::read(&input).unwrap(), before, "input was modified");
    // Same folder as output: refused too.
    let run = bin()
        .args(["restore", "--aligned", "--backend", "cpu", "-o"])
        .arg(&dir)
        .arg(&input)
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert_eq!(std::fs::read(&input).unwrap(), before, "input was modified");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn restore_detects_faces_in_a_whole_photo() {
    let dir = scratch("whole");
    let photo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/photos/gfpgan_blake_lively.jpg");
    let out = dir.join("restored.png");
    let run = bin()
        .args(["restore", "--backend", "cpu", "-o"])
        .arg(&out)
        .arg(&photo)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    // The photo shows an adult and a child (`tests/pipeline.rs`): the CLI reports both.
    let report = stderr
        .lines()
        .find(|l| l.contains(" → "))
        .unwrap_or_else(|| panic!("no result line:\n{stderr}"));
    assert!(report.ends_with("(2 faces)"), "{report}");
    let a = image::open(&photo).unwrap().to_rgb8();
    let b = image::open(&out).unwrap().to_rgb8();
    assert_eq!(a.dimensions(), b.dimensions());
    assert_ne!(a, b);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_face_is_a_clear_error() {
    let dir = scratch("noface");
    let flat: ImageBuffer<Luma<u8>, _> = ImageBuffer::from_pixel(300, 200, Luma([128]));
    let input = dir.join("flat.png");
    save(&DynamicImage::ImageLuma8(flat), &input, ImageFormat::Png);
    let run = bin()
        .args(["restore", "--backend", "cpu", "-o"])
        .arg(dir.join("out.png"))
        .arg(&input)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(stderr.contains("no face found"), "{stderr}");
    assert!(!dir.join("out.png").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
