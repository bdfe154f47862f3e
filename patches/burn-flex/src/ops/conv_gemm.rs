//! PATCH (face-deblur): GEMM kernels for 2-D convolution gradients (and the forward),
//! NCHW, f32/f64 native (f16/bf16 via f32).
//!
//! All three ops share one geometry ([`Geom`]) of a *forward* convolution
//! `x [B, C_in, H, W] * w [C_out, C_in/g, kh, kw] -> y [B, C_out, OH, OW]`, and tiles of whole
//! output rows (`col` = im2col of one tile, `[C_in/g · kh · kw, rows · OW]`, ≤ [`COL_ELEMS`]):
//!
//! - weight grad: `dW_g += dY_{b,g}[:, tile] · col_{b,g,tile}ᵀ`, accumulated over batch and tiles
//!   in per-task partial sums (fixed task split, summed in order ⇒ deterministic);
//! - input grad:  `col = W_gᵀ · dY_{b,g}[:, tile]`, then col2im (scatter-add) into `dX_b`;
//! - forward:     `Y_{b,g}[:, tile] = W_g · col`, GEMM written straight into the output.
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
use super::conv_gemm_raw::{Mat, gemm_checked};
use crate::ops::module::{cast_from_f32, cast_to_f32};
use crate::{FlexTensor, Layout};

/// Default column-buffer budget per task, in elements (512 KiB of f32: fits the L2 with the
/// gradient tile and the weight block).
pub const COL_ELEMS: usize = 128 * 1024;

#[cfg(target_has_atomic = "ptr")]
static COL_ELEMS_TUNED: core::sync::atomic::AtomicUsize =
    core::sync::atomic::AtomicUsize::new(COL_ELEMS);

/// Tuning hook for benchmarks: sets the column-buffer budget (elements, ≥ 1).
#[doc(hidden)]
pub fn set_col_elems(n: usize) {
    #[cfg(target_has_atomic = "ptr")]
    COL_ELEMS_TUNED.store(n.max(1), core::sync::atomic::Ordering::Relaxed);
    #[cfg(not(target_has_atomic = "ptr"))]
    let _ = n;
}

/// Smallest column-matrix height (`C_in/g · kh · kw`) for the transposed weight-gradient
/// layout (see [`set_wgrad_variant`]).
pub const WGRAD_T_MIN_KG: usize = 64;

#[cfg(target_has_atomic = "ptr")]
static WGRAD_VARIANT: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(1);

/// Benchmark / test hook for the weight-gradient GEMM layout: 0 = row-major gradient tile
/// (the first patch's layout), 2 = transposed gradient tile and column-major accumulator,
/// 1 (default) = 2 when the column matrix has at least [`WGRAD_T_MIN_KG`] rows, else 0.
#[doc(hidden)]
pub fn set_wgrad_variant(v: usize) {
    #[cfg(target_has_atomic = "ptr")]
    WGRAD_VARIANT.store(v, core::sync::atomic::Ordering::Relaxed);
    #[cfg(not(target_has_atomic = "ptr"))]
    let _ = v;
}

fn wgrad_variant() -> usize {
    #[cfg(target_has_atomic = "ptr")]
    return WGRAD_VARIANT.load(core::sync::atomic::Ordering::Relaxed);
    #[cfg(not(target_has_atomic = "ptr"))]
    return 1;
}

/// Bit 0: forward, bit 1: weight gradient (see [`set_kx_variant`]).
#[cfg(target_has_atomic = "ptr")]
static KX_VARIANT: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(3);

/// Benchmark / test hook for the "kx-only" lowering of stride-1 convs with `kh > 1`: bit 0
/// enables it for the forward (and so for the stride-1 input gradient, which runs as a
/// forward), bit 1 for the weight gradient; 0 = the full im2col path everywhere, 3 = default.
#[doc(hidden)]
pub fn set_kx_variant(v: usize) {
    #[cfg(target_has_atomic = "ptr")]
    KX_VARIANT.store(v, core::sync::atomic::Ordering::Relaxed);
    #[cfg(not(target_has_atomic = "ptr"))]
    let _ = v;
}

#[cfg(target_has_atomic = "ptr")]
static KX_COL_ELEMS: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// Tuning hook for benchmarks: buffer budget (elements) of the kx-only lowering; 0 (default)
/// = the column budget ([`set_col_elems`]).
#[doc(hidden)]
pub fn set_kx_col_elems(n: usize) {
    #[cfg(target_has_atomic = "ptr")]
    KX_COL_ELEMS.store(n, core::sync::atomic::Ordering::Relaxed);
    #[cfg(not(target_has_atomic = "ptr"))]
    let _ = n;
}

fn kx_col_elems() -> usize {
    #[cfg(target_has_atomic = "ptr")]
    let n = KX_COL_ELEMS.load(core::sync::atomic::Ordering::Relaxed);
    #[cfg(not(target_has_atomic = "ptr"))]
    let n = 0;
    if n == 0 { col_elems() } else { n }
}

fn kx_variant() -> usize {
    #[cfg(target_has_atomic = "ptr")]
    return KX_VARIANT.load(core::sync::atomic::Ordering::Relaxed);
    #[cfg(not(target_has_atomic = "ptr"))]
    return 3;
}

fn col_elems() -> usize {
    #[cfg(target_has_atomic = "ptr")]
    return COL_ELEMS_TUNED.load(core::sync::atomic::Ordering::Relaxed);
    #[cfg(not(target_has_atomic = "ptr"))]
    return COL_ELEMS;
}

/// Geometry of a forward 2-D convolution (input `x`, output `y`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geom {
    pub batch: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub oh: usize,
    pub ow: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: [usize; 2],
    pub pad: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
}

impl Geom {
    fn validate(&self) {
        assert!(self.groups >= 1, "conv_gemm: groups must be >= 1");
        assert!(
            self.c_in.is_multiple_of(self.groups) && self.c_out.is_multiple_of(self.groups),
            "conv_gemm: channels not divisible by groups"
        );
        assert!(
            self.stride[0] >= 1
                && self.stride[1] >= 1
                && self.dilation[0] >= 1
                && self.dilation[1] >= 1,
            "conv_gemm: stride and dilation must be >= 1"
        );
        // Overflow check of the largest buffers.
        for dims in [
            [self.batch, self.c_in, self.h, self.w],
            [self.batch, self.c_out, self.oh, self.ow],
            [self.c_out, self.c_in, self.kh, self.kw],
        ] {
            dims.iter()
                .try_fold(1usize, |a, &d| a.checked_mul(d))
                .expect("conv_gemm: size overflow");
        }
    }
    fn cig(&self) -> usize {
        self.c_in / self.groups
    }
    fn cog(&self) -> usize {
        self.c_out / self.groups
    }
    fn kk(&self) -> usize {
        self.kh * self.kw
    }
    /// Rows of the column matrix (reduction length of the forward GEMM).
    fn kg(&self) -> usize {
        self.cig() * self.kk()
    }
    fn in_plane(&self) -> usize {
        self.h * self.w
    }
    fn out_plane(&self) -> usize {
        self.oh * self.ow
    }
    /// The column matrix of a batch item is its input plane stack itself.
    fn identity_im2col(&self) -> bool {
        self.kh == 1
            && self.kw == 1
            && self.stride == [1, 1]
            && self.pad == [0, 0]
            && self.oh == self.h
            && self.ow == self.w
    }
    /// Output rows per tile.
    fn rows_per_tile(&self) -> usize {
        let per_row = (self.kg() * self.ow).max(1);
        (col_elems() / per_row).clamp(1, self.oh.max(1))
    }
    fn n_tiles(&self) -> usize {
        self.oh.div_ceil(self.rows_per_tile())
    }
    /// Whether the "kx-only" lowering applies (stride 1, `kh > 1`) for the op of `bit`.
    fn kx(&self, bit: usize) -> bool {
        kx_variant() & bit != 0 && self.stride == [1, 1] && self.kh > 1 && self.ow > 0
    }
    /// Extra input rows of a kx-only tile: `dilation_h · (kh − 1)`.
    fn kx_ext(&self) -> usize {
        self.dilation[0] * (self.kh - 1)
    }
    /// Output rows per kx-only tile (its buffer holds `C_in/g · kw` rows of
    /// `(rows + ext) · OW` elements, ≤ the column budget where possible).
    fn kx_rows_per_tile(&self) -> usize {
        let per_row = (self.cig() * self.kw * self.ow).max(1);
        (kx_col_elems() / per_row)
            .saturating_sub(self.kx_ext())
            .clamp(1, self.oh.max(1))
    }
    /// Row stride of the kx-only buffer.
    fn kx_ld(&self) -> usize {
        padded_ld((self.kx_rows_per_tile() + self.kx_ext()) * self.ow)
    }
    fn kx_tile(&self, t: usize) -> (usize, usize) {
        let r = self.kx_rows_per_tile();
        (t * r, ((t + 1) * r).min(self.oh))
    }
    fn kx_n_tiles(&self) -> usize {
        self.oh.div_ceil(self.kx_rows_per_tile())
    }
    fn tile(&self, t: usize) -> (usize, usize) {
        let r = self.rows_per_tile();
        (t * r, ((t + 1) * r).min(self.oh))
    }
}

/// Row stride for a tile of `tp` columns: `tp`, or `tp + 16` when `tp` is a multiple of 64.
fn padded_ld(tp: usize) -> usize {
    if tp.is_multiple_of(64) { tp + 16 } else { tp }
}

/// Output positions `o` in `[0, out_size)` whose input index `o·stride + off − pad` lies in
/// `[0, in_size)`, as a half-open range.
#[inline]
fn valid_range(
    off: usize,
    pad: usize,
    stride: usize,
    out_size: usize,
    in_size: usize,
) -> (usize, usize) {
    let start = if off >= pad {
        0
    } else {
        (pad - off).div_ceil(stride)
    };
    let end = if in_size + pad <= off {
        0
    } else {
        (in_size + pad - off - 1) / stride + 1
    };
    let end = end.min(out_size);
    (start.min(end), end)
}

/// im2col of output rows `[oh0, oh1)` for input channels `[c0, c0 + C_in/g)` of one batch
/// item `xb` (`[C_in, H, W]`) into `col` (`[C_in/g · kh · kw, (oh1 − oh0) · OW]`). Every
/// element of `col` is written once (zeros only where the window is in the padding).
/// Rows of `col` are `ld ≥ (oh1 − oh0) · OW` elements apart (only the first
/// `(oh1 − oh0) · OW` of each row are written).
fn im2col_tile<T: GemmElem>(
    xb: &[T],
    g: &Geom,
    c0: usize,
    oh0: usize,
    oh1: usize,
    col: &mut [T],
    ld: usize,
) {
    let tp = (oh1 - oh0) * g.ow;
    assert!(ld >= tp, "im2col: row stride");
    assert_eq!(col.len(), g.kg() * ld);
    if tp == 0 {
        return;
    }
    let (h, w) = (g.h, g.w);
    let [sh, sw] = g.stride;
    let [ph, pw] = g.pad;
    let [dh, dw] = g.dilation;
    let plane = g.in_plane();
    for (r, row) in col.chunks_exact_mut(ld).enumerate() {
        let row = &mut row[..tp];
        let ci = c0 + r / g.kk();
        let k = r % g.kk();
        let (ki, kj) = (k / g.kw, k % g.kw);
        let xp = &xb[ci * plane..(ci + 1) * plane];
        let (ow_s, ow_e) = valid_range(kj * dw, pw, sw, g.ow, w);
        let (oh_s, oh_e) = valid_range(ki * dh, ph, sh, g.oh, h);
        for (t, seg) in row.chunks_exact_mut(g.ow).enumerate() {
            let oh = oh0 + t;
            if oh < oh_s || oh >= oh_e || ow_s >= ow_e {
                seg.fill(T::ZERO);
                continue;
            }
            let ih = oh * sh + ki * dh - ph;
            let src = &xp[ih * w..(ih + 1) * w];
            seg[..ow_s].fill(T::ZERO);
            seg[ow_e..].fill(T::ZERO);
            let iw0 = ow_s * sw + kj * dw - pw;
            let n = ow_e - ow_s;
            if sw == 1 {
                seg[ow_s..ow_e].copy_from_slice(&src[iw0..iw0 + n]);
            } else {
                for (o, d) in seg[ow_s..ow_e].iter_mut().enumerate() {
                    *d = src[iw0 + o * sw];
                }
            }
        }
    }
}

/// "kx-only" lowering of a stride-1 conv for output rows `[oh0, oh1)` and input channels
/// `[c0, c0 + C_in/g)` of one batch item `xb` (`[C_in, H, W]`): row `c·kw + kx` of `buf`
/// (rows `ld` apart) holds, for `u` in `[0, oh1 − oh0 + ext)` (`ext = dh·(kh − 1)`) and
/// `ow` in `[0, OW)`, the element `u·OW + ow` = `x[c0 + c, oh0 + u − ph, ow + kx·dw − pw]`
/// (zero in the padding). The im2col row `(c, ky, kx)` of output row `oh0 + t` is then the
/// same row of `buf` shifted by `ky·dh·OW` elements, so one GEMM per `ky` (reduction length
/// `C_in/g · kw`) reads it in place. Every element up to `(oh1 − oh0 + ext) · OW` of each
/// row is written once.
fn kx_cols_tile<T: GemmElem>(
    xb: &[T],
    g: &Geom,
    c0: usize,
    oh0: usize,
    oh1: usize,
    buf: &mut [T],
    ld: usize,
) {
    assert_eq!(g.stride, [1, 1], "kx-only lowering needs stride 1");
    let len = (oh1 - oh0 + g.kx_ext()) * g.ow;
    assert!(ld >= len, "kx cols: row stride");
    assert_eq!(buf.len(), g.cig() * g.kw * ld);
    if len == 0 {
        return;
    }
    let (h, w) = (g.h, g.w);
    let [ph, pw] = g.pad;
    let dw = g.dilation[1];
    let plane = g.in_plane();
    for (r, row) in buf.chunks_exact_mut(ld).enumerate() {
        let row = &mut row[..len];
        let ci = c0 + r / g.kw;
        let kj = r % g.kw;
        let xp = &xb[ci * plane..(ci + 1) * plane];
        let (ow_s, ow_e) = valid_range(kj * dw, pw, 1, g.ow, w);
        let iw0 = (ow_s + kj * dw).wrapping_sub(pw);
        for (u, seg) in row.chunks_exact_mut(g.ow).enumerate() {
            let iy = oh0 + u;
            if iy < ph || iy - ph >= h || ow_s >= ow_e {
                seg.fill(T::ZERO);
                continue;
            }
            let ih = iy - ph;
            let src = &xp[ih * w..(ih + 1) * w];
            seg[..ow_s].fill(T::ZERO);
            seg[ow_e..].fill(T::ZERO);
            seg[ow_s..ow_e].copy_from_slice(&src[iw0..iw0 + (ow_e - ow_s)]);
        }
    }
}

/// Weight `[C_out, C_in/g, kh, kw]` permuted to `[groups][kh][C_out/g][C_in/g · kw]`: the
/// left operand of the per-`ky` GEMMs of the kx-only forward.
fn kx_weight<T: GemmElem>(weight: &[T], g: &Geom) -> Vec<T> {
    let (cog, cig, kh, kw) = (g.cog(), g.cig(), g.kh, g.kw);
    let mut out = vec![T::ZERO; weight.len()];
    for grp in 0..g.groups {
        for co in 0..cog {
            for c in 0..cig {
                for ky in 0..kh {
                    let src = &weight[(((grp * cog + co) * cig + c) * kh + ky) * kw..][..kw];
                    let dst = &mut out[((grp * kh + ky) * cog + co) * cig * kw + c * kw..][..kw];
                    dst.copy_from_slice(src);
                }
            }
        }
    }
    out
}

/// col2im: adds `col` (`[rows of channels [c0, c0 + nch) · kh · kw, (oh1 − oh0) · OW]`,
/// starting at row `(c0 - cg0) · kh · kw` of the group's column matrix) into `dx_planes`,
/// the planes of channels `[c0, c0 + nch)`.
fn col2im_tile_add<T: GemmElem>(col: &[T], g: &Geom, oh0: usize, oh1: usize, dx_planes: &mut [T]) {
    let tp = (oh1 - oh0) * g.ow;
    if tp == 0 {
        return;
    }
    let (h, w) = (g.h, g.w);
    let [sh, sw] = g.stride;
    let [ph, pw] = g.pad;
    let [dh, dw] = g.dilation;
    let plane = g.in_plane();
    assert_eq!(col.len() / tp * plane, dx_planes.len() * g.kk());
    for (r, row) in col.chunks_exact(tp).enumerate() {
        let ci = r / g.kk();
        let k = r % g.kk();
        let (ki, kj) = (k / g.kw, k % g.kw);
        let xp = &mut dx_planes[ci * plane..(ci + 1) * plane];
        let (ow_s, ow_e) = valid_range(kj * dw, pw, sw, g.ow, w);
        let (oh_s, oh_e) = valid_range(ki * dh, ph, sh, g.oh, h);
        if ow_s >= ow_e {
            continue;
        }
        let n = ow_e - ow_s;
        for oh in oh0.max(oh_s)..oh1.min(oh_e) {
            let seg = &row[(oh - oh0) * g.ow..(oh - oh0 + 1) * g.ow];
            let ih = oh * sh + ki * dh - ph;
            let dst = &mut xp[ih * w..(ih + 1) * w];
            let iw0 = ow_s * sw + kj * dw - pw;
            if sw == 1 {
                for (d, s) in dst[iw0..iw0 + n].iter_mut().zip(&seg[ow_s..ow_e]) {
                    *d += *s;
                }
            } else {
                for (o, s) in seg[ow_s..ow_e].iter().enumerate() {
                    dst[iw0 + o * sw] += *s;
                }
            }
        }
    }
}

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
    let identity = g.identity_im2col();
    let n_tiles = if identity { 1 } else { g.n_tiles() };
    let items = g.batch * g.groups * n_tiles;
    if items == 0 || p == 0 {
        return vec![T::ZERO; wlen];
    }
    // Row stride of the column and gradient tiles: a multiple of 64 elements (e.g. 4 rows of
    // 128) is padded by 16, so that the rows do not all map to the same cache sets (measured:
    // the 3×3 24→24 weight gradient at 128² took 1.9× as long with 512-element rows).
    // Stride 1, kh > 1: kx-only lowering (see `kx_cols_tile`): one GEMM per ky into the
    // accumulator block `[groups][kh][cog][cig·kw]` (or `[groups][kh][cig·kw][cog]` when
    // transposed), permuted to `[C_out][cig][kh][kw]` at the end.
    let kx = !identity && g.kx(2);
    let n_tiles = if kx { g.kx_n_tiles() } else { n_tiles };
    let items = g.batch * g.groups * n_tiles;
    let rows = if kx {
        g.kx_rows_per_tile()
    } else {
        g.rows_per_tile()
    };
    let ld = padded_ld(rows * g.ow);
    let kx_ld = if kx { g.kx_ld() } else { 0 };
    let kxk = g.cig() * g.kw;
    let col_len = if identity {
        0
    } else if kx {
        kxk * kx_ld
    } else {
        kg * ld
    };
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
    let transposed = !identity
        && match wgrad_variant() {
            0 => false,
            1 => kg >= WGRAD_T_MIN_KG,
            _ => true,
        };

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
                let x_off = grp * g.cig() * p;
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
                        data: &xb[x_off..],
                        rs: 1,
                        cs: p,
                    },
                    false,
                );
                continue;
            }
            let (oh0, oh1) = if kx { g.kx_tile(t) } else { g.tile(t) };
            let tp = (oh1 - oh0) * g.ow;
            if kx {
                kx_cols_tile(xb, g, grp * g.cig(), oh0, oh1, &mut col, kx_ld);
            } else {
                im2col_tile(xb, g, grp * g.cig(), oh0, oh1, &mut col, ld);
            }
            // The gradient tile, copied to rows `ld` apart (its planes are `OH·OW` apart).
            let dy_off = (b * g.c_out + grp * cog) * p + oh0 * g.ow;
            if kx {
                let (lhs, acc_rs, acc_cs) = if transposed {
                    let dyt = &mut dyt[..tp * cog];
                    for co in 0..cog {
                        let src = &dy[dy_off + co * p..][..tp];
                        for (d, v) in dyt[co..].iter_mut().step_by(cog).zip(src) {
                            *d = *v;
                        }
                    }
                    (
                        Mat {
                            data: &dyt[..],
                            rs: 1,
                            cs: cog,
                        },
                        1,
                        cog,
                    )
                } else {
                    for (co, row) in dyt.chunks_exact_mut(ld).enumerate() {
                        row[..tp].copy_from_slice(&dy[dy_off + co * p..][..tp]);
                    }
                    (
                        Mat {
                            data: &dyt[..],
                            rs: ld,
                            cs: 1,
                        },
                        kxk,
                        1,
                    )
                };
                for (ky, acc_ky) in acc_g.chunks_exact_mut(cog * kxk).enumerate() {
                    gemm_checked(
                        cog,
                        kxk,
                        tp,
                        acc_ky,
                        acc_rs,
                        acc_cs,
                        true,
                        lhs,
                        Mat {
                            data: &col[ky * g.dilation[0] * g.ow..],
                            rs: 1,
                            cs: kx_ld,
                        },
                        false,
                    );
                }
                continue;
            }
            if transposed {
                let dyt = &mut dyt[..tp * cog];
                for co in 0..cog {
                    let src = &dy[dy_off + co * p..][..tp];
                    for (d, v) in dyt[co..].iter_mut().step_by(cog).zip(src) {
                        *d = *v;
                    }
                }
                gemm_checked(
                    cog,
                    kg,
                    tp,
                    acc_g,
                    1,
                    cog,
                    true,
                    Mat {
                        data: dyt,
                        rs: 1,
                        cs: cog,
                    },
                    Mat {
                        data: &col,
                        rs: 1,
                        cs: ld,
                    },
                    false,
                );
                continue;
            }
            for (co, row) in dyt.chunks_exact_mut(ld).enumerate() {
                row[..tp].copy_from_slice(&dy[dy_off + co * p..][..tp]);
            }
            gemm_checked(
                cog,
                kg,
                tp,
                acc_g,
                kg,
                1,
                true,
                Mat {
                    data: &dyt,
                    rs: ld,
                    cs: 1,
                },
                Mat {
                    data: &col,
                    rs: 1,
                    cs: ld,
                },
                false,
            );
        }
    };

    let mut partials = vec![T::ZERO; wlen * n_tasks];
    #[cfg(feature = "rayon")]
    if n_tasks > 1 {
        use rayon::prelude::*;
        partials
            .par_chunks_mut(wlen)
            .enumerate()
            .for_each(|(task, acc)| run_task(task, acc));
    } else {
        run_task(0, &mut partials);
    }
    #[cfg(not(feature = "rayon"))]
    for (task, acc) in partials.chunks_mut(wlen).enumerate() {
        run_task(task, acc);
    }
    // Sum the partials in task order (deterministic for a given thread count).
    let (first, rest) = partials.split_at_mut(wlen);
    for part in rest.chunks_exact(wlen) {
        for (a, b) in first.iter_mut().zip(part) {
            *a += *b;
        }
    }
    partials.truncate(wlen);
    if kx {
        // [groups][kh][cog][cig·kw] (or [groups][kh][cig·kw][cog]) -> [groups][cog][cig][kh][kw]
        let (cig, kh, kw) = (g.cig(), g.kh, g.kw);
        let mut out = vec![T::ZERO; wlen];
        for (src, dst) in partials
            .chunks_exact(cog * kg)
            .zip(out.chunks_exact_mut(cog * kg))
        {
            for (ky, blk) in src.chunks_exact(cog * kxk).enumerate() {
                for co in 0..cog {
                    for c in 0..cig {
                        for kj in 0..kw {
                            let r = c * kw + kj;
                            let v = if transposed {
                                blk[r * cog + co]
                            } else {
                                blk[co * kxk + r]
                            };
                            dst[co * kg + (c * kh + ky) * kw + kj] = v;
                        }
                    }
                }
            }
        }
        return out;
    }
    if transposed {
        // [groups][kg][cog] -> [groups][cog][kg]
        let mut out = vec![T::ZERO; wlen];
        for (src, dst) in partials
            .chunks_exact(cog * kg)
            .zip(out.chunks_exact_mut(cog * kg))
        {
            for (i, row) in src.chunks_exact(cog).enumerate() {
                for (co, v) in row.iter().enumerate() {
                    dst[co * kg + i] = *v;
                }
            }
        }
        return out;
    }
    partials
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
    let col_len = if identity {
        0
    } else {
        kg * g.rows_per_tile() * g.ow
    };
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
            for t in 0..g.n_tiles() {
                let (oh0, oh1) = g.tile(t);
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
    let identity = g.identity_im2col();
    // Stride 1, kh > 1: kx-only lowering (a `C_in/g · kw`-row buffer, one GEMM per ky).
    let kx = !identity && g.kx(1);
    let kx_ld = if kx { g.kx_ld() } else { 0 };
    let kx_w = if kx { kx_weight(weight, g) } else { Vec::new() };
    let col_len = if identity {
        0
    } else if kx {
        cig * g.kw * kx_ld
    } else {
        kg * g.rows_per_tile() * g.ow
    };
    let flops = 2.0 * (g.c_out * kg) as f64 * (p * g.batch) as f64;
    let par_batch = g.batch > 1 && flops >= 2.0e6;
    let gemm_par = !par_batch && flops >= 2.0e7 && threads() > 1;

    let run_item = |b: usize, yb: &mut [T], col: &mut [T]| {
        let xb = &x[b * g.c_in * g.in_plane()..(b + 1) * g.c_in * g.in_plane()];
        for grp in 0..g.groups {
            let w_g = &weight[grp * cog * kg..(grp + 1) * cog * kg];
            let y_g = &mut yb[grp * cog * p..(grp + 1) * cog * p];
            let bias_g = bias.map(|b| &b[grp * cog..(grp + 1) * cog]);
            if identity {
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
                        data: w_g,
                        rs: kg,
                        cs: 1,
                    },
                    Mat {
                        data: &xb[grp * cig * p..],
                        rs: p,
                        cs: 1,
                    },
                    gemm_par,
                );
                continue;
            }
            if kx {
                let kxk = cig * g.kw;
                for t in 0..g.kx_n_tiles() {
                    let (oh0, oh1) = g.kx_tile(t);
                    let tp = (oh1 - oh0) * g.ow;
                    kx_cols_tile(xb, g, grp * cig, oh0, oh1, col, kx_ld);
                    if let Some(bias_g) = bias_g {
                        for (co, v) in bias_g.iter().enumerate() {
                            y_g[co * p + oh0 * g.ow..][..tp].fill(*v);
                        }
                    }
                    for ky in 0..g.kh {
                        gemm_checked(
                            cog,
                            tp,
                            kxk,
                            &mut y_g[oh0 * g.ow..],
                            p,
                            1,
                            bias_g.is_some() || ky > 0,
                            Mat {
                                data: &kx_w[(grp * g.kh + ky) * cog * kxk..][..cog * kxk],
                                rs: kxk,
                                cs: 1,
                            },
                            Mat {
                                data: &col[ky * g.dilation[0] * g.ow..],
                                rs: kx_ld,
                                cs: 1,
                            },
                            gemm_par,
                        );
                    }
                }
                continue;
            }
            for t in 0..g.n_tiles() {
                let (oh0, oh1) = g.tile(t);
                let tp = (oh1 - oh0) * g.ow;
                let col = &mut col[..kg * tp];
                im2col_tile(xb, g, grp * cig, oh0, oh1, col, tp);
                if let Some(bias_g) = bias_g {
                    for (co, v) in bias_g.iter().enumerate() {
                        y_g[co * p + oh0 * g.ow..][..tp].fill(*v);
                    }
                }
                gemm_checked(
                    cog,
                    tp,
                    kg,
                    &mut y_g[oh0 * g.ow..],
                    p,
                    1,
                    bias_g.is_some(),
                    Mat {
                        data: w_g,
                        rs: kg,
                        cs: 1,
                    },
                    Mat {
                        data: col,
                        rs: tp,
                        cs: 1,
                    },
                    gemm_par,
                );
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
    for (i, p) in dy.chunks_exact(plane).enumerate() {
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
        out[i % c] += s;
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
