//! PATCH (face-deblur): correctness of the GEMM conv kernels (`ops::conv_gemm`) and the
//! `ModuleOps` overrides that use them, against (a) the stock Burn 0.22.1 generic paths
//! (`common/stock_generic.rs`) and (b) a naive f64 loop. Criterion: max |diff| / max |ref|
//! ≤ 1e-4 (f32) on random data.

#[path = "common/stock_generic.rs"]
mod stock_generic;

use burn_backend::ops::{ConvOptions, ConvTransposeOptions, ModuleOps};
use burn_backend::{DType, TensorData};
use burn_flex::{Flex, FlexTensor};

const TOL: f64 = 1e-4;

struct Rng(u64);
impl Rng {
    fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| {
                self.0 = self
                    .0
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }
}

fn tensor(v: &[f32], shape: [usize; 4], dtype: DType) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(v.to_vec(), shape).convert_dtype(dtype))
}

fn values(t: FlexTensor) -> (Vec<usize>, Vec<f64>) {
    let d = t.into_data().convert::<f64>();
    (d.shape().to_vec(), d.try_to_vec::<f64>().unwrap())
}

fn rel_err(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "length mismatch");
    let max_ref = want.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-30);
    let max_diff = got
        .iter()
        .zip(want)
        .fold(0f64, |m, (a, b)| m.max((a - b).abs()));
    max_diff / max_ref
}

fn check(name: &str, got: FlexTensor, want_shape: &[usize], want: &[f64], tol: f64) {
    let (shape, got) = values(got);
    assert_eq!(shape, want_shape, "{name}: shape");
    let e = rel_err(&got, want);
    assert!(e <= tol, "{name}: relative error {e:e} > {tol:e}");
}

#[derive(Clone, Copy, Debug)]
struct Case {
    batch: usize,
    c_in: usize,
    c_out: usize,
    hw: [usize; 2],
    k: [usize; 2],
    stride: [usize; 2],
    pad: [(usize, usize); 2],
    dil: [usize; 2],
    groups: usize,
}

impl Case {
    fn out_hw(&self) -> [usize; 2] {
        core::array::from_fn(|i| {
            (self.hw[i] + self.pad[i].0 + self.pad[i].1 - self.dil[i] * (self.k[i] - 1) - 1)
                / self.stride[i]
                + 1
        })
    }
    fn options(&self) -> ConvOptions<2> {
        ConvOptions::new_with_padding(self.stride, self.pad, self.dil, self.groups)
    }
}

/// Naive f64 conv: returns (y, dW, dX) for input x, weight w, output gradient dy.
fn naive(c: &Case, x: &[f32], w: &[f32], dy: &[f32]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let [h, wd] = c.hw;
    let [oh, ow] = c.out_hw();
    let (cig, cog) = (c.c_in / c.groups, c.c_out / c.groups);
    let mut y = vec![0f64; c.batch * c.c_out * oh * ow];
    let mut dw = vec![0f64; w.len()];
    let mut dx = vec![0f64; x.len()];
    for b in 0..c.batch {
        for co in 0..c.c_out {
            let g = co / cog;
            for i in 0..oh {
                for j in 0..ow {
                    let yi = ((b * c.c_out + co) * oh + i) * ow + j;
                    for cl in 0..cig {
                        let ci = g * cig + cl;
                        for ki in 0..c.k[0] {
                            let ih =
                                (i * c.stride[0] + ki * c.dil[0]) as isize - c.pad[0].0 as isize;
                            if ih < 0 || ih >= h as isize {
                                continue;
                            }
                            for kj in 0..c.k[1] {
                                let iw = (j * c.stride[1] + kj * c.dil[1]) as isize
                                    - c.pad[1].0 as isize;
                                if iw < 0 || iw >= wd as isize {
                                    continue;
                                }
                                let xi = ((b * c.c_in + ci) * h + ih as usize) * wd + iw as usize;
                                let wi = ((co * cig + cl) * c.k[0] + ki) * c.k[1] + kj;
                                y[yi] += w[wi] as f64 * x[xi] as f64;
                                dw[wi] += dy[yi] as f64 * x[xi] as f64;
                                dx[xi] += dy[yi] as f64 * w[wi] as f64;
                            }
                        }
                    }
                }
            }
        }
    }
    (y, dw, dx)
}

/// Naive per-channel sum of `dy` `[B, C, plane]` (bias gradient).
fn naive_bias(dy: &[f32], c: usize, plane: usize) -> Vec<f64> {
    let mut out = vec![0f64; c];
    for (i, v) in dy.iter().enumerate() {
        out[(i / plane) % c] += *v as f64;
    }
    out
}

fn p(a: usize) -> [(usize, usize); 2] {
    [(a, a), (a, a)]
}

fn conv_cases() -> Vec<Case> {
    let c = |batch, c_in, c_out, hw, k, stride, pad, dil, groups| Case {
        batch,
        c_in,
        c_out,
        hw,
        k,
        stride,
        pad,
        dil,
        groups,
    };
    vec![
        c(1, 3, 24, [7, 9], [3, 3], [1, 1], p(1), [1, 1], 1),
        c(3, 5, 13, [13, 11], [3, 3], [1, 1], p(1), [1, 1], 1),
        c(3, 24, 3, [13, 11], [3, 3], [1, 1], p(0), [1, 1], 1),
        c(1, 24, 5, [13, 11], [3, 3], [1, 1], p(2), [1, 1], 1),
        c(1, 13, 5, [7, 9], [1, 1], [1, 1], p(0), [1, 1], 1),
        c(3, 24, 24, [13, 11], [1, 1], [2, 2], p(0), [1, 1], 1),
        c(3, 5, 13, [13, 11], [1, 1], [1, 1], p(1), [1, 1], 1),
        c(3, 5, 24, [13, 11], [4, 4], [2, 2], p(1), [1, 1], 1),
        c(1, 24, 13, [13, 11], [4, 4], [2, 2], p(2), [1, 1], 1),
        c(1, 3, 5, [7, 9], [4, 4], [2, 2], p(0), [1, 1], 1),
        c(3, 13, 5, [13, 11], [3, 3], [1, 1], p(2), [2, 2], 1),
        c(1, 5, 3, [13, 11], [3, 3], [2, 2], p(1), [2, 2], 1),
        c(1, 5, 3, [7, 9], [3, 3], [1, 1], [(1, 2), (0, 1)], [1, 1], 1),
        c(3, 6, 4, [9, 7], [3, 3], [2, 2], p(1), [1, 1], 2),
        c(1, 8, 8, [7, 9], [3, 3], [1, 1], p(1), [1, 1], 8),
        c(2, 6, 4, [9, 7], [3, 3], [1, 1], p(1), [1, 1], 2),
        // stride 1 with padding > dilation·(k−1): input grad takes the col2im path
        c(1, 4, 6, [7, 9], [3, 3], [1, 1], p(3), [1, 1], 1),
        c(2, 5, 3, [6, 5], [2, 3], [1, 1], [(2, 0), (1, 3)], [1, 1], 1),
        c(
            2,
            4,
            5,
            [11, 10],
            [5, 2],
            [3, 1],
            [(2, 2), (1, 1)],
            [1, 2],
            1,
        ),
        // horizontal stride 2 (the even/odd column-phase im2col / col2im): vertical stride
        // 1, kw = 5 with dilation 2, asymmetric padding, odd and even widths
        c(
            2,
            5,
            4,
            [9, 13],
            [3, 5],
            [1, 2],
            [(1, 0), (2, 3)],
            [1, 2],
            1,
        ),
        c(
            1,
            3,
            6,
            [6, 12],
            [2, 4],
            [2, 2],
            [(0, 1), (3, 0)],
            [1, 1],
            1,
        ),
        // several row tiles (COL_ELEMS), batch-parallel paths
        c(2, 8, 8, [64, 64], [3, 3], [1, 1], p(1), [1, 1], 1),
        c(1, 48, 24, [40, 37], [3, 3], [1, 1], p(1), [1, 1], 1),
        c(8, 24, 48, [32, 32], [4, 4], [2, 2], p(1), [1, 1], 1),
        // 128-wide rows: weight-gradient tiles of 4 / 8 rows (row stride padded from 512 /
        // 1024 elements), a shorter last tile, odd channel counts
        c(1, 24, 24, [20, 128], [3, 3], [1, 1], p(1), [1, 1], 1),
        c(2, 13, 5, [19, 128], [3, 3], [1, 1], p(1), [1, 1], 1),
        // stride-1 kx-only lowering: several row tiles (+ kh − 1 halo rows) and a shorter
        // last tile, odd sizes, dilation, kh ≠ kw and asymmetric / large padding
        c(3, 24, 13, [37, 61], [3, 3], [1, 1], p(1), [1, 1], 1),
        c(1, 5, 24, [150, 257], [3, 3], [1, 1], p(1), [1, 1], 1),
        c(3, 3, 5, [301, 255], [3, 3], [1, 1], p(1), [1, 1], 1),
        c(1, 13, 3, [101, 97], [3, 3], [1, 1], p(2), [2, 2], 1),
        c(
            2,
            5,
            4,
            [23, 17],
            [5, 3],
            [1, 1],
            [(3, 1), (0, 2)],
            [1, 2],
            1,
        ),
        c(3, 24, 24, [3, 5], [3, 3], [1, 1], p(1), [1, 1], 1),
        // batch 1 above 2 MFLOP: the forward splits over (group, tile) tasks — groups,
        // strided im2col tiles, a single output row (one task)
        c(1, 16, 12, [45, 50], [3, 3], [1, 1], p(1), [1, 1], 2),
        c(1, 24, 48, [64, 60], [4, 4], [2, 2], p(1), [1, 1], 1),
        c(1, 24, 24, [1, 300], [3, 3], [1, 1], p(1), [1, 1], 1),
        // Winograd F(2×2, 3×3) and F(4×4, 3×3): odd sizes (a last band of 1–3 rows, a last
        // column tile of 1–3 columns), pad 0 / 2, asymmetric padding, groups with 8 channels
        // each, several bands
        c(3, 8, 9, [9, 7], [3, 3], [1, 1], p(1), [1, 1], 1),
        c(1, 13, 8, [6, 11], [3, 3], [1, 1], p(0), [1, 1], 1),
        c(2, 9, 16, [5, 5], [3, 3], [1, 1], p(2), [1, 1], 1),
        c(
            1,
            16,
            8,
            [7, 10],
            [3, 3],
            [1, 1],
            [(2, 0), (1, 2)],
            [1, 1],
            1,
        ),
        c(2, 16, 16, [9, 13], [3, 3], [1, 1], p(1), [1, 1], 2),
        c(2, 8, 8, [10, 6], [3, 3], [1, 1], p(1), [1, 1], 1),
        c(1, 64, 48, [67, 129], [3, 3], [1, 1], p(1), [1, 1], 1),
    ]
}

#[test]
fn conv2d_gemm_matches_stock_and_naive() {
    let mut rng = Rng(42);
    let mut n = 0;
    for c in conv_cases() {
        let [oh, ow] = c.out_hw();
        let xs = [c.batch, c.c_in, c.hw[0], c.hw[1]];
        let ws = [c.c_out, c.c_in / c.groups, c.k[0], c.k[1]];
        let ys = [c.batch, c.c_out, oh, ow];
        let x = rng.vec(xs.iter().product());
        let w = rng.vec(ws.iter().product());
        let dy = rng.vec(ys.iter().product());
        let (ny, ndw, ndx) = naive(&c, &x, &w, &dy);
        // kx-only lowering of stride-1 convs off (0) and on (3, the default); a single batch
        // item's forward split over tile tasks (1, the default) or not (0); Winograd
        // for 3×3 stride-1 convs of ≥ 8 channels per group (taking precedence over the
        // kx-only paths): F(4×4, 3×3) forward and weight gradient (every width: 4;
        // ≥ WINO4_MIN_OW wide: 3, the default), the same with the F(2×2, 3×3) weight gradient
        // (5), F(2×2, 3×3) for both (2), for the forward only (1), or off (0)
        for (dtype, kxv, split, wino) in [
            (DType::F32, 0, 1, 4),
            (DType::F32, 3, 0, 4),
            (DType::F32, 3, 1, 3),
            (DType::F32, 3, 1, 5),
            (DType::F32, 3, 1, 2),
            (DType::F32, 3, 0, 1),
            (DType::F32, 3, 1, 0),
            (DType::F64, 3, 1, 4),
            (DType::F64, 0, 1, 2),
            (DType::F64, 3, 0, 0),
        ] {
            burn_flex::ops::conv_gemm::set_kx_variant(kxv);
            burn_flex::ops::conv_gemm::set_forward_split(split);
            burn_flex::ops::conv_gemm::set_winograd(wino);
            let (xt, wt, dyt) = (
                tensor(&x, xs, dtype),
                tensor(&w, ws, dtype),
                tensor(&dy, ys, dtype),
            );
            let o = c.options();
            let name = format!("{c:?} {dtype:?} kx{kxv} split{split} wino{wino}");
            // weight gradient, both GEMM layouts (0, 2) and the default choice (1)
            let (_, stock) = values(stock_generic::conv2d_weight_backward(
                xt.clone(),
                wt.clone(),
                dyt.clone(),
                o.clone(),
            ));
            for variant in [0, 2, 1] {
                burn_flex::ops::conv_gemm::set_wgrad_variant(variant);
                let got =
                    Flex::conv2d_weight_backward(xt.clone(), wt.clone(), dyt.clone(), o.clone());
                check(
                    &format!("wgrad v{variant} naive {name}"),
                    got.clone(),
                    &ws,
                    &ndw,
                    TOL,
                );
                check(
                    &format!("wgrad v{variant} stock {name}"),
                    got,
                    &ws,
                    &stock,
                    TOL,
                );
            }
            // input gradient
            let got = Flex::conv2d_x_backward(xt.clone(), wt.clone(), dyt.clone(), o.clone());
            check(&format!("xgrad naive {name}"), got.clone(), &xs, &ndx, TOL);
            let (_, stock) = values(stock_generic::conv2d_x_backward(
                xt.clone(),
                wt.clone(),
                dyt.clone(),
                o.clone(),
            ));
            check(&format!("xgrad stock {name}"), got, &xs, &stock, TOL);
            // bias gradient
            let bt = FlexTensor::from_data(
                TensorData::new(vec![0f32; c.c_out], [c.c_out]).convert_dtype(dtype),
            );
            let got = Flex::conv2d_bias_backward(xt.clone(), bt, dyt.clone());
            check(
                &format!("bgrad naive {name}"),
                got,
                &[c.c_out],
                &naive_bias(&dy, c.c_out, oh * ow),
                TOL,
            );
            // forward (GEMM path) and through ModuleOps::conv2d
            let (xp, op) = burn_backend::ops::conv::pad_asymmetric_conv_input::<Flex, 2>(
                xt.clone(),
                o.clone(),
            );
            let got = burn_flex::ops::conv_gemm::conv2d_forward(xp, wt.clone(), None, &op);
            check(&format!("forward naive {name}"), got, &ys, &ny, TOL);
            let got = Flex::conv2d(xt.clone(), wt.clone(), None, o.clone());
            check(&format!("Flex::conv2d naive {name}"), got, &ys, &ny, TOL);
            // forward with a bias (written into each output tile before the GEMM accumulates)
            let bias = rng.vec(c.c_out);
            let nyb: Vec<f64> = ny
                .iter()
                .enumerate()
                .map(|(i, v)| v + bias[(i / (oh * ow)) % c.c_out] as f64)
                .collect();
            let bt = FlexTensor::from_data(TensorData::new(bias, [c.c_out]).convert_dtype(dtype));
            let (xp, op) = burn_backend::ops::conv::pad_asymmetric_conv_input::<Flex, 2>(
                xt.clone(),
                o.clone(),
            );
            let got =
                burn_flex::ops::conv_gemm::conv2d_forward(xp, wt.clone(), Some(bt.clone()), &op);
            check(&format!("forward+bias naive {name}"), got, &ys, &nyb, TOL);
            let got = Flex::conv2d(xt.clone(), wt.clone(), Some(bt), o.clone());
            check(
                &format!("Flex::conv2d+bias naive {name}"),
                got,
                &ys,
                &nyb,
                TOL,
            );
            n += 1;
        }
        burn_flex::ops::conv_gemm::set_kx_variant(3);
        burn_flex::ops::conv_gemm::set_forward_split(1);
        burn_flex::ops::conv_gemm::set_winograd(3);
    }
    eprintln!("{n} conv2d case/dtype/variant combinations checked");
}

#[test]
fn conv2d_gemm_forward_bias_and_half() {
    let mut rng = Rng(7);
    let c = Case {
        batch: 3,
        c_in: 5,
        c_out: 13,
        hw: [13, 11],
        k: [3, 3],
        stride: [1, 1],
        pad: p(1),
        dil: [1, 1],
        groups: 1,
    };
    let [oh, ow] = c.out_hw();
    let xs = [c.batch, c.c_in, 13, 11];
    let ws = [13, 5, 3, 3];
    let ys = [c.batch, 13, oh, ow];
    let (x, w, dy, bias) = (
        rng.vec(xs.iter().product()),
        rng.vec(ws.iter().product()),
        rng.vec(ys.iter().product()),
        rng.vec(13),
    );
    let (ny, ndw, ndx) = naive(&c, &x, &w, &dy);
    let ny: Vec<f64> = ny
        .iter()
        .enumerate()
        .map(|(i, v)| v + bias[(i / (oh * ow)) % 13] as f64)
        .collect();
    let bt = FlexTensor::from_data(TensorData::new(bias.clone(), [13]));
    let got = burn_flex::ops::conv_gemm::conv2d_forward(
        tensor(&x, xs, DType::F32),
        tensor(&w, ws, DType::F32),
        Some(bt),
        &c.options(),
    );
    check("forward+bias", got, &ys, &ny, TOL);
    for dtype in [DType::F16, DType::BF16] {
        let tol = if dtype == DType::F16 { 5e-3 } else { 3e-2 };
        let (xt, wt, dyt) = (
            tensor(&x, xs, dtype),
            tensor(&w, ws, dtype),
            tensor(&dy, ys, dtype),
        );
        let got = Flex::conv2d_weight_backward(xt.clone(), wt.clone(), dyt.clone(), c.options());
        assert_eq!(got.dtype(), dtype);
        check(&format!("wgrad {dtype:?}"), got, &ws, &ndw, tol);
        let got = Flex::conv2d_x_backward(xt, wt, dyt.clone(), c.options());
        assert_eq!(got.dtype(), dtype);
        check(&format!("xgrad {dtype:?}"), got, &xs, &ndx, tol);
        let bt = FlexTensor::from_data(TensorData::new(vec![0f32; 13], [13]).convert_dtype(dtype));
        let got = Flex::conv2d_bias_backward(tensor(&x, xs, dtype), bt, dyt);
        assert_eq!(got.dtype(), dtype);
        check(
            &format!("bgrad {dtype:?}"),
            got,
            &[13],
            &naive_bias(&dy, 13, oh * ow),
            tol,
        );
    }
}

#[test]
fn conv_transpose2d_grads_match_stock_and_naive() {
    // (batch, c_in_t, c_out_t, hw, k, stride, pad, pad_out, dil, groups)
    type TCase = (
        usize,
        usize,
        usize,
        [usize; 2],
        usize,
        usize,
        usize,
        usize,
        usize,
        usize,
    );
    let cases: Vec<TCase> = vec![
        (3, 24, 13, [7, 9], 4, 2, 1, 0, 1, 1),
        (2, 48, 24, [16, 16], 4, 2, 1, 0, 1, 1),
        (1, 5, 3, [13, 11], 3, 2, 1, 1, 1, 1),
        (3, 6, 4, [7, 9], 3, 1, 1, 0, 2, 2),
        (2, 4, 6, [5, 6], 3, 3, 0, 2, 1, 1),
        (1, 3, 5, [7, 9], 1, 1, 0, 0, 1, 1),
    ];
    let mut rng = Rng(1234);
    let mut n = 0;
    for (batch, cin_t, cout_t, hw, k, s, pd, po, d, groups) in cases {
        let oht: [usize; 2] =
            core::array::from_fn(|i| (hw[i] - 1) * s + d * (k - 1) + 1 + po - 2 * pd);
        let xs = [batch, cin_t, hw[0], hw[1]];
        let ws = [cin_t, cout_t / groups, k, k];
        let ys = [batch, cout_t, oht[0], oht[1]];
        let x = rng.vec(xs.iter().product());
        let w = rng.vec(ws.iter().product());
        let dy = rng.vec(ys.iter().product());
        // The equivalent forward conv maps the transposed conv's output (dy-shaped) to x.
        let c = Case {
            batch,
            c_in: cout_t,
            c_out: cin_t,
            hw: oht,
            k: [k, k],
            stride: [s, s],
            pad: p(pd),
            dil: [d, d],
            groups,
        };
        assert_eq!(c.out_hw(), hw);
        // convT weight grad = conv weight grad with (input = dy, output grad = x);
        // convT x grad = conv forward of dy; convT forward = conv input grad of x.
        let (nxg, ndw, nfwd) = naive(&c, &dy, &w, &x);
        for dtype in [DType::F32, DType::F64] {
            let (xt, wt, dyt) = (
                tensor(&x, xs, dtype),
                tensor(&w, ws, dtype),
                tensor(&dy, ys, dtype),
            );
            let o = ConvTransposeOptions::new([s, s], [pd, pd], [po, po], [d, d], groups);
            let name = format!("convT {xs:?} k{k} s{s} p{pd} po{po} d{d} g{groups} {dtype:?}");
            let (_, stock) = values(stock_generic::conv_transpose2d_weight_backward(
                xt.clone(),
                wt.clone(),
                dyt.clone(),
                o.clone(),
            ));
            for variant in [0, 2, 1] {
                burn_flex::ops::conv_gemm::set_wgrad_variant(variant);
                let got = Flex::conv_transpose2d_weight_backward(
                    xt.clone(),
                    wt.clone(),
                    dyt.clone(),
                    o.clone(),
                );
                check(
                    &format!("wgrad v{variant} naive {name}"),
                    got.clone(),
                    &ws,
                    &ndw,
                    TOL,
                );
                check(
                    &format!("wgrad v{variant} stock {name}"),
                    got,
                    &ws,
                    &stock,
                    TOL,
                );
            }
            let got = Flex::conv_transpose2d_x_backward(wt.clone(), dyt.clone(), o.clone());
            check(&format!("xgrad naive {name}"), got.clone(), &xs, &nxg, TOL);
            let (_, stock) = values(stock_generic::conv_transpose2d_x_backward(
                wt.clone(),
                dyt.clone(),
                o.clone(),
            ));
            check(&format!("xgrad stock {name}"), got, &xs, &stock, TOL);
            let bt = FlexTensor::from_data(
                TensorData::new(vec![0f32; cout_t], [cout_t]).convert_dtype(dtype),
            );
            let got = Flex::conv_transpose2d_bias_backward(xt.clone(), bt, dyt.clone());
            check(
                &format!("bgrad naive {name}"),
                got,
                &[cout_t],
                &naive_bias(&dy, cout_t, oht[0] * oht[1]),
                TOL,
            );
            let got = Flex::conv_transpose2d(xt.clone(), wt.clone(), None, o.clone());
            check(&format!("forward naive {name}"), got, &ys, &nfwd, TOL);
            n += 1;
        }
    }
    eprintln!("{n} conv_transpose2d case/dtype combinations checked");
}
