//! The shipped weights restore a bundled face better than its blurred input, as a 128² face
//! and through the whole-photo path (detection, crop, restore, paste back).
//!
//! The sharp reference is a bundled Apache-2.0 face (assets/faces); it is blurred with fixed
//! synthetic camera-shake kernels and restored with the weights embedded in the binary.

use burn::prelude::*;
use face_deblur::inference::Restorer;
use face_deblur::pipeline::{DetectorConfig, FaceDetector, Photo};
use face_deblur::restore::restore_photo;
use face_deblur::train::blur::{blur_rgb, synthetic_kernel};
use face_deblur::train::metrics::psnr;
use face_deblur::train::report::{rgb_to_unit_chw, unit_chw_to_rgb};
use face_deblur::weights;
use image::imageops::FilterType;
use rand::SeedableRng;

/// Minimum mean PSNR gain (dB) the shipped weights must reach. Raise it as training improves.
const MIN_GAIN_DB: f64 = 1.2;

/// The weights embedded in the binary, on the CPU, one pass per face.
fn shipped_restorer() -> Restorer {
    let device = Device::flex();
    Restorer::from_loaded(weights::load_shipped(&device).unwrap(), &device)
}

/// Fails unless the mean of `gains` (dB) reaches `floor`.
fn assert_mean_gain(gains: &[f64], floor: f64) {
    let mean = gains.iter().sum::<f64>() / gains.len() as f64;
    assert!(
        mean >= floor,
        "mean PSNR gain {mean:.2} dB < {floor} dB ({gains:?})"
    );
}

#[test]
fn shipped_weights_restore_a_blurred_face_better_than_the_input() {
    let restorer = shipped_restorer();
    assert!(restorer.is_trained(), "shipped weights must be trained");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/faces");
    let mut gains = Vec::new();
    for name in ["gfpgan_adele.jpg", "vqfr_elin_nordegren.jpg"] {
        let face = image::open(dir.join(name)).unwrap().to_rgb8();
        let sharp_img = image::imageops::resize(&face, 128, 128, FilterType::Lanczos3);
        let sharp = rgb_to_unit_chw(&sharp_img);
        for (seed, size) in [(1u64, 15usize), (2, 21)] {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let kernel = synthetic_kernel(&mut rng, size);
            // Quantise the blurred face to 8 bits, as a real photo would be.
            let blurred_img = unit_chw_to_rgb(&blur_rgb(&sharp, 3, 128, 128, &kernel), 128);
            let blurred = rgb_to_unit_chw(&blurred_img);
            let restored = rgb_to_unit_chw(&restorer.restore(&blurred_img).image);
            let before = psnr(&blurred, &sharp, 3, 128, 128);
            let after = psnr(&restored, &sharp, 3, 128, 128);
            println!("{name}, {size} px kernel: {before:.2} → {after:.2} dB");
            gains.push(after - before);
        }
    }
    assert_mean_gain(&gains, MIN_GAIN_DB);
}

/// Minimum mean PSNR gain (dB) of the whole-photo path on faces larger than the working size.
const MIN_PHOTO_GAIN_DB: f64 = 1.0;

#[test]
fn whole_photo_path_carries_the_restoration_into_a_larger_face() {
    // The face is 256² (detector crop ≈ 190 px, restored at 128² and the change upscaled):
    // the path every photo takes whose faces are not exactly the working size.
    let restorer = shipped_restorer();
    let detector = FaceDetector::new(DetectorConfig::default()).unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/faces");
    let mut gains = Vec::new();
    for name in ["gfpgan_adele.jpg", "vqfr_elin_nordegren.jpg"] {
        let sharp_img = image::open(dir.join(name)).unwrap().to_rgb8();
        let (w, h) = (sharp_img.width() as usize, sharp_img.height() as usize);
        let sharp = rgb_to_unit_chw(&sharp_img);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let kernel = synthetic_kernel(&mut rng, 27);
        let blurred_img = unit_chw_to_rgb(&blur_rgb(&sharp, 3, h, w, &kernel), w);
        let photo = Photo::from_rgb("blurred.png", blurred_img.clone());
        let result = restore_photo(&restorer, &photo, Some(&detector), false, 1.0).unwrap();
        assert_eq!(result.faces.len(), 1, "{name}: one face found");
        let region = result.faces[0].crop.face_in_photo;
        assert!(
            region.width > 160,
            "{name}: crop {region:?} larger than the working size"
        );
        let before = psnr(&rgb_to_unit_chw(&blurred_img), &sharp, 3, h, w);
        let after = psnr(&rgb_to_unit_chw(&result.image), &sharp, 3, h, w);
        println!("{name} as a photo, 27 px kernel: {before:.2} → {after:.2} dB");
        gains.push(after - before);
    }
    assert_mean_gain(&gains, MIN_PHOTO_GAIN_DB);
}
