//! A checkpoint saved mid-run and resumed continues exactly as the uninterrupted run, the
//! moving average of the weights included.

use burn::prelude::*;
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
