//! The element-wise speed-ups of the patched crates (issue 11), checked through Burn's public
//! API against the upstream code paths that their benchmark switches bring back:
//!
//! - `patches/burn-autodiff`: LeakyReLU as one autodiff node. Its output and input gradient
//!   must equal the upstream composition (`lower_elem`, `mul_scalar`, `mask_where`), also at
//!   zero, at −0.0 and for a gradient that flows through two branches.
//! - `patches/burn-flex` (`par_elem`): large element-wise ops (add, scale, select, compare,
//!   activations, the conv bias gradient) split over threads must give bit-identical results
//!   to the serial loops.
//!
//! Both switches are process-wide, so everything runs in one test function of its own test
//! binary (no other test can see a switch flipped).

use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, relu};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

mod common;
use common::{Lcg, read, tensor1, tensor4};

/// Deterministic values in [-1, 1) with exact zeros and negative zeros mixed in.
fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut v = Lcg::new(seed).values(len, 1.0);
    for (i, x) in v.iter_mut().enumerate() {
        match i % 97 {
            0 => *x = 0.0,
            1 => *x = -0.0,
            _ => {}
        }
    }
    v
}

fn tensor(shape: [usize; 4], seed: u64, device: &Device) -> Tensor<4> {
    tensor4(&values(shape.iter().product(), seed), shape, device)
}

fn bits(t: Tensor<4>) -> Vec<u32> {
    read(t).iter().map(|v| v.to_bits()).collect()
}

/// Output and input gradient of `sum(leaky(x) ⊙ r) + sum(relu(x) ⊙ r)`: the gradient of `x`
/// arrives from two nodes and is summed by autodiff.
fn leaky_net(shape: [usize; 4], device: &Device) -> (Vec<u32>, Vec<u32>) {
    let x = tensor(shape, 1, device).require_grad();
    let r = tensor(shape, 2, device);
    let y = leaky_relu(x.clone(), 0.2);
    let loss = (y.clone() * r.clone()).sum() + (relu(x.clone()) * r).sum();
    let grads = loss.backward();
    let gx = x.grad(&grads).expect("x has a gradient");
    (bits(y), bits(gx))
}

/// A conv layer, LeakyReLU, mean: output, and gradients of input, weight and bias.
fn conv_net(shape: [usize; 4], device: &Device) -> Vec<Vec<u32>> {
    let c = shape[1];
    let x = tensor(shape, 3, device).require_grad();
    let w = tensor([c, c, 3, 3], 4, device)
        .mul_scalar(0.2)
        .require_grad();
    let b = tensor1(&values(c, 5), device).require_grad();
    let y = conv2d(
        x.clone(),
        w.clone(),
        Some(b.clone()),
        ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
    );
    let z = leaky_relu(y, 0.2);
    let t = tensor(z.dims(), 6, device);
    let loss = (z.clone() - t).abs().mean();
    let grads = loss.backward();
    let gb = b.grad(&grads).expect("bias gradient");
    vec![
        bits(z),
        bits(x.grad(&grads).expect("input gradient")),
        bits(w.grad(&grads).expect("weight gradient")),
        bits(gb.reshape([1, 1, 1, c])),
    ]
}

#[test]
fn fused_and_parallel_ops_equal_upstream_paths() {
    let device = Device::flex().autodiff();
    // 2 × 24 × 48 × 40 = 92,160 elements: above the split threshold (32 Ki).
    let shape = [2, 24, 48, 40];

    // LeakyReLU: fused node vs the upstream composition (both with serial loops first).
    burn_flex::ops::par_elem::set_par_elems(usize::MAX);
    burn_autodiff::ops::set_fused_leaky_relu(false);
    let (y_ref, g_ref) = leaky_net(shape, &device);
    let conv_ref = conv_net(shape, &device);
    burn_autodiff::ops::set_fused_leaky_relu(true);
    let (y_fused, g_fused) = leaky_net(shape, &device);
    assert_eq!(y_fused, y_ref, "fused LeakyReLU forward differs");
    // The composition adds +0.0 where the fused node selects: equal values, −0.0 may become
    // +0.0 (the only allowed bit difference).
    for (i, (a, b)) in g_fused.iter().zip(&g_ref).enumerate() {
        let (fa, fb) = (f32::from_bits(*a), f32::from_bits(*b));
        assert!(
            a == b || (fa == 0.0 && fb == 0.0),
            "gradient {i}: {fa} vs {fb}"
        );
    }
    let conv_fused = conv_net(shape, &device);
    for (what, (a, b)) in ["output", "dx", "dw", "db"]
        .iter()
        .zip(conv_fused.iter().zip(&conv_ref))
    {
        let max_ref = b
            .iter()
            .map(|v| f32::from_bits(*v).abs())
            .fold(0f32, f32::max);
        let max_diff = a
            .iter()
            .zip(b)
            .map(|(x, y)| (f32::from_bits(*x) - f32::from_bits(*y)).abs())
            .fold(0f32, f32::max);
        assert!(
            max_diff <= 1e-6 * max_ref.max(1e-30),
            "{what}: max diff {max_diff} (max {max_ref})"
        );
    }

    // Element-wise ops split over threads vs serial: bit-identical (fused node on).
    burn_flex::ops::par_elem::set_par_elems(1);
    let (y_par, g_par) = leaky_net(shape, &device);
    let conv_par = conv_net(shape, &device);
    burn_flex::ops::par_elem::set_par_elems(usize::MAX);
    let (y_ser, g_ser) = leaky_net(shape, &device);
    let conv_ser = conv_net(shape, &device);
    assert_eq!(y_par, y_ser, "split LeakyReLU forward differs");
    assert_eq!(g_par, g_ser, "split gradient differs");
    assert_eq!(conv_par, conv_ser, "split conv net differs");
    burn_flex::ops::par_elem::set_par_elems(burn_flex::ops::par_elem::PAR_ELEMS);
}
