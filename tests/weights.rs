//! The weight file: round trip, and clear errors for missing, truncated or mismatched files.

mod common;

use burn::prelude::*;
use common::Noise;
use face_deblur::model::{DiscriminatorConfig, GeneratorConfig, TeacherKind};
use face_deblur::weights::{self, WeightsError, WeightsInfo};

fn tiny() -> GeneratorConfig {
    GeneratorConfig::new([4, 8, 8], [4, 6, 8], 1, 1, 1, 1)
}

fn info(config: GeneratorConfig) -> WeightsInfo {
    WeightsInfo {
        generator: config,
        teacher: TeacherKind::FaceResnet,
        trained_steps: 7,
        notes: "test".into(),
    }
}

fn perturbed_generator(device: &Device) -> face_deblur::model::Generator {
    use burn::module::Module;
    tiny().init(device).map(&mut Noise)
}

#[test]
fn save_then_load_gives_identical_outputs_and_metadata() {
    let device = Device::flex();
    let dir = tempdir();
    let path = dir.join("w.safetensors");
    let generator = perturbed_generator(&device);
    let disc = DiscriminatorConfig::new([4, 6, 8], [4, 4, 4]).init(&device);
    weights::save(&path, &generator, Some(&disc), &info(tiny())).unwrap();

    let loaded = weights::load(&path, &device).unwrap();
    assert_eq!(loaded.info, info(tiny()));
    assert_eq!(loaded.modules.attention.len(), 3);
    let x = Tensor::<4>::random([1, 3, 12, 8], burn::tensor::Distribution::Default, &device);
    let a: Vec<f32> = generator
        .forward(x.clone())
        .image
        .into_data()
        .try_to_vec()
        .unwrap();
    let b: Vec<f32> = loaded
        .modules
        .generator
        .forward(x.clone())
        .image
        .into_data()
        .try_to_vec()
        .unwrap();
    assert_eq!(a, b);
    let identity: Vec<f32> = x.into_data().try_to_vec().unwrap();
    assert_ne!(
        a, identity,
        "the generator under test must not be the identity"
    );
}

#[test]
fn bad_weight_files_give_errors_naming_the_file() {
    let device = Device::flex();
    let dir = tempdir();
    let good = dir.join("good.safetensors");
    let generator = tiny().init(&device);
    weights::save(&good, &generator, None, &info(tiny())).unwrap();
    let bytes = std::fs::read(&good).unwrap();

    let missing = dir.join("missing.safetensors");
    let err = weights::load(&missing, &device).unwrap_err();
    assert!(matches!(err, WeightsError::Io { .. }), "{err}");
    assert!(err.to_string().contains("missing.safetensors"));

    let truncated = dir.join("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = weights::load(&truncated, &device).unwrap_err();
    assert!(matches!(err, WeightsError::Damaged { .. }), "{err}");
    assert!(err.to_string().contains("truncated.safetensors"));

    let text = dir.join("text.safetensors");
    std::fs::write(&text, b"hello, not weights").unwrap();
    assert!(matches!(
        weights::load(&text, &device).unwrap_err(),
        WeightsError::Damaged { .. }
    ));

    // Metadata that describes another network than the tensors hold.
    let other = dir.join("other.safetensors");
    let bigger = GeneratorConfig::new([4, 8, 16], [4, 6, 8], 1, 1, 1, 1);
    weights::save(&other, &generator, None, &info(bigger)).unwrap();
    let err = weights::load(&other, &device).unwrap_err();
    assert!(matches!(err, WeightsError::Mismatch { .. }), "{err}");
    assert!(err.to_string().contains("other.safetensors"));
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "face-deblur-weights-test-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
