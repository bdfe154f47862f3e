#[test]
fn pearson_is_one_for_a_line_minus_one_reversed_and_zero_for_a_constant() {
    use super::pearson;
    let a = [1.0, 2.0, 3.0, 4.0];
    let b = [3.0, 5.0, 7.0, 9.0];
    assert!((pearson(&a, &b) - 1.0).abs() < 1e-12);
    let r: Vec<f64> = b.iter().rev().copied().collect();
    assert!((pearson(&a, &r) + 1.0).abs() < 1e-12);
    assert_eq!(pearson(&a, &[2.0; 4]), 0.0);
}

#[test]
fn decorrelation_penalty_is_high_for_copies_and_low_for_independent_features() {
    let device = Device::flex();
    let base = Tensor::<2>::random(
        [64, 1],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    );
    let copies = base.clone().repeat_dim(1, 8) + base.mul_scalar(0.0);
    let independent = Tensor::<2>::random(
        [64, 8],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    );
    let high = value(decorrelation_penalty(copies));
    let low = value(decorrelation_penalty(independent));
    assert!(high > 0.99, "copies: {high}");
    assert!(low < 0.05, "independent: {low}");
}

use super::*;

#[test]
fn info_nce_is_low_when_positives_match_and_high_when_not() {
    let device = Device::flex();
    let q = Tensor::<2>::from_data(
        TensorData::new(vec![1.0f32, 0.0, 0.0, 1.0], [2, 2]),
        &device,
    );
    let queue = Tensor::<2>::from_data(TensorData::new(vec![-1.0f32, 0.0], [1, 2]), &device);
    let (good, acc_good) = info_nce(q.clone(), q.clone(), queue.clone(), 0.1);
    let swapped = Tensor::<2>::from_data(
        TensorData::new(vec![0.0f32, 1.0, 1.0, 0.0], [2, 2]),
        &device,
    );
    let (bad, acc_bad) = info_nce(q, swapped, queue, 0.1);
    let (good, bad) = (value(good), value(bad));
    // Hand values: query 0 sees logits [10, 0, −10] → −log softmax = ln(1 + e⁻¹⁰ + e⁻²⁰)
    // ≈ 4.54e-5; query 1 sees [0, 10, 0] → ln(1 + 2e⁻¹⁰) ≈ 9.08e-5; mean 6.81e-5.
    assert!((good - 6.81e-5).abs() < 2e-6, "good {good}");
    assert!(bad > 9.0, "bad {bad}");
    assert_eq!((acc_good, acc_bad), (1.0, 0.0));
}

#[test]
fn moco_learns_to_match_identical_pairs() {
    let device = Device::flex();
    let config = DreConfig {
        queue: 32,
        lr: 3e-3,
        momentum: 0.9,
        ..DreConfig::default()
    };
    let mut moco = Moco::new(&config, &device);
    let mut last = (0.0, 0.0);
    for _ in 0..40 {
        let x = Tensor::<4>::random(
            [8, 3, 16, 16],
            burn::tensor::Distribution::Uniform(-1.0, 1.0),
            &device,
        );
        last = moco.step(x.clone(), x);
    }
    assert!(
        last.1 >= 0.75,
        "top-1 accuracy {} (loss {})",
        last.1,
        last.0
    );
}

#[test]
fn ridge_recovers_a_linear_rule() {
    let x: Vec<Vec<f32>> = (0..50)
        .map(|i| vec![i as f32, (i * 7 % 11) as f32, 1.0 + (i % 3) as f32])
        .collect();
    let y: Vec<f64> = x
        .iter()
        .map(|r| 2.0 * f64::from(r[0]) - 0.5 * f64::from(r[1]) + 3.0)
        .collect();
    let (w, b) = fit_ridge(&x, &y, 1e-6);
    for (r, t) in x.iter().zip(&y) {
        assert!((predict(&w, b, r) - t).abs() < 1e-3);
    }
}

#[test]
fn momentum_update_moves_the_key_towards_the_query() {
    let device = Device::flex();
    let query = DreModel {
        encoder: DegradationEncoder::new(&device),
        head: ProjectionHead::new(4, &device),
    };
    let key = DreModel {
        encoder: DegradationEncoder::new(&device),
        head: ProjectionHead::new(4, &device),
    };
    let dist = |a: &DreModel, b: &DreModel| {
        crate::train::ema::parameters(a)
            .into_iter()
            .zip(crate::train::ema::parameters(b))
            .map(|(x, y)| value((x - y).abs().sum()))
            .sum::<f64>()
    };
    let before = dist(&key, &query);
    let key = crate::train::ema::blend(key, &query, 0.75);
    let after = dist(&key, &query);
    assert!(
        (after - 0.75 * before).abs() < 1e-3 * before,
        "{before} → {after}"
    );
}
