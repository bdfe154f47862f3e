//! Stock vs patched flex conv timings (forward, x-grad, weight-grad).
//!
//! `cd bench/conv_ops && cargo run --release` (its own crate and target folder: not built by
//! the tests or CI). "Stock" is Burn 0.22.1's generic conv backward and flex's own forward,
//! copied into `patches/burn-flex/tests/common/stock_generic.rs`; "patched" is
//! `patches/burn-flex` (issue 11). Both run on the same `gemm` build (with the patch's
//! AVX-512 kernels), so "stock" here is the stock *algorithms*. Medians of interleaved
//! repetitions, in one process. Environment:
//! - default: the compact generator's convolutions for one training step (batch `B`, default
//!   4, whole 128² faces), per layer kind and n-weighted totals;
//! - `SHAPES=1`: the earlier list of single shapes with GFLOP/s;
//! - `TUNE=1`: column-budget sweep of the patched ops on the `SHAPES` list;
//! - `WGRAD_AB=1`: patched weight gradient, GEMM layout 0 vs 2 per model layer;
//! - `KXAB=1`: patched ops of the 3×3 stride-1 layers, kx-only lowering off
//!   (`set_kx_variant(0)`, the "stock" columns) vs on (`KXV`, default 3), interleaved;
//! - `WINOAB=0|1|2|3|5`: patched ops of the 3×3 stride-1 layers, Winograd off (`WINOAB=0`,
//!   `set_winograd(0)`: the kx-only paths), F(2×2, 3×3) for the forward only (`1`) or for
//!   the forward and weight gradient (`2`), the ninth round's default (`5`: F(4×4, 3×3)
//!   forward where `WINO4_MIN_OW` / `WINO4_MAX_C` pick it, F(2×2, 3×3) weight gradient) in
//!   the "stock" columns vs `WINO_ON` (default 3: F(4×4, 3×3) forward and weight gradient
//!   where those pick it; 4: F(4×4, 3×3) for every forward and weight gradient), interleaved;
//! - `SPLITAB=1` (with `B=1`): patched forward and input gradient, a single batch item's
//!   forward split over tile tasks off (`set_forward_split(0)`) vs on, interleaved;
//! - `REPS` (default 5), `ONLY` (substring of the layer name), `COL` (column budget, also
//!   the kx-only buffers'), `WGV` (layout), `B` (batch, default 4), `HW` (the generator's
//!   input side, default 128; 64 = the training crops: every layer's side scaled by HW/128).
#[path = "../../../patches/burn-flex/tests/common/stock_generic.rs"]
mod stock_generic;

use std::time::Instant;

use burn_backend::TensorData;
use burn_backend::ops::{ConvOptions, ConvTransposeOptions, ModuleOps};
use burn_flex::{Flex, FlexTensor};

fn rand_tensor(shape: [usize; 4], seed: u64) -> FlexTensor {
    let mut s = seed;
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
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
fn time_pair(
    reps: usize,
    mut a: impl FnMut() -> FlexTensor,
    mut b: impl FnMut() -> FlexTensor,
) -> (f64, f64) {
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

/// The environment variable `name` as a number, or `default` when it is unset or not one.
fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let reps: usize = env_usize("REPS", 5);
    let filter = std::env::var("ONLY").unwrap_or_default();
    if let Some(v) = std::env::var("WGV").ok().and_then(|s| s.parse().ok()) {
        burn_flex::ops::conv_gemm::set_wgrad_variant(v);
        println!("weight-gradient variant {v}");
    }
    if let Some(n) = std::env::var("COL").ok().and_then(|s| s.parse().ok()) {
        burn_flex::ops::conv_gemm::set_col_elems(n);
        println!("col elems {n}");
    }
    if std::env::var("SHAPES").is_err() && std::env::var("TUNE").is_err() {
        model_breakdown(reps, &filter);
        return;
    }
    let s = |name, batch, c_in, c_out, hw, k, stride, pad, dil, transposed| Shape {
        name,
        batch,
        c_in,
        c_out,
        hw,
        k,
        stride,
        pad,
        dil,
        transposed,
    };
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
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
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
        || {
            stock_generic::conv_transpose2d_weight_backward(
                x.clone(),
                w.clone(),
                dy.clone(),
                o.clone(),
            )
        },
        || Flex::conv_transpose2d_weight_backward(x.clone(), w.clone(), dy.clone(), o.clone()),
    );
    row(sh.name, "w-grad", flops, t);
}

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
            (
                "x-grad",
                Box::new(move || {
                    Flex::conv_transpose2d_x_backward(w1.clone(), dy1.clone(), o1.clone())
                }),
            ),
            (
                "w-grad",
                Box::new(move || {
                    Flex::conv_transpose2d_weight_backward(
                        x2.clone(),
                        w2.clone(),
                        dy2.clone(),
                        o2.clone(),
                    )
                }),
            ),
        ]
    } else {
        let w = rand_tensor([sh.c_out, sh.c_in, sh.k, sh.k], 2);
        let o = ConvOptions::new([sh.stride; 2], [sh.pad; 2], [sh.dil; 2], 1);
        let (x0, w0, o0) = (x.clone(), w.clone(), o.clone());
        let (x1, w1, dy1, o1) = (x.clone(), w.clone(), dy.clone(), o.clone());
        let (x2, w2, dy2, o2) = (x.clone(), w.clone(), dy.clone(), o.clone());
        vec![
            (
                "forward",
                Box::new(move || Flex::conv2d(x0.clone(), w0.clone(), None, o0.clone())),
            ),
            (
                "x-grad",
                Box::new(move || {
                    Flex::conv2d_x_backward(x1.clone(), w1.clone(), dy1.clone(), o1.clone())
                }),
            ),
            (
                "w-grad",
                Box::new(move || {
                    Flex::conv2d_weight_backward(x2.clone(), w2.clone(), dy2.clone(), o2.clone())
                }),
            ),
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
        let med: Vec<String> = times
            .into_iter()
            .zip(cols)
            .map(|(t, c)| format!("{}K {:.2}", c / 1024, median(t)))
            .collect();
        println!("{} {name}: {}", sh.name, med.join(" | "));
    }
    burn_flex::ops::conv_gemm::set_col_elems(burn_flex::ops::conv_gemm::COL_ELEMS);
}

/// One conv layer kind of the compact generator (`GeneratorConfig::compact()`: channels
/// 24/48/96, priors 32/32/64, blocks 1/2/2/1, SFT fusion) and how often it occurs.
struct Layer {
    name: &'static str,
    count: usize,
    c_in: usize,
    c_out: usize,
    /// Input side (square).
    hw: usize,
    k: usize,
    stride: usize,
    pad: usize,
    transposed: bool,
    /// Whether autodiff needs the input gradient (not for the stem: its input is data).
    x_grad: bool,
}

/// The compact generator's convolutions for one training step (batch `B`, 128² faces):
/// forward, input gradient and weight gradient per layer kind, stock vs patched, times the
/// number of such layers, and the totals. The channel-attention 1×1 convs on 1×1 maps are
/// left out (negligible FLOPs).
fn model_breakdown(reps: usize, filter: &str) {
    let batch: usize = env_usize("B", 4);
    let l = |name, count, c_in, c_out, hw, k, stride, pad, transposed, x_grad| Layer {
        name,
        count,
        c_in,
        c_out,
        hw,
        k,
        stride,
        pad,
        transposed,
        x_grad,
    };
    let layers = [
        l("head 3x3 3→24 @128²", 1, 3, 24, 128, 3, 1, 1, false, false),
        l("3x3 24→24 @128²", 11, 24, 24, 128, 3, 1, 1, false, true),
        l(
            "3x3 24→48 @128² (SSFT)",
            1,
            24,
            48,
            128,
            3,
            1,
            1,
            false,
            true,
        ),
        l(
            "3x3 24→32 @128² (prior out)",
            1,
            24,
            32,
            128,
            3,
            1,
            1,
            false,
            true,
        ),
        l(
            "3x3 32→48 @128² (SFT)",
            1,
            32,
            48,
            128,
            3,
            1,
            1,
            false,
            true,
        ),
        l(
            "1x1 24→24 @128² (SFT)",
            4,
            24,
            24,
            128,
            1,
            1,
            0,
            false,
            true,
        ),
        l(
            "1x1 24→3 @128² (to_rgb)",
            1,
            24,
            3,
            128,
            1,
            1,
            0,
            false,
            true,
        ),
        l("4x4 s2 24→48 @128²", 1, 24, 48, 128, 4, 2, 1, false, true),
        l(
            "T4x4 s2 48→24 @64²→128²",
            1,
            48,
            24,
            64,
            4,
            2,
            1,
            true,
            true,
        ),
        l("3x3 48→48 @64²", 11, 48, 48, 64, 3, 1, 1, false, true),
        l("3x3 48→96 @64² (SSFT)", 1, 48, 96, 64, 3, 1, 1, false, true),
        l(
            "3x3 48→32 @64² (prior out)",
            1,
            48,
            32,
            64,
            3,
            1,
            1,
            false,
            true,
        ),
        l("3x3 32→96 @64² (SFT)", 1, 32, 96, 64, 3, 1, 1, false, true),
        l("1x1 48→48 @64² (SFT)", 4, 48, 48, 64, 1, 1, 0, false, true),
        l("4x4 s2 48→96 @64²", 1, 48, 96, 64, 4, 2, 1, false, true),
        l("T4x4 s2 96→48 @32²→64²", 1, 96, 48, 32, 4, 2, 1, true, true),
        l("3x3 96→96 @32²", 16, 96, 96, 32, 3, 1, 1, false, true),
        l(
            "3x3 96→192 @32² (SSFT)",
            1,
            96,
            192,
            32,
            3,
            1,
            1,
            false,
            true,
        ),
        l(
            "3x3 96→64 @32² (prior out)",
            1,
            96,
            64,
            32,
            3,
            1,
            1,
            false,
            true,
        ),
        l(
            "3x3 64→192 @32² (SFT)",
            1,
            64,
            192,
            32,
            3,
            1,
            1,
            false,
            true,
        ),
        l("1x1 96→96 @32² (SFT)", 4, 96, 96, 32, 1, 1, 0, false, true),
    ];
    // `HW`: the generator's input side (default 128; 64 = the training crops of
    // `train/finetune.json`): every layer's side scaled by HW/128 (the names keep the 128² sides).
    let side: usize = env_usize("HW", 128);
    let layers = layers.map(|ly| Layer {
        hw: (ly.hw * side / 128).max(1),
        ..ly
    });
    println!(
        "compact generator convs, batch {batch}, input {side}² (layer names: at 128²), reps {reps} (medians), threads {}",
        rayon_threads()
    );
    if std::env::var("KXAB").is_ok() {
        println!(
            "KXAB: \"stock\" columns = patched with kx variant 0 (old im2col path), \"patched\" = variant {}",
            kx_new()
        );
    }
    if std::env::var("SPLITAB").is_ok() {
        println!(
            "SPLITAB: \"stock\" columns = patched with the forward split off (a single batch item's tiles in sequence, multithreaded GEMMs), \"patched\" = split over tile tasks; weight gradient not timed"
        );
    }
    println!(
        "| layer | n | fwd stock | fwd patched | x-grad stock | x-grad patched | w-grad stock | w-grad patched | n × total stock | n × total patched |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let (mut tot_s, mut tot_p) = ([0f64; 3], [0f64; 3]);
    for ly in &layers {
        if !filter.is_empty() && !ly.name.contains(filter) {
            continue;
        }
        if std::env::var("WGRAD_AB").is_ok() {
            wgrad_ab(ly, batch, reps);
            continue;
        }
        let t = if std::env::var("KXAB").is_ok() {
            kx_ab(ly, batch, reps)
        } else if std::env::var("WINOAB").is_ok() {
            wino_ab(ly, batch, reps)
        } else if std::env::var("SPLITAB").is_ok() {
            split_ab(ly, batch, reps)
        } else {
            layer_times(ly, batch, reps)
        };
        let n = ly.count as f64;
        for i in 0..3 {
            tot_s[i] += n * t[i].0;
            tot_p[i] += n * t[i].1;
        }
        let cell = |v: f64| {
            if v == 0.0 {
                "–".to_string()
            } else {
                format!("{v:.2}")
            }
        };
        let (ss, sp): (f64, f64) = (t.iter().map(|p| p.0).sum(), t.iter().map(|p| p.1).sum());
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.1} |",
            ly.name,
            ly.count,
            cell(t[0].0),
            cell(t[0].1),
            cell(t[1].0),
            cell(t[1].1),
            cell(t[2].0),
            cell(t[2].1),
            n * ss,
            n * sp
        );
    }
    let (ss, sp): (f64, f64) = (tot_s.iter().sum(), tot_p.iter().sum());
    println!(
        "| **total (ms, n-weighted)** | | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {ss:.1} | {sp:.1} |",
        tot_s[0], tot_p[0], tot_s[1], tot_p[1], tot_s[2], tot_p[2]
    );
    println!("speed-up of the conv total: {:.2}×", ss / sp);
}

/// (stock, patched) medians in ms for forward, input gradient (0 when not needed), weight
/// gradient of one layer.
/// Random inputs of one layer kind at batch `batch`: input, weight, conv2d bias, output
/// gradient and the layer's options.
struct Inputs {
    x: FlexTensor,
    w: FlexTensor,
    b: FlexTensor,
    dy: FlexTensor,
    conv: ConvOptions<2>,
    tconv: ConvTransposeOptions<2>,
    transposed: bool,
}

fn layer_inputs(ly: &Layer, batch: usize) -> Inputs {
    let (k, s, p) = (ly.k, ly.stride, ly.pad);
    let (oh, w_shape) = if ly.transposed {
        ((ly.hw - 1) * s + k - 2 * p, [ly.c_in, ly.c_out, k, k])
    } else {
        ((ly.hw + 2 * p - k) / s + 1, [ly.c_out, ly.c_in, k, k])
    };
    let b = rand_tensor([1, 1, 1, ly.c_out], 4);
    Inputs {
        x: rand_tensor([batch, ly.c_in, ly.hw, ly.hw], 1),
        w: rand_tensor(w_shape, 2),
        b: FlexTensor::from_data(TensorData::new(
            b.into_data().try_to_vec::<f32>().unwrap(),
            [ly.c_out],
        )),
        dy: rand_tensor([batch, ly.c_out, oh, oh], 3),
        conv: ConvOptions::new([s; 2], [p; 2], [1; 2], 1),
        tconv: ConvTransposeOptions::new([s; 2], [p; 2], [0; 2], [1; 2], 1),
        transposed: ly.transposed,
    }
}

impl Inputs {
    /// The patched forward (conv2d with bias, or the transposed conv without).
    fn forward(&self) -> FlexTensor {
        if self.transposed {
            Flex::conv_transpose2d(self.x.clone(), self.w.clone(), None, self.tconv.clone())
        } else {
            Flex::conv2d(
                self.x.clone(),
                self.w.clone(),
                Some(self.b.clone()),
                self.conv.clone(),
            )
        }
    }
    /// The patched input gradient.
    fn x_grad(&self) -> FlexTensor {
        if self.transposed {
            Flex::conv_transpose2d_x_backward(self.w.clone(), self.dy.clone(), self.tconv.clone())
        } else {
            Flex::conv2d_x_backward(
                self.x.clone(),
                self.w.clone(),
                self.dy.clone(),
                self.conv.clone(),
            )
        }
    }
    /// The patched weight gradient.
    fn w_grad(&self) -> FlexTensor {
        let (x, w, dy) = (self.x.clone(), self.w.clone(), self.dy.clone());
        if self.transposed {
            Flex::conv_transpose2d_weight_backward(x, w, dy, self.tconv.clone())
        } else {
            Flex::conv2d_weight_backward(x, w, dy, self.conv.clone())
        }
    }
    /// The stock algorithm of op `op` (0 forward, 1 input gradient, 2 weight gradient).
    fn stock(&self, op: usize) -> FlexTensor {
        let (x, w, dy) = (self.x.clone(), self.w.clone(), self.dy.clone());
        let (o, t) = (self.conv.clone(), self.tconv.clone());
        match (self.transposed, op) {
            (true, 0) => stock_generic::stock_conv_transpose2d(x, w, None, t),
            (true, 1) => stock_generic::conv_transpose2d_x_backward(w, dy, t),
            (true, _) => stock_generic::conv_transpose2d_weight_backward(x, w, dy, t),
            (false, 0) => stock_generic::stock_conv2d(x, w, Some(self.b.clone()), o),
            (false, 1) => stock_generic::conv2d_x_backward(x, w, dy, o),
            (false, _) => stock_generic::conv2d_weight_backward(x, w, dy, o),
        }
    }
}

/// Times `a` against `b` for each of the three ops (forward, input gradient unless the
/// layer needs none, weight gradient); `a` and `b` get the op's index and run it.
fn three_pairs(
    ly: &Layer,
    reps: usize,
    mut a: impl FnMut(usize) -> FlexTensor,
    mut b: impl FnMut(usize) -> FlexTensor,
) -> [(f64, f64); 3] {
    let mut out = [(0.0, 0.0); 3];
    for (op, t) in out.iter_mut().enumerate() {
        if op == 1 && !ly.x_grad {
            continue;
        }
        *t = time_pair(reps, || a(op), || b(op));
    }
    out
}

fn patched(i: &Inputs, op: usize) -> FlexTensor {
    match op {
        0 => i.forward(),
        1 => i.x_grad(),
        _ => i.w_grad(),
    }
}

/// Stock algorithms vs the patched ops: (stock, patched) medians per op.
fn layer_times(ly: &Layer, batch: usize, reps: usize) -> [(f64, f64); 3] {
    let i = layer_inputs(ly, batch);
    three_pairs(ly, reps, |op| i.stock(op), |op| patched(&i, op))
}

/// Patched weight gradient, GEMM layout 0 (row-major gradient tile) vs 2 (transposed).
fn wgrad_ab(ly: &Layer, batch: usize, reps: usize) {
    use burn_flex::ops::conv_gemm::set_wgrad_variant;
    let i = layer_inputs(ly, batch);
    let t = time_pair(
        reps,
        || {
            set_wgrad_variant(0);
            i.w_grad()
        },
        || {
            set_wgrad_variant(2);
            i.w_grad()
        },
    );
    set_wgrad_variant(1);
    println!(
        "{} (×{}): w-grad layout 0 {:.2} ms, layout 2 {:.2} ms",
        ly.name, ly.count, t.0, t.1
    );
}

fn kx_new() -> usize {
    env_usize("KXV", 3)
}

/// Patched ops, kx-only lowering off (variant 0) vs on (`KXV`, default 3): (off, on) medians.
fn kx_ab(ly: &Layer, batch: usize, reps: usize) -> [(f64, f64); 3] {
    if ly.transposed || ly.k == 1 || ly.stride != 1 {
        return [(0.0, 0.0); 3];
    }
    let set = burn_flex::ops::conv_gemm::set_kx_variant;
    knob_ab(ly, batch, reps, set, [0, kx_new()], 3)
}

/// Patched ops, Winograd at `WINOAB` (0 = off, the default; 1 = F(2×2, 3×3) forward only;
/// 2 = F(2×2, 3×3) forward and weight gradient; 5 = the ninth round's default) vs at
/// `WINO_ON` (default 3, the library's default; 4 = F(4×4, 3×3) for every forward and weight
/// gradient): (`WINOAB`, `WINO_ON`) medians.
fn wino_ab(ly: &Layer, batch: usize, reps: usize) -> [(f64, f64); 3] {
    if ly.transposed || ly.k != 3 || ly.stride != 1 {
        return [(0.0, 0.0); 3];
    }
    let set = burn_flex::ops::conv_gemm::set_winograd;
    let off = env_usize("WINOAB", 0);
    let on = env_usize("WINO_ON", 3);
    knob_ab(ly, batch, reps, set, [off, on], 3)
}

/// Patched ops with the tuning hook `set` at `values[0]` vs `values[1]`, interleaved: (first,
/// second) medians; the hook is left at `default`.
fn knob_ab(
    ly: &Layer,
    batch: usize,
    reps: usize,
    set: fn(usize),
    values: [usize; 2],
    default: usize,
) -> [(f64, f64); 3] {
    let i = layer_inputs(ly, batch);
    let t = three_pairs(
        ly,
        reps,
        |op| {
            set(values[0]);
            patched(&i, op)
        },
        |op| {
            set(values[1]);
            patched(&i, op)
        },
    );
    set(default);
    t
}

/// Patched forward and input gradient, a single batch item's forward split over tile tasks
/// off (0) vs on (1, the default): (off, on) medians; the weight gradient is not timed.
fn split_ab(ly: &Layer, batch: usize, reps: usize) -> [(f64, f64); 3] {
    use burn_flex::ops::conv_gemm::set_forward_split;
    let i = layer_inputs(ly, batch);
    let ab = |op: fn(&Inputs) -> FlexTensor| {
        time_pair(
            reps,
            || {
                set_forward_split(0);
                op(&i)
            },
            || {
                set_forward_split(1);
                op(&i)
            },
        )
    };
    let f = ab(Inputs::forward);
    let xg = if ly.x_grad {
        ab(Inputs::x_grad)
    } else {
        (0.0, 0.0)
    };
    set_forward_split(1);
    [f, xg, (0.0, 0.0)]
}
