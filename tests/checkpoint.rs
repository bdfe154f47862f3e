//! A checkpoint saved mid-run and resumed continues exactly as the uninterrupted run, the
//! moving average of the weights included; the committed checkpoints still load.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::prelude::*;
use burn::store::burn_pack::Reader;
use face_deblur::model::GeneratorConfig;
use face_deblur::train::checkpoint;
use face_deblur::train::config::{TrainConfig, Variant};
use face_deblur::train::trainer::Trainer;

fn trainer(device: &Device) -> Trainer {
    let mut config = TrainConfig::compact_default();
    config.variant = Variant::B1;
    config.generator = GeneratorConfig::new([4, 8, 8], [4, 8, 8], 1, 1, 1, 1);
    config.lr_generator = 1e-3;
    config.ema_decay = Some(0.9);
    Trainer::new(config, None, device)
}

fn output(t: &Trainer, x: &Tensor<4>) -> Vec<f32> {
    t.inference_generator()
        .forward(x.clone().without_autodiff())
        .image
        .into_data()
        .try_to_vec()
        .unwrap()
}

#[test]
fn resume_from_checkpoint_continues_identically() {
    let device = Device::flex();
    let out = std::env::temp_dir().join(format!("face-deblur-ckpt-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();

    let sharp = Tensor::<4>::random(
        [2, 3, 8, 8],
        burn::tensor::Distribution::Uniform(-0.8, 0.8),
        &device,
    );
    let blurred = sharp.clone().mul_scalar(0.5);

    let mut a = trainer(&device);
    for _ in 0..3 {
        a.step(blurred.clone(), sharp.clone());
    }
    let raw: Vec<f32> = a
        .generator
        .valid()
        .forward(blurred.clone().without_autodiff())
        .image
        .into_data()
        .try_to_vec()
        .unwrap();
    assert_ne!(
        raw,
        output(&a, &blurred),
        "validation must use the average, not the raw weights"
    );
    checkpoint::save(
        &out,
        &a.generator,
        a.ema.as_ref(),
        None,
        &a.optim_g,
        None,
        &a.state,
    )
    .unwrap();

    let fresh = trainer(&device);
    assert_ne!(
        output(&fresh, &blurred),
        output(&a, &blurred),
        "the trained run must differ from a fresh one, else resuming proves nothing"
    );
    let loaded = checkpoint::load(
        &out,
        fresh.generator.clone(),
        None,
        fresh.optim_g.clone(),
        None,
    )
    .unwrap();
    let mut b = fresh;
    b.generator = loaded.generator;
    b.ema = Some(loaded.ema.expect("the checkpoint keeps the average"));
    b.optim_g = loaded.optim_g;
    b.state = loaded.state;
    assert_eq!(b.state, a.state);
    assert_eq!(output(&a, &blurred), output(&b, &blurred));

    // The next steps (which use Adam's moments) match too.
    for _ in 0..2 {
        let la = a.step(blurred.clone(), sharp.clone());
        let lb = b.step(blurred.clone(), sharp.clone());
        assert_eq!(la, lb);
    }
    assert_eq!(output(&a, &blurred), output(&b, &blurred));
    std::fs::remove_dir_all(&out).unwrap();
}

/// Fingerprint ([`common::fingerprint`]) of the generator in `train/checkpoints/main` (step
/// 3800, a file that no longer changes), recorded with the code before the model variants
/// became enums. The photo checkpoint is replaced as its run goes on, so it is not pinned.
const MAIN_GENERATOR_FINGERPRINT: [f64; 3] =
    [11.406317065033363, 1.906479833814368, 59277.40333114378];

/// The parameter ids of a module.
#[derive(Default)]
struct Ids(BTreeSet<u64>);

impl ModuleVisitor for Ids {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.insert(param.id.val());
    }
}

fn ids<M: Module>(module: &M) -> BTreeSet<u64> {
    let mut ids = Ids::default();
    module.visit(&mut ids);
    ids.0
}

/// The tensor names and parameter ids of a burnpack file.
type Tensors = BTreeSet<(String, Option<u64>)>;

/// The tensors of a burnpack file and its metadata.
fn contents(path: &Path) -> (Tensors, Vec<(String, String)>) {
    let reader = Reader::from_file(path).unwrap();
    let metadata = reader.metadata().clone().into_iter().collect();
    let tensors = reader
        .into_tensors()
        .unwrap()
        .into_iter()
        .map(|t| (t.name, t.param_id))
        .collect();
    (tensors, metadata)
}

#[test]
fn the_committed_checkpoints_load_with_the_same_output_and_are_saved_alike() {
    let device = Device::flex();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let photo = root.join("train/checkpoints/photo");
    let bytes = std::fs::read(photo.join("best.safetensors")).unwrap();
    let config = face_deblur::weights::read_info(&photo, &bytes)
        .unwrap()
        .generator;
    let optimiser = || -> ModuleOptimizer { AdamConfig::new().init() };
    let loaded = checkpoint::load(&photo, config.init(&device), None, optimiser(), None).unwrap();
    let ema = loaded.ema.as_ref().expect("the photo run keeps an average");
    // Where the checkpoint's step is the best validation, `best.safetensors` was exported from
    // the same average: the .bpk and the safetensors path give the same output.
    if loaded
        .state
        .best_psnr
        .is_some_and(|(_, step)| step == loaded.state.step)
    {
        let best = face_deblur::weights::load(&photo.join("best.safetensors"), &device).unwrap();
        common::assert_same_fingerprint(
            common::fingerprint(ema, &device),
            common::fingerprint(&best.modules.generator, &device),
            "photo generator_ema.bpk vs best.safetensors",
        );
    }
    // The raw weights and their average differ (the average is not a copy).
    assert_ne!(
        common::fingerprint(&loaded.generator, &device),
        common::fingerprint(ema, &device)
    );
    // The optimiser state is keyed by parameter id: the loaded generator has the file's ids.
    let dir = checkpoint::checkpoint_dir(&photo);
    let (optim_tensors, _) = contents(&dir.join("optim_g.bpk"));
    let optim_ids: BTreeSet<u64> = optim_tensors.iter().filter_map(|(_, id)| *id).collect();
    assert_eq!(ids(&loaded.generator), optim_ids);

    let main = root.join("train/checkpoints/main/checkpoint/generator.bpk");
    let generator = checkpoint::load_generator(config.init(&device), &main).unwrap();
    common::assert_same_fingerprint(
        common::fingerprint(&generator, &device),
        MAIN_GENERATOR_FINGERPRINT,
        "main generator.bpk",
    );

    // Saved again, the files hold the same names, ids and optimiser metadata.
    let out = std::env::temp_dir().join(format!("face-deblur-ckpt-legacy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    checkpoint::save(
        &out,
        &loaded.generator,
        loaded.ema.as_ref(),
        None,
        &loaded.optim_g,
        None,
        &loaded.state,
    )
    .unwrap();
    for file in ["generator.bpk", "generator_ema.bpk", "optim_g.bpk"] {
        let (names, metadata) = contents(&checkpoint::checkpoint_dir(&out).join(file));
        let (committed, committed_metadata) = contents(&dir.join(file));
        assert_eq!(names, committed, "{file}");
        if file == "optim_g.bpk" {
            assert_eq!(metadata, committed_metadata, "{file}");
        }
    }
    std::fs::remove_dir_all(&out).unwrap();
}
