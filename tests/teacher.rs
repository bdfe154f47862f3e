//! The face-recognition ResNet embedded in the binary reproduces the reference test vector
//! shipped beside it in `weights/` (dlib-aligned chip of a public-domain NASA photo).

use std::path::Path;

use burn::prelude::*;
use face_deblur::model::teacher::FaceResnet;
use face_deblur::model::tensors::TensorFile;

fn weights_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/weights"))
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn face_resnet_reproduces_the_astronaut_test_vector() {
    let device = Device::flex();
    let net = FaceResnet::shipped(&device).expect("load the embedded face ResNet");
    let tv =
        TensorFile::open(&weights_dir().join("faceapi_resnet_testvectors_astronaut.safetensors"))
            .expect("test vectors");
    for (input, expected) in [
        ("input_rgb_u8_hwc", "expected_embedding"),
        ("input_blur_sigma2_rgb_u8_hwc", "expected_embedding_blur"),
    ] {
        let hwc = tv.tensor::<3>(input, [150, 150, 3], &device).unwrap();
        let x = net.normalize_rgb255(hwc.permute([2, 0, 1]).unsqueeze::<4>());
        let feats = net.forward(x);
        let emb: Vec<f32> = feats.embedding.into_data().try_to_vec().unwrap();
        let want = tv.get(expected, &[128]).unwrap();
        let dist: f32 = emb
            .iter()
            .zip(want)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f32>()
            .sqrt();
        assert!(dist < 2e-3, "{expected}: L2 distance {dist}");
        if input == "input_rgb_u8_hwc" {
            for (name, t, shape) in [
                ("conv32_down", feats.conv32_down, [32, 72, 72]),
                ("conv32_3", feats.conv32_3, [32, 35, 35]),
                ("conv64_3", feats.conv64_3, [64, 17, 17]),
                ("conv128_2", feats.conv128_2, [128, 8, 8]),
            ] {
                assert_eq!(t.dims()[1..], shape[..], "{name} shape");
                let got: Vec<f32> = t.into_data().try_to_vec().unwrap();
                let want = tv.get(&format!("expected_feat.{name}"), &shape).unwrap();
                let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                let diff = max_abs_diff(&got, want);
                assert!(
                    diff < 2e-2 * scale.max(1.0),
                    "{name}: max diff {diff} (scale {scale})"
                );
            }
        }
    }
}
