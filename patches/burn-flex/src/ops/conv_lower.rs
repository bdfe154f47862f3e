//! PATCH (face-deblur): geometry, tuning hooks and lowerings (im2col, kx-only shifts,
//! col2im) of the GEMM convolution kernels in [`super::conv_gemm`]. Safe code only.

use alloc::vec;
use alloc::vec::Vec;

use super::conv_gemm_raw::GemmElem;

/// A tuning value that benchmarks and tests may change at run time (the initial value,
/// fixed, on targets without pointer-sized atomics).
pub(super) struct Knob {
    #[cfg(target_has_atomic = "ptr")]
    v: core::sync::atomic::AtomicUsize,
    #[cfg(not(target_has_atomic = "ptr"))]
    v: usize,
}

impl Knob {
    pub(super) const fn new(v: usize) -> Self {
        Self {
            #[cfg(target_has_atomic = "ptr")]
            v: core::sync::atomic::AtomicUsize::new(v),
            #[cfg(not(target_has_atomic = "ptr"))]
            v,
        }
    }
    pub(super) fn get(&self) -> usize {
        #[cfg(target_has_atomic = "ptr")]
        return self.v.load(core::sync::atomic::Ordering::Relaxed);
        #[cfg(not(target_has_atomic = "ptr"))]
        return self.v;
    }
    pub(super) fn set(&self, v: usize) {
        #[cfg(target_has_atomic = "ptr")]
        self.v.store(v, core::sync::atomic::Ordering::Relaxed);
        #[cfg(not(target_has_atomic = "ptr"))]
        let _ = v;
    }
}

/// Default column-buffer budget per task, in elements (512 KiB of f32: fits the L2 with the
/// gradient tile and the weight block). The kx-only buffers use the same budget.
pub const COL_ELEMS: usize = 128 * 1024;

static COL_BUDGET: Knob = Knob::new(COL_ELEMS);

/// The current column-buffer budget (elements).
pub(super) fn col_budget() -> usize {
    COL_BUDGET.get()
}

/// Tuning hook for benchmarks: sets the column-buffer budget (elements, ≥ 1).
#[doc(hidden)]
pub fn set_col_elems(n: usize) {
    COL_BUDGET.set(n.max(1));
}

/// Smallest column-matrix height (`C_in/g · kh · kw`) for the transposed weight-gradient
/// layout (see [`set_wgrad_variant`]).
pub const WGRAD_T_MIN_KG: usize = 64;

static WGRAD_VARIANT: Knob = Knob::new(1);

/// Benchmark / test hook for the weight-gradient GEMM layout: 0 = row-major gradient tile
/// (the first patch's layout), 2 = transposed gradient tile and column-major accumulator,
/// 1 (default) = 2 when the column matrix has at least [`WGRAD_T_MIN_KG`] rows, else 0.
#[doc(hidden)]
pub fn set_wgrad_variant(v: usize) {
    WGRAD_VARIANT.set(v);
}

/// Whether the weight gradient uses the transposed layout for a column matrix of `kg` rows.
pub(super) fn wgrad_transposed(kg: usize) -> bool {
    match WGRAD_VARIANT.get() {
        0 => false,
        1 => kg >= WGRAD_T_MIN_KG,
        _ => true,
    }
}

/// Bit 0: forward, bit 1: weight gradient (see [`set_kx_variant`]).
static KX_VARIANT: Knob = Knob::new(3);

/// Benchmark / test hook for the "kx-only" lowering of stride-1 convs with `kh > 1`: bit 0
/// enables it for the forward (and so for the stride-1 input gradient, which runs as a
/// forward), bit 1 for the weight gradient; 0 = the full im2col path everywhere, 3 = default.
#[doc(hidden)]
pub fn set_kx_variant(v: usize) {
    KX_VARIANT.set(v);
}

static FORWARD_SPLIT: Knob = Knob::new(1);

/// Benchmark / test hook for the forward of a single batch item: 1 (default) = split over
/// (group, tile) tasks, each with single-threaded GEMMs; 0 = tiles one after another with
/// multithreaded GEMMs (the third round's path).
#[doc(hidden)]
pub fn set_forward_split(v: usize) {
    FORWARD_SPLIT.set(v);
}

/// Whether a single batch item's forward is split over tile tasks (see [`set_forward_split`]).
pub(super) fn forward_split() -> bool {
    FORWARD_SPLIT.get() != 0
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
    pub(super) fn validate(&self) {
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
    pub(super) fn cig(&self) -> usize {
        self.c_in / self.groups
    }
    pub(super) fn cog(&self) -> usize {
        self.c_out / self.groups
    }
    pub(super) fn kk(&self) -> usize {
        self.kh * self.kw
    }
    /// Rows of the column matrix (reduction length of the forward GEMM).
    pub(super) fn kg(&self) -> usize {
        self.cig() * self.kk()
    }
    pub(super) fn in_plane(&self) -> usize {
        self.h * self.w
    }
    pub(super) fn out_plane(&self) -> usize {
        self.oh * self.ow
    }
    /// The column matrix of a batch item is its input plane stack itself.
    pub(super) fn identity_im2col(&self) -> bool {
        self.kh == 1
            && self.kw == 1
            && self.stride == [1, 1]
            && self.pad == [0, 0]
            && self.oh == self.h
            && self.ow == self.w
    }
    /// Output rows per tile: of im2col tiles (`C_in/g · kh · kw` column rows of `rows · OW`
    /// elements) or, with `kx`, of kx-only tiles (`C_in/g · kw` rows of `(rows + ext) · OW`),
    /// within the column budget where possible.
    pub(super) fn rows_per_tile(&self, kx: bool) -> usize {
        let budget = COL_BUDGET.get();
        let rows = if kx {
            (budget / (self.cig() * self.kw * self.ow).max(1)).saturating_sub(self.kx_ext())
        } else {
            budget / (self.kg() * self.ow).max(1)
        };
        rows.clamp(1, self.oh.max(1))
    }
    /// Number of tiles of `rows` output rows.
    pub(super) fn n_tiles(&self, rows: usize) -> usize {
        self.oh.div_ceil(rows)
    }
    /// Output rows `[oh0, oh1)` of tile `t` of `rows` rows.
    pub(super) fn tile(&self, rows: usize, t: usize) -> (usize, usize) {
        (t * rows, ((t + 1) * rows).min(self.oh))
    }
    /// Whether the "kx-only" lowering applies (stride 1, `kh > 1`) for the op of `bit`.
    pub(super) fn kx(&self, bit: usize) -> bool {
        KX_VARIANT.get() & bit != 0 && self.stride == [1, 1] && self.kh > 1 && self.ow > 0
    }
    /// Extra input rows of a kx-only tile: `dilation_h · (kh − 1)`.
    pub(super) fn kx_ext(&self) -> usize {
        self.dilation[0] * (self.kh - 1)
    }
    /// Row stride of the kx-only buffer of tiles of `rows` output rows.
    pub(super) fn kx_ld(&self, rows: usize) -> usize {
        padded_ld((rows + self.kx_ext()) * self.ow)
    }
}

/// Row stride for a tile of `tp` columns: `tp`, or `tp + 16` when `tp` is a multiple of 64.
pub(super) fn padded_ld(tp: usize) -> usize {
    if tp.is_multiple_of(64) { tp + 16 } else { tp }
}

/// Output positions `o` in `[0, out_size)` whose input index `o·stride + off − pad` lies in
/// `[0, in_size)`, as a half-open range.
#[inline]
pub(super) fn valid_range(
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

/// Row `r` of a channel block's column matrix (`[C · kh · kw, …]`): its channel within the
/// block, its tap `(ki, kj)`, and the output rows and columns whose input position under that
/// tap lies inside the image (half-open ranges, [`valid_range`]).
struct Tap {
    c: usize,
    ki: usize,
    kj: usize,
    oh: (usize, usize),
    ow: (usize, usize),
}

impl Tap {
    fn of(g: &Geom, r: usize) -> Self {
        let (c, k) = (r / g.kk(), r % g.kk());
        let (ki, kj) = (k / g.kw, k % g.kw);
        Self {
            c,
            ki,
            kj,
            oh: valid_range(ki * g.dilation[0], g.pad[0], g.stride[0], g.oh, g.h),
            ow: valid_range(kj * g.dilation[1], g.pad[1], g.stride[1], g.ow, g.w),
        }
    }

    /// Input row read by output row `oh` (inside `self.oh`) under this tap.
    fn in_row(&self, g: &Geom, oh: usize) -> usize {
        oh * g.stride[0] + self.ki * g.dilation[0] - g.pad[0]
    }

    /// Input column read by output column `self.ow.0` (`self.ow` not empty) under this tap.
    fn in_col0(&self, g: &Geom) -> usize {
        self.ow.0 * g.stride[1] + self.kj * g.dilation[1] - g.pad[1]
    }
}

/// im2col of output rows `[oh0, oh1)` for input channels `[c0, c0 + C_in/g)` of one batch
/// item `xb` (`[C_in, H, W]`) into `col` (`[C_in/g · kh · kw, (oh1 − oh0) · OW]`). Every
/// element of `col` is written once (zeros only where the window is in the padding).
/// Rows of `col` are `ld ≥ (oh1 − oh0) · OW` elements apart (only the first
/// `(oh1 − oh0) · OW` of each row are written).
pub(super) fn im2col_tile<T: GemmElem>(
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
    if g.stride[1] == 2 {
        return im2col_tile_s2(xb, g, c0, oh0, oh1, col, ld);
    }
    let (w, sw) = (g.w, g.stride[1]);
    let plane = g.in_plane();
    for (r, row) in col.chunks_exact_mut(ld).enumerate() {
        let row = &mut row[..tp];
        let tap = Tap::of(g, r);
        let ((oh_s, oh_e), (ow_s, ow_e)) = (tap.oh, tap.ow);
        let ci = c0 + tap.c;
        let xp = &xb[ci * plane..(ci + 1) * plane];
        for (t, seg) in row.chunks_exact_mut(g.ow).enumerate() {
            let oh = oh0 + t;
            if oh < oh_s || oh >= oh_e || ow_s >= ow_e {
                seg.fill(T::ZERO);
                continue;
            }
            let ih = tap.in_row(g, oh);
            let src = &xp[ih * w..(ih + 1) * w];
            seg[..ow_s].fill(T::ZERO);
            seg[ow_e..].fill(T::ZERO);
            let iw0 = tap.in_col0(g);
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
pub(super) fn kx_cols_tile<T: GemmElem>(
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
pub(super) fn kx_weight<T: GemmElem>(weight: &[T], g: &Geom) -> Vec<T> {
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
pub(super) fn col2im_tile_add<T: GemmElem>(
    col: &[T],
    g: &Geom,
    oh0: usize,
    oh1: usize,
    dx_planes: &mut [T],
) {
    let tp = (oh1 - oh0) * g.ow;
    if tp == 0 {
        return;
    }
    let (w, sw) = (g.w, g.stride[1]);
    let plane = g.in_plane();
    assert_eq!(col.len() / tp * plane, dx_planes.len() * g.kk());
    if sw == 2 {
        return col2im_tile_add_s2(col, g, oh0, oh1, dx_planes);
    }
    for (r, row) in col.chunks_exact(tp).enumerate() {
        let tap = Tap::of(g, r);
        let ((oh_s, oh_e), (ow_s, ow_e)) = (tap.oh, tap.ow);
        let xp = &mut dx_planes[tap.c * plane..(tap.c + 1) * plane];
        if ow_s >= ow_e {
            continue;
        }
        let n = ow_e - ow_s;
        for oh in oh0.max(oh_s)..oh1.min(oh_e) {
            let seg = &row[(oh - oh0) * g.ow..(oh - oh0 + 1) * g.ow];
            let ih = tap.in_row(g, oh);
            let dst = &mut xp[ih * w..(ih + 1) * w];
            let iw0 = tap.in_col0(g);
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

/// The even / odd columns of one input row, zero outside it (the Winograd input transforms'
/// column phases, the stride-2 lowering's): `e[j] = row[2j − pad]`,
/// `o[j] = row[2j + 1 − pad]` for `j` in `0..e.len()` (`o` as long).
#[inline(always)]
pub(super) fn split2<T: GemmElem>(row: &[T], pad: usize, e: &mut [T], o: &mut [T]) {
    let (n, w) = (e.len(), row.len());
    let (lo, hi) = split_range(n, w, pad);
    for j in (0..lo).chain(hi..n) {
        e[j] = at_or_zero(row, 2 * j, pad);
        o[j] = at_or_zero(row, 2 * j + 1, pad);
    }
    if hi > lo {
        let src = &row[2 * lo - pad..][..2 * (hi - lo)];
        for ((e, o), pair) in e[lo..hi]
            .iter_mut()
            .zip(&mut o[lo..hi])
            .zip(src.chunks_exact(2))
        {
            (*e, *o) = (pair[0], pair[1]);
        }
    }
}

/// The `j` range `[lo, hi)` of [`split2`] whose two columns both lie inside the row of `w`
/// (the rest are edge tiles).
#[inline(always)]
fn split_range(n: usize, w: usize, pad: usize) -> (usize, usize) {
    let lo = pad.div_ceil(2).min(n);
    (lo, ((w + pad) / 2).clamp(lo, n))
}

/// `row[q − pad]`, or zero where that is outside the row.
#[inline(always)]
fn at_or_zero<T: GemmElem>(row: &[T], q: usize, pad: usize) -> T {
    q.checked_sub(pad)
        .and_then(|i| row.get(i))
        .copied()
        .unwrap_or(T::ZERO)
}

/// Where tap column `kj` of a horizontal stride-2 conv reads: its valid output columns
/// `[ow_s, ow_e)` ([`valid_range`]), whether it reads the odd input columns, and the index in
/// that column phase of the input read by output column `ow_s` (output column `ow_s + o`
/// reads phase element `start + o`).
struct PhaseTap {
    ow: (usize, usize),
    odd: bool,
    start: usize,
}

impl PhaseTap {
    fn all(g: &Geom) -> Vec<Self> {
        (0..g.kw)
            .map(|kj| {
                let ow = valid_range(kj * g.dilation[1], g.pad[1], 2, g.ow, g.w);
                let iw0 = (ow.0 * 2 + kj * g.dilation[1]).wrapping_sub(g.pad[1]);
                Self {
                    ow,
                    odd: iw0 % 2 == 1,
                    start: iw0 / 2,
                }
            })
            .collect()
    }

    /// The phase this tap reads (`even` or `odd`).
    fn phase<'a, T>(&self, even: &'a [T], odd: &'a [T]) -> &'a [T] {
        if self.odd { odd } else { even }
    }
}

/// The inverse of [`split2`] without padding: `dst[2i] = even[i]`, `dst[2i + 1] = odd[i]`.
fn merge_even_odd<T: Copy>(even: &[T], odd: &[T], dst: &mut [T]) {
    let len = dst.len();
    for ((pair, e), o) in dst.chunks_exact_mut(2).zip(even).zip(odd) {
        pair[0] = *e;
        pair[1] = *o;
    }
    if len % 2 == 1 {
        dst[len - 1] = even[len / 2];
    }
}

/// [`im2col_tile`] for a horizontal stride of 2 (the 4×4 stride-2 convs): the `kw` column
/// rows of one channel and kernel row read the same input row, so it is split once into its
/// even and odd columns and each tap's segment is a contiguous copy from one of them (the
/// per-tap strided gather stayed scalar). Same output as the general loop.
fn im2col_tile_s2<T: GemmElem>(
    xb: &[T],
    g: &Geom,
    c0: usize,
    oh0: usize,
    oh1: usize,
    col: &mut [T],
    ld: usize,
) {
    let (w, ow) = (g.w, g.ow);
    let plane = g.in_plane();
    let taps = PhaseTap::all(g);
    let mut phases = vec![T::ZERO; 2 * w.div_ceil(2)];
    let (even, odd) = phases.split_at_mut(w.div_ceil(2));
    for (rg, rows) in col.chunks_exact_mut(ld * g.kw).enumerate() {
        let tap = Tap::of(g, rg * g.kw);
        let xp = &xb[(c0 + tap.c) * plane..(c0 + tap.c + 1) * plane];
        for oh in oh0..oh1 {
            let inside = oh >= tap.oh.0 && oh < tap.oh.1;
            if inside {
                let ih = tap.in_row(g, oh);
                split2(&xp[ih * w..(ih + 1) * w], 0, even, odd);
            }
            for (kj, pt) in taps.iter().enumerate() {
                let seg = &mut rows[kj * ld + (oh - oh0) * ow..][..ow];
                let (ow_s, ow_e) = pt.ow;
                if !inside || ow_s >= ow_e {
                    seg.fill(T::ZERO);
                    continue;
                }
                seg[..ow_s].fill(T::ZERO);
                seg[ow_e..].fill(T::ZERO);
                let src = pt.phase(even, odd);
                seg[ow_s..ow_e].copy_from_slice(&src[pt.start..pt.start + (ow_e - ow_s)]);
            }
        }
    }
}

/// [`col2im_tile_add`] for a horizontal stride of 2: per channel, kernel row and output row,
/// the input-gradient row is split into its even and odd columns once, the `kw` taps add
/// contiguous segments into them, and the row is merged back (the per-tap strided
/// scatter-add stayed scalar). Same sums in the same order as the general loop.
fn col2im_tile_add_s2<T: GemmElem>(
    col: &[T],
    g: &Geom,
    oh0: usize,
    oh1: usize,
    dx_planes: &mut [T],
) {
    let (w, ow) = (g.w, g.ow);
    let tp = (oh1 - oh0) * ow;
    let plane = g.in_plane();
    let taps = PhaseTap::all(g);
    let mut phases = vec![T::ZERO; 2 * w.div_ceil(2)];
    let (even, odd) = phases.split_at_mut(w.div_ceil(2));
    for (rg, rows) in col.chunks_exact(tp * g.kw).enumerate() {
        let tap = Tap::of(g, rg * g.kw);
        let xp = &mut dx_planes[tap.c * plane..(tap.c + 1) * plane];
        for oh in oh0.max(tap.oh.0)..oh1.min(tap.oh.1) {
            let ih = tap.in_row(g, oh);
            let dst = &mut xp[ih * w..(ih + 1) * w];
            split2(dst, 0, even, odd);
            for (kj, pt) in taps.iter().enumerate() {
                let (ow_s, ow_e) = pt.ow;
                if ow_s >= ow_e {
                    continue;
                }
                let seg = &rows[kj * tp + (oh - oh0) * ow..][ow_s..ow_e];
                let acc = if pt.odd { &mut odd[..] } else { &mut even[..] };
                for (d, s) in acc[pt.start..pt.start + seg.len()].iter_mut().zip(seg) {
                    *d += *s;
                }
            }
            merge_even_odd(even, odd, dst);
        }
    }
}
