//! Stock vs patched flex conv timings (forward, x-grad, weight-grad) for the model's shapes,
//! plus an autodiff forward+backward step of one 3×3 conv (48→48 @32², batch 8).
//!
//! `cd bench/conv_ops && cargo run --release` (its own crate and target folder: not built by
//! the tests or CI). "Stock" is Burn 0.22.1's generic conv backward and flex's own forward,
//! copied into `patches/burn-flex/tests/common/stock_generic.rs`; "patched" is
//! `patches/burn-flex` (issue 11). Medians of interleaved repetitions, in one process.
#[path = "../../../patches/burn-flex/tests/common/stock_generic.rs"]
mod stock_generic;

use std::time::Instant;

use burn_backend::ops::{ConvOptions, ConvTransposeOptions, ModuleOps};
use burn_backend::TensorData;
use burn_flex::{Flex, FlexTensor};

fn rand_tensor(shape: [usize; 4], seed: u64) -> FlexTensor {
    let mut s = seed;
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    FlexTensor::from_data(TensorData::new(v, shape))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Times `a` and `b` interleaved, `reps` times each after one warm-up; returns medians in ms.
fn time_pair(reps: usize, mut a: impl FnMut() -> FlexTensor, mut b: impl FnMut() -> FlexTensor) -> (f64, f64) {
    std::hint::black_box(a());
    std::hint::black_box(b());
    let (mut ta, mut tb) = (vec![], vec![]);
    for _ in 0..reps {
        let t = Instant::now();
        std::hint::black_box(a());
        ta.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        std::hint::black_box(b());
        tb.push(t.elapsed().as_secs_f64() * 1e3);
    }
    (median(ta), median(tb))
}

struct Shape {
    name: &'static str,
    batch: usize,
    c_in: usize,
    c_out: usize,
    hw: usize,
    k: usize,
    stride: usize,
    pad: usize,
    dil: usize,
    transposed: bool,
}

fn main() {
    let reps: usize = std::env::var("REPS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let filter = std::env::var("ONLY").unwrap_or_default();
    if let Some(n) = std::env::var("COL").ok().and_then(|s| s.parse().ok()) {
        burn_flex::ops::conv_gemm::set_col_elems(n);
        println!("col elems {n}");
    }
    let s = |name, batch, c_in, c_out, hw, k, stride, pad, dil, transposed| Shape { name, batch, c_in, c_out, hw, k, stride, pad, dil, transposed };
    let shapes = [
        s("3x3 3→24 @128² b4", 4, 3, 24, 128, 3, 1, 1, 1, false),
        s("3x3 24→24 @128² b4", 4, 24, 24, 128, 3, 1, 1, 1, false),
        s("3x3 24→3 @128² b4", 4, 24, 3, 128, 3, 1, 1, 1, false),
        s("3x3 32→32 @128² b2", 2, 32, 32, 128, 3, 1, 1, 1, false),
        s("3x3 24→24 @64² b8", 8, 24, 24, 64, 3, 1, 1, 1, false),
        s("3x3 48→48 @64² b8", 8, 48, 48, 64, 3, 1, 1, 1, false),
        s("3x3 48→48 @32² b8", 8, 48, 48, 32, 3, 1, 1, 1, false),
        s("3x3 96→96 @32² b8", 8, 96, 96, 32, 3, 1, 1, 1, false),
        s("3x3 d2 96→96 @32² b8", 8, 96, 96, 32, 3, 1, 2, 2, false),
        s("1x1 96→48 @32² b8", 8, 96, 48, 32, 1, 1, 0, 1, false),
        s("1x1 48→24 @64² b8", 8, 48, 24, 64, 1, 1, 0, 1, false),
        s("4x4 s2 24→48 @128² b4", 4, 24, 48, 128, 4, 2, 1, 1, false),
        s("4x4 s2 48→96 @64² b8", 8, 48, 96, 64, 4, 2, 1, 1, false),
        s("T4x4 s2 96→48 @32² b8", 8, 96, 48, 32, 4, 2, 1, 1, true),
        s("T4x4 s2 48→24 @64² b8", 8, 48, 24, 64, 4, 2, 1, 1, true),
    ];
    println!("reps {reps} (medians), threads {}", rayon_threads());
    println!("| shape | op | stock ms | patched ms | stock GFLOP/s | patched GFLOP/s | speed-up |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for sh in &shapes {
        if !filter.is_empty() && !sh.name.contains(&filter) {
            continue;
        }
        if std::env::var("TUNE").is_ok() {
            tune(sh, reps);
        } else if sh.transposed {
            bench_transposed(sh, reps);
        } else {
            bench_conv(sh, reps);
        }
    }
    if std::env::var("TUNE").is_err() && (filter.is_empty() || filter == "step") {
        autodiff_step(reps.max(7));
    }
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

fn row(name: &str, op: &str, flops: f64, (a, b): (f64, f64)) {
    println!(
        "| {name} | {op} | {a:.2} | {b:.2} | {:.1} | {:.1} | {:.2}× |",
        flops / a / 1e6,
        flops / b / 1e6,
        a / b
    );
}

fn bench_conv(sh: &Shape, reps: usize) {
    let oh = (sh.hw + 2 * sh.pad - sh.dil * (sh.k - 1) - 1) / sh.stride + 1;
    let x = rand_tensor([sh.batch, sh.c_in, sh.hw, sh.hw], 1);
    let w = rand_tensor([sh.c_out, sh.c_in, sh.k, sh.k], 2);
    let dy = rand_tensor([sh.batch, sh.c_out, oh, oh], 3);
    let o = ConvOptions::new([sh.stride; 2], [sh.pad; 2], [sh.dil; 2], 1);
    let flops = 2.0 * (sh.batch * sh.c_out * oh * oh * sh.c_in * sh.k * sh.k) as f64;
    let t = time_pair(
        reps,
        || stock_generic::stock_conv2d(x.clone(), w.clone(), None, o.clone()),
        || burn_flex::ops::conv_gemm::conv2d_forward(x.clone(), w.clone(), None, &o),
    );
    row(sh.name, "forward", flops, t);
    let t = time_pair(
        reps,
        || stock_generic::conv2d_x_backward(x.clone(), w.clone(), dy.clone(), o.clone()),
        || Flex::conv2d_x_backward(x.clone(), w.clone(), dy.clone(), o.clone()),
    );
    row(sh.name, "x-grad", flops, t);
    let t = time_pair(
        reps,
        || stock_generic::conv2d_weight_backward(x.clone(), w.clone(), dy.clone(), o.clone()),
        || Flex::conv2d_weight_backward(x.clone(), w.clone(), dy.clone(), o.clone()),
    );
    row(sh.name, "w-grad", flops, t);
}

fn bench_transposed(sh: &Shape, reps: usize) {
    // conv_transpose2d: x [B, c_in, hw, hw] -> y [B, c_out, OH, OH]
    let oh = (sh.hw - 1) * sh.stride + sh.dil * (sh.k - 1) + 1 - 2 * sh.pad;
    let x = rand_tensor([sh.batch, sh.c_in, sh.hw, sh.hw], 1);
    let w = rand_tensor([sh.c_in, sh.c_out, sh.k, sh.k], 2);
    let dy = rand_tensor([sh.batch, sh.c_out, oh, oh], 3);
    let o = ConvTransposeOptions::new([sh.stride; 2], [sh.pad; 2], [0; 2], [sh.dil; 2], 1);
    let flops = 2.0 * (sh.batch * sh.c_in * sh.hw * sh.hw * sh.c_out * sh.k * sh.k) as f64;
    let t = time_pair(
        reps,
        || stock_generic::stock_conv_transpose2d(x.clone(), w.clone(), None, o.clone()),
        || Flex::conv_transpose2d(x.clone(), w.clone(), None, o.clone()),
    );
    row(sh.name, "forward (unchanged)", flops, t);
    let t = time_pair(
        reps,
        || stock_generic::conv_transpose2d_x_backward(w.clone(), dy.clone(), o.clone()),
        || Flex::conv_transpose2d_x_backward(w.clone(), dy.clone(), o.clone()),
    );
    row(sh.name, "x-grad", flops, t);
    let t = time_pair(
        reps,
        || stock_generic::conv_transpose2d_weight_backward(x.clone(), w.clone(), dy.clone(), o.clone()),
        || Flex::conv_transpose2d_weight_backward(x.clone(), w.clone(), dy.clone(), o.clone()),
    );
    row(sh.name, "w-grad", flops, t);
}

include!("../../step.rs");

/// Column-budget sweep, interleaved within each repetition (patched ops only).
fn tune(sh: &Shape, reps: usize) {
    let cols = [32768usize, 65536, 131072, 262144, 524288];
    let oh = if sh.transposed {
        (sh.hw - 1) * sh.stride + sh.dil * (sh.k - 1) + 1 - 2 * sh.pad
    } else {
        (sh.hw + 2 * sh.pad - sh.dil * (sh.k - 1) - 1) / sh.stride + 1
    };
    let x = rand_tensor([sh.batch, sh.c_in, sh.hw, sh.hw], 1);
    let dy = rand_tensor([sh.batch, sh.c_out, oh, oh], 3);
    let ops: Vec<(&str, Box<dyn Fn() -> FlexTensor>)> = if sh.transposed {
        let w = rand_tensor([sh.c_in, sh.c_out, sh.k, sh.k], 2);
        let o = ConvTransposeOptions::new([sh.stride; 2], [sh.pad; 2], [0; 2], [sh.dil; 2], 1);
        let (w1, dy1, o1) = (w.clone(), dy.clone(), o.clone());
        let (x2, w2, dy2, o2) = (x.clone(), w.clone(), dy.clone(), o.clone());
        vec![
            ("x-grad", Box::new(move || Flex::conv_transpose2d_x_backward(w1.clone(), dy1.clone(), o1.clone()))),
            ("w-grad", Box::new(move || Flex::conv_transpose2d_weight_backward(x2.clone(), w2.clone(), dy2.clone(), o2.clone()))),
        ]
    } else {
        let w = rand_tensor([sh.c_out, sh.c_in, sh.k, sh.k], 2);
        let o = ConvOptions::new([sh.stride; 2], [sh.pad; 2], [sh.dil; 2], 1);
        let (x0, w0, o0) = (x.clone(), w.clone(), o.clone());
        let (x1, w1, dy1, o1) = (x.clone(), w.clone(), dy.clone(), o.clone());
        let (x2, w2, dy2, o2) = (x.clone(), w.clone(), dy.clone(), o.clone());
        vec![
            ("forward", Box::new(move || Flex::conv2d(x0.clone(), w0.clone(), None, o0.clone()))),
            ("x-grad", Box::new(move || Flex::conv2d_x_backward(x1.clone(), w1.clone(), dy1.clone(), o1.clone()))),
            ("w-grad", Box::new(move || Flex::conv2d_weight_backward(x2.clone(), w2.clone(), dy2.clone(), o2.clone()))),
        ]
    };
    for (name, op) in &ops {
        let mut times = vec![vec![]; cols.len()];
        std::hint::black_box(op());
        for _ in 0..reps {
            for (i, &c) in cols.iter().enumerate() {
                burn_flex::ops::conv_gemm::set_col_elems(c);
                let t = Instant::now();
                std::hint::black_box(op());
                times[i].push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        let med: Vec<String> = times.into_iter().zip(cols).map(|(t, c)| format!("{}K {:.2}", c / 1024, median(t))).collect();
        println!("{} {name}: {}", sh.name, med.join(" | "));
    }
    burn_flex::ops::conv_gemm::set_col_elems(burn_flex::ops::conv_gemm::COL_ELEMS);
}
