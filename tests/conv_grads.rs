//! Correctness of the 2-D convolution kernels of the patched `burn-flex`
//! (`patches/burn-flex`, see its `PATCHES.md`), checked through Burn's public API only.
//!
//! The patch replaces the conv2d forward and the conv2d / conv_transpose2d input, weight and bias
//! gradients with new im2col / col2im GEMM kernels. Its own tests live in the patched crate and
//! are not part of this crate's `cargo test`, so CI would not notice a regression (or a bad
//! re-merge on a Burn upgrade). This file checks, on `Device::flex()` / its autodiff device:
//!
//! 1. `conv2d` and `conv_transpose2d`: forward output and the gradients of `sum(out ⊙ R)` (fixed
//!    random `R`) w.r.t. input, weight and bias, against naive f64 loops written here, with
//!    `max|diff| / max|ref| ≤ 1e-4`. Shapes: the model's layers (3×3 s1 p1, 1×1, 4×4 s2 p1,
//!    transposed 4×4 s2 p1, 3×3 dilation 2 pad 2) and edge cases (odd sizes, batch 1 and 3,
//!    channels 3/5/13/24, padding 0/1/2, asymmetric padding, `padding_out`, groups 2, no bias,
//!    inputs big enough to span several column tiles; 3×3 stride-1 convs of ≥ 8 channels run
//!    Winograd: F(4×4, 3×3) forward and weight gradient where the output is ≥ 32 wide and
//!    one side has ≤ 48 channels, else F(2×2, 3×3), also inside their input gradient: odd
//!    sizes, pad 0/2, asymmetric padding, a single output row, several bands; the strided
//!    convs' im2col / col2im by even / odd column phases).
//! 2. Training: a tiny conv net run for 20 SGD steps twice from the same weights, once with
//!    Burn's conv ops and once with reference convs built only from generic tensor ops
//!    (zero padding, slicing, reshapes, matmul; zero insertion for the transposed conv) that
//!    autodiff differentiates without any conv kernel. The loss curves must agree step by step.
//!
//! Data come from a small LCG, not `Tensor::random`, so every run sees the same numbers.

use burn::prelude::*;
use burn::tensor::Gradients;
use burn::tensor::activation::relu;
use burn::tensor::module::{conv_transpose2d, conv2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

mod common;
use common::{Lcg, read, tensor1, tensor4};

/// Bound on `max|diff| / max|ref|` for the kernel-vs-naive comparisons.
const TOLERANCE: f64 = 1e-4;

// ---------------------------------------------------------------------------------------------
// Deterministic data.
// ---------------------------------------------------------------------------------------------

fn widen(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

/// `max|got - want| / max|want|`.
fn relative_error(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "length mismatch");
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let diff = got
        .iter()
        .zip(want)
        .fold(0.0f64, |m, (g, w)| m.max((f64::from(*g) - w).abs()));
    assert!(scale > 0.0, "reference is all zeros");
    diff / scale
}

// ---------------------------------------------------------------------------------------------
// Cases.
// ---------------------------------------------------------------------------------------------

/// One convolution to check. For conv2d the weight is `[c_out, c_in / groups, kh, kw]`; for
/// conv_transpose2d it is `[c_in, c_out / groups, kh, kw]` (Burn's / PyTorch's layouts).
#[derive(Clone, Copy, Debug)]
struct Case {
    label: &'static str,
    batch: usize,
    c_in: usize,
    c_out: usize,
    size: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    /// `(begin, end)` per spatial dim; transposed convs use symmetric padding (`begin`).
    padding: [(usize, usize); 2],
    padding_out: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
    bias: bool,
}

impl Case {
    /// A square-kernel, symmetric-padding, ungrouped case with bias.
    const fn new(
        label: &'static str,
        [batch, c_in, c_out]: [usize; 3],
        size: [usize; 2],
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> Self {
        Self {
            label,
            batch,
            c_in,
            c_out,
            size,
            kernel: [kernel, kernel],
            stride: [stride, stride],
            padding: [(padding, padding), (padding, padding)],
            padding_out: [0, 0],
            dilation: [1, 1],
            groups: 1,
            bias: true,
        }
    }

    const fn dilation(mut self, d: usize) -> Self {
        self.dilation = [d, d];
        self
    }

    const fn groups(mut self, g: usize) -> Self {
        self.groups = g;
        self
    }

    const fn no_bias(mut self) -> Self {
        self.bias = false;
        self
    }

    const fn padding_out(mut self, p: [usize; 2]) -> Self {
        self.padding_out = p;
        self
    }

    const fn asymmetric(mut self, padding: [(usize, usize); 2]) -> Self {
        self.padding = padding;
        self
    }

    fn conv_out_size(&self) -> [usize; 2] {
        std::array::from_fn(|i| {
            let (begin, end) = self.padding[i];
            let span = self.dilation[i] * (self.kernel[i] - 1) + 1;
            (self.size[i] + begin + end - span) / self.stride[i] + 1
        })
    }

    fn transposed_out_size(&self) -> [usize; 2] {
        std::array::from_fn(|i| {
            let span = self.dilation[i] * (self.kernel[i] - 1) + 1;
            (self.size[i] - 1) * self.stride[i] + span + self.padding_out[i] - 2 * self.padding[i].0
        })
    }

    fn conv_options(&self) -> ConvOptions<2> {
        ConvOptions::new_with_padding(self.stride, self.padding, self.dilation, self.groups)
    }

    fn transposed_options(&self) -> ConvTransposeOptions<2> {
        ConvTransposeOptions::new(
            self.stride,
            [self.padding[0].0, self.padding[1].0],
            self.padding_out,
            self.dilation,
            self.groups,
        )
    }
}

/// Forward output and the gradients of `sum(out ⊙ R)`.
struct Results<T> {
    out: Vec<T>,
    grad_x: Vec<T>,
    grad_w: Vec<T>,
    grad_b: Option<Vec<T>>,
}

/// Random inputs of one case.
struct Inputs {
    x: Vec<f32>,
    x_shape: [usize; 4],
    w: Vec<f32>,
    w_shape: [usize; 4],
    b: Option<Vec<f32>>,
    r: Vec<f32>,
    out_shape: [usize; 4],
}

impl Inputs {
    fn new(case: &Case, transposed: bool, seed: u64) -> Self {
        let mut rng = Lcg::new(seed);
        let [kh, kw] = case.kernel;
        let x_shape = [case.batch, case.c_in, case.size[0], case.size[1]];
        let (w_shape, out_hw) = if transposed {
            let shape = [case.c_in, case.c_out / case.groups, kh, kw];
            (shape, case.transposed_out_size())
        } else {
            let shape = [case.c_out, case.c_in / case.groups, kh, kw];
            (shape, case.conv_out_size())
        };
        let out_shape = [case.batch, case.c_out, out_hw[0], out_hw[1]];
        Self {
            x: rng.values(x_shape.iter().product(), 1.0),
            w: rng.values(w_shape.iter().product(), 0.5),
            b: case.bias.then(|| rng.values(case.c_out, 0.5)),
            r: rng.values(out_shape.iter().product(), 1.0),
            x_shape,
            w_shape,
            out_shape,
        }
    }

    /// The op under test on `device` (forward only) and on its autodiff device (forward and
    /// gradients). Returns the autodiff results and the plain forward.
    fn run_burn(
        &self,
        op: impl Fn(Tensor<4>, Tensor<4>, Option<Tensor<1>>) -> Tensor<4>,
    ) -> (Results<f32>, Vec<f32>) {
        let plain = Device::flex();
        let plain_out = op(
            tensor4(&self.x, self.x_shape, &plain),
            tensor4(&self.w, self.w_shape, &plain),
            self.b.as_deref().map(|b| tensor1(b, &plain)),
        );
        assert_eq!(plain_out.dims(), self.out_shape, "output shape");

        let device = Device::flex().autodiff();
        let x = tensor4(&self.x, self.x_shape, &device).require_grad();
        let w = tensor4(&self.w, self.w_shape, &device).require_grad();
        let b = self
            .b
            .as_deref()
            .map(|b| tensor1(b, &device).require_grad());
        let r = tensor4(&self.r, self.out_shape, &device);
        let out = op(x.clone(), w.clone(), b.clone());
        assert_eq!(out.dims(), self.out_shape, "output shape (autodiff)");
        let grads = (out.clone() * r).sum().backward();
        let results = Results {
            out: read(out),
            grad_x: read(x.grad(&grads).expect("input gradient")),
            grad_w: read(w.grad(&grads).expect("weight gradient")),
            grad_b: b.map(|b| read(b.grad(&grads).expect("bias gradient"))),
        };
        (results, read(plain_out))
    }
}

// ---------------------------------------------------------------------------------------------
// Naive f64 references: one loop nest per op visits every (output, kernel tap, input) triple and
// accumulates the forward sum and, from the same products, the gradients of sum(out ⊙ R).
// ---------------------------------------------------------------------------------------------

/// Row-major index into a 4-D array of shape `s`.
fn at(s: [usize; 4], a: usize, b: usize, c: usize, d: usize) -> usize {
    ((a * s[1] + b) * s[2] + c) * s[3] + d
}

/// `base + step · k - pad` if it lands in `0..len`.
fn tap(base: usize, step: usize, k: usize, dil: usize, pad: usize, len: usize) -> Option<usize> {
    (base * step + k * dil)
        .checked_sub(pad)
        .filter(|&i| i < len)
}

/// Bias gradient of `sum(out ⊙ R)`: per-channel sum of `R`.
fn bias_grad(r: &[f64], s: [usize; 4]) -> Vec<f64> {
    let mut db = vec![0.0; s[1]];
    for n in 0..s[0] {
        for (c, g) in db.iter_mut().enumerate() {
            for i in 0..s[2] * s[3] {
                *g += r[at(s, n, c, 0, 0) + i];
            }
        }
    }
    db
}

fn naive_conv2d(case: &Case, inputs: &Inputs) -> Results<f64> {
    let (x, w, r) = (widen(&inputs.x), widen(&inputs.w), widen(&inputs.r));
    let b = inputs.b.as_deref().map(widen);
    let (xs, ws, os) = (inputs.x_shape, inputs.w_shape, inputs.out_shape);
    let (c_in_g, c_out_g) = (case.c_in / case.groups, case.c_out / case.groups);
    let mut out = vec![0.0; os.iter().product()];
    let mut grad_x = vec![0.0; x.len()];
    let mut grad_w = vec![0.0; w.len()];
    for n in 0..os[0] {
        for co in 0..os[1] {
            let g = co / c_out_g;
            for oh in 0..os[2] {
                for ow in 0..os[3] {
                    let o = at(os, n, co, oh, ow);
                    let mut acc = b.as_ref().map_or(0.0, |b| b[co]);
                    for ci in 0..c_in_g {
                        let cx = g * c_in_g + ci;
                        for kh in 0..ws[2] {
                            let (s, d, p) = (case.stride[0], case.dilation[0], case.padding[0].0);
                            let Some(ih) = tap(oh, s, kh, d, p, xs[2]) else {
                                continue;
                            };
                            for kw in 0..ws[3] {
                                let (s, d, p) =
                                    (case.stride[1], case.dilation[1], case.padding[1].0);
                                let Some(iw) = tap(ow, s, kw, d, p, xs[3]) else {
                                    continue;
                                };
                                let (xi, wi) = (at(xs, n, cx, ih, iw), at(ws, co, ci, kh, kw));
                                acc += x[xi] * w[wi];
                                grad_x[xi] += r[o] * w[wi];
                                grad_w[wi] += r[o] * x[xi];
                            }
                        }
                    }
                    out[o] = acc;
                }
            }
        }
    }
    Results {
        out,
        grad_x,
        grad_w,
        grad_b: b.map(|_| bias_grad(&r, os)),
    }
}

fn naive_conv_transpose2d(case: &Case, inputs: &Inputs) -> Results<f64> {
    let (x, w, r) = (widen(&inputs.x), widen(&inputs.w), widen(&inputs.r));
    let b = inputs.b.as_deref().map(widen);
    let (xs, ws, os) = (inputs.x_shape, inputs.w_shape, inputs.out_shape);
    let (c_in_g, c_out_g) = (case.c_in / case.groups, case.c_out / case.groups);
    let mut out = vec![0.0; os.iter().product()];
    if let Some(b) = &b {
        for n in 0..os[0] {
            for (c, bc) in b.iter().enumerate() {
                let start = at(os, n, c, 0, 0);
                out[start..start + os[2] * os[3]].fill(*bc);
            }
        }
    }
    let mut grad_x = vec![0.0; x.len()];
    let mut grad_w = vec![0.0; w.len()];
    for n in 0..xs[0] {
        for ci in 0..xs[1] {
            let g = ci / c_in_g;
            for ih in 0..xs[2] {
                for iw in 0..xs[3] {
                    let xi = at(xs, n, ci, ih, iw);
                    for co in 0..c_out_g {
                        let oc = g * c_out_g + co;
                        for kh in 0..ws[2] {
                            let (s, d, p) = (case.stride[0], case.dilation[0], case.padding[0].0);
                            let Some(oh) = tap(ih, s, kh, d, p, os[2]) else {
                                continue;
                            };
                            for kw in 0..ws[3] {
                                let (s, d, p) =
                                    (case.stride[1], case.dilation[1], case.padding[1].0);
                                let Some(ow) = tap(iw, s, kw, d, p, os[3]) else {
                                    continue;
                                };
                                let (o, wi) = (at(os, n, oc, oh, ow), at(ws, ci, co, kh, kw));
                                out[o] += x[xi] * w[wi];
                                grad_x[xi] += r[o] * w[wi];
                                grad_w[wi] += r[o] * x[xi];
                            }
                        }
                    }
                }
            }
        }
    }
    Results {
        out,
        grad_x,
        grad_w,
        grad_b: b.map(|_| bias_grad(&r, os)),
    }
}

// ---------------------------------------------------------------------------------------------
// Kernel-vs-naive checks.
// ---------------------------------------------------------------------------------------------

/// Compares every quantity of every case; panics once with the list of all failures.
fn check_cases(op_name: &str, cases: &[Case], transposed: bool) {
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let inputs = Inputs::new(case, transposed, 1000 + i as u64);
        let (burn, plain_out, naive) = if transposed {
            let options = case.transposed_options();
            let (burn, plain) =
                inputs.run_burn(|x, w, b| conv_transpose2d(x, w, b, options.clone()));
            (burn, plain, naive_conv_transpose2d(case, &inputs))
        } else {
            let options = case.conv_options();
            let (burn, plain) = inputs.run_burn(|x, w, b| conv2d(x, w, b, options.clone()));
            (burn, plain, naive_conv2d(case, &inputs))
        };
        let mut pairs = vec![
            ("forward", &burn.out, &naive.out),
            ("forward (no autodiff)", &plain_out, &naive.out),
            ("grad input", &burn.grad_x, &naive.grad_x),
            ("grad weight", &burn.grad_w, &naive.grad_w),
        ];
        if let (Some(got), Some(want)) = (&burn.grad_b, &naive.grad_b) {
            pairs.push(("grad bias", got, want));
        }
        for (what, got, want) in pairs {
            let err = relative_error(got, want);
            println!("{op_name} {what:21} {:28} {err:.2e}", case.label);
            if err.is_nan() || err > TOLERANCE {
                failures.push(format!(
                    "{op_name} {what}: {} {case:?} (x {:?}, w {:?}, out {:?}): \
                     max|diff|/max|ref| = {err:.3e}",
                    case.label, inputs.x_shape, inputs.w_shape, inputs.out_shape
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} comparison(s) over tolerance {TOLERANCE:e}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn conv2d_model_layers_match_naive_loops() {
    check_cases(
        "conv2d",
        &[
            Case::new("3x3 s1 p1", [2, 24, 24], [12, 10], 3, 1, 1),
            Case::new("1x1", [3, 24, 13], [7, 9], 1, 1, 0),
            Case::new("4x4 s2 p1 (down)", [2, 13, 24], [16, 12], 4, 2, 1),
            Case::new("3x3 d2 p2", [2, 24, 24], [11, 13], 3, 1, 2).dilation(2),
        ],
        false,
    );
}

#[test]
fn conv2d_edge_cases_match_naive_loops() {
    check_cases(
        "conv2d",
        &[
            Case::new("3x3 s1 p1 odd", [1, 3, 5], [7, 9], 3, 1, 1),
            Case::new("3x3 s1 p0", [3, 5, 13], [13, 11], 3, 1, 0),
            Case::new("3x3 s1 p2", [1, 13, 5], [7, 9], 3, 1, 2),
            Case::new("4x4 s2 p1 odd", [3, 5, 3], [13, 11], 4, 2, 1),
            Case::new("4x4 s2 p0 odd", [1, 3, 24], [7, 9], 4, 2, 0),
            Case::new("3x3 s2 p1 no bias", [3, 13, 5], [13, 11], 3, 2, 1).no_bias(),
            Case::new("1x1 p1 (padded 1x1)", [1, 5, 13], [7, 9], 1, 1, 1),
            Case::new("1x1 s2", [3, 13, 3], [13, 11], 1, 2, 0),
            Case::new("3x3 d2 p1", [1, 5, 3], [13, 11], 3, 1, 1).dilation(2),
            Case::new("3x3 s1 p3 (pad > k-1)", [1, 3, 5], [7, 9], 3, 1, 3),
            Case::new("3x3 groups 2", [3, 24, 24], [7, 9], 3, 1, 1).groups(2),
            Case::new("4x4 s2 groups 2", [1, 6, 4], [13, 11], 4, 2, 1).groups(2),
            Case::new("3x3 asymmetric pad", [3, 5, 13], [7, 9], 3, 1, 0)
                .asymmetric([(1, 2), (0, 1)]),
            // Winograd F(2×2, 3×3) path (3×3 stride 1, ≥ 8 channels per group): odd sizes
            // (a last band of one row, a last column pair of one), pad 0 and 2, asymmetric
            // padding, a single output row.
            Case::new("3x3 winograd odd", [3, 8, 9], [9, 7], 3, 1, 1),
            Case::new("3x3 winograd p0", [1, 13, 8], [6, 11], 3, 1, 0),
            Case::new("3x3 winograd p2", [2, 9, 16], [5, 5], 3, 1, 2),
            Case::new("3x3 winograd asymmetric", [1, 16, 8], [7, 10], 3, 1, 0)
                .asymmetric([(2, 0), (1, 2)]),
            Case::new("3x3 winograd one row", [1, 8, 8], [1, 33], 3, 1, 1),
            // F(4×4, 3×3) forward and weight gradient (outputs ≥ 32 wide, like the single-row
            // and multi-tile cases): last tiles of 2, 3 and 1 columns and of 3, 1 and 2 rows.
            Case::new("3x3 winograd 4x4 a", [2, 8, 9], [11, 66], 3, 1, 1),
            Case::new("3x3 winograd 4x4 p0", [1, 16, 8], [7, 69], 3, 1, 0),
            Case::new("3x3 winograd 4x4 c", [1, 9, 12], [6, 65], 3, 1, 1),
            // Large enough that the column buffer is split into several tiles.
            Case::new("3x3 s1 p1 multi-tile", [2, 24, 24], [40, 72], 3, 1, 1),
            Case::new("4x4 s2 p1 multi-tile", [1, 24, 13], [96, 80], 4, 2, 1),
        ],
        false,
    );
}

#[test]
fn conv_transpose2d_model_layers_match_naive_loops() {
    check_cases(
        "conv_transpose2d",
        &[
            Case::new("4x4 s2 p1 (up)", [2, 24, 24], [8, 6], 4, 2, 1),
            Case::new("4x4 s2 p1 (up) odd", [1, 13, 24], [7, 9], 4, 2, 1),
        ],
        true,
    );
}

#[test]
fn conv_transpose2d_edge_cases_match_naive_loops() {
    check_cases(
        "conv_transpose2d",
        &[
            Case::new("4x4 s2 p1 odd", [3, 5, 3], [13, 11], 4, 2, 1),
            Case::new("3x3 s1 p1", [3, 5, 13], [7, 9], 3, 1, 1),
            Case::new("3x3 s1 p0 no bias", [1, 3, 5], [7, 9], 3, 1, 0).no_bias(),
            Case::new("3x3 s2 p1 padding_out 1", [2, 13, 5], [7, 9], 3, 2, 1).padding_out([1, 1]),
            Case::new("4x4 s2 p2", [1, 24, 3], [13, 11], 4, 2, 2),
            Case::new("3x3 d2 p2", [3, 5, 13], [13, 11], 3, 1, 2).dilation(2),
            Case::new("1x1", [3, 13, 5], [7, 9], 1, 1, 0),
            Case::new("4x4 s2 p1 groups 2", [3, 6, 4], [7, 9], 4, 2, 1).groups(2),
            Case::new("3x3 s1 p1 groups 2", [1, 24, 24], [13, 11], 3, 1, 1).groups(2),
            // Large enough that the column buffer is split into several tiles.
            Case::new("4x4 s2 p1 multi-tile", [2, 24, 13], [40, 36], 4, 2, 1),
        ],
        true,
    );
}

// ---------------------------------------------------------------------------------------------
// Reference convs from generic tensor ops (no conv kernel anywhere in their graph).
// ---------------------------------------------------------------------------------------------

/// Zero padding by concatenation: `[top, bottom, left, right]`.
fn zero_pad(x: Tensor<4>, [top, bottom, left, right]: [usize; 4]) -> Tensor<4> {
    let device = x.device();
    let [n, c, h, w] = x.dims();
    let mut rows = Vec::new();
    if top > 0 {
        rows.push(Tensor::zeros([n, c, top, w], &device));
    }
    rows.push(x);
    if bottom > 0 {
        rows.push(Tensor::zeros([n, c, bottom, w], &device));
    }
    let x = Tensor::cat(rows, 2);
    let h = h + top + bottom;
    let mut cols = Vec::new();
    if left > 0 {
        cols.push(Tensor::zeros([n, c, h, left], &device));
    }
    cols.push(x);
    if right > 0 {
        cols.push(Tensor::zeros([n, c, h, right], &device));
    }
    Tensor::cat(cols, 3)
}

/// Every `stride`-th row and column, starting at 0: `[n, c, s·ho, s·wo]` → `[n, c, ho, wo]`.
fn subsample(x: Tensor<4>, stride: usize) -> Tensor<4> {
    if stride == 1 {
        return x;
    }
    let [n, c, h, w] = x.dims();
    let (ho, wo) = (h / stride, w / stride);
    let x = x
        .reshape::<5, _>([n, c, ho, stride, w])
        .narrow(3, 0, 1)
        .reshape::<5, _>([n, c, ho, wo, stride])
        .narrow(4, 0, 1);
    x.reshape([n, c, ho, wo])
}

/// `stride - 1` zeros between neighbouring pixels: `[n, c, h, w]` → `[n, c, (h-1)s+1, (w-1)s+1]`.
fn zero_insert(x: Tensor<4>, stride: usize) -> Tensor<4> {
    if stride == 1 {
        return x;
    }
    let device = x.device();
    let [n, c, h, w] = x.dims();
    let x = Tensor::cat(
        vec![
            x.reshape::<5, _>([n, c, h, w, 1]),
            Tensor::zeros([n, c, h, w, stride - 1], &device),
        ],
        4,
    )
    .reshape::<4, _>([n, c, h, w * stride])
    .narrow(3, 0, (w - 1) * stride + 1);
    let wu = (w - 1) * stride + 1;
    Tensor::cat(
        vec![
            x.reshape::<5, _>([n, c, h, 1, wu]),
            Tensor::zeros([n, c, h, stride - 1, wu], &device),
        ],
        3,
    )
    .reshape::<4, _>([n, c, h * stride, wu])
    .narrow(2, 0, (h - 1) * stride + 1)
}

/// Sum over kernel taps of `tap(i, j) · window(i, j)`: `xp` is the already padded input,
/// `tap(i, j)` a `[c_out, c_in]` matrix, the windows are strided `[ho, wo]` views of `xp`.
fn conv_from_taps(
    xp: Tensor<4>,
    tap: impl Fn(usize, usize) -> Tensor<2>,
    [kh, kw]: [usize; 2],
    stride: usize,
    [ho, wo]: [usize; 2],
    bias: Tensor<1>,
) -> Tensor<4> {
    let [n, c_in, hp, wp] = xp.dims();
    // Windows of length stride·ho must fit: pad the far end with zeros that are never picked.
    let xp = zero_pad(
        xp,
        [
            0,
            (kh - 1 + stride * ho).saturating_sub(hp),
            0,
            (kw - 1 + stride * wo).saturating_sub(wp),
        ],
    );
    let mut acc: Option<Tensor<3>> = None;
    for i in 0..kh {
        for j in 0..kw {
            let window = xp
                .clone()
                .narrow(2, i, stride * ho)
                .narrow(3, j, stride * wo);
            let window = subsample(window, stride).reshape([n, c_in, ho * wo]);
            let t = tap(i, j);
            let c_out = t.dims()[0];
            let term = t
                .reshape::<3, _>([1, c_out, c_in])
                .repeat_dim(0, n)
                .matmul(window);
            acc = Some(match acc {
                Some(a) => a + term,
                None => term,
            });
        }
    }
    let y = acc.expect("non-empty kernel");
    let c_out = y.dims()[1];
    y.reshape([n, c_out, ho, wo]) + bias.reshape([1, c_out, 1, 1])
}

/// Reference conv2d (groups 1, dilation 1, symmetric padding), weight `[c_out, c_in, kh, kw]`.
fn reference_conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Tensor<1>,
    stride: usize,
    pad: usize,
) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    let [c_out, c_in, kh, kw] = weight.dims();
    let out = [
        (h + 2 * pad - kh) / stride + 1,
        (w + 2 * pad - kw) / stride + 1,
    ];
    let xp = zero_pad(x, [pad; 4]);
    let tap = |i, j| {
        weight
            .clone()
            .narrow(2, i, 1)
            .narrow(3, j, 1)
            .reshape([c_out, c_in])
    };
    conv_from_taps(xp, tap, [kh, kw], stride, out, bias)
}

/// Reference conv_transpose2d (groups 1, dilation 1, no padding_out, `pad ≤ k - 1`), weight
/// `[c_in, c_out, kh, kw]`: zero insertion, padding by `k - 1 - pad`, then a stride-1 conv with
/// the spatially flipped, channel-transposed kernel.
fn reference_conv_transpose2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Tensor<1>,
    stride: usize,
    pad: usize,
) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    let [c_in, c_out, kh, kw] = weight.dims();
    let out = [
        (h - 1) * stride + kh - 2 * pad,
        (w - 1) * stride + kw - 2 * pad,
    ];
    let (qh, qw) = (kh - 1 - pad, kw - 1 - pad);
    let xp = zero_pad(zero_insert(x, stride), [qh, qh, qw, qw]);
    let tap = |i, j| {
        weight
            .clone()
            .narrow(2, kh - 1 - i, 1)
            .narrow(3, kw - 1 - j, 1)
            .reshape([c_in, c_out])
            .transpose()
    };
    conv_from_taps(xp, tap, [kh, kw], 1, out, bias)
}

/// The reference convs themselves agree with the naive loops (so that a mismatch in the
/// training check below points at Burn's conv ops, not at the reference).
#[test]
fn reference_convs_match_naive_loops() {
    let device = Device::flex();
    let mut failures = Vec::new();
    let cases = [
        (Case::new("3x3 s1 p1", [2, 3, 8], [7, 9], 3, 1, 1), false),
        (Case::new("4x4 s2 p1", [2, 8, 8], [7, 9], 4, 2, 1), false),
        (Case::new("1x1", [2, 8, 3], [7, 9], 1, 1, 0), false),
        (Case::new("3x3 s2 p0", [1, 5, 3], [13, 11], 3, 2, 0), false),
        (
            Case::new("4x4 s2 p1 (up)", [2, 8, 8], [4, 5], 4, 2, 1),
            true,
        ),
        (
            Case::new("3x3 s1 p1 (up)", [1, 5, 3], [7, 9], 3, 1, 1),
            true,
        ),
        (
            Case::new("3x3 s2 p0 (up)", [1, 3, 5], [7, 9], 3, 2, 0),
            true,
        ),
    ];
    for (i, (case, transposed)) in cases.iter().enumerate() {
        let inputs = Inputs::new(case, *transposed, 2000 + i as u64);
        let x = tensor4(&inputs.x, inputs.x_shape, &device);
        let w = tensor4(&inputs.w, inputs.w_shape, &device);
        let b = tensor1(inputs.b.as_deref().expect("bias"), &device);
        let (s, p) = (case.stride[0], case.padding[0].0);
        let (got, want) = if *transposed {
            let got = reference_conv_transpose2d(x, w, b, s, p);
            (got, naive_conv_transpose2d(case, &inputs).out)
        } else {
            (
                reference_conv2d(x, w, b, s, p),
                naive_conv2d(case, &inputs).out,
            )
        };
        assert_eq!(got.dims(), inputs.out_shape, "{}", case.label);
        let err = relative_error(&read(got), &want);
        if err.is_nan() || err > TOLERANCE {
            failures.push(format!("{} transposed={transposed}: {err:.3e}", case.label));
        }
    }
    assert!(failures.is_empty(), "reference convs off: {failures:?}");
}

// ---------------------------------------------------------------------------------------------
// 20 SGD steps: Burn's conv ops vs the reference convs.
// ---------------------------------------------------------------------------------------------

/// Which implementation the tiny net uses for its convolutions.
#[derive(Clone, Copy, Debug)]
enum Convs {
    Burn,
    Reference,
}

/// conv 3×3 3→8 → ReLU → conv 4×4 s2 p1 8→8 → ReLU → conv_transpose 4×4 s2 p1 8→8 → ReLU →
/// conv 1×1 8→3. `weights[2]` is a transposed-conv weight `[c_in, c_out, 4, 4]`.
fn tiny_net(x: Tensor<4>, weights: &[Tensor<4>], biases: &[Tensor<1>], convs: Convs) -> Tensor<4> {
    let (w, b) = (|i: usize| weights[i].clone(), |i: usize| biases[i].clone());
    let conv = |x, i, stride, pad| match convs {
        Convs::Burn => conv2d(
            x,
            w(i),
            Some(b(i)),
            ConvOptions::new([stride; 2], [pad; 2], [1, 1], 1),
        ),
        Convs::Reference => reference_conv2d(x, w(i), b(i), stride, pad),
    };
    let up = |x| match convs {
        Convs::Burn => conv_transpose2d(
            x,
            w(2),
            Some(b(2)),
            ConvTransposeOptions::new([2, 2], [1, 1], [0, 0], [1, 1], 1),
        ),
        Convs::Reference => reference_conv_transpose2d(x, w(2), b(2), 2, 1),
    };
    let y = relu(conv(x, 0, 1, 1));
    let y = relu(conv(y, 1, 2, 1));
    let y = relu(up(y));
    conv(y, 3, 1, 0)
}

/// One plain SGD update `p ← p - lr·∂L/∂p`, as a fresh leaf that requires a gradient.
fn sgd<const D: usize>(p: Tensor<D>, grads: &Gradients, lr: f32) -> Tensor<D> {
    let g = p.grad(grads).expect("parameter gradient");
    (p.without_autodiff() - g.mul_scalar(lr))
        .autodiff()
        .require_grad()
}

/// Trains the tiny net for `steps` plain SGD steps on one fixed batch; returns the losses.
fn train(convs: Convs, steps: usize) -> Vec<f64> {
    const LR: f32 = 0.2;
    let device = Device::flex().autodiff();
    let mut rng = Lcg::new(7);
    let x_shape = [2, 3, 12, 10];
    let input = tensor4(&rng.values(x_shape.iter().product(), 1.0), x_shape, &device);
    // Target: a fixed smooth-ish function of the input (a channel mix), easy to fit.
    let target = input.clone().flip([1]).mul_scalar(0.5) + input.clone().mul_scalar(0.25);
    let shapes = [[8, 3, 3, 3], [8, 8, 4, 4], [8, 8, 4, 4], [3, 8, 1, 1]];
    let mut weights: Vec<Tensor<4>> = shapes
        .iter()
        .map(|s| {
            let fan_in = if s == &shapes[2] {
                8 * 4
            } else {
                s[1] * s[2] * s[3]
            };
            let scale = (3.0 / fan_in as f32).sqrt();
            tensor4(&rng.values(s.iter().product(), scale), *s, &device).require_grad()
        })
        .collect();
    let mut biases: Vec<Tensor<1>> = [8, 8, 8, 3]
        .iter()
        .map(|&c| tensor1(&rng.values(c, 0.1), &device).require_grad())
        .collect();

    let mut losses = Vec::with_capacity(steps);
    for _ in 0..steps {
        let out = tiny_net(input.clone(), &weights, &biases, convs);
        let loss = (out - target.clone()).square().mean();
        let grads = loss.backward();
        losses.push(f64::from(loss.into_scalar::<f32>()));
        weights = weights.into_iter().map(|p| sgd(p, &grads, LR)).collect();
        biases = biases.into_iter().map(|p| sgd(p, &grads, LR)).collect();
    }
    losses
}

#[test]
fn sgd_with_burn_convs_tracks_reference_convs() {
    const STEPS: usize = 20;
    let burn = train(Convs::Burn, STEPS);
    let reference = train(Convs::Reference, STEPS);
    let mut report = String::new();
    let mut worst = 0.0f64;
    for (step, (a, b)) in burn.iter().zip(&reference).enumerate() {
        let rel = (a - b).abs() / b.abs();
        worst = worst.max(rel);
        report.push_str(&format!(
            "step {step:2}: burn {a:.7} reference {b:.7} rel {rel:.2e}\n"
        ));
    }
    println!("{report}");
    assert!(
        worst <= 1e-3,
        "loss curves diverge (worst relative difference {worst:.3e}):\n{report}"
    );
    assert!(
        burn[STEPS - 1] < 0.8 * burn[0],
        "loss did not decrease enough:\n{report}"
    );
}
