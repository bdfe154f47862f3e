//! End-to-end tests of the whole-photo pipeline: detection on bundled photos, paste-back
//! locality, bad inputs, and metadata round trips.

mod common;
use common::{cmyk_jpeg, png_header_bomb};

use std::path::{Path, PathBuf};

use face_deblur::pipeline::metadata::{exif_orientation, minimal_exif_with_orientation};
use face_deblur::pipeline::{
    DEFAULT_MARGIN, DetectorConfig, FaceBox, FaceDetector, Photo, PhotoError, PhotoRect,
    crop_square, load_photo, paste_back, save_photo,
};
use image::metadata::Orientation;
use image::{DynamicImage, ExtendedColorType, ImageFormat, Rgb, RgbImage};
use img_parts::{ImageEXIF, ImageICC};

const ASSETS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets");

/// A fresh, empty scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("pipeline")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn detector() -> FaceDetector {
    FaceDetector::new(DetectorConfig::default()).unwrap()
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut bytes), format)
        .unwrap();
    bytes
}

#[test]
fn detector_finds_faces_in_bundled_photos() {
    let photo = load_photo(format!("{ASSETS}/photos/gfpgan_blake_lively.jpg")).unwrap();
    let faces = detector().detect(&photo.rgb_u8);
    assert_eq!(
        faces.len(),
        2,
        "the photo shows a child and an adult: {faces:?}"
    );
    assert!(faces.windows(2).all(|w| w[0].score >= w[1].score));

    // An aligned face crop pasted into a larger grey canvas is found where it was put.
    let face = load_photo(format!("{ASSETS}/faces/vqfr_elin_nordegren.jpg")).unwrap();
    let mut canvas = RgbImage::from_pixel(900, 600, Rgb([120, 120, 120]));
    image::imageops::overlay(&mut canvas, &face.rgb_u8, 400, 150);
    let placed = PhotoRect {
        x: 400,
        y: 150,
        width: face.width(),
        height: face.height(),
    };
    let faces = detector().detect(&canvas);
    let found = |f: &FaceBox| placed.contains(f.center().0 as i64, f.center().1 as i64);
    assert!(
        faces.iter().any(found),
        "face crop not found in canvas: {faces:?}"
    );
}

#[test]
fn paste_back_changes_only_pixels_inside_the_crop() {
    let photo = load_photo(format!("{ASSETS}/photos/gfpgan_10045.jpg")).unwrap();
    let faces = detector().detect(&photo.rgb_u8);
    let face = faces.first().expect("a face in the bundled photo");
    let crop = crop_square(&photo.rgb_u8, face, DEFAULT_MARGIN, 128).unwrap();
    let modified = RgbImage::from_fn(128, 128, |x, y| {
        let p = crop.image.get_pixel(x, y).0;
        Rgb([255 - p[0], p[1] / 2, if (x + y) % 2 == 0 { 255 } else { 0 }])
    });
    let mut result = photo.rgb_u8.clone();
    paste_back(&mut result, &crop, &modified, 1.0).unwrap();
    let r = crop.face_in_photo;
    let mut changed = 0;
    for (x, y, pixel) in result.enumerate_pixels() {
        if pixel != photo.rgb_u8.get_pixel(x, y) {
            let in_crop = r.contains(x.into(), y.into());
            assert!(in_crop, "pixel ({x}, {y}) outside {r:?} changed");
            changed += 1;
        }
    }
    assert!(
        changed > (r.width * r.height / 2) as usize,
        "only {changed} changed"
    );
}

#[test]
fn bad_and_unusual_inputs_give_photos_or_clear_errors() {
    let dir = scratch("bad_inputs");
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let gradient = RgbImage::from_fn(64, 48, |x, y| Rgb([(x * 4) as u8, (y * 5) as u8, 77]));
    let jpeg = encode(
        &DynamicImage::ImageRgb8(gradient.clone()),
        ImageFormat::Jpeg,
    );

    let error = |path: &Path| {
        let err = load_photo(path).unwrap_err();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            err.to_string().contains(&name),
            "{err} does not name {name}"
        );
        err
    };
    let truncated = write("truncated.jpg", &jpeg[..jpeg.len() / 2]);
    assert!(matches!(error(&truncated), PhotoError::Decode { .. }));
    let empty = write("empty.jpg", &[]);
    assert!(matches!(error(&empty), PhotoError::Empty { .. }));
    let text = write("notes.png", b"this is a text file, not a PNG\n");
    assert!(matches!(error(&text), PhotoError::Unsupported { .. }));
    let bomb = write("bomb.png", &png_header_bomb(20_000, 20_000));
    assert!(matches!(
        error(&bomb),
        PhotoError::TooLarge {
            width: 20_000,
            height: 20_000,
            ..
        }
    ));
    let missing = dir.join("missing.png");
    assert!(matches!(error(&missing), PhotoError::Io { .. }));

    let one = write(
        "one.png",
        &encode(&DynamicImage::new_rgb8(1, 1), ImageFormat::Png),
    );
    let photo = load_photo(&one).unwrap();
    assert_eq!(photo.rgb_u8.dimensions(), (1, 1));
    assert!(detector().detect(&photo.rgb_u8).is_empty());

    let deep = image::ImageBuffer::from_fn(40, 30, |x, y| {
        image::Rgb([(x * 1600) as u16, (y * 2100 + 7) as u16, 65535])
    });
    let deep_path = write("deep.png", &encode(&deep.clone().into(), ImageFormat::Png));
    let photo = load_photo(&deep_path).unwrap();
    assert_eq!(photo.source_color, ExtendedColorType::Rgb16);
    assert_eq!(
        &photo.rgb_u8,
        &DynamicImage::ImageRgb16(deep.clone()).to_rgb8()
    );
    // Saving keeps 16 bits: untouched pixels are bit-identical, a changed one is changed.
    let mut result = photo.rgb_u8.clone();
    result.put_pixel(3, 4, Rgb([1, 2, 3]));
    let deep_out = dir.join("deep_out.png");
    save_photo(&photo, &result, &deep_out).unwrap();
    let reloaded = load_photo(&deep_out)
        .unwrap()
        .original()
        .unwrap()
        .to_rgb16();
    assert_eq!(reloaded.get_pixel(10, 10), deep.get_pixel(10, 10));
    assert_eq!(reloaded.get_pixel(3, 4).0, [257, 514, 771]);

    let gray = image::GrayImage::from_fn(20, 20, |x, _| image::Luma([(x * 12) as u8]));
    let gray_path = write("gray.png", &encode(&gray.clone().into(), ImageFormat::Png));
    let photo = load_photo(&gray_path).unwrap();
    assert_eq!(photo.source_color, ExtendedColorType::L8);
    assert_eq!(photo.rgb_u8.get_pixel(5, 0).0, [60, 60, 60]);
    let gray_out = dir.join("gray_out.png");
    save_photo(&photo, &photo.rgb_u8, &gray_out).unwrap();
    assert_eq!(image::open(&gray_out).unwrap().to_luma8(), gray);

    let rgba = image::RgbaImage::from_fn(16, 16, |x, y| {
        image::Rgba([200, 10, 10, (x * 16 + y) as u8])
    });
    let rgba_path = write("rgba.png", &encode(&rgba.clone().into(), ImageFormat::Png));
    let photo = load_photo(&rgba_path).unwrap();
    assert_eq!(photo.source_color, ExtendedColorType::Rgba8);
    let mut result = photo.rgb_u8.clone();
    result.put_pixel(3, 5, Rgb([0, 0, 0]));
    for ext in ["png", "webp", "tiff"] {
        let out = dir.join(format!("rgba_out.{ext}"));
        save_photo(&photo, &result, &out).unwrap();
        let back = image::open(&out).unwrap().to_rgba8();
        assert_eq!(back.get_pixel(3, 5).0, [0, 0, 0, 53], "{ext}");
        assert_eq!(back.get_pixel(5, 7), rgba.get_pixel(5, 7), "{ext}");
    }

    let mut cmyk = img_parts::jpeg::Jpeg::from_bytes(cmyk_jpeg([255, 128, 0, 255]).into()).unwrap();
    let mut cmyk_icc = vec![0u8; 132];
    cmyk_icc[16..20].copy_from_slice(b"CMYK");
    cmyk.set_icc_profile(Some(cmyk_icc.into()));
    let cmyk_path = write("cmyk.jpg", &cmyk.encoder().bytes());
    let photo = load_photo(&cmyk_path).unwrap();
    assert_eq!(photo.source_color, ExtendedColorType::Cmyk8);
    let [r, g, b] = photo.rgb_u8.get_pixel(4, 4).0;
    assert!(
        r > 250 && (120..=136).contains(&g) && b < 5,
        "CMYK decoded as {r},{g},{b}"
    );
    let cmyk_out = dir.join("cmyk_out.jpg");
    save_photo(&photo, &photo.rgb_u8, &cmyk_out).unwrap();
    assert_eq!(
        load_photo(&cmyk_out).unwrap().icc,
        None,
        "CMYK profile put on RGB output"
    );

    // Never overwrite the input; unknown extensions are refused.
    let err = save_photo(&photo, &photo.rgb_u8, &cmyk_path).unwrap_err();
    assert!(matches!(err, PhotoError::WouldOverwriteInput { .. }));
    let err = save_photo(&photo, &photo.rgb_u8, dir.join("x.gif")).unwrap_err();
    assert!(matches!(err, PhotoError::Unsupported { .. }));
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn exif_and_icc_survive_with_orientation_reset() {
    let dir = scratch("metadata");
    // 60×30: left half red, right half blue. Orientation 6 (rotate 90° clockwise) → 30×60
    // with red on top.
    let stored = RgbImage::from_fn(60, 30, |x, _| {
        if x < 30 {
            Rgb([220, 20, 20])
        } else {
            Rgb([20, 20, 220])
        }
    });
    let mut jpeg =
        img_parts::jpeg::Jpeg::from_bytes(encode(&stored.into(), ImageFormat::Jpeg).into())
            .unwrap();
    let exif = minimal_exif_with_orientation(6, false);
    let mut icc = vec![0u8; 300];
    icc[16..20].copy_from_slice(b"RGB ");
    icc.iter_mut()
        .skip(128)
        .enumerate()
        .for_each(|(i, b)| *b = i as u8);
    jpeg.set_exif(Some(exif.clone().into()));
    jpeg.set_icc_profile(Some(icc.clone().into()));
    let input = dir.join("rotated.jpg");
    std::fs::write(&input, jpeg.encoder().bytes()).unwrap();

    let photo = load_photo(&input).unwrap();
    assert_eq!(photo.orientation, Orientation::Rotate90);
    assert_eq!(photo.rgb_u8.dimensions(), (30, 60));
    assert!(
        photo.rgb_u8.get_pixel(15, 5).0[0] > 180,
        "red should be on top"
    );
    assert_eq!(photo.icc.as_deref(), Some(icc.as_slice()));

    for ext in ["jpg", "png", "webp"] {
        let out = dir.join(format!("out.{ext}"));
        save_photo(&photo, &photo.rgb_u8, &out).unwrap();
        let bytes = std::fs::read(&out).unwrap().into();
        let parts = img_parts::DynImage::from_bytes(bytes).unwrap().unwrap();
        let exif_out = parts.exif().unwrap_or_else(|| panic!("{ext}: EXIF lost"));
        assert_eq!(exif_orientation(&exif_out), Some(1), "{ext}");
        assert_eq!(exif_out.len(), exif.len(), "{ext}");
        let differing = exif.iter().zip(exif_out.iter()).filter(|(a, b)| a != b);
        assert_eq!(
            differing.count(),
            1,
            "{ext}: only the orientation value may change"
        );
        let icc_out = parts.icc_profile();
        assert_eq!(
            icc_out.as_deref(),
            Some(icc.as_slice()),
            "{ext}: ICC changed"
        );
        // Loading the output again must not rotate a second time.
        let again = load_photo(&out).unwrap();
        assert_eq!(again.rgb_u8.dimensions(), (30, 60), "{ext}");
        assert_eq!(again.orientation, Orientation::NoTransforms, "{ext}");
    }
    let tiff = dir.join("out.tiff");
    save_photo(&photo, &photo.rgb_u8, &tiff).unwrap();
    assert_eq!(
        load_photo(&tiff).unwrap().icc.as_deref(),
        Some(icc.as_slice())
    );

    // In-memory photos (no metadata) save too.
    let plain = Photo::from_rgb(dir.join("none.png"), RgbImage::new(4, 4));
    save_photo(&plain, &plain.rgb_u8, dir.join("plain.bmp")).unwrap();
}

#[test]
fn folders_and_oversized_files_are_refused_before_reading() {
    let dir = scratch("not_a_photo");
    let folder = dir.join("photos.jpg");
    std::fs::create_dir_all(&folder).unwrap();
    let err = load_photo(&folder).unwrap_err();
    assert!(matches!(err, PhotoError::NotAFile { .. }), "{err:?}");
    assert!(err.to_string().contains("folder"), "{err}");

    // A sparse file one byte over the limit: refused by its size, without reading 1 GiB.
    let huge = dir.join("huge.tif");
    let file = std::fs::File::create(&huge).unwrap();
    file.set_len(face_deblur::pipeline::MAX_FILE_BYTES + 1)
        .unwrap();
    let start = std::time::Instant::now();
    let err = load_photo(&huge).unwrap_err();
    assert!(matches!(err, PhotoError::FileTooLarge { .. }), "{err:?}");
    assert!(err.to_string().contains("huge.tif"), "{err}");
    assert!(
        start.elapsed().as_secs() < 1,
        "refused without reading the file"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_save_paths_agree_and_only_a_confirmed_replace_overwrites_the_input() {
    use face_deblur::pipeline::{save_photo_over_input, save_photo_owned};
    let dir = scratch("save_paths");
    // A 16-bit RGBA photo on disk (decoded straight from the file), one pixel then changed.
    let rgba = image::ImageBuffer::<image::Rgba<u16>, Vec<u16>>::from_fn(40, 30, |x, y| {
        image::Rgba([
            x as u16 * 1601 + 3,
            y as u16 * 2003 + 5,
            40_001,
            20_000 + x as u16,
        ])
    });
    let input = dir.join("in.png");
    DynamicImage::ImageRgba16(rgba.clone())
        .save(&input)
        .unwrap();
    let photo = load_photo(&input).unwrap();
    let mut result = photo.rgb_u8.clone();
    result.put_pixel(7, 9, Rgb([1, 2, 3]));

    save_photo(&photo, &result, dir.join("a.png")).unwrap();
    save_photo_owned(photo.clone(), result.clone(), dir.join("b.png")).unwrap();
    let a = std::fs::read(dir.join("a.png")).unwrap();
    assert_eq!(a, std::fs::read(dir.join("b.png")).unwrap());
    let saved = image::load_from_memory(&a).unwrap().into_rgba16();
    for (x, y, pixel) in saved.enumerate_pixels() {
        if (x, y) == (7, 9) {
            assert_eq!(pixel.0, [257, 514, 771, 20_007], "converted, alpha kept");
        } else {
            assert_eq!(pixel, rgba.get_pixel(x, y), "({x}, {y}) keeps 16 bits");
        }
    }

    let original = std::fs::read(&input).unwrap();
    let err = save_photo(&photo, &result, &input).unwrap_err();
    assert!(
        matches!(err, PhotoError::WouldOverwriteInput { .. }),
        "{err}"
    );
    assert_eq!(std::fs::read(&input).unwrap(), original);
    save_photo_over_input(&photo, &result, &input).unwrap();
    assert_eq!(std::fs::read(&input).unwrap(), a, "replaced");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["a.png", "b.png", "in.png"],
        "no temporary file left"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
