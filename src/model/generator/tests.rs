use super::*;
use crate::model::mmrb::EncoderBlock;

fn tiny() -> GeneratorConfig {
    GeneratorConfig::new([4, 8, 8], [6, 8, 10], 1, 1, 1, 1)
}

#[test]
fn forward_shapes_for_all_ablation_variants() {
    let device = Device::flex();
    let x = Tensor::<4>::zeros([2, 3, 16, 12], &device);
    for (prior, ft) in [(true, true), (true, false), (false, true)] {
        let g = tiny()
            .with_prior_stream(prior)
            .with_feature_transforms(ft)
            .init(&device);
        let out = g.forward(x.clone());
        assert_eq!(out.image.dims(), [2, 3, 16, 12]);
        if prior {
            let dims: Vec<_> = out.priors.iter().map(|p| p.dims()).collect();
            assert_eq!(dims, vec![[2, 6, 16, 12], [2, 8, 8, 6], [2, 10, 4, 3]]);
        } else {
            assert!(out.priors.is_empty());
        }
    }
}

#[test]
fn mmrb_and_dafi_variants_run_and_report_their_masks() {
    let device = Device::flex();
    let x = Tensor::<4>::random(
        [2, 3, 16, 16],
        burn::tensor::Distribution::Uniform(-0.9, 0.9),
        &device,
    );
    for (block, fusion) in [
        (EncoderBlock::Mmrb, FusionKind::Sft),
        (EncoderBlock::Residual, FusionKind::Dafi),
        (EncoderBlock::Mmrb, FusionKind::SftDafi),
    ] {
        let config = tiny().with_encoder_block(block).with_fusion(fusion);
        let out = config.init(&device).forward(x.clone());
        assert_eq!(out.image.dims(), [2, 3, 16, 16]);
        // A fresh generator is still the identity (zero output conv).
        let diff: f32 = (out.image - x.clone()).abs().max().into_scalar();
        assert!(diff < 1e-4, "{block:?}/{fusion:?}: {diff}");
        let masks: Vec<_> = out.dafi_masks.iter().map(|m| m.dims()).collect();
        if fusion.uses_dre() {
            assert_eq!(masks, vec![[2, 4], [2, 8], [2, 8]]);
            assert_eq!(
                out.degradation.map(|v| v.dims()),
                Some([2, crate::model::dre::DRE_DIM])
            );
        } else {
            assert!(masks.is_empty() && out.degradation.is_none());
        }
        assert!(config.macs(16, 16) > tiny().macs(16, 16));
    }
}

#[test]
fn fresh_generator_is_the_identity() {
    let device = Device::flex();
    let x = Tensor::<4>::random(
        [1, 3, 8, 8],
        burn::tensor::Distribution::Uniform(-0.99, 0.99),
        &device,
    );
    let out = tiny().init(&device).forward(x.clone());
    let diff: f32 = (out.image - x).abs().max().into_scalar();
    assert!(diff < 1e-4, "max difference {diff}");
}

#[test]
fn output_is_in_signed_unit_range() {
    let device = Device::flex();
    let x = Tensor::<4>::random([1, 3, 8, 8], burn::tensor::Distribution::Default, &device);
    let out = tiny()
        .init(&device)
        .forward(x.mul_scalar(2.0).sub_scalar(1.0));
    let v: Vec<f32> = out.image.into_data().try_to_vec().unwrap();
    assert!(v.iter().all(|x| (-1.0..=1.0).contains(x)));
}

#[test]
fn a_deepened_generator_computes_what_it_did_and_refuses_other_changes() {
    let device = Device::flex();
    let from = tiny();
    let g = from.init(&device).perturbed();
    let x = Tensor::<4>::random(
        [1, 3, 16, 16],
        burn::tensor::Distribution::Uniform(-0.9, 0.9),
        &device,
    );
    let before = g.forward(x.clone()).image;
    assert!(
        before
            .clone()
            .sub(x.clone())
            .abs()
            .max()
            .into_scalar::<f32>()
            > 1e-3
    );
    let to = GeneratorConfig {
        encoder_blocks: 2,
        middle_blocks: 3,
        decoder_blocks: 2,
        ..from.clone()
    };
    let deep = g.clone().deepened(&from, &to, &device).unwrap();
    let params = |g: &Generator| g.num_params();
    assert!(params(&deep) > params(&g));
    assert_eq!(params(&deep), to.init(&device).num_params());
    let after = deep.forward(x).image;
    let diff: f32 = (before - after).abs().max().into_scalar();
    assert!(diff < 1e-6, "deepened output differs by {diff}");

    let wider = GeneratorConfig {
        channels: [8, 8, 8],
        ..to.clone()
    };
    assert!(g.clone().deepened(&from, &wider, &device).is_err());
    let shallower = GeneratorConfig {
        middle_blocks: 0,
        ..from.clone()
    };
    assert!(g.deepened(&from, &shallower, &device).is_err());
}
