//! PATCH (face-deblur): row helpers of the Winograd transforms (`conv_winograd`,
//! `conv_winograd4`): [`lanes`] (a per-lane body over rows of a buffer in fixed-width
//! vector blocks), the row offsets and slices it takes, the four-phase split of an input row
//! ([`split4`]), the per-thread work buffer ([`with_buf`]), and the layout of the
//! transformed kernels shared by both tile sizes ([`kernels_to_u`], [`u_to_kernels`]). Safe
//! code only.

use alloc::vec;
use alloc::vec::Vec;

use super::conv_gemm_raw::GemmElem;
use super::conv_lower::{Geom, split2};

/// Lanes of one block of [`lanes`]: one AVX2 vector of `f32`.
const LANES: usize = 8;

/// `dst[dst_at[o] + j] = f([src[src_at[0] + j], src[src_at[1] + j], …])[o]` for `j` in
/// `0..len`, in fixed blocks of [`LANES`] (of `LANES / 2` where `len` is shorter), the last
/// block overlapping the one before (so `dst` must be another buffer than `src`: the borrows
/// see to it); below `LANES / 2` one element at a time. The transforms' loops run over the
/// 4–32 tiles of a band row: left to itself the compiler vectorizes such a loop 32 lanes at
/// a time (4 vectors unrolled) and runs shorter ones half-width or scalar; a fixed block's
/// per-lane body becomes one vector op per line.
/// Rows are offsets into one buffer, not slices: building arrays of slices per call cost as
/// much as a block's arithmetic on the 8-tile rows of 16² maps.
#[inline(always)]
pub(super) fn lanes<T: GemmElem, const I: usize, const O: usize>(
    src: &[T],
    src_at: [usize; I],
    dst: &mut [T],
    dst_at: [usize; O],
    len: usize,
    f: impl Fn([T; I]) -> [T; O],
) {
    if len >= LANES {
        blocks::<T, I, O, LANES>(src, src_at, dst, dst_at, len, f);
    } else if len >= LANES / 2 {
        // 4–7 lanes (the 4-tile rows of F(4×4, 3×3) on 16² maps): half-width blocks.
        blocks::<T, I, O, { LANES / 2 }>(src, src_at, dst, dst_at, len, f);
    } else {
        blocks::<T, I, O, 1>(src, src_at, dst, dst_at, len, f);
    }
}

/// [`lanes`] in fixed blocks of `L ≤ len` lanes, the last block overlapping the one before
/// (`L` = 1: one element at a time). Plain index loops with constant bounds throughout:
/// `core::array::from_fn` and friends are not always inlined here, and an outlined call per
/// lane undoes the vectorization.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // index loops on purpose, see above
fn blocks<T: GemmElem, const I: usize, const O: usize, const L: usize>(
    src: &[T],
    src_at: [usize; I],
    dst: &mut [T],
    dst_at: [usize; O],
    len: usize,
    f: impl Fn([T; I]) -> [T; O],
) {
    let mut j0 = 0;
    while j0 < len {
        let j = j0.min(len - L);
        let mut block = [[T::ZERO; L]; I];
        for i in 0..I {
            block[i].copy_from_slice(&src[src_at[i] + j..][..L]);
        }
        let mut res = [[T::ZERO; L]; O];
        for k in 0..L {
            let mut x = [T::ZERO; I];
            for i in 0..I {
                x[i] = block[i][k];
            }
            let r = f(x);
            for o in 0..O {
                res[o][k] = r[o];
            }
        }
        for o in 0..O {
            dst[dst_at[o] + j..][..L].copy_from_slice(&res[o]);
        }
        j0 += L;
    }
}

/// The offsets `start + i · stride` for `i` in `0..K` (rows for [`lanes`]).
#[inline(always)]
pub(super) fn strided<const K: usize>(start: usize, stride: usize) -> [usize; K] {
    let mut at = [0; K];
    for (i, at) in at.iter_mut().enumerate() {
        *at = start + i * stride;
    }
    at
}

/// `K` slices of `len` of `buf`, the `i`-th from `start + i · stride`.
#[inline(always)]
pub(super) fn rows<T, const K: usize>(
    buf: &[T],
    start: usize,
    stride: usize,
    len: usize,
) -> [&[T]; K] {
    let mut out = [&buf[..0]; K];
    for (i, row) in out.iter_mut().enumerate() {
        *row = &buf[start + i * stride..][..len];
    }
    out
}

/// The four column phases of one input row, zero outside it: `ph[p · n + j] =
/// row[4j + p − pad]` for `j` in `0..n` (`ph`: `4n`), as two rounds of [`split2`] through
/// `tmp` (at least `4n`): the compiler vectorizes the stride-2 split, not a stride-4 one.
#[inline(always)]
pub(super) fn split4<T: GemmElem>(row: &[T], pad: usize, ph: &mut [T], tmp: &mut [T]) {
    let n = ph.len() / 4;
    let (e, o) = tmp[..4 * n].split_at_mut(2 * n);
    split2(row, pad, e, o);
    let (p0, rest) = ph.split_at_mut(n);
    let (p1, rest) = rest.split_at_mut(n);
    let (p2, p3) = rest.split_at_mut(n);
    split2(e, 0, p0, p2);
    split2(o, 0, p1, &mut p3[..n]);
}

#[cfg(feature = "std")]
std::thread_local! {
    /// This thread's work buffer (see [`with_buf`]).
    static BUF: core::cell::Cell<Vec<u64>> = const { core::cell::Cell::new(Vec::new()) };
}

/// Runs `f` on a work buffer of `len` elements: this thread's, reused from call to call
/// and not cleared (every Winograd band writes each element of `V`, `M` and its scratch
/// before reading it; zero-filling a fresh buffer per task was 5 % of a 96-channel layer). A
/// nested call on the same thread (rayon work stealing) gets a fresh buffer; the larger one
/// is kept. Without `std`, a zeroed `Vec` per call.
pub(super) fn with_buf<T: GemmElem, R>(len: usize, f: impl FnOnce(&mut [T]) -> R) -> R {
    #[cfg(feature = "std")]
    {
        let words = (len * core::mem::size_of::<T>()).div_ceil(8);
        let mut v = BUF.with(|b| b.take());
        if v.len() < words {
            v.resize(words, 0);
        }
        let r = f(&mut bytemuck::cast_slice_mut::<u64, T>(&mut v[..words])[..len]);
        BUF.with(|b| {
            let other = b.take();
            b.set(if other.len() > v.len() { other } else { v });
        });
        r
    }
    #[cfg(not(feature = "std"))]
    f(&mut vec![T::ZERO; len])
}

/// The transformed kernels `U`, laid out `[groups][P][C_out/g][C_in/g]` (`P` = (m + 2)² of
/// F(m×m, 3×3)), from the weight `[C_out, C_in/g, 3, 3]`: `f` maps one 3×3 kernel (row-major)
/// to its `P` values. One output channel's `P` rows of `C_in/g` are built in a small buffer
/// and copied out whole: writing `U` directly scattered each kernel over `P` rows
/// `C_out/g · C_in/g` apart (a multiple of 4 KiB at 96 channels: one L1 set, a miss per
/// store).
pub(super) fn kernels_to_u<T: GemmElem, const P: usize>(
    weight: &[T],
    g: &Geom,
    f: impl Fn(&[T]) -> [T; P],
) -> Vec<T> {
    let (cig, cog) = (g.cig(), g.cog());
    assert_eq!(weight.len(), g.c_out * cig * 9, "winograd: weight size");
    let mut u = vec![T::ZERO; P * g.c_out * cig];
    let mut rows = vec![T::ZERO; P * cig];
    for (o, w_o) in weight.chunks_exact(cig * 9).enumerate() {
        let (grp, ol) = (o / cog, o % cog);
        for (cl, k) in w_o.chunks_exact(9).enumerate() {
            for (xi, v) in f(k).into_iter().enumerate() {
                rows[xi * cig + cl] = v;
            }
        }
        for (xi, row) in rows.chunks_exact(cig).enumerate() {
            u[((grp * P + xi) * cog + ol) * cig..][..cig].copy_from_slice(row);
        }
    }
    u
}

/// The inverse of [`kernels_to_u`]'s layout: the weight gradient `[C_out, C_in/g, 3, 3]`
/// from `∂L/∂U` (`[groups][P][C_out/g][C_in/g]`), `f` mapping one kernel's `P` values to its
/// 3×3 (row-major). One output channel's `P` rows are gathered into a small buffer first.
pub(super) fn u_to_kernels<T: GemmElem, const P: usize>(
    du: &[T],
    g: &Geom,
    f: impl Fn([T; P]) -> [T; 9],
) -> Vec<T> {
    let (cig, cog) = (g.cig(), g.cog());
    let mut out = vec![T::ZERO; g.c_out * cig * 9];
    let mut rows = vec![T::ZERO; P * cig];
    for (o, w_o) in out.chunks_exact_mut(cig * 9).enumerate() {
        let (grp, ol) = (o / cog, o % cog);
        for (xi, row) in rows.chunks_exact_mut(cig).enumerate() {
            row.copy_from_slice(&du[((grp * P + xi) * cog + ol) * cig..][..cig]);
        }
        for (cl, k) in w_o.chunks_exact_mut(9).enumerate() {
            let mut d = [T::ZERO; P];
            for (xi, v) in d.iter_mut().enumerate() {
                *v = rows[xi * cig + cl];
            }
            k.copy_from_slice(&f(d));
        }
    }
    out
}
