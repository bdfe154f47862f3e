//! Losses of paper §3.4: pixel L1 (eq. 7), the discriminator's and generator's adversarial
//! losses (eq. 6, 8) and the channel-attention-weighted prior loss (eq. 9).

use burn::prelude::*;
use burn::tensor::activation::softplus;

/// Small constant that keeps the channel normalisation finite where all channels are zero.
const NORM_EPS: f64 = 1e-6;

/// 𝓛_pixel (eq. 7): mean absolute difference.
pub fn pixel_l1(restored: Tensor<4>, sharp: Tensor<4>) -> Tensor<1> {
    (restored - sharp).abs().mean()
}

/// 𝓛_𝒟^C (eq. 6) from logits: −log σ(real) − log(1 − σ(fake)), averaged over the batch.
pub fn discriminator_loss(real_logits: Tensor<1>, fake_logits: Tensor<1>) -> Tensor<1> {
    softplus(real_logits.neg(), 1.0).mean() + softplus(fake_logits, 1.0).mean()
}

/// 𝓛_G,adv (eq. 8) from the logits of the estimated priors: −log σ(fake).
pub fn generator_adversarial_loss(fake_logits: Tensor<1>) -> Tensor<1> {
    softplus(fake_logits.neg(), 1.0).mean()
}

/// Normalise `[B, C, H, W]` along channels at each pixel (unit L2 norm).
pub fn normalize_channels(x: Tensor<4>) -> Tensor<4> {
    let norm = x.clone().square().sum_dim(1).sqrt().add_scalar(NORM_EPS); // [B, 1, H, W]
    x / norm
}

/// 𝓛_prior (eq. 9): Σ_i mean over pixels of ‖P'_hw,i − P̂'_hw,i‖², where ' denotes the
/// per-pixel channel normalisation. For variant B6 the priors come in weighted by 𝒟^C's CA
/// modules (`Discriminator::weighted`, eq. 4; the trainer weights them once for this loss and
/// 𝒟^C's logits, and only the generator's optimiser steps on them); without a discriminator
/// (ablations B3/B4) every channel weighs the same.
///
/// The paper sums over pixels; we average (so the loss does not grow with the image area and
/// λ_prior = 1 balances the mean L1 pixel loss).
pub fn prior_loss(teacher: &[Tensor<4>], estimated: &[Tensor<4>]) -> Tensor<1> {
    let mut total: Option<Tensor<1>> = None;
    for (p, p_hat) in teacher.iter().cloned().zip(estimated.iter().cloned()) {
        let diff = normalize_channels(p) - normalize_channels(p_hat);
        let level = diff.square().sum_dim(1).mean(); // mean over B, H, W of Σ_c
        total = Some(match total {
            Some(t) => t + level,
            None => level,
        });
    }
    total.expect("prior loss needs at least one level")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(t: Tensor<1>) -> f32 {
        t.into_data().try_to_vec::<f32>().unwrap()[0]
    }

    #[test]
    fn pixel_and_adversarial_losses_match_hand_values() {
        let device = Device::flex();
        let a = Tensor::<4>::from_floats([[[[0.0, 1.0], [2.0, 3.0]]]], &device);
        let b = Tensor::<4>::from_floats([[[[1.0, 1.0], [0.0, 3.0]]]], &device);
        assert!((scalar(pixel_l1(a, b)) - 0.75).abs() < 1e-6);

        // logits 0: −log σ(0) = ln 2 for each term.
        let zero = Tensor::<1>::zeros([4], &device);
        let ln2 = std::f32::consts::LN_2;
        assert!((scalar(discriminator_loss(zero.clone(), zero.clone())) - 2.0 * ln2).abs() < 1e-5);
        assert!((scalar(generator_adversarial_loss(zero)) - ln2).abs() < 1e-5);
        // A confident, correct discriminator has a near-zero loss.
        let real = Tensor::<1>::from_floats([20.0], &device);
        let fake = Tensor::<1>::from_floats([-20.0], &device);
        assert!(scalar(discriminator_loss(real, fake)) < 1e-6);
    }

    #[test]
    fn prior_loss_matches_hand_value() {
        let device = Device::flex();
        // One pixel, two channels: P = (3, 4) → (0.6, 0.8); P̂ = (1, 0) → (1, 0).
        // ‖(0.6, 0.8) − (1, 0)‖² = 0.16 + 0.64 = 0.8.
        let p = Tensor::<4>::from_floats([[[[3.0]], [[4.0]]]], &device);
        let q = Tensor::<4>::from_floats([[[[1.0]], [[0.0]]]], &device);
        let loss = prior_loss(std::slice::from_ref(&p), &[q]);
        assert!((scalar(loss) - 0.8).abs() < 1e-5);
        // Identical features: zero loss; scale does not matter after normalisation.
        let loss = prior_loss(std::slice::from_ref(&p), &[p.clone().mul_scalar(7.0)]);
        assert!(scalar(loss).abs() < 1e-6);
    }
}
