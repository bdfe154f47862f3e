//! PATCH (face-deblur): the kernel and data transforms of Winograd F(4×4, 3×3), for the
//! forward of stride-1, undilated 3×3 convolutions (and so for their stride-1 input
//! gradient) where `conv_winograd::forward_tile` picks the 4×4 tile; `conv_winograd::band`
//! runs them around its GEMMs. Also the output-gradient transform and the kernel-gradient
//! map of the F(4×4, 3×3) weight gradient (`conv_winograd::wgrad_band`, where
//! `conv_winograd::wgrad_tile` picks it).
//!
//! Per output tile of 4×4 (Lavin & Gray 2016, interpolation points 0, ±1, ±2, ∞):
//! `Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A`, with `d` the 6×6 input patch and `g` the 3×3 kernel. The
//! 36 element-wise products, summed over input channels, are 36 GEMMs
//! `M_ξ [C_out/g × T] = U_ξ [C_out/g × C_in/g] · V_ξ [C_in/g × T]` over the `T` tiles of a row
//! band: 2.25 multiply-adds per output and input channel instead of 9 (F(2×2, 3×3): 4), and
//! `V`, `M` 2.25× the size of the input and output (F(2×2, 3×3): 4×). Rounding: the
//! transforms multiply by at most 8 and the kernel's by 1/24 (the kernel transform runs in
//! f64); the patch tests hold it to 1e-4 of the naive f64 loops like every other path.
//! The transforms work on whole tile rows split into the four column phases `x mod 4`, so
//! every loop is unit stride. Safe code only.

use alloc::vec::Vec;

use super::conv_gemm_raw::GemmElem;
use super::conv_lower::Geom;
use super::conv_rows::{kernels_to_u, lanes, rows, split4, strided, u_to_kernels};

/// `G = D G'` (Lavin & Gray's G, 6×3): `D` the diagonal of row scales, `G'` the integer
/// rows [1, 0, 0], [1, 1, 1], [1, −1, 1], [1, 2, 4], [1, −2, 4], [0, 0, 1] ([`g_int`]). The
/// kernel transform and the kernel-gradient map run on `G'` and scale by `D[r] · D[s]`
/// ([`scales`]): multiplications only (the divisions of `G` itself, with the scattered stores
/// of [`weight`], were a quarter of an F(4×4, 3×3) forward on 96 channels at 16²).
const D: [f64; 6] = [
    1.0 / 4.0,
    -1.0 / 6.0,
    -1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 24.0,
    1.0,
];

/// `D[r] · D[s]` at `6r + s` (see [`D`]).
fn scales() -> [f64; 36] {
    let mut sc = [0.0; 36];
    for (i, v) in sc.iter_mut().enumerate() {
        *v = D[i / 6] * D[i % 6];
    }
    sc
}

/// `G' k` for one column `k` of 3 (see [`D`]).
#[inline(always)]
fn g_int([k0, k1, k2]: [f64; 3]) -> [f64; 6] {
    let (s, t) = (k0 + k2, 4.0 * k2);
    [k0, s + k1, s - k1, k0 + 2.0 * k1 + t, k0 - 2.0 * k1 + t, k2]
}

/// `G'ᵀ a` for one column `a` of 6 (see [`D`]).
#[inline(always)]
fn g_int_t([a0, a1, a2, a3, a4, a5]: [f64; 6]) -> [f64; 3] {
    [
        a0 + a1 + a2 + a3 + a4,
        a1 - a2 + 2.0 * (a3 - a4),
        a1 + a2 + 4.0 * (a3 + a4) + a5,
    ]
}

/// The transformed kernel `U = G g Gᵀ`, laid out `[groups][36][C_out/g][C_in/g]`, from the
/// weight `[C_out, C_in/g, 3, 3]` (in f64: `U[r][s] = D[r] D[s] (G' g G'ᵀ)[r][s]`, see [`D`]).
pub(super) fn weight<T: GemmElem>(weight: &[T], g: &Geom) -> Vec<T> {
    let sc = scales();
    kernels_to_u::<T, 36>(weight, g, |k| {
        let k = |i: usize| k[i].to_f64();
        // G' k: 6 rows of 3 (one column of the kernel at a time).
        let col = |c: usize| g_int([k(c), k(3 + c), k(6 + c)]);
        let [c0, c1, c2] = [col(0), col(1), col(2)];
        // (G' k) G'ᵀ: the same on each of the 6 rows, then the scales.
        let mut u = [T::ZERO; 36];
        for (r, u_r) in u.chunks_exact_mut(6).enumerate() {
            let row = g_int([c0[r], c1[r], c2[r]]);
            for (s, (u, v)) in u_r.iter_mut().zip(row).enumerate() {
                *u = T::from_f64(v * sc[6 * r + s]);
            }
        }
        u
    })
}

/// `Bᵀ d` for one column `d` of 6 (Bᵀ rows: [4, 0, −5, 0, 1, 0], [0, −4, −4, 1, 1, 0],
/// [0, 4, −4, −1, 1, 0], [0, −2, −1, 2, 1, 0], [0, 2, −1, −2, 1, 0], [0, 4, 0, −5, 0, 1]).
#[inline(always)]
fn bt<T: GemmElem>([d0, d1, d2, d3, d4, d5]: [T; 6], [two, four, five]: [T; 3]) -> [T; 6] {
    let (p, q) = (d4 - four * d2, d3 - four * d1);
    let (r, s) = (d4 - d2, two * (d3 - d1));
    [
        four * d0 - five * d2 + d4,
        p + q,
        p - q,
        r + s,
        r - s,
        four * d1 - five * d3 + d5,
    ]
}

/// `Aᵀ m` for one column `m` of 6 (Aᵀ rows: [1, 1, 1, 1, 1, 0], [0, 1, −1, 2, −2, 0],
/// [0, 1, 1, 4, 4, 0], [0, 1, −1, 8, −8, 1]).
#[inline(always)]
fn at<T: GemmElem>([m0, m1, m2, m3, m4, m5]: [T; 6], [two, four, eight]: [T; 3]) -> [T; 4] {
    let (s1, d1, s2, d2) = (m1 + m2, m1 - m2, m3 + m4, m3 - m4);
    [
        m0 + s1 + s2,
        d1 + two * d2,
        s1 + four * s2,
        d1 + eight * d2 + m5,
    ]
}

/// Input transform of one input channel `xc` (`[H, W]`) over a band of `ty` × `tx` tiles:
/// writes `V_ξ[tile]` at `v[ξ · xi_stride + tile]` for ξ in 0..36. `scratch`: `48 · (tx + 1)`.
#[allow(clippy::too_many_arguments, clippy::extra_unused_type_parameters)]
#[cfg_attr(feature = "simd", macerator::with_simd)]
pub(super) fn input_transform<#[cfg(feature = "simd")] S: macerator::Simd, T: GemmElem>(
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
    let k = [T::from_f64(2.0), T::from_f64(4.0), T::from_f64(5.0)];
    let (phases, t) = scratch[..48 * n].split_at_mut(24 * n);
    for i in 0..ty {
        // Six input rows as column phases: phases[(k · 4 + q) · n + j] = d_k[4j + q].
        for (kr, ph) in phases.chunks_exact_mut(4 * n).enumerate() {
            let r = row0 + (4 * i + kr) as isize;
            if r < 0 || r >= h as isize {
                ph.fill(T::ZERO);
            } else {
                split4(&xc[r as usize * w..][..w], pad_x, ph, t);
            }
        }
        // Bᵀ d (rows): t[r] = Bᵀ row r applied to the six rows, every phase at once.
        let m4 = 4 * n;
        lanes(phases, strided(0, m4), t, strided(0, m4), m4, |d| bt(d, k));
        // (Bᵀ d) B (columns c0..c5 = q0[j], q1[j], q2[j], q3[j], q0[j + 1], q1[j + 1]).
        for r in 0..6 {
            let tr = r * m4;
            lanes(
                t,
                [tr, tr + n, tr + 2 * n, tr + 3 * n, tr + 1, tr + n + 1],
                v,
                strided(6 * r * xi_stride + i * tx, xi_stride),
                tx,
                |d| bt(d, k),
            );
        }
    }
}

/// Output transform of one output channel: `m[ξ · xi_stride + tile]` holds `M_ξ` of the band's
/// tiles; writes `Aᵀ M A + bias` into `out` (`band_rows` rows of `ow`). `scratch`: `28 · tx`.
#[allow(clippy::too_many_arguments, clippy::extra_unused_type_parameters)]
#[cfg_attr(feature = "simd", macerator::with_simd)]
pub(super) fn output_transform<#[cfg(feature = "simd")] S: macerator::Simd, T: GemmElem>(
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
    let k = [T::from_f64(2.0), T::from_f64(4.0), T::from_f64(8.0)];
    // us[(a · 6 + s) · tx + j]: row a of Aᵀ M, column s; ph[b · tx + j]: output column phase b.
    let (us, ph) = scratch[..28 * tx].split_at_mut(24 * tx);
    let quads = ow / 4;
    for i in 0..ty {
        for s in 0..6 {
            lanes(
                m,
                strided(s * xi_stride + i * tx, 6 * xi_stride),
                us,
                strided(s * tx, 6 * tx),
                tx,
                |mv| at(mv, k),
            );
        }
        for a in 0..4 {
            let y = 4 * i + a;
            if y >= band_rows {
                break;
            }
            lanes(us, strided(a * 6 * tx, tx), ph, strided(0, tx), tx, |u| {
                let [o0, o1, o2, o3] = at(u, k);
                [o0 + bias, o1 + bias, o2 + bias, o3 + bias]
            });
            let [b0, b1, b2, b3] = rows::<_, 4>(ph, 0, tx, tx);
            let orow = &mut out[y * ow..][..ow];
            for ((((quad, a), b), c), d) in orow[..4 * quads]
                .chunks_exact_mut(4)
                .zip(b0)
                .zip(b1)
                .zip(b2)
                .zip(b3)
            {
                quad.copy_from_slice(&[*a, *b, *c, *d]);
            }
            for (c, o) in orow[4 * quads..].iter_mut().enumerate() {
                *o = [b0, b1, b2][c][quads];
            }
        }
    }
}

/// `A d` for one column `d` of 4 (A = (Aᵀ)ᵀ, rows [1, 0, 0, 0], [1, 1, 1, 1], [1, −1, 1, −1],
/// [1, 2, 4, 8], [1, −2, 4, −8], [0, 0, 0, 1]): the chain rule through [`at`].
#[inline(always)]
fn a<T: GemmElem>([d0, d1, d2, d3]: [T; 4], [two, four, eight]: [T; 3]) -> [T; 6] {
    let (s02, s13) = (d0 + d2, d1 + d3);
    let (p, q) = (d0 + four * d2, two * d1 + eight * d3);
    [d0, s02 + s13, s02 - s13, p + q, p - q, d3]
}

/// Output-gradient transform of one output channel over a band of `ty` × `tx` tiles (`dy`:
/// the band's rows of `ow`, rows and columns past its end counting as zero): writes
/// `(A dY Aᵀ)_ξ[tile]` at `m[ξ · xi_stride + tile]` for ξ = 6r + s in 0..36 (the order of
/// [`input_transform`]'s `V`). `scratch`: `40 · tx`.
#[allow(clippy::extra_unused_type_parameters)]
#[cfg_attr(feature = "simd", macerator::with_simd)]
pub(super) fn grad_transform<#[cfg(feature = "simd")] S: macerator::Simd, T: GemmElem>(
    dy: &[T],
    m: &mut [T],
    xi_stride: usize,
    scratch: &mut [T],
    tx: usize,
    ty: usize,
    ow: usize,
) {
    let k = [T::from_f64(2.0), T::from_f64(4.0), T::from_f64(8.0)];
    let band_rows = dy.len() / ow.max(1);
    let m4 = 4 * tx;
    let (phases, t) = scratch[..40 * tx].split_at_mut(16 * tx);
    for i in 0..ty {
        // The tile row's four output-gradient rows as column phases:
        // phases[(k · 4 + q) · tx + j] = dY_k[4j + q].
        for (kr, ph) in phases.chunks_exact_mut(m4).enumerate() {
            let y = 4 * i + kr;
            if y >= band_rows {
                ph.fill(T::ZERO);
            } else {
                split4(&dy[y * ow..][..ow], 0, ph, t);
            }
        }
        // A dY (rows): t[r] = A row r applied to the four rows, every phase at once.
        lanes(phases, strided(0, m4), t, strided(0, m4), m4, |d| a(d, k));
        // (A dY) Aᵀ (columns: the four phases of the tile).
        for r in 0..6 {
            lanes(
                t,
                strided(r * m4, tx),
                m,
                strided(6 * r * xi_stride + i * tx, xi_stride),
                tx,
                |d| a(d, k),
            );
        }
    }
}

/// The weight gradient `[C_out, C_in/g, 3, 3]` from the summed `∂L/∂U` (`[groups][36]
/// [C_out/g][C_in/g]`): `Gᵀ (∂L/∂U) G = G'ᵀ (D (∂L/∂U) D) G'` per output and input channel
/// (see [`D`]; in f64 like the kernel transform).
pub(super) fn wgrad_finish<T: GemmElem>(du: &[T], g: &Geom) -> Vec<T> {
    let sc = scales();
    u_to_kernels::<T, 36>(du, g, |du| {
        let at = |r: usize, s: usize| du[6 * r + s].to_f64() * sc[6 * r + s];
        // G'ᵀ (D ∂L/∂U D): the 6 rows to 3, per column s.
        let col = |s: usize| g_int_t([at(0, s), at(1, s), at(2, s), at(3, s), at(4, s), at(5, s)]);
        let cols = [col(0), col(1), col(2), col(3), col(4), col(5)];
        // (…) G': the 6 columns to 3, per row.
        let mut k = [T::ZERO; 9];
        for (r, k_r) in k.chunks_exact_mut(3).enumerate() {
            let row = g_int_t([
                cols[0][r], cols[1][r], cols[2][r], cols[3][r], cols[4][r], cols[5][r],
            ]);
            for (k, v) in k_r.iter_mut().zip(row) {
                *k = T::from_f64(v);
            }
        }
        k
    })
}
