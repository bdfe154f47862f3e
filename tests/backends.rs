//! The restorer on any image size, and the wgpu backend agreeing with the CPU backend.

mod common;

use burn::module::Module;
use burn::prelude::*;
use common::Noise;
use face_deblur::inference::Restorer;
use face_deblur::model::{GeneratorConfig, TeacherKind};
use face_deblur::weights::WeightsInfo;
use image::RgbImage;

fn tiny() -> GeneratorConfig {
    GeneratorConfig::new([4, 8, 8], [4, 6, 8], 1, 1, 1, 1)
}

fn restorer(device: &Device) -> Restorer {
    let info = WeightsInfo {
        generator: tiny(),
        teacher: TeacherKind::FaceResnet,
        trained_steps: 1,
        notes: String::new(),
    };
    Restorer::from_parts(
        tiny().init(device).map(&mut Noise),
        Vec::new(),
        info,
        device,
    )
}

fn test_image(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            (x * 7 % 256) as u8,
            (y * 11 % 256) as u8,
            ((x + y) * 3 % 256) as u8,
        ])
    })
}

#[test]
fn any_image_size_is_padded_and_cropped_back() {
    let device = Device::flex();
    let r = restorer(&device);
    for (w, h) in [(1, 1), (13, 7), (30, 33), (64, 64)] {
        let out = r.restore(&test_image(w, h));
        assert_eq!(out.image.dimensions(), (w, h));
        assert_eq!(out.priors.len(), 3);
        assert_eq!(
            out.priors[0].size,
            [(h as usize).div_ceil(4) * 4, (w as usize).div_ceil(4) * 4]
        );
    }
    // Batching faces of different sizes gives the same result as one at a time.
    let a = test_image(13, 7);
    let b = test_image(30, 33);
    let batch = r.restore_batch(&[a.clone(), b.clone(), a.clone()]);
    assert_eq!(batch[0].image, r.restore(&a).image);
    assert_eq!(batch[1].image, r.restore(&b).image);
    assert_eq!(batch[2].image, batch[0].image);
    // The image-only path (CLI) gives the same pixels without the inspector's maps.
    let images = r.restore_images(&[a.clone(), b.clone()]);
    assert_eq!(images, vec![batch[0].image.clone(), batch[1].image.clone()]);
}

/// wgpu on whatever adapter exists (lavapipe in CI) computes what the CPU backend computes.
#[test]
fn wgpu_matches_the_cpu_backend() {
    if std::env::var_os("FACE_DEBLUR_SKIP_WGPU").is_some() {
        eprintln!("skipped: FACE_DEBLUR_SKIP_WGPU is set");
        return;
    }
    let has_adapter = std::panic::catch_unwind(|| {
        let d = Device::wgpu(burn::tensor::DeviceKind::DefaultDevice);
        let t = Tensor::<1>::from_floats([1.0, 2.0], &d);
        t.sum().into_scalar::<f32>()
    });
    if has_adapter.is_err() {
        eprintln!("skipped: no wgpu adapter (install mesa-vulkan-drivers for lavapipe)");
        return;
    }
    let cpu = Device::flex();
    let gpu = Device::wgpu(burn::tensor::DeviceKind::DefaultDevice);
    let model = tiny().init(&cpu).map(&mut Noise);
    let x = Tensor::<4>::random(
        [2, 3, 16, 12],
        burn::tensor::Distribution::Uniform(-0.9, 0.9),
        &cpu,
    );
    let a: Vec<f32> = model
        .forward(x.clone())
        .image
        .into_data()
        .try_to_vec()
        .unwrap();
    let model_gpu = model.to_device(&gpu);
    let b: Vec<f32> = model_gpu
        .forward(x.to_device(&gpu))
        .image
        .into_data()
        .try_to_vec()
        .unwrap();
    let max = a
        .iter()
        .zip(&b)
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f32::max);
    assert!(max < 1e-3, "wgpu and CPU outputs differ by {max}");
}

#[test]
fn half_precision_restores_within_a_few_levels_of_f32_with_the_shipped_weights() {
    let device = Device::flex();
    let full = face_deblur::cli::load_restorer(None, &device).unwrap();
    let half = face_deblur::cli::load_restorer(None, &device)
        .unwrap()
        .with_half_precision();
    assert!(half.is_half() && !full.is_half());
    let face = image::open(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/faces/gfpgan_adele.jpg"
    ))
    .unwrap()
    .resize_exact(128, 128, image::imageops::FilterType::Triangle)
    .to_rgb8();
    let (a, b) = (full.restore(&face), half.restore(&face));
    let diffs: Vec<u8> = a
        .image
        .pixels()
        .zip(b.image.pixels())
        .flat_map(|(p, q)| (0..3).map(move |c| p[c].abs_diff(q[c])))
        .collect();
    let worst = *diffs.iter().max().unwrap();
    let over_one = diffs.iter().filter(|&&d| d > 1).count();
    println!(
        "f16 vs f32: worst {worst} levels, {over_one} of {} values differ by more than 1",
        diffs.len()
    );
    // f16 keeps ~3 decimal digits: nearly every value within one level, a rare outlier a few.
    // The outliers moved with training (step 9500: worst 3, 0.21 % of values more than one
    // level apart; 14100: worst 5, 0.39 %; 16400: worst 6, 0.32 %; 18000: worst 5, 0.19 %;
    // 25600 with the flip ensemble: worst 7, 0.25 %),
    // and another CPU's f32 kernels round differently, so the bound on the single worst value
    // is 8 levels; the share of values off by more than one stays bounded at 1 %.
    assert!(worst <= 8, "f16 differs from f32 by {worst} levels");
    assert!(
        over_one * 100 <= diffs.len(),
        "{over_one} of {} values differ by more than one level",
        diffs.len()
    );
    // The network changed the face, so the comparison is not of two copies of the input.
    assert_ne!(a.image, face);
    assert_eq!(a.priors.len(), b.priors.len());
    for (p, q) in a.priors.iter().zip(&b.priors) {
        let scale = p
            .values
            .iter()
            .fold(0.0f32, |m, v| m.max(v.abs()))
            .max(1e-6);
        let err = p
            .values
            .iter()
            .zip(&q.values)
            .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
        // The inspector draws these maps; f16 keeps their largest error under a tenth of their
        // range (step-25600 weights: 7.4 % on P̂2, whose values reach ±10; 18000: 7.9 %;
        // 16400: 7.8 %; 14100: 8.6 %; 9500: 4.6 %).
        println!(
            "P̂{}: f16 error {:.1} % of the range",
            p.level,
            100.0 * err / scale
        );
        assert!(
            err / scale < 0.1,
            "P̂{} differs by {err} (scale {scale})",
            p.level
        );
        assert_eq!(p.channel_weights.is_some(), q.channel_weights.is_some());
    }
}
