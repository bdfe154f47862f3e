//! PATCH (face-deblur): GEMM kernels for 2-D convolution gradients (and the forward),
//! NCHW, f32/f64 native (f16/bf16 via f32).
//!
//! All three ops share one geometry ([`Geom`]) of a *forward* convolution
//! `x [B, C_in, H, W] * w [C_out, C_in/g, kh, kw] -> y [B, C_out, OH, OW]`, and tiles of whole
//! output rows (`col` = im2col of one tile, `[C_in/g · kh · kw, rows · OW]`, ≤ [`COL_ELEMS`]):
//!
//! - weight grad: `dW_g += dY_{b,g}[:, tile] · col_{b,g,tile}ᵀ`, accumulated over batch and tiles
//!   in per-task partial sums (fixed task split, summed in order ⇒ deterministic); 3×3
//!   stride-1 convs with ≥ 8 channels per group run it as Winograd F(2×2, 3×3) instead
//!   ([`super::conv_winograd::wgrad_band`]);
//! - input grad:  `col = W_gᵀ · dY_{b,g}[:, tile]`, then col2im (scatter-add) into `dX_b`;
//! - forward:     `Y_{b,g}[:, tile] = W_g · col`, GEMM written straight into the output.
//!
//! Geometry, tuning hooks and the lowerings (im2col, kx-only shifts, col2im) live in
//! [`super::conv_lower`]; this module holds the three kernels and the tensor entry points.
//!
//! A 1×1 / stride-1 / unpadded conv skips im2col (the input plane *is* the column matrix).
//! Stride-1 convs with `kh > 1` (forward, hence also the stride-1 input gradient, and weight
//! gradient) use the "kx-only" lowering of `kx_cols_tile`: a buffer with only the `kw`
//! horizontal shifts per input channel over the tile's rows plus `dh·(kh − 1)` halo rows
//! (≈ `kw`× the input instead of `kh·kw`×), and one GEMM per `ky` on that buffer offset by
//! `ky·dh` rows (reduction length `C_in/g · kw`), accumulated into the output tile (forward)
//! or into a `[kh][C_out/g][C_in/g · kw]` weight-gradient block permuted once at the end.
//! The output spatial size is taken from the tensors (not recomputed), and every input read
//! or write is range-checked against the padded window, so asymmetric padding and the
//! transposed-convolution uses (`padding_out`) need no special casing.
//!
//! The only `unsafe` is the GEMM call in [`super::conv_gemm_raw`].

use alloc::vec;
use alloc::vec::Vec;
use burn_backend::DType;
use burn_backend::ops::{ConvOptions, ConvTransposeOptions};
use burn_std::{Bytes, Shape, bf16, f16};

pub use super::conv_gemm_raw::GemmElem;
use super::conv_gemm_raw::{DstRows, Mat, gemm_checked, plane_blocks};
pub use super::conv_lower::{
    COL_ELEMS, Geom, WGRAD_T_MIN_KG, set_col_elems, set_forward_split, set_kx_variant,
    set_wgrad_variant,
};
use super::conv_lower::{
    col2im_tile_add, forward_split, im2col_tile, kx_cols_tile, kx_weight, padded_ld,
    wgrad_transposed,
};
use super::conv_rows;
use super::conv_winograd;
pub use super::conv_winograd::{WINO_MIN_C, WINO4_MAX_C, WINO4_MIN_OW, set_winograd};
use crate::ops::module::{cast_from_f32, cast_to_f32};
use crate::{FlexTensor, Layout};

fn threads() -> usize {
    #[cfg(feature = "rayon")]
    {
        rayon::current_num_threads()
    }
    #[cfg(not(feature = "rayon"))]
    {
        1
    }
}

/// Weight gradient `[C_out, C_in/g, kh, kw]` of a forward conv, from its input `x`
/// (`[B, C_in, H, W]`) and output gradient `dy` (`[B, C_out, OH, OW]`).
pub fn weight_grad<T: GemmElem>(x: &[T], dy: &[T], g: &Geom) -> Vec<T> {
    g.validate();
    assert_eq!(
        x.len(),
        g.batch * g.c_in * g.in_plane(),
        "weight_grad: x size"
    );
    assert_eq!(
        dy.len(),
        g.batch * g.c_out * g.out_plane(),
        "weight_grad: dy size"
    );
    let (cog, kg, p) = (g.cog(), g.kg(), g.out_plane());
    let wlen = g.c_out * kg;
    if wlen == 0 {
        return Vec::new();
    }
    if conv_winograd::applies_wgrad(g) {
        return weight_grad_winograd(x, dy, g);
    }
    let identity = g.identity_im2col();
    // Stride 1, kh > 1: kx-only lowering (see `kx_cols_tile`): one GEMM per ky into the
    // accumulator block `[groups][kh][cog][cig·kw]` (or `[groups][kh][cig·kw][cog]` when
    // transposed), permuted to `[C_out][cig][kh][kw]` at the end.
    let kx = !identity && g.kx(2);
    let rows = g.rows_per_tile(kx);
    let n_tiles = if identity { 1 } else { g.n_tiles(rows) };
    let items = g.batch * g.groups * n_tiles;
    if items == 0 || p == 0 {
        return vec![T::ZERO; wlen];
    }
    // Row stride of the column and gradient tiles: a multiple of 64 elements (e.g. 4 rows of
    // 128) is padded by 16, so that the rows do not all map to the same cache sets (measured:
    // the 3×3 24→24 weight gradient at 128² took 1.9× as long with 512-element rows).
    let ld = padded_ld(rows * g.ow);
    // Columns `n` of each GEMM's accumulator block (one block per ky for kx-only, else one
    // block of all `kg`) and the column buffer's row stride.
    let (n, col_ld) = if kx {
        (g.cig() * g.kw, g.kx_ld(rows))
    } else {
        (kg, ld)
    };
    let col_len = if identity { 0 } else { n * col_ld };
    let dyt_len = if identity { 0 } else { cog * ld };

    // One task = a contiguous range of (batch, group, tile) items with its own partial sum.
    let flops = 2.0 * (wlen as f64) * (p as f64) * (g.batch as f64);
    let n_tasks = if flops < 2.0e6 {
        1
    } else {
        items.min(4 * threads())
    };

    // Transposed layout: the accumulator of each group is `[kg][cog]` (column-major
    // `cog × kg`), so the GEMM's left operand is the gradient tile transposed to `[tp][cog]`
    // (contiguous along `cog`, no transposing pack) and the column tile is read by column.
    // Measured (Zen 5, AVX-512): 10–25 % faster for the 3×3 layers with ≥ 24 input
    // channels, 40 % slower for the 3-channel stem (kg = 27), hence the threshold.
    let transposed = !identity && wgrad_transposed(kg);
    let (acc_rs, acc_cs) = if transposed { (1, cog) } else { (n, 1) };

    let run_task = |task: usize, acc: &mut [T]| {
        let mut col = vec![T::ZERO; col_len];
        let mut dyt = vec![T::ZERO; dyt_len];
        let (i0, i1) = (task * items / n_tasks, (task + 1) * items / n_tasks);
        for item in i0..i1 {
            let t = item % n_tiles;
            let grp = (item / n_tiles) % g.groups;
            let b = item / (n_tiles * g.groups);
            let xb = &x[b * g.c_in * g.in_plane()..(b + 1) * g.c_in * g.in_plane()];
            let acc_g = &mut acc[grp * cog * kg..(grp + 1) * cog * kg];
            if identity {
                // dW_g (cog × cig) += dY_bg (cog × P) · X_bgᵀ (P × cig)
                let dy_off = (b * g.c_out + grp * cog) * p;
                gemm_checked(
                    cog,
                    kg,
                    p,
                    acc_g,
                    kg,
                    1,
                    true,
                    Mat {
                        data: &dy[dy_off..],
                        rs: p,
                        cs: 1,
                    },
                    Mat {
                        data: &xb[grp * g.cig() * p..],
                        rs: 1,
                        cs: p,
                    },
                    false,
                );
                continue;
            }
            let (oh0, oh1) = g.tile(rows, t);
            let tp = (oh1 - oh0) * g.ow;
            if kx {
                kx_cols_tile(xb, g, grp * g.cig(), oh0, oh1, &mut col, col_ld);
            } else {
                im2col_tile(xb, g, grp * g.cig(), oh0, oh1, &mut col, col_ld);
            }
            let dy_off = (b * g.c_out + grp * cog) * p + oh0 * g.ow;
            let lhs = grad_tile(&dy[dy_off..], p, cog, tp, ld, transposed, &mut dyt);
            // dW (cog × n) += dY_tile (cog × tp) · colᵀ (tp × n), the kx-only rows of tap row
            // ky read `ky·dh` output rows further on in the buffer.
            for (ky, acc_k) in acc_g.chunks_exact_mut(cog * n).enumerate() {
                gemm_checked(
                    cog,
                    n,
                    tp,
                    acc_k,
                    acc_rs,
                    acc_cs,
                    true,
                    lhs,
                    Mat {
                        data: &col[ky * g.dilation[0] * g.ow..],
                        rs: 1,
                        cs: col_ld,
                    },
                    false,
                );
            }
        }
    };

    let partials = task_sum(n_tasks, wlen, run_task);
    if !kx && !transposed {
        return partials;
    }
    // Per group, the accumulator holds `kh'` blocks (kh for kx-only, else 1) of `n` columns,
    // row-major `[cog][n]` or (transposed) `[n][cog]`; column `r` of block `ky` is the tap
    // `(c, ky, kj)` with `r = c·kw + kj` (kx-only) or the im2col row `r` itself.
    let (kh, kw) = (g.kh, g.kw);
    let mut out = vec![T::ZERO; wlen];
    for (src, dst) in partials
        .chunks_exact(cog * kg)
        .zip(out.chunks_exact_mut(cog * kg))
    {
        for (ky, blk) in src.chunks_exact(cog * n).enumerate() {
            for co in 0..cog {
                for r in 0..n {
                    let v = blk[co * acc_rs + r * acc_cs];
                    let i = if kx {
                        let (c, kj) = (r / kw, r % kw);
                        (c * kh + ky) * kw + kj
                    } else {
                        r
                    };
                    dst[co * kg + i] = v;
                }
            }
        }
    }
    out
}

/// Runs `run_task(task, acc)` for each of `n_tasks` tasks on its own zeroed accumulator of
/// `len` elements (in parallel with rayon) and returns their sum, added in task order (so
/// deterministic for a given task count).
fn task_sum<T: GemmElem>(
    n_tasks: usize,
    len: usize,
    run_task: impl Fn(usize, &mut [T]) + Sync,
) -> Vec<T> {
    let mut partials = vec![T::ZERO; len * n_tasks.max(1)];
    #[cfg(feature = "rayon")]
    if n_tasks > 1 {
        use rayon::prelude::*;
        partials
            .par_chunks_mut(len)
            .enumerate()
            .for_each(|(task, acc)| run_task(task, acc));
    } else {
        run_task(0, &mut partials);
    }
    #[cfg(not(feature = "rayon"))]
    for (task, acc) in partials.chunks_mut(len).enumerate() {
        run_task(task, acc);
    }
    let (first, rest) = partials.split_at_mut(len);
    for part in rest.chunks_exact(len) {
        for (a, b) in first.iter_mut().zip(part) {
            *a += *b;
        }
    }
    partials.truncate(len);
    partials
}

/// Accumulator length (elements) from which the Winograd weight gradient runs one task per
/// thread (see [`weight_grad_winograd`]).
const WGRAD_ONE_TASK_ACC: usize = 1 << 16;

/// The weight gradient of a 3×3 stride-1 conv as Winograd F(2×2, 3×3) or F(4×4, 3×3) (see
/// [`conv_winograd::wgrad_band`]): tasks over (batch item, group, band of output rows).
fn weight_grad_winograd<T: GemmElem>(x: &[T], dy: &[T], g: &Geom) -> Vec<T> {
    let plan = conv_winograd::wgrad_plan(g);
    let (rows, n_bands, acc_len) = (plan.rows, plan.n_bands, plan.acc_len);
    let items = g.batch * g.groups * n_bands;
    // Up to 4 tasks per thread for balance; but one per thread where the items split evenly
    // and the accumulator each task zeroes and sums (`(m + 2)² · C_out/g · C_in/g`) is large
    // (590 KB at 96 → 96 channels: measured 1.3× faster on the 16² maps of the training
    // crops; at 24 → 24 the balance won).
    let n_tasks = if items.is_multiple_of(threads()) && acc_len >= WGRAD_ONE_TASK_ACC {
        threads()
    } else {
        items.min(4 * threads())
    }
    .max(1);
    let (in_len, out_len) = (g.c_in * g.in_plane(), g.cog() * g.out_plane());
    let du = task_sum(n_tasks, acc_len, |task, acc: &mut [T]| {
        conv_rows::with_buf(plan.buf_len, |buf| {
            let per_group = acc_len / g.groups;
            for item in task * items / n_tasks..(task + 1) * items / n_tasks {
                let band = item % n_bands;
                let grp = (item / n_bands) % g.groups;
                let b = item / (n_bands * g.groups);
                let (oh0, oh1) = (band * rows, ((band + 1) * rows).min(g.oh));
                conv_winograd::wgrad_band(
                    &x[b * in_len..][..in_len],
                    &dy[(b * g.groups + grp) * out_len..][..out_len],
                    g,
                    grp,
                    oh0,
                    oh1,
                    plan.tile,
                    buf,
                    &mut acc[grp * per_group..][..per_group],
                );
            }
        });
    });
    conv_winograd::wgrad_finish(&du, g, plan.tile)
}

/// The gradient tile `dy[co · p + j]` (`co < cog`, `j < tp`) as the left operand of the
/// weight-gradient GEMM, copied into `dyt`: transposed to `[tp][cog]` (`transposed`), or as
/// rows `ld` apart (`ld` is padded against cache-set conflicts).
fn grad_tile<'a, T: GemmElem>(
    dy: &[T],
    p: usize,
    cog: usize,
    tp: usize,
    ld: usize,
    transposed: bool,
    dyt: &'a mut [T],
) -> Mat<'a, T> {
    if transposed {
        let dyt = &mut dyt[..tp * cog];
        for co in 0..cog {
            for (d, v) in dyt[co..].iter_mut().step_by(cog).zip(&dy[co * p..][..tp]) {
                *d = *v;
            }
        }
        return Mat {
            data: dyt,
            rs: 1,
            cs: cog,
        };
    }
    for (co, row) in dyt.chunks_exact_mut(ld).enumerate() {
        row[..tp].copy_from_slice(&dy[co * p..][..tp]);
    }
    Mat {
        data: dyt,
        rs: ld,
        cs: 1,
    }
}

/// Input gradient `[B, C_in, H, W]` of a forward conv, from its weight
/// (`[C_out, C_in/g, kh, kw]`) and output gradient `dy` (`[B, C_out, OH, OW]`).
///
/// Stride 1 with `pad ≤ dilation·(k − 1)`: a forward conv of `dy` with the flipped,
/// channel-transposed kernel (gather, no col2im scatter); otherwise GEMM + col2im.
pub fn input_grad<T: GemmElem>(weight: &[T], dy: &[T], g: &Geom) -> Vec<T> {
    g.validate();
    let span = [
        g.dilation[0] * (g.kh.max(1) - 1),
        g.dilation[1] * (g.kw.max(1) - 1),
    ];
    if g.stride == [1, 1] && g.pad[0] <= span[0] && g.pad[1] <= span[1] && !g.identity_im2col() {
        assert_eq!(weight.len(), g.c_out * g.kg(), "input_grad: weight size");
        let (cig, cog, kk) = (g.cig(), g.cog(), g.kk());
        // w_t[g·cig + cl, co_l, ki', kj'] = w[g·cog + co_l, cl, kh−1−ki', kw−1−kj']
        let mut w_t = vec![T::ZERO; weight.len()];
        for grp in 0..g.groups {
            for co_l in 0..cog {
                for cl in 0..cig {
                    let src = &weight[((grp * cog + co_l) * cig + cl) * kk..][..kk];
                    let dst = &mut w_t[((grp * cig + cl) * cog + co_l) * kk..][..kk];
                    for (d, s) in dst.iter_mut().zip(src.iter().rev()) {
                        *d = *s;
                    }
                }
            }
        }
        let gt = Geom {
            c_in: g.c_out,
            h: g.oh,
            w: g.ow,
            c_out: g.c_in,
            oh: g.h,
            ow: g.w,
            pad: [span[0] - g.pad[0], span[1] - g.pad[1]],
            ..*g
        };
        return forward(dy, &w_t, &gt);
    }
    assert_eq!(weight.len(), g.c_out * g.kg(), "input_grad: weight size");
    assert_eq!(
        dy.len(),
        g.batch * g.c_out * g.out_plane(),
        "input_grad: dy size"
    );
    let (cog, cig, kg, p) = (g.cog(), g.cig(), g.kg(), g.out_plane());
    let xb_len = g.c_in * g.in_plane();
    let mut dx = vec![T::ZERO; g.batch * xb_len];
    if dx.is_empty() {
        return dx;
    }
    let identity = g.identity_im2col();
    let rows = g.rows_per_tile(false);
    let col_len = if identity { 0 } else { kg * rows * g.ow };
    let flops = 2.0 * (g.c_out * kg) as f64 * (p * g.batch) as f64;
    let par_batch = g.batch > 1 && flops >= 2.0e6;
    // With fewer batch items than threads, let the GEMM use the threads instead.
    let gemm_par = !par_batch && flops >= 2.0e7 && threads() > 1;

    let run_item = |b: usize, dxb: &mut [T], col: &mut [T]| {
        for grp in 0..g.groups {
            let w_g = &weight[grp * cog * kg..(grp + 1) * cog * kg];
            let dx_g = &mut dxb[grp * cig * g.in_plane()..(grp + 1) * cig * g.in_plane()];
            if identity {
                // dX_bg (cig × P) = W_gᵀ (cig × cog) · dY_bg (cog × P)
                let dy_off = (b * g.c_out + grp * cog) * p;
                gemm_checked(
                    kg,
                    p,
                    cog,
                    dx_g,
                    p,
                    1,
                    false,
                    Mat {
                        data: w_g,
                        rs: 1,
                        cs: kg,
                    },
                    Mat {
                        data: &dy[dy_off..],
                        rs: p,
                        cs: 1,
                    },
                    gemm_par,
                );
                continue;
            }
            for t in 0..g.n_tiles(rows) {
                let (oh0, oh1) = g.tile(rows, t);
                let tp = (oh1 - oh0) * g.ow;
                let col = &mut col[..kg * tp];
                let dy_off = (b * g.c_out + grp * cog) * p + oh0 * g.ow;
                gemm_checked(
                    kg,
                    tp,
                    cog,
                    col,
                    tp,
                    1,
                    false,
                    Mat {
                        data: w_g,
                        rs: 1,
                        cs: kg,
                    },
                    Mat {
                        data: &dy[dy_off..],
                        rs: p,
                        cs: 1,
                    },
                    gemm_par,
                );
                col2im_tile_add(col, g, oh0, oh1, dx_g);
            }
        }
    };

    #[cfg(feature = "rayon")]
    if par_batch {
        use rayon::prelude::*;
        dx.par_chunks_mut(xb_len).enumerate().for_each_init(
            || vec![T::ZERO; col_len],
            |col, (b, dxb)| run_item(b, dxb, col),
        );
        return dx;
    }
    let mut col = vec![T::ZERO; col_len];
    for (b, dxb) in dx.chunks_mut(xb_len).enumerate() {
        run_item(b, dxb, &mut col);
    }
    dx
}

/// Forward conv `[B, C_out, OH, OW]` (no bias) of `x` (`[B, C_in, H, W]`) with `weight`
/// (`[C_out, C_in/g, kh, kw]`); the GEMM writes straight into the output.
pub fn forward<T: GemmElem>(x: &[T], weight: &[T], g: &Geom) -> Vec<T> {
    forward_bias(x, weight, None, g)
}

/// [`forward`] plus a per-output-channel `bias` (`[C_out]`): each output tile is filled with
/// the bias right before the GEMM accumulates into it (no separate pass over the output).
///
/// Work is split over batch items when their number is a multiple of the thread count;
/// otherwise (one face at inference, or three faces on two threads) the work is split over
/// (item, group, tile) tasks, each running its GEMMs straight into its rows of the output
/// ([`plane_blocks`]), so that the lowering copies run in parallel too and each GEMM runs on
/// one thread (no synchronisation per GEMM). 1×1 identity convs run one multithreaded GEMM
/// per item.
pub fn forward_bias<T: GemmElem>(x: &[T], weight: &[T], bias: Option<&[T]>, g: &Geom) -> Vec<T> {
    g.validate();
    if let Some(bias) = bias {
        assert_eq!(bias.len(), g.c_out, "forward: bias size");
    }
    assert_eq!(x.len(), g.batch * g.c_in * g.in_plane(), "forward: x size");
    assert_eq!(weight.len(), g.c_out * g.kg(), "forward: weight size");
    let (cog, cig, kg, p) = (g.cog(), g.cig(), g.kg(), g.out_plane());
    let yb_len = g.c_out * p;
    let mut y = vec![T::ZERO; g.batch * yb_len];
    if y.is_empty() {
        return y;
    }
    let xb_len = g.c_in * g.in_plane();
    let identity = g.identity_im2col();
    let flops = 2.0 * (g.c_out * kg) as f64 * (p * g.batch) as f64;
    let par_batch = g.batch > 1 && flops >= 2.0e6;
    if identity {
        let gemm_par = !par_batch && flops >= 2.0e7 && threads() > 1;
        let run_item = |b: usize, yb: &mut [T]| {
            for grp in 0..g.groups {
                let y_g = &mut yb[grp * cog * p..(grp + 1) * cog * p];
                let bias_g = bias.map(|b| &b[grp * cog..(grp + 1) * cog]);
                if let Some(bias_g) = bias_g {
                    for (plane, v) in y_g.chunks_exact_mut(p).zip(bias_g) {
                        plane.fill(*v);
                    }
                }
                gemm_checked(
                    cog,
                    p,
                    kg,
                    y_g,
                    p,
                    1,
                    bias_g.is_some(),
                    Mat {
                        data: &weight[grp * cog * kg..(grp + 1) * cog * kg],
                        rs: kg,
                        cs: 1,
                    },
                    Mat {
                        data: &x[b * xb_len + grp * cig * p..],
                        rs: p,
                        cs: 1,
                    },
                    gemm_par,
                );
            }
        };
        #[cfg(feature = "rayon")]
        if par_batch {
            use rayon::prelude::*;
            y.par_chunks_mut(yb_len)
                .enumerate()
                .for_each(|(b, yb)| run_item(b, yb));
            return y;
        }
        for (b, yb) in y.chunks_mut(yb_len).enumerate() {
            run_item(b, yb);
        }
        return y;
    }

    // Stride-1 undilated 3×3 with enough channels: Winograd F(2×2, 3×3) or F(4×4, 3×3) on
    // bands of whole tile rows (`conv_winograd`). Else stride 1, kh > 1: kx-only lowering (a
    // `C_in/g · kw`-row buffer, one GEMM per ky, on the weight permuted to
    // `[groups][kh][cog][cig·kw]`); otherwise im2col and one GEMM.
    let wino = conv_winograd::applies(g);
    // Output tile side: 2 (F(2×2, 3×3)) or 4 (F(4×4, 3×3)).
    let wino_m = conv_winograd::forward_tile(g);
    let wino_u = if wino {
        conv_winograd::weight(weight, g, wino_m)
    } else {
        Vec::new()
    };
    let kx = !wino && g.kx(1);
    let kx_w;
    let (n, w_perm) = if kx {
        kx_w = kx_weight(weight, g);
        (cig * g.kw, &kx_w[..])
    } else {
        (kg, weight)
    };
    let rows_max = g.rows_per_tile(kx);
    // A batch that is a multiple of the thread count is split over its items; a single item,
    // or a batch that is not (3 faces on 2 threads), splits each item over (group, tile)
    // tasks.
    let par_tiles =
        forward_split() && flops >= 2.0e6 && threads() > 1 && !g.batch.is_multiple_of(threads());
    let par_batch = par_batch && !par_tiles;
    // Split: the same number `k` of tiles (≤ `rows_max` rows) for every thread.
    let rows = if wino {
        conv_winograd::band_rows(g, par_tiles.then(threads), wino_m)
    } else if par_tiles {
        let k = g.oh.div_ceil(rows_max * threads()).max(1);
        g.oh.div_ceil(k * threads()).max(1)
    } else {
        rows_max
    };
    let n_tiles = g.n_tiles(rows);
    let split = cfg!(feature = "rayon") && par_tiles && g.groups * n_tiles > 1;
    // Unsplit, a single item's tiles run in sequence, each GEMM on all threads.
    let gemm_par = !par_batch && !split && flops >= 2.0e7 && threads() > 1;
    let col_ld = if kx { g.kx_ld(rows) } else { rows * g.ow };
    // The Winograd bands take their buffer from `conv_winograd::with_buf`.
    let col_len = if wino { 0 } else { n * col_ld };
    let wino_buf = if wino {
        conv_winograd::buf_len(g, rows, wino_m)
    } else {
        0
    };

    // Output rows [oh0, oh1) of group `grp` of batch item `b`, written to `dst` (`cog` rows
    // of the tile's `(oh1 − oh0) · OW` positions).
    let run_tile = |b: usize,
                    grp: usize,
                    oh0: usize,
                    oh1: usize,
                    col: &mut [T],
                    dst: &mut DstRows<'_, T>,
                    gemm_par: bool| {
        let xb = &x[b * xb_len..(b + 1) * xb_len];
        debug_assert_eq!(dst.cols(), (oh1 - oh0) * g.ow);
        let bias_g = bias.map(|b| &b[grp * cog..(grp + 1) * cog]);
        if wino {
            let u = &wino_u;
            conv_rows::with_buf(wino_buf, |buf| {
                conv_winograd::band(xb, g, grp, oh0, oh1, wino_m, u, bias_g, buf, dst, gemm_par);
            });
            return;
        }
        if kx {
            kx_cols_tile(xb, g, grp * cig, oh0, oh1, col, col_ld);
        } else {
            im2col_tile(xb, g, grp * cig, oh0, oh1, col, col_ld);
        }
        if let Some(bias_g) = bias_g {
            for (co, v) in bias_g.iter().enumerate() {
                dst.row_mut(co).fill(*v);
            }
        }
        let w_g = &w_perm[grp * cog * kg..(grp + 1) * cog * kg];
        for (ky, w_k) in w_g.chunks_exact(cog * n).enumerate() {
            dst.gemm(
                n,
                bias_g.is_some() || ky > 0,
                Mat {
                    data: w_k,
                    rs: n,
                    cs: 1,
                },
                Mat {
                    data: &col[ky * g.dilation[0] * g.ow..],
                    rs: col_ld,
                    cs: 1,
                },
                gemm_par,
            );
        }
    };

    #[cfg(feature = "rayon")]
    if split {
        use rayon::prelude::*;
        // One task per (batch item, group, tile), each writing its GEMMs straight into its
        // rows of the output planes (disjoint blocks, see `plane_blocks`).
        let ranges: Vec<(usize, usize)> = (0..n_tiles)
            .map(|t| {
                let (oh0, oh1) = g.tile(rows, t);
                (oh0 * g.ow, oh1 * g.ow)
            })
            .collect();
        let blocks = plane_blocks(&mut y, p, cog, &ranges);
        // One contiguous run of tasks per thread: its buffer is allocated once.
        let per_thread = blocks.len().div_ceil(threads());
        blocks
            .into_par_iter()
            .enumerate()
            .with_min_len(per_thread)
            .for_each_init(
                || vec![T::ZERO; col_len],
                |col, (item, mut dst)| {
                    let (bg, t) = (item / n_tiles, item % n_tiles);
                    let (oh0, oh1) = g.tile(rows, t);
                    run_tile(bg / g.groups, bg % g.groups, oh0, oh1, col, &mut dst, false);
                },
            );
        return y;
    }
    let run_item = |b: usize, yb: &mut [T], col: &mut [T]| {
        for grp in 0..g.groups {
            let y_g = &mut yb[grp * cog * p..(grp + 1) * cog * p];
            for t in 0..n_tiles {
                let (oh0, oh1) = g.tile(rows, t);
                let tp = (oh1 - oh0) * g.ow;
                let mut dst = DstRows::new(&mut y_g[oh0 * g.ow..], cog, tp, p);
                run_tile(b, grp, oh0, oh1, col, &mut dst, gemm_par);
            }
        }
    };
    #[cfg(feature = "rayon")]
    if par_batch {
        use rayon::prelude::*;
        y.par_chunks_mut(yb_len).enumerate().for_each_init(
            || vec![T::ZERO; col_len],
            |col, (b, yb)| run_item(b, yb, col),
        );
        return y;
    }
    let mut col = vec![T::ZERO; col_len];
    for (b, yb) in y.chunks_mut(yb_len).enumerate() {
        run_item(b, yb, &mut col);
    }
    y
}

// ============================================================================
// FlexTensor entry points (dtype dispatch)
// ============================================================================

fn dims4(t: &FlexTensor) -> [usize; 4] {
    let s = t.layout().shape();
    assert_eq!(s.num_dims(), 4, "conv_gemm: expected a 4-D tensor");
    [s[0], s[1], s[2], s[3]]
}

fn wrap<T: GemmElem>(data: Vec<T>, shape: [usize; 4], dtype: DType) -> FlexTensor {
    FlexTensor::new(
        Bytes::from_elems(data),
        Layout::contiguous(Shape::from(shape.to_vec())),
        dtype,
    )
}

/// Runs `f` on f32/f64 natively, on f16/bf16 through f32.
fn dispatch3(
    a: FlexTensor,
    b: FlexTensor,
    f32_fn: impl FnOnce(&[f32], &[f32]) -> Vec<f32>,
    f64_fn: impl FnOnce(&[f64], &[f64]) -> Vec<f64>,
    shape: [usize; 4],
    op: &str,
) -> FlexTensor {
    let a = a.into_contiguous();
    let b = b.into_contiguous();
    match a.dtype() {
        DType::F32 => wrap(f32_fn(a.storage(), b.storage()), shape, DType::F32),
        DType::F64 => wrap(f64_fn(a.storage(), b.storage()), shape, DType::F64),
        DType::F16 => {
            let a = cast_to_f32(a, f16::to_f32);
            let b = cast_to_f32(b, f16::to_f32);
            let out = wrap(f32_fn(a.storage(), b.storage()), shape, DType::F32);
            cast_from_f32(out, f16::from_f32)
        }
        DType::BF16 => {
            let a = cast_to_f32(a, bf16::to_f32);
            let b = cast_to_f32(b, bf16::to_f32);
            let out = wrap(f32_fn(a.storage(), b.storage()), shape, DType::F32);
            cast_from_f32(out, bf16::from_f32)
        }
        dtype => panic!("{op}: unsupported dtype {dtype:?}"),
    }
}

/// Geometry of `conv2d(x, weight, options)` whose output has spatial size `[oh, ow]`.
fn conv_geom(
    x: [usize; 4],
    weight: [usize; 4],
    out_hw: [usize; 2],
    options: &ConvOptions<2>,
) -> Geom {
    let [batch, c_in, h, w] = x;
    let [c_out, cig, kh, kw] = weight;
    assert_eq!(
        cig * options.groups,
        c_in,
        "conv_gemm: weight/input channel mismatch"
    );
    Geom {
        batch,
        c_in,
        h,
        w,
        c_out,
        oh: out_hw[0],
        ow: out_hw[1],
        kh,
        kw,
        stride: options.stride,
        pad: options.padding_begin(),
        dilation: options.dilation,
        groups: options.groups,
    }
}

/// `ModuleOps::conv2d_weight_backward` for Flex.
pub fn conv2d_weight_backward(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let [bg, c_out, oh, ow] = dims4(&output_grad);
    let wshape = dims4(&weight);
    let g = conv_geom(dims4(&x), wshape, [oh, ow], options);
    assert_eq!(
        (bg, c_out),
        (g.batch, g.c_out),
        "conv2d_weight_backward: grad shape"
    );
    dispatch3(
        x,
        output_grad,
        |x, dy| weight_grad(x, dy, &g),
        |x, dy| weight_grad(x, dy, &g),
        wshape,
        "conv2d_weight_backward",
    )
}

/// `ModuleOps::conv2d_x_backward` for Flex.
pub fn conv2d_x_backward(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let [bg, c_out, oh, ow] = dims4(&output_grad);
    let xshape = dims4(&x);
    let g = conv_geom(xshape, dims4(&weight), [oh, ow], options);
    assert_eq!(
        (bg, c_out),
        (g.batch, g.c_out),
        "conv2d_x_backward: grad shape"
    );
    drop(x);
    dispatch3(
        weight,
        output_grad,
        |w, dy| input_grad(w, dy, &g),
        |w, dy| input_grad(w, dy, &g),
        xshape,
        "conv2d_x_backward",
    )
}

/// Geometry of the forward conv whose input gradient is `conv_transpose2d(x, weight)`:
/// the conv maps the transposed conv's output `[B, C_out_t, OH_t, OW_t]` to its input `x`.
fn transpose_geom(
    x: [usize; 4],
    weight: [usize; 4],
    out_hw: [usize; 2],
    options: &ConvTransposeOptions<2>,
) -> Geom {
    let [batch, c_in_t, h, w] = x;
    let [wc0, cog_t, kh, kw] = weight;
    assert_eq!(wc0, c_in_t, "conv_transpose: weight/input channel mismatch");
    Geom {
        batch,
        c_in: cog_t * options.groups,
        h: out_hw[0],
        w: out_hw[1],
        c_out: c_in_t,
        oh: h,
        ow: w,
        kh,
        kw,
        stride: options.stride,
        pad: options.padding,
        dilation: options.dilation,
        groups: options.groups,
    }
}

/// `ModuleOps::conv_transpose2d_weight_backward` for Flex: the weight gradient of the
/// equivalent forward conv (input = the transposed conv's output gradient, output
/// gradient = its input `x`).
pub fn conv_transpose2d_weight_backward(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: &ConvTransposeOptions<2>,
) -> FlexTensor {
    let [_, _, oh_t, ow_t] = dims4(&output_grad);
    let wshape = dims4(&weight);
    let g = transpose_geom(dims4(&x), wshape, [oh_t, ow_t], options);
    assert_eq!(
        dims4(&output_grad)[1],
        g.c_in,
        "conv_transpose2d_weight_backward: grad shape"
    );
    dispatch3(
        output_grad,
        x,
        |dy_t, x| weight_grad(dy_t, x, &g),
        |dy_t, x| weight_grad(dy_t, x, &g),
        wshape,
        "conv_transpose2d_weight_backward",
    )
}

/// `conv2d` forward (no asymmetric padding: the caller pads first) through the NCHW
/// im2col GEMM path, bias added after.
pub fn conv2d_forward(
    x: FlexTensor,
    weight: FlexTensor,
    bias: Option<FlexTensor>,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let xs = dims4(&x);
    let ws = dims4(&weight);
    let out = |size: usize, k: usize, s: usize, (pb, pe): (usize, usize), d: usize| {
        let span = d * (k - 1) + 1;
        assert!(
            size + pb + pe >= span,
            "conv2d: kernel larger than padded input"
        );
        (size + pb + pe - span) / s + 1
    };
    let oh = out(
        xs[2],
        ws[2],
        options.stride[0],
        options.padding[0],
        options.dilation[0],
    );
    let ow = out(
        xs[3],
        ws[3],
        options.stride[1],
        options.padding[1],
        options.dilation[1],
    );
    let g = conv_geom(xs, ws, [oh, ow], options);
    let shape = [g.batch, g.c_out, oh, ow];
    // f32/f64 with a bias of the same dtype: the bias is written into each output tile
    // before its GEMM accumulates (one pass less over the output).
    if let Some(b) = bias
        .as_ref()
        .filter(|b| b.dtype() == x.dtype() && matches!(x.dtype(), DType::F32 | DType::F64))
    {
        let b = b.clone().into_contiguous();
        return dispatch3(
            x,
            weight,
            |x, w| forward_bias(x, w, Some(b.storage::<f32>()), &g),
            |x, w| forward_bias(x, w, Some(b.storage::<f64>()), &g),
            shape,
            "conv2d",
        );
    }
    let y = dispatch3(
        x,
        weight,
        |x, w| forward(x, w, &g),
        |x, w| forward(x, w, &g),
        shape,
        "conv2d",
    );
    match bias {
        None => y,
        Some(bias) => add_bias_nchw(y, bias),
    }
}

fn add_bias_nchw(y: FlexTensor, bias: FlexTensor) -> FlexTensor {
    let [_, c, oh, ow] = dims4(&y);
    let dtype = y.dtype();
    let bias = bias.into_contiguous();
    let mut y = y;
    fn add<T: burn_backend::Element + bytemuck::Pod + core::ops::AddAssign>(
        y: &mut [T],
        b: &[T],
        c: usize,
        p: usize,
    ) {
        assert_eq!(b.len(), c, "conv2d: bias length");
        for (i, plane) in y.chunks_mut(p.max(1)).enumerate() {
            let v = b[i % c];
            plane.iter_mut().for_each(|e| *e += v);
        }
    }
    match dtype {
        DType::F32 => add::<f32>(y.storage_mut(), bias.storage(), c, oh * ow),
        DType::F64 => add::<f64>(y.storage_mut(), bias.storage(), c, oh * ow),
        DType::F16 => add::<f16>(y.storage_mut(), bias.storage(), c, oh * ow),
        DType::BF16 => add::<bf16>(y.storage_mut(), bias.storage(), c, oh * ow),
        dtype => panic!("conv2d: unsupported dtype {dtype:?}"),
    }
    y
}

/// `ModuleOps::conv_transpose2d_x_backward` for Flex: a forward conv of the output gradient
/// whose output size is the transposed conv's input size (no crop needed).
pub fn conv_transpose2d_x_backward(
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: &ConvTransposeOptions<2>,
) -> FlexTensor {
    let [batch, _, oh_t, ow_t] = dims4(&output_grad);
    let wshape = dims4(&weight);
    let in_size = |out: usize, k: usize, i: usize| {
        let span = options.dilation[i] * (k - 1) + 1;
        let num = out + 2 * options.padding[i] - span - options.padding_out[i];
        num / options.stride[i] + 1
    };
    let h = in_size(oh_t, wshape[2], 0);
    let w = in_size(ow_t, wshape[3], 1);
    let g = transpose_geom([batch, wshape[0], h, w], wshape, [oh_t, ow_t], options);
    assert_eq!(
        dims4(&output_grad)[1],
        g.c_in,
        "conv_transpose2d_x_backward: grad shape"
    );
    dispatch3(
        output_grad,
        weight,
        |dy_t, w| forward(dy_t, w, &g),
        |dy_t, w| forward(dy_t, w, &g),
        [batch, g.c_out, h, w],
        "conv_transpose2d_x_backward",
    )
}

/// Per-channel sum of `dy` (`[B, C, plane]`): the bias gradient of conv2d / conv_transpose2d.
/// Eight interleaved partial sums per plane (vectorizable, smaller rounding error).
pub fn bias_grad<T: GemmElem>(dy: &[T], batch: usize, c: usize, plane: usize) -> Vec<T> {
    assert_eq!(dy.len(), batch * c * plane, "bias_grad: dy size");
    let mut out = vec![T::ZERO; c];
    if plane == 0 {
        return out;
    }
    let plane_sum = |p: &[T]| {
        let mut acc = [T::ZERO; 8];
        let mut chunks = p.chunks_exact(8);
        for ch in &mut chunks {
            for (a, v) in acc.iter_mut().zip(ch) {
                *a += *v;
            }
        }
        for (a, v) in acc.iter_mut().zip(chunks.remainder()) {
            *a += *v;
        }
        let mut s = T::ZERO;
        for a in acc {
            s += a;
        }
        s
    };
    // Channel `ch` adds its planes in batch order, serially or (large gradients) with the
    // channels split over rayon: the same sums either way.
    let channel = |ch: usize| {
        let mut s = T::ZERO;
        for b in 0..batch {
            s += plane_sum(&dy[(b * c + ch) * plane..(b * c + ch + 1) * plane]);
        }
        s
    };
    #[cfg(feature = "rayon")]
    if c > 1 && super::par_elem::splits(dy.len()) {
        use rayon::prelude::*;
        out.par_iter_mut()
            .enumerate()
            .for_each(|(ch, o)| *o = channel(ch));
        return out;
    }
    for (ch, o) in out.iter_mut().enumerate() {
        *o = channel(ch);
    }
    out
}

/// `ModuleOps::conv2d_bias_backward` / `conv_transpose2d_bias_backward` for Flex: the bias
/// gradient straight from `output_grad` (the generic default swaps dims and reshapes, which
/// copies the whole gradient first).
pub fn conv2d_bias_backward(bias: FlexTensor, output_grad: FlexTensor) -> FlexTensor {
    let [b, c, oh, ow] = dims4(&output_grad);
    let bias_shape = bias.layout().shape().clone();
    assert_eq!(
        bias_shape.num_elements(),
        c,
        "conv bias_backward: bias size"
    );
    let dtype = output_grad.dtype();
    let dy = output_grad.into_contiguous();
    let out = match dtype {
        DType::F32 => Bytes::from_elems(bias_grad::<f32>(dy.storage(), b, c, oh * ow)),
        DType::F64 => Bytes::from_elems(bias_grad::<f64>(dy.storage(), b, c, oh * ow)),
        DType::F16 => {
            let dy = cast_to_f32(dy, f16::to_f32);
            let g = bias_grad::<f32>(dy.storage(), b, c, oh * ow);
            Bytes::from_elems(g.into_iter().map(f16::from_f32).collect::<Vec<_>>())
        }
        DType::BF16 => {
            let dy = cast_to_f32(dy, bf16::to_f32);
            let g = bias_grad::<f32>(dy.storage(), b, c, oh * ow);
            Bytes::from_elems(g.into_iter().map(bf16::from_f32).collect::<Vec<_>>())
        }
        dtype => panic!("conv bias_backward: unsupported dtype {dtype:?}"),
    };
    FlexTensor::new(out, Layout::contiguous(bias_shape), dtype)
}
