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

/// `bytes` (a safetensors file) with its `generator_config` metadata replaced by `config`.
fn with_generator_config(bytes: &[u8], config: &str) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    header["__metadata__"]["generator_config"] = serde_json::Value::String(config.into());
    let header = serde_json::to_vec(&header).unwrap();
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend(header);
    out.extend(&bytes[8 + n..]);
    out
}

#[test]
fn absurd_network_sizes_in_the_metadata_are_refused_before_allocating() {
    let device = Device::flex();
    let dir = tempdir();
    let good = dir.join("good.safetensors");
    weights::save(&good, &tiny().init(&device), None, &info(tiny())).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let config = |channels: &str, blocks: usize| {
        format!(
            r#"{{"channels":{channels},"prior_channels":[4,6,8],"encoder_blocks":{blocks},
                "prior_blocks":1,"middle_blocks":1,"decoder_blocks":1}}"#
        )
    };
    // Sanity: the rewritten file with the true config still loads.
    let same = dir.join("same.safetensors");
    std::fs::write(&same, with_generator_config(&bytes, &config("[4,8,8]", 1))).unwrap();
    weights::load(&same, &device).expect("the rewritten header is valid");

    for (name, channels, blocks, says) in [
        // 3 × 4096² × 18 × 2 bytes ≫ the file: would allocate gigabytes.
        (
            "wide",
            "[4096,4096,4096]",
            1,
            "parameters but the file holds",
        ),
        ("zero", "[0,8,8]", 1, "out of range"),
        ("many", "[4,8,8]", 100_000_000, "out of range"),
        ("huge", "[99999999999,8,8]", 1, "out of range"),
    ] {
        let path = dir.join(format!("{name}.safetensors"));
        std::fs::write(
            &path,
            with_generator_config(&bytes, &config(channels, blocks)),
        )
        .unwrap();
        let err = weights::load(&path, &device).unwrap_err();
        assert!(
            matches!(err, WeightsError::WrongKind { .. }),
            "{name}: {err}"
        );
        assert!(err.to_string().contains(says), "{name}: {err}");
        assert!(err.to_string().contains(&format!("{name}.safetensors")));
    }
}

/// A scratch folder of one test, removed with everything in it when the test ends.
struct Scratch(std::path::PathBuf);

impl std::ops::Deref for Scratch {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            eprintln!("cannot remove the scratch folder {}: {e}", self.0.display());
        }
    }
}

fn tempdir() -> Scratch {
    let dir = std::env::temp_dir().join(format!(
        "face-deblur-weights-test-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

#[test]
fn mmrb_and_dafi_generators_round_trip_with_their_degradation_encoder() {
    use burn::module::Module;
    use face_deblur::model::{EncoderBlock, FusionKind};
    let device = Device::flex();
    let dir = tempdir();
    let config = tiny()
        .with_encoder_block(EncoderBlock::Mmrb)
        .with_fusion(FusionKind::SftDafi);
    let generator = config.init(&device).map(&mut Noise);
    let path = dir.join("dafi.safetensors");
    weights::save(&path, &generator, None, &info(config.clone())).unwrap();
    let loaded = weights::load(&path, &device).unwrap();
    assert_eq!(loaded.info.generator, config);
    let x = Tensor::<4>::random([2, 3, 16, 16], burn::tensor::Distribution::Default, &device);
    let (a, b) = (
        generator.forward(x.clone()),
        loaded.modules.generator.forward(x),
    );
    let flat = |t: Tensor<2>| -> Vec<f32> { t.into_data().try_to_vec().unwrap() };
    assert_eq!(flat(a.degradation.unwrap()), flat(b.degradation.unwrap()));
    assert_eq!(
        a.image.into_data().try_to_vec::<f32>().unwrap(),
        b.image.into_data().try_to_vec::<f32>().unwrap()
    );

    // A stand-alone encoder file round-trips with its blur read-out; a generator file is
    // refused as an encoder.
    let dre = face_deblur::model::DegradationEncoder::new(&device)
        .map(&mut Noise)
        .with_blur_readout(&[0.01; face_deblur::model::dre::DRE_DIM], 9.0);
    let dre_path = dir.join("dre.safetensors");
    weights::save_dre(&dre_path, &dre, "test").unwrap();
    let back = weights::load_dre(&dre_path, &device).unwrap();
    let v = Tensor::<4>::random([1, 3, 32, 32], burn::tensor::Distribution::Default, &device);
    let size = |d: &face_deblur::model::DegradationEncoder| -> Vec<f32> {
        d.blur_size(d.forward(v.clone()))
            .into_data()
            .try_to_vec()
            .unwrap()
    };
    assert_eq!(size(&dre), size(&back));
    assert!(matches!(
        weights::load_dre(&path, &device),
        Err(WeightsError::WrongKind { .. })
    ));
}

/// Fingerprint ([`common::fingerprint`]) of the fuzzer's seed `mini.safetensors`: a
/// one-channel B6 generator (prior stream, SFT fusion at three scales) saved by the code before
/// the model variants became enums — a file that never changes, unlike the shipped weights.
/// Recorded with this code after checking that the earlier binary restores a face with it (and
/// with the step-9500 shipped weights) to the same bytes as this one.
const MINI_FINGERPRINT: [f64; 3] = [-37.22454853085219, 1.7104775130916352, -143.3378265015781];

#[test]
fn weight_files_written_before_the_variants_became_enums_load_with_the_same_output() {
    let device = Device::flex();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mini = weights::load(
        &root.join("fuzz/seeds/weights_loader/mini.safetensors"),
        &device,
    )
    .unwrap();
    common::assert_same_fingerprint(
        common::fingerprint(&mini.modules.generator, &device),
        MINI_FINGERPRINT,
        "mini.safetensors",
    );
    // The shipped weights and the photo run's best, written by the earlier code too, load
    // (how well the shipped ones restore is tests/shipped.rs).
    weights::load_shipped(&device).unwrap();
    weights::load(
        &root.join("train/checkpoints/photo/best.safetensors"),
        &device,
    )
    .unwrap();
}

/// The tensor names and shapes the code before the model variants became enums wrote for each
/// variant (`variant<TAB>name<TAB>shape`), from `weights::save` of
/// `GeneratorConfig::new([4, 8, 12], [6, 8, 10], 2, 1, 1, 1)` with the switches of [`variant`].
const LEGACY_NAMES: &str = include_str!("fixtures/legacy_param_names.tsv");

fn variant(label: &str) -> GeneratorConfig {
    use face_deblur::model::{EncoderBlock, FusionKind};
    let (prior, ft, block, fusion) = match label {
        "b6" => (true, true, EncoderBlock::Residual, FusionKind::Sft),
        "b3" => (true, false, EncoderBlock::Residual, FusionKind::Sft),
        "b1" => (false, true, EncoderBlock::Residual, FusionKind::Sft),
        "b1_mmrb" => (false, true, EncoderBlock::Mmrb, FusionKind::Sft),
        "mmrb" => (true, true, EncoderBlock::Mmrb, FusionKind::Sft),
        "dafi" => (true, true, EncoderBlock::Residual, FusionKind::Dafi),
        "sft_dafi" => (true, true, EncoderBlock::Residual, FusionKind::SftDafi),
        "mmrb_sft_dafi" => (true, true, EncoderBlock::Mmrb, FusionKind::SftDafi),
        "b3_sft_dafi" => (true, false, EncoderBlock::Residual, FusionKind::SftDafi),
        _ => panic!("unknown variant {label}"),
    };
    GeneratorConfig::new([4, 8, 12], [6, 8, 10], 2, 1, 1, 1)
        .with_prior_stream(prior)
        .with_feature_transforms(ft)
        .with_encoder_block(block)
        .with_fusion(fusion)
}

/// `(name, shape)` of every tensor in a safetensors file, sorted.
fn names_and_shapes(bytes: &[u8]) -> Vec<(String, Vec<usize>)> {
    let file = safetensors::SafeTensors::deserialize(bytes).unwrap();
    let mut names: Vec<_> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| (name, view.shape().to_vec()))
        .collect();
    names.sort();
    names
}

#[test]
fn every_variant_keeps_the_tensor_names_of_the_earlier_layout_both_ways() {
    let device = Device::flex();
    let dir = tempdir();
    let mut legacy: std::collections::BTreeMap<&str, Vec<(String, Vec<usize>)>> =
        Default::default();
    for line in LEGACY_NAMES.lines() {
        let [label, name, shape] = line.split('\t').collect::<Vec<_>>()[..] else {
            panic!("bad fixture line {line:?}");
        };
        let shape = shape.split('x').map(|d| d.parse().unwrap()).collect();
        legacy
            .entry(label)
            .or_default()
            .push((name.to_string(), shape));
    }
    assert_eq!(legacy.len(), 9);
    for (label, expected) in &legacy {
        let config = variant(label);
        // Written now: the names and shapes of the earlier layout.
        let path = dir.join(format!("{label}.safetensors"));
        weights::save(&path, &config.init(&device), None, &info(config.clone())).unwrap();
        let written = std::fs::read(&path).unwrap();
        assert_eq!(&names_and_shapes(&written), expected, "{label}");

        // Written then: a file with exactly those tensors loads, each into a parameter.
        let values: Vec<Vec<u8>> = expected
            .iter()
            .enumerate()
            .map(|(i, (_, shape))| {
                let n: usize = shape.iter().product();
                (0..n)
                    .flat_map(|k| (0.001 * (i + k) as f32).to_le_bytes())
                    .collect()
            })
            .collect();
        let views: Vec<(String, safetensors::tensor::TensorView)> = expected
            .iter()
            .zip(&values)
            .map(|((name, shape), data)| {
                let view = safetensors::tensor::TensorView::new(
                    safetensors::Dtype::F32,
                    shape.clone(),
                    data,
                )
                .unwrap();
                (name.clone(), view)
            })
            .collect();
        let header = safetensors::SafeTensors::read_metadata(&written).unwrap().1;
        let old = safetensors::serialize(views, header.metadata().clone()).unwrap();
        let old_path = dir.join(format!("{label}-old.safetensors"));
        std::fs::write(&old_path, old).unwrap();
        let loaded = weights::load(&old_path, &device)
            .unwrap_or_else(|e| panic!("{label}: a file of the earlier layout must load: {e}"));
        // Saved again, every tensor is back under its name with its values.
        let again = dir.join(format!("{label}-again.safetensors"));
        weights::save(&again, &loaded.modules.generator, None, &info(config)).unwrap();
        let again = std::fs::read(&again).unwrap();
        let again = safetensors::SafeTensors::deserialize(&again).unwrap();
        for ((name, _), data) in expected.iter().zip(&values) {
            assert_eq!(
                again.tensor(name).unwrap().data(),
                &data[..],
                "{label}: {name}"
            );
        }
    }
}
