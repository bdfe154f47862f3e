//! PATCH (face-deblur): Winograd F(2×2, 3×3) for the forward of stride-1, undilated 3×3
//! convolutions (and so for their stride-1 input gradient, which runs as a forward).
//!
//! Per output tile of 2×2 (Lavin & Gray 2016): `Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A`, with `d` the
//! 4×4 input patch and `g` the 3×3 kernel. Summed over input channels, the 16 element-wise
//! products become 16 GEMMs `M_ξ [C_out/g × T] = U_ξ [C_out/g × C_in/g] · V_ξ [C_in/g × T]`
//! over the `T` tiles of a row band: 4 multiply-adds per output and input channel instead of
//! 9 (2.25× fewer), for one pass over the input (`V`, 4× its size) and one over the output.
//! The transforms work on whole tile rows (even/odd column halves, so every loop is unit
//! stride), in fixed blocks of 8 lanes (`conv_rows::lanes`: the compiler's own vectorization
//! left the 8–16-tile rows of the training crops half-width or scalar), on a per-thread work
//! buffer that is reused without clearing (`conv_rows::with_buf`). Safe code only; the GEMMs go through
//! [`gemm_checked`].
//!
//! Also here: the band driver of F(4×4, 3×3) (its transforms are in `conv_winograd4`; which
//! tile a forward uses is [`forward_tile`]'s choice), and the weight gradient as
//! F(2×2, 3×3) or F(4×4, 3×3) ([`wgrad_band`], [`wgrad_finish`], [`wgrad_tile`]).

use alloc::vec::Vec;

use super::conv_gemm_raw::{DstRows, GemmElem, Mat, gemm_checked};
use super::conv_lower::{Geom, Knob, col_budget, split2};
use super::conv_rows::{kernels_to_u, lanes, strided, u_to_kernels};
use super::conv_winograd4;

static WINOGRAD: Knob = Knob::new(3);

/// Benchmark / test hook, for the convs where [`applies`] holds: 3 (default) = Winograd
/// F(4×4, 3×3) for the forward (so also the stride-1 input gradient, see `conv_winograd4`)
/// and the weight gradient where [`forward_tile`] / [`wgrad_tile`] pick it, F(2×2, 3×3)
/// for the others; 5 = the same with every weight gradient F(2×2, 3×3) (the default before
/// the tenth round); 4 = F(4×4, 3×3) for every forward and weight gradient; 2 = F(2×2, 3×3)
/// for the forward and weight gradient; 1 = F(2×2, 3×3) for the forward only; 0 = the
/// kx-only / im2col GEMM paths for every conv.
#[doc(hidden)]
pub fn set_winograd(v: usize) {
    WINOGRAD.set(v);
}

/// Fewest input and output channels (per group) for which the Winograd path is used: with
/// fewer, the GEMMs' reduction (`C_in/g`) or height (`C_out/g`) is too small to gain.
pub const WINO_MIN_C: usize = 8;

/// Whether the forward of `g` runs as Winograd F(2×2, 3×3).
pub(super) fn applies(g: &Geom) -> bool {
    WINOGRAD.get() != 0
        && g.kh == 3
        && g.kw == 3
        && g.stride == [1, 1]
        && g.dilation == [1, 1]
        && g.cig() >= WINO_MIN_C
        && g.cog() >= WINO_MIN_C
        && g.oh > 0
        && g.ow > 0
}

/// Whether the weight gradient of `g` runs as Winograd (see [`weight_grad`]).
pub(super) fn applies_wgrad(g: &Geom) -> bool {
    WINOGRAD.get() >= 2 && applies(g)
}

/// Narrowest output for the F(4×4, 3×3) forward (its rows hold a quarter as many tiles as the
/// output is wide: the GEMMs' width and the transforms' loops).
pub const WINO4_MIN_OW: usize = 32;

/// Largest `min(C_in/g, C_out/g)` for the F(4×4, 3×3) forward. Measured on the compact
/// generator's layers (`bench/conv_ops`, `WINOAB=2 WINO_ON=4`, 2-core Zen 1): F(4×4, 3×3)
/// was 7–19 % faster than F(2×2, 3×3) wherever either channel count was ≤ 48 (24–48 → any,
/// any → 24–48, at 32² to 128²), and 10–40 % slower wherever both were ≥ 64 (96→96, 96→192,
/// 64→192, 96→64 and their input gradients, at 16² and 32²).
pub const WINO4_MAX_C: usize = 48;

/// Output tile side of the Winograd forward of `g`: 4 (F(4×4, 3×3)) where the hook is 4, or
/// where it is 3 (the default) or 5 and [`fits4`] holds; else 2.
pub(super) fn forward_tile(g: &Geom) -> usize {
    let v = WINOGRAD.get();
    if v == 4 || ((v == 3 || v == 5) && fits4(g)) {
        4
    } else {
        2
    }
}

/// Output tile side of the Winograd weight gradient of `g`: 4 where the hook is 4, or where
/// it is 3 (the default) and [`fits4`] holds; else 2. Measured (`bench/conv_ops`,
/// `HW=64 B=8 WINOAB=5`, 2-core Zen 1): see `PATCHES.md`, tenth round.
pub(super) fn wgrad_tile(g: &Geom) -> usize {
    let v = WINOGRAD.get();
    if v == 4 || (v == 3 && fits4(g)) { 4 } else { 2 }
}

/// Whether `g` is a layer where F(4×4, 3×3) measured faster: the output at least
/// [`WINO4_MIN_OW`] wide and one of the per-group channel counts at most [`WINO4_MAX_C`].
fn fits4(g: &Geom) -> bool {
    g.ow >= WINO4_MIN_OW && g.cig().min(g.cog()) <= WINO4_MAX_C
}

/// Tiles of side `m` across one output row band.
fn tiles_x(g: &Geom, m: usize) -> usize {
    g.ow.div_ceil(m)
}

/// Output rows per band of F(m×m, 3×3) (`m` = 2 or 4; a multiple of `m`, bands are whole tile
/// rows): `V` and `M` of one band within twice the column budget; split over `threads` (one
/// item's bands as tasks), the fewest bands within that budget whose count is a multiple of
/// the thread count, where one exists.
pub(super) fn band_rows(g: &Geom, threads: Option<usize>, m: usize) -> usize {
    let tile_rows = g.oh.div_ceil(m);
    let per_tile_row = (m + 2) * (m + 2) * (g.cig() + g.cog()) * tiles_x(g, m);
    let max_t = (2 * col_budget() / per_tile_row.max(1)).clamp(1, tile_rows.max(1));
    let per_band = match threads {
        Some(threads) => {
            let t0 = tile_rows.div_ceil(max_t).next_multiple_of(threads);
            (t0..=tile_rows.max(t0))
                .map(|t| tile_rows.div_ceil(t))
                .find(|&pb| tile_rows.div_ceil(pb).is_multiple_of(threads))
                .unwrap_or(tile_rows.div_ceil(t0))
        }
        None => max_t,
    };
    m * per_band.max(1)
}

/// Length of the work buffer of a band of `rows` output rows of F(m×m, 3×3) (`V`, `M`, the
/// transforms' row scratch).
pub(super) fn buf_len(g: &Geom, rows: usize, m: usize) -> usize {
    let (tx, ty) = (tiles_x(g, m), rows.div_ceil(m));
    (m + 2) * (m + 2) * (g.cig() + g.cog()) * tx * ty + scratch_len(m) * (tx + 1)
}

/// The transforms' row scratch of F(m×m, 3×3), per tile across a band plus one.
fn scratch_len(m: usize) -> usize {
    if m == 4 { 48 } else { 16 }
}

/// The transformed kernel `U = G g Gᵀ` of F(m×m, 3×3), laid out
/// `[groups][(m + 2)²][C_out/g][C_in/g]`, from the weight `[C_out, C_in/g, 3, 3]`.
pub(super) fn weight<T: GemmElem>(weight: &[T], g: &Geom, m: usize) -> Vec<T> {
    if m == 4 {
        conv_winograd4::weight(weight, g)
    } else {
        weight2(weight, g)
    }
}

/// [`weight`] of F(2×2, 3×3).
fn weight2<T: GemmElem>(weight: &[T], g: &Geom) -> Vec<T> {
    let h = T::HALF;
    kernels_to_u::<T, 16>(weight, g, |k| {
        // G k: rows q0 = k0, q1 = (k0 + k1 + k2)/2, q2 = (k0 − k1 + k2)/2, q3 = k2.
        let mut q = [[T::ZERO; 3]; 4];
        for c in 0..3 {
            let (k0, k1, k2) = (k[c], k[3 + c], k[6 + c]);
            q[0][c] = k0;
            q[1][c] = (k0 + k1 + k2) * h;
            q[2][c] = (k0 - k1 + k2) * h;
            q[3][c] = k2;
        }
        // (G k) Gᵀ: the same on each row.
        let mut u = [T::ZERO; 16];
        for (r, [a, b, c]) in q.into_iter().enumerate() {
            u[4 * r..4 * r + 4].copy_from_slice(&[a, (a + b + c) * h, (a - b + c) * h, c]);
        }
        u
    })
}

/// One band of output rows `[oh0, oh1)` (`oh0` a multiple of `m`) of group `grp` of one
/// batch item `xb` (`[C_in, H, W]`) as F(m×m, 3×3) (`m` = 2, or 4: `conv_winograd4`'s
/// transforms), written (plus `bias`) into `dst` (`C_out/g` rows of `(oh1 − oh0) · OW`). `u`
/// is [`weight`]'s output, `buf` at least [`buf_len`] of the band.
#[allow(clippy::too_many_arguments)]
pub(super) fn band<T: GemmElem>(
    xb: &[T],
    g: &Geom,
    grp: usize,
    oh0: usize,
    oh1: usize,
    m: usize,
    u: &[T],
    bias: Option<&[T]>,
    buf: &mut [T],
    dst: &mut DstRows<'_, T>,
    gemm_par: bool,
) {
    let (cig, cog) = (g.cig(), g.cog());
    let pts = (m + 2) * (m + 2);
    let (tx, ty) = (tiles_x(g, m), (oh1 - oh0).div_ceil(m));
    let nt = tx * ty;
    debug_assert_eq!(dst.cols(), (oh1 - oh0) * g.ow);
    let (v, rest) = buf.split_at_mut(pts * cig * nt);
    let (mm, rest) = rest.split_at_mut(pts * cog * nt);
    let scratch = &mut rest[..scratch_len(m) * (tx + 1)];
    let output = if m == 4 {
        conv_winograd4::output_transform
    } else {
        output_transform
    };
    input_planes(xb, g, grp, oh0, m, v, scratch, tx, ty);

    // M_ξ = U_ξ · V_ξ.
    let u_g = &u[grp * pts * cog * cig..][..pts * cog * cig];
    for xi in 0..pts {
        gemm_checked(
            cog,
            nt,
            cig,
            &mut mm[xi * cog * nt..][..cog * nt],
            nt,
            1,
            false,
            Mat {
                data: &u_g[xi * cog * cig..][..cog * cig],
                rs: cig,
                cs: 1,
            },
            Mat {
                data: &v[xi * cig * nt..][..cig * nt],
                rs: nt,
                cs: 1,
            },
            gemm_par,
        );
    }

    // Output transform Y = Aᵀ M A + bias, one output channel at a time.
    for ol in 0..cog {
        let bv = bias.map_or(T::ZERO, |b| b[ol]);
        output(
            &mm[ol * nt..],
            cog * nt,
            dst.row_mut(ol),
            scratch,
            tx,
            ty,
            oh1 - oh0,
            g.ow,
            bv,
        );
    }
}

/// Input transform of F(m×m, 3×3) of a band (from output row `oh0`, `ty` × `tx` tiles) of
/// group `grp` of one batch item `xb` (`[C_in, H, W]`): `V_ξ[c][tile] = (Bᵀ d B)_ξ` into `v`
/// (`[(m + 2)²][C_in/g][tiles]`), one input channel at a time.
#[allow(clippy::too_many_arguments)]
fn input_planes<T: GemmElem>(
    xb: &[T],
    g: &Geom,
    grp: usize,
    oh0: usize,
    m: usize,
    v: &mut [T],
    scratch: &mut [T],
    tx: usize,
    ty: usize,
) {
    let (cig, nt, plane) = (g.cig(), tx * ty, g.h * g.w);
    let row0 = oh0 as isize - g.pad[0] as isize;
    let input = if m == 4 {
        conv_winograd4::input_transform
    } else {
        input_transform
    };
    for cl in 0..cig {
        let xc = &xb[(grp * cig + cl) * plane..][..plane];
        input(
            xc,
            &mut v[cl * nt..],
            cig * nt,
            scratch,
            tx,
            ty,
            row0,
            g.h,
            g.w,
            g.pad[1],
        );
    }
}

/// Input transform of one input channel `xc` (`[H, W]`) over a band of `ty` × `tx` tiles:
/// writes `V_ξ[tile]` at `v[ξ · xi_stride + tile]` for ξ in 0..16. `scratch`: `16 · (tx + 1)`.
#[allow(clippy::too_many_arguments, clippy::extra_unused_type_parameters)]
#[cfg_attr(feature = "simd", macerator::with_simd)]
fn input_transform<#[cfg(feature = "simd")] S: macerator::Simd, T: GemmElem>(
    xc: &[T],
    v: &mut [T],
    xi_stride: usize,
    scratch: &mut [T],
    tx: usize,
    ty: usize,
    row0: isize,
    h: usize,
    w: usize,
    pad_x: usize,
) {
    let n = tx + 1;
    let (halves, t) = scratch[..16 * n].split_at_mut(8 * n);
    for i in 0..ty {
        // Four input rows as even / odd column halves: e_k[j] = d_k[2j], o_k[j] = d_k[2j + 1]
        // (halves = e_0..e_3, o_0..o_3, each n long).
        let (e, o) = halves.split_at_mut(4 * n);
        for k in 0..4 {
            let e_k = &mut e[k * n..][..n];
            let o_k = &mut o[k * n..][..n];
            let r = row0 + (2 * i + k) as isize;
            if r < 0 || r >= h as isize {
                e_k.fill(T::ZERO);
                o_k.fill(T::ZERO);
                continue;
            }
            split2(&xc[r as usize * w..][..w], pad_x, e_k, o_k);
        }
        // Bᵀ d (rows), per half: t0 = d0 − d2, t1 = d1 + d2, t2 = d2 − d1, t3 = d1 − d3.
        for half in 0..2 {
            lanes(
                halves,
                strided(4 * n * half, n),
                t,
                strided(4 * n * half, n),
                n,
                |[d0, d1, d2, d3]| [d0 - d2, d1 + d2, d2 - d1, d1 - d3],
            );
        }
        // (Bᵀ d) B (columns c0..c3 = e[j], o[j], e[j + 1], o[j + 1]).
        for r in 0..4 {
            let (e, o) = (r * n, (4 + r) * n);
            lanes(
                t,
                [e, o, e + 1, o + 1],
                v,
                strided(4 * r * xi_stride + i * tx, xi_stride),
                tx,
                |[c0, c1, c2, c3]| [c0 - c2, c1 + c2, c2 - c1, c1 - c3],
            );
        }
    }
}

/// Output transform of one output channel: `m[ξ · xi_stride + tile]` holds `M_ξ` of the band's
/// tiles; writes `Aᵀ M A + bias` (Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]) into `out`
/// (`band_rows` rows of `ow`). `scratch`: `4 · tx`.
#[allow(clippy::too_many_arguments, clippy::extra_unused_type_parameters)]
#[cfg_attr(feature = "simd", macerator::with_simd)]
fn output_transform<#[cfg(feature = "simd")] S: macerator::Simd, T: GemmElem>(
    m: &[T],
    xi_stride: usize,
    out: &mut [T],
    scratch: &mut [T],
    tx: usize,
    ty: usize,
    band_rows: usize,
    ow: usize,
    bias: T,
) {
    let ph = &mut scratch[..4 * tx];
    let pairs = ow / 2;
    for i in 0..ty {
        // Both output rows of the tile row, as even / odd column halves: row a of Aᵀ M is
        // u_s = M_0s + M_1s + M_2s (a = 0) or M_1s − M_2s − M_3s (a = 1); then columns
        // even = u0 + u1 + u2, odd = u1 − u2 − u3.
        lanes(
            m,
            strided(i * tx, xi_stride),
            ph,
            strided(0, tx),
            tx,
            |mv: [T; 16]| {
                let u0 = |s: usize| mv[s] + mv[4 + s] + mv[8 + s];
                let u1 = |s: usize| mv[4 + s] - mv[8 + s] - mv[12 + s];
                let (u0, u1) = ([u0(0), u0(1), u0(2), u0(3)], [u1(0), u1(1), u1(2), u1(3)]);
                [
                    u0[0] + u0[1] + u0[2] + bias,
                    u0[1] - u0[2] - u0[3] + bias,
                    u1[0] + u1[1] + u1[2] + bias,
                    u1[1] - u1[2] - u1[3] + bias,
                ]
            },
        );
        for a in 0..2 {
            let y = 2 * i + a;
            if y >= band_rows {
                break;
            }
            let (even, odd) = (&ph[2 * a * tx..][..tx], &ph[(2 * a + 1) * tx..][..tx]);
            let orow = &mut out[y * ow..][..ow];
            for ((pair, ev), od) in orow[..2 * pairs].chunks_exact_mut(2).zip(even).zip(odd) {
                pair[0] = *ev;
                pair[1] = *od;
            }
            if ow % 2 == 1 {
                orow[ow - 1] = even[tx - 1];
            }
        }
    }
}

/// Layout of the Winograd weight gradient of one conv, decided once per call ([`wgrad_plan`])
/// and passed to every band and to [`wgrad_finish`].
pub(super) struct WgradPlan {
    /// Output tile side `m` of F(m×m, 3×3) ([`wgrad_tile`]).
    pub tile: usize,
    /// Output rows per band.
    pub rows: usize,
    /// Bands per batch item and group.
    pub n_bands: usize,
    /// Length of a band's work buffer.
    pub buf_len: usize,
    /// Length of one task's accumulator (`[groups][(m + 2)²][C_out/g][C_in/g]`).
    pub acc_len: usize,
}

/// The [`WgradPlan`] of `g`.
pub(super) fn wgrad_plan(g: &Geom) -> WgradPlan {
    let tile = wgrad_tile(g);
    let rows = band_rows(g, None, tile);
    WgradPlan {
        tile,
        rows,
        n_bands: g.oh.div_ceil(rows),
        buf_len: buf_len(g, rows, tile),
        acc_len: g.groups * (tile + 2) * (tile + 2) * g.cog() * g.cig(),
    }
}

/// Weight gradient as F(m×m, 3×3) (`tile` = m, from [`wgrad_plan`]), one band of output rows
/// `[oh0, oh1)` (`oh0` a multiple of m) of group `grp` of one batch item: `xb` its input (`[C_in, H, W]`), `dyb`
/// the group's output gradient (`[C_out/g, OH, OW]`). Adds `∂L/∂U_ξ = (A dY Aᵀ)_ξ ·
/// (Bᵀ d B)_ξᵀ`, summed over the band's tiles ((m + 2)² GEMMs `[C_out/g × T] · [T × C_in/g]`),
/// to `acc` (`[(m + 2)²][C_out/g][C_in/g]`); [`wgrad_finish`] maps the sum back through
/// `U = G g Gᵀ`. The chain rule through the forward's algorithm, so exact like it: 4
/// (F(2×2, 3×3)) or 2.25 (F(4×4, 3×3)) multiply-adds per output pixel and channel pair
/// instead of 9. `buf`: at least [`buf_len`] of the band.
#[allow(clippy::too_many_arguments)]
pub(super) fn wgrad_band<T: GemmElem>(
    xb: &[T],
    dyb: &[T],
    g: &Geom,
    grp: usize,
    oh0: usize,
    oh1: usize,
    tile: usize,
    buf: &mut [T],
    acc: &mut [T],
) {
    let (cig, cog) = (g.cig(), g.cog());
    let pts = (tile + 2) * (tile + 2);
    let (tx, ty) = (tiles_x(g, tile), (oh1 - oh0).div_ceil(tile));
    let nt = tx * ty;
    let (v, rest) = buf.split_at_mut(pts * cig * nt);
    let (m, rest) = rest.split_at_mut(pts * cog * nt);
    let scratch = &mut rest[..scratch_len(tile) * (tx + 1)];
    input_planes(xb, g, grp, oh0, tile, v, scratch, tx, ty);
    let grad = if tile == 4 {
        conv_winograd4::grad_transform
    } else {
        grad_transform
    };
    let out_plane = g.oh * g.ow;
    for ol in 0..cog {
        let band = &dyb[ol * out_plane + oh0 * g.ow..][..(oh1 - oh0) * g.ow];
        grad(band, &mut m[ol * nt..], cog * nt, scratch, tx, ty, g.ow);
    }
    for xi in 0..pts {
        gemm_checked(
            cog,
            cig,
            nt,
            &mut acc[xi * cog * cig..][..cog * cig],
            cig,
            1,
            true,
            Mat {
                data: &m[xi * cog * nt..][..cog * nt],
                rs: nt,
                cs: 1,
            },
            Mat {
                data: &v[xi * cig * nt..][..cig * nt],
                rs: 1,
                cs: nt,
            },
            false,
        );
    }
}

/// The weight gradient `[C_out, C_in/g, 3, 3]` from the summed `∂L/∂U` (`[groups][(m + 2)²]
/// [C_out/g][C_in/g]`, `tile` = m from [`wgrad_plan`]): `Gᵀ (∂L/∂U) G` per output and input
/// channel.
pub(super) fn wgrad_finish<T: GemmElem>(du: &[T], g: &Geom, tile: usize) -> Vec<T> {
    if tile == 4 {
        return conv_winograd4::wgrad_finish(du, g);
    }
    let h = T::HALF;
    // Gᵀ = [[1, ½, ½, 0], [0, ½, −½, 0], [0, ½, ½, 1]], applied to a column of 4.
    let gt = |[a, b, c, d]: [T; 4]| [a + (b + c) * h, (b - c) * h, (b + c) * h + d];
    u_to_kernels::<T, 16>(du, g, |du| {
        let at = |r: usize, s: usize| du[4 * r + s];
        // Gᵀ (∂L/∂U): the 4 rows to 3, per column s.
        let col = |s: usize| gt([at(0, s), at(1, s), at(2, s), at(3, s)]);
        let cols = [col(0), col(1), col(2), col(3)];
        // (…) G: the 4 columns to 3, per row.
        let mut k = [T::ZERO; 9];
        for r in 0..3 {
            let row = gt([cols[0][r], cols[1][r], cols[2][r], cols[3][r]]);
            k[3 * r..3 * r + 3].copy_from_slice(&row);
        }
        k
    })
}

/// Output-gradient transform of one output channel over a band of `ty` × `tx` tiles (`dy`:
/// the band's rows of `ow`, a last odd row or column counting as zero past its end): writes
/// `(A dY Aᵀ)_ξ[tile]` (A = [[1, 0], [1, 1], [1, −1], [0, −1]]) at `m[ξ · xi_stride + tile]`.
/// `scratch`: `4 · tx`.
#[allow(clippy::extra_unused_type_parameters)]
#[cfg_attr(feature = "simd", macerator::with_simd)]
fn grad_transform<#[cfg(feature = "simd")] S: macerator::Simd, T: GemmElem>(
    dy: &[T],
    m: &mut [T],
    xi_stride: usize,
    scratch: &mut [T],
    tx: usize,
    ty: usize,
    ow: usize,
) {
    let rows_eo = &mut scratch[..4 * tx];
    let band_rows = dy.len() / ow.max(1);
    for i in 0..ty {
        // Rows 2i and 2i + 1 as even / odd column halves e0, o0, e1, o1.
        for k in 0..2 {
            let (e, o) = rows_eo[2 * k * tx..][..2 * tx].split_at_mut(tx);
            let y = 2 * i + k;
            if y >= band_rows {
                e.fill(T::ZERO);
                o.fill(T::ZERO);
                continue;
            }
            let row = &dy[y * ow..][..ow];
            for ((e, o), pair) in e.iter_mut().zip(o.iter_mut()).zip(row.chunks_exact(2)) {
                *e = pair[0];
                *o = pair[1];
            }
            if ow % 2 == 1 {
                e[tx - 1] = row[ow - 1];
                o[tx - 1] = T::ZERO;
            }
        }
        // Rows of A dY: d0, d0 + d1, d0 − d1, −d1; then the columns of each (…) Aᵀ:
        // e, e + o, e − o, −o.
        lanes(
            rows_eo,
            strided(0, tx),
            m,
            strided(i * tx, xi_stride),
            tx,
            |[e0, o0, e1, o1]| {
                let z = T::ZERO;
                let (e1n, o1n) = (z - e1, z - o1);
                let (e2, o2) = (e0 + e1, o0 + o1);
                let (e3, o3) = (e0 - e1, o0 - o1);
                [
                    e0,
                    e0 + o0,
                    e0 - o0,
                    z - o0, //
                    e2,
                    e2 + o2,
                    e2 - o2,
                    z - o2, //
                    e3,
                    e3 + o3,
                    e3 - o3,
                    z - o3, //
                    e1n,
                    e1n + o1n,
                    e1n - o1n,
                    z - o1n,
                ]
            },
        );
    }
}
