use super::*;

#[test]
fn cosine_schedule_warms_up_peaks_and_decays_to_the_floor() {
    let config = TrainConfig {
        warmup_steps: 10,
        cosine_steps: 100,
        lr_min_factor: 0.1,
        schedule_start: 1000,
        ..TrainConfig::compact_default()
    };
    assert!((config.lr_factor(1000) - 0.1).abs() < 1e-12);
    assert!((config.lr_factor(1009) - 1.0).abs() < 1e-12);
    assert!((config.lr_factor(1010) - 1.0).abs() < 1e-12);
    assert!((config.lr_factor(1060) - 0.55).abs() < 1e-9);
    assert!((config.lr_factor(1110) - 0.1).abs() < 1e-12);
    assert!((config.lr_factor(5000) - 0.1).abs() < 1e-12);
    let mut last = f64::INFINITY;
    for step in 1010..=1110 {
        let f = config.lr_factor(step);
        assert!(f <= last, "not decreasing at {step}");
        last = f;
    }
}

#[test]
fn photo_mix_needs_a_validation_face_per_part() {
    let config = |data, validation_faces| TrainConfig {
        data,
        validation_faces,
        ..TrainConfig::compact_default()
    };
    let err = config(DataMix::Photo, 5).check().unwrap_err().to_string();
    assert!(err.contains("validation_faces"), "{err}");
    config(DataMix::Photo, 6).check().unwrap();
    let err = config(DataMix::Training, 0)
        .check()
        .unwrap_err()
        .to_string();
    assert!(err.contains("validation_faces"), "{err}");
    config(DataMix::Training, 1).check().unwrap();
}

#[test]
fn old_configs_without_the_new_fields_still_load() {
    let mut value = serde_json::to_value(TrainConfig::compact_default()).unwrap();
    let map = value.as_object_mut().unwrap();
    for key in [
        "data",
        "warmup_steps",
        "cosine_steps",
        "lr_min_factor",
        "schedule_start",
        "pixel_only_until",
    ] {
        assert!(map.remove(key).is_some(), "{key}");
    }
    let config: TrainConfig = serde_json::from_value(value).unwrap();
    assert_eq!(config.data, DataMix::Training);
    assert_eq!(config.cosine_steps, 0);
    assert!((config.lr_factor(1796) - 0.99).abs() < 1e-12);
}

#[test]
fn a_json_lists_only_what_differs_and_the_variant_sets_the_switches() {
    let config = TrainConfig::from_json(
        r#"{"variant": "b3", "teacher": "vgg16", "steps": 300,
            "generator": {"encoder_block": "mmrb"}}"#,
    )
    .unwrap();
    let mut expected = TrainConfig::compact_default();
    expected.variant = Variant::B3;
    expected.teacher = TeacherKind::Vgg16;
    expected.steps = 300;
    expected.generator.encoder_block = crate::model::EncoderBlock::Mmrb;
    expected.generator = expected.generator_config();
    assert!(!config.generator.feature_transforms);
    assert_eq!(config.generator.prior_channels, [64, 128, 256]);
    assert_eq!(
        serde_json::to_string(&config).unwrap(),
        serde_json::to_string(&expected).unwrap()
    );
    // Switches that agree with the variant and the teacher may be given.
    TrainConfig::from_json(
        r#"{"variant": "b3", "generator": {"prior_stream": true, "feature_transforms": false,
            "prior_channels": [32, 32, 64]}}"#,
    )
    .unwrap();
}

#[test]
fn switches_that_contradict_the_variant_or_teacher_are_refused() {
    for (json, names) in [
        (
            r#"{"variant": "b1", "generator": {"prior_stream": true}}"#,
            ["prior_stream = true", "variant b1"],
        ),
        (
            r#"{"variant": "b3", "generator": {"feature_transforms": true}}"#,
            ["feature_transforms = true", "variant b3"],
        ),
        (
            r#"{"teacher": "vgg16", "generator": {"prior_channels": [32, 32, 64]}}"#,
            ["prior_channels = [32,32,64]", "Vgg16"],
        ),
        (
            r#"{"generator": {"channel": [8, 8, 8]}}"#,
            ["unknown", "channel"],
        ),
        (r#"{"step": 10}"#, ["unknown", "step"]),
        (r#"{"generator": [1]}"#, ["generator", "object"]),
    ] {
        let e = format!("{:#}", TrainConfig::from_json(json).unwrap_err());
        for name in names {
            assert!(e.contains(name), "{json}: {e:?} does not name {name}");
        }
    }
}

/// The committed configs: `train/*.json` and its folders (DRE configs are
/// [`crate::train::dre::DreConfig`]s), and the configs saved beside committed runs.
fn committed_configs() -> Vec<(PathBuf, bool)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("train");
    let mut files = Vec::new();
    for dir in ["", "ablation", "compare", "gpu"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                files.push((path, false));
            }
        }
    }
    for entry in std::fs::read_dir(root.join("checkpoints")).unwrap() {
        let path = entry.unwrap().path();
        for name in ["config.json", "dre_config.json"] {
            if path.join(name).exists() {
                files.push((path.join(name), true));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_committed_config_loads_and_lists_only_what_differs() {
    let files = committed_configs();
    assert!(files.len() >= 15, "{files:?}");
    let default = serde_json::to_value(TrainConfig::compact_default()).unwrap();
    for (path, saved) in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy();
        if name.starts_with("dre") {
            let _: crate::train::dre::DreConfig =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            continue;
        }
        TrainConfig::load(&path).unwrap_or_else(|e| panic!("{e:#}"));
        if saved {
            continue; // a run's saved config is the whole effective config
        }
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        for (key, field) in value.as_object().unwrap() {
            if key == "generator" {
                for (key, field) in field.as_object().unwrap() {
                    assert_ne!(
                        &default["generator"][key],
                        field,
                        "{}: generator.{key} is the default",
                        path.display()
                    );
                }
            } else {
                assert_ne!(
                    &default[key],
                    field,
                    "{}: {key} is the default",
                    path.display()
                );
            }
        }
    }
}
