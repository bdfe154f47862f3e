//! PATCH (face-deblur): the only `unsafe` of the GEMM convolution kernels in
//! [`super::conv_gemm`]: one bounds-checked wrapper around `gemm::gemm`, and [`DstRows`],
//! disjoint row blocks of one output that tasks on different threads write with it.

use core::marker::PhantomData;

/// Element types the GEMM convolution kernels run natively (others are cast to f32).
pub trait GemmElem:
    bytemuck::Pod
    + Copy
    + Send
    + Sync
    + 'static
    + core::ops::AddAssign
    + core::ops::Add<Output = Self>
    + core::ops::Sub<Output = Self>
    + core::ops::Mul<Output = Self>
    + core::fmt::Debug
{
    /// Additive identity.
    const ZERO: Self;
    /// Multiplicative identity.
    const ONE: Self;
    /// One half (the Winograd kernel transform).
    const HALF: Self;
    /// `v` rounded to this type (the Winograd transforms' constants).
    fn from_f64(v: f64) -> Self;
    /// This value as `f64` (the Winograd kernel transform runs in `f64`).
    fn to_f64(self) -> f64;
}

impl GemmElem for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const HALF: Self = 0.5;
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl GemmElem for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const HALF: Self = 0.5;
    fn from_f64(v: f64) -> Self {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
}

/// A strided matrix view: element `(i, j)` is `data[i * rs + j * cs]`.
#[derive(Clone, Copy)]
pub struct Mat<'a, T> {
    pub data: &'a [T],
    pub rs: usize,
    pub cs: usize,
}

/// Largest index touched by a `rows × cols` matrix with strides `rs`, `cs`, or `None`
/// when the matrix is empty. Panics on overflow.
fn max_index(rows: usize, cols: usize, rs: usize, cs: usize) -> Option<usize> {
    if rows == 0 || cols == 0 {
        return None;
    }
    let a = (rows - 1).checked_mul(rs).expect("gemm: index overflow");
    let b = (cols - 1).checked_mul(cs).expect("gemm: index overflow");
    Some(a.checked_add(b).expect("gemm: index overflow"))
}

fn assert_isize(v: usize) -> isize {
    isize::try_from(v).expect("gemm: stride does not fit isize")
}

/// `dst (m × n) = [dst +] lhs (m × k) · rhs (k × n)`, all strided views on slices.
///
/// `accumulate = false` overwrites `dst` (its old contents are never read, so it may hold
/// anything); `accumulate = true` adds the product to it. Every index that the GEMM can
/// touch is checked against the slice lengths before the raw call; `dst` must not alias
/// `lhs`/`rhs` (guaranteed by the borrow checker: `&mut` vs `&`).
#[allow(clippy::too_many_arguments)]
pub fn gemm_checked<T: GemmElem>(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [T],
    dst_rs: usize,
    dst_cs: usize,
    accumulate: bool,
    lhs: Mat<'_, T>,
    rhs: Mat<'_, T>,
    parallel: bool,
) {
    let Some(dst_max) = max_index(m, n, dst_rs, dst_cs) else {
        return;
    };
    assert!(dst_max < dst.len(), "gemm: dst out of bounds");
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    dst[i * dst_rs + j * dst_cs] = T::ZERO;
                }
            }
        }
        return;
    }
    check_operands(m, n, k, &lhs, &rhs);
    // SAFETY: all indices reachable through (m, n, k) and the non-negative strides were
    // checked above to lie inside the three slices; `dst` is a unique borrow so it does
    // not overlap `lhs`/`rhs`.
    unsafe {
        gemm_raw(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dst_rs,
            dst_cs,
            accumulate,
            lhs,
            rhs,
            parallel,
        )
    }
}

/// Asserts that every index of `lhs (m × k)` and `rhs (k × n)` is inside its slice
/// (`m`, `n`, `k` > 0).
fn check_operands<T>(m: usize, n: usize, k: usize, lhs: &Mat<'_, T>, rhs: &Mat<'_, T>) {
    let lhs_max = max_index(m, k, lhs.rs, lhs.cs).unwrap();
    let rhs_max = max_index(k, n, rhs.rs, rhs.cs).unwrap();
    assert!(lhs_max < lhs.data.len(), "gemm: lhs out of bounds");
    assert!(rhs_max < rhs.data.len(), "gemm: rhs out of bounds");
}

/// The raw `gemm::gemm` call: `dst (m × n) = [dst +] lhs · rhs`.
///
/// # Safety
/// `m`, `n`, `k` > 0; every index `i · dst_rs + j · dst_cs` (`i < m`, `j < n`) is inside
/// one allocation that nothing else accesses during the call and that does not overlap
/// `lhs`/`rhs`; the operands' indices were checked with [`check_operands`].
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_raw<T: GemmElem>(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    dst_rs: usize,
    dst_cs: usize,
    accumulate: bool,
    lhs: Mat<'_, T>,
    rhs: Mat<'_, T>,
    parallel: bool,
) {
    let (dst_rs, dst_cs) = (assert_isize(dst_rs), assert_isize(dst_cs));
    let (lhs_rs, lhs_cs) = (assert_isize(lhs.rs), assert_isize(lhs.cs));
    let (rhs_rs, rhs_cs) = (assert_isize(rhs.rs), assert_isize(rhs.cs));

    #[cfg(feature = "rayon")]
    let parallelism = if parallel {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    #[cfg(not(feature = "rayon"))]
    let parallelism = {
        let _ = parallel;
        gemm::Parallelism::None
    };

    // SAFETY: the caller's contract (see above); T is f32 or f64 (GemmElem), which gemm
    // supports.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            dst_cs,
            dst_rs,
            accumulate,
            lhs.data.as_ptr(),
            lhs_cs,
            lhs_rs,
            rhs.data.as_ptr(),
            rhs_cs,
            rhs_rs,
            T::ONE,
            T::ONE,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Rows of a destination matrix inside a larger buffer: `rows` rows of `cols` elements,
/// row `i` starting `i · rs` elements after the first. Made from a unique borrow of the
/// buffer (`new`) or as one of several provably disjoint blocks of it ([`plane_blocks`]), so
/// that tasks on different threads can each run a GEMM straight into their own rows of one
/// output without a copy.
pub struct DstRows<'a, T> {
    ptr: *mut T,
    rows: usize,
    cols: usize,
    rs: usize,
    _borrow: PhantomData<&'a mut [T]>,
}

// SAFETY: a `DstRows` is an exclusive borrow of its (disjoint) elements, like `&mut [T]`.
unsafe impl<T: Send> Send for DstRows<'_, T> {}

impl<'a, T: GemmElem> DstRows<'a, T> {
    /// `rows × cols` rows `rs` apart at the start of `data` (asserts they fit and do not
    /// overlap).
    pub fn new(data: &'a mut [T], rows: usize, cols: usize, rs: usize) -> Self {
        assert!(rows <= 1 || rs >= cols, "DstRows: overlapping rows");
        if let Some(max) = max_index(rows, cols, rs, 1) {
            assert!(max < data.len(), "DstRows: out of bounds");
        }
        Self {
            ptr: data.as_mut_ptr(),
            rows,
            cols,
            rs,
            _borrow: PhantomData,
        }
    }

    /// Elements per row.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Row `i`.
    pub fn row_mut(&mut self, i: usize) -> &mut [T] {
        assert!(i < self.rows, "DstRows: row out of range");
        // SAFETY: row `i` lies inside the borrowed buffer (checked at construction) and
        // inside this block only (rows do not overlap; blocks of `plane_blocks` are
        // disjoint); `&mut self` makes the returned slice the only access to it.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.add(i * self.rs), self.cols) }
    }

    /// `self (rows × cols) = [self +] lhs (rows × k) · rhs (k × cols)`, as [`gemm_checked`].
    pub fn gemm(
        &mut self,
        k: usize,
        accumulate: bool,
        lhs: Mat<'_, T>,
        rhs: Mat<'_, T>,
        parallel: bool,
    ) {
        let (m, n) = (self.rows, self.cols);
        if m == 0 || n == 0 {
            return;
        }
        if k == 0 {
            if !accumulate {
                for i in 0..m {
                    self.row_mut(i).fill(T::ZERO);
                }
            }
            return;
        }
        check_operands(m, n, k, &lhs, &rhs);
        // SAFETY: the destination's reachable indices are this block's rows (checked at
        // construction), which no other live reference can reach (exclusive borrow,
        // disjoint blocks); the operands were checked by `check_operands`; `dst` cannot
        // alias them (it comes from a `&mut` borrow, they from `&` borrows).
        unsafe {
            gemm_raw(
                m, n, k, self.ptr, self.rs, 1, accumulate, lhs, rhs, parallel,
            )
        }
    }
}

/// Splits `data` — `n_planes` planes of `plane` elements, taken `per_block` planes at a time —
/// into one [`DstRows`] per (plane group, range): the rows are the group's planes, the
/// columns the range `[start, end)` of each plane. `ranges` must be sorted and
/// non-overlapping within `[0, plane]` (asserted), so the blocks are pairwise disjoint:
/// blocks of different groups lie in different planes, blocks of one group in disjoint
/// ranges of the same planes. Order: group-major, then range.
pub fn plane_blocks<'a, T: GemmElem>(
    data: &'a mut [T],
    plane: usize,
    per_block: usize,
    ranges: &[(usize, usize)],
) -> Vec<DstRows<'a, T>> {
    assert!(per_block > 0 && plane > 0, "plane_blocks: empty planes");
    assert!(
        data.len().is_multiple_of(plane * per_block),
        "plane_blocks: partial plane group"
    );
    let mut prev_end = 0;
    for &(start, end) in ranges {
        assert!(
            prev_end <= start && start <= end && end <= plane,
            "plane_blocks: bad ranges"
        );
        prev_end = end;
    }
    let groups = data.len() / (plane * per_block);
    let base = data.as_mut_ptr();
    let mut blocks = Vec::with_capacity(groups * ranges.len());
    for grp in 0..groups {
        for &(start, end) in ranges {
            blocks.push(DstRows {
                // SAFETY: `grp · per_block · plane + start ≤ data.len()` (grp < groups,
                // start ≤ plane), so the pointer stays inside (or one past) the buffer.
                ptr: unsafe { base.add(grp * per_block * plane + start) },
                rows: per_block,
                cols: end - start,
                rs: plane,
                _borrow: PhantomData,
            });
        }
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plane_blocks_cover_each_element_once() {
        // 2 groups of 3 planes of 10 elements; ranges leave a gap at [4, 5).
        let mut data = vec![0.0f32; 2 * 3 * 10];
        let ranges = [(0, 4), (5, 10)];
        let blocks = plane_blocks(&mut data, 10, 3, &ranges);
        assert_eq!(blocks.len(), 4);
        for (b, mut blk) in blocks.into_iter().enumerate() {
            for i in 0..3 {
                for v in blk.row_mut(i) {
                    *v += (b + 1) as f32;
                }
            }
        }
        for (idx, v) in data.iter().enumerate() {
            let (grp, pos) = (idx / 30, idx % 10);
            let expected = match pos {
                0..4 => (grp * 2 + 1) as f32,
                4 => 0.0,
                _ => (grp * 2 + 2) as f32,
            };
            assert_eq!(*v, expected, "element {idx}");
        }
    }

    #[test]
    #[should_panic(expected = "bad ranges")]
    fn plane_blocks_reject_overlapping_ranges() {
        let mut data = vec![0.0f32; 20];
        let _ = plane_blocks(&mut data, 10, 2, &[(0, 6), (5, 10)]);
    }

    #[test]
    #[should_panic(expected = "bad ranges")]
    fn plane_blocks_reject_ranges_past_the_plane() {
        let mut data = vec![0.0f32; 20];
        let _ = plane_blocks(&mut data, 10, 2, &[(0, 11)]);
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn dst_rows_reject_rows_past_the_buffer() {
        let mut data = vec![0.0f32; 25];
        let _ = DstRows::new(&mut data, 3, 6, 10);
    }

    #[test]
    fn block_gemm_matches_naive_and_stays_in_its_block() {
        // Output: 2 planes of 12; block = both planes, columns [3, 8).
        let (m, k, n) = (2, 3, 5);
        let lhs: Vec<f64> = (0..m * k).map(|v| v as f64 + 1.0).collect();
        let rhs: Vec<f64> = (0..k * n).map(|v| (v as f64) * 0.5 - 2.0).collect();
        let mut out = vec![7.0f64; 2 * 12];
        let mut blocks = plane_blocks(&mut out, 12, 2, &[(3, 8)]);
        blocks[0].gemm(
            k,
            true,
            Mat {
                data: &lhs,
                rs: k,
                cs: 1,
            },
            Mat {
                data: &rhs,
                rs: n,
                cs: 1,
            },
            false,
        );
        drop(blocks);
        for i in 0..m {
            for j in 0..12 {
                let got = out[i * 12 + j];
                if (3..8).contains(&j) {
                    let dot: f64 = (0..k).map(|p| lhs[i * k + p] * rhs[p * n + j - 3]).sum();
                    assert!((got - 7.0 - dot).abs() < 1e-12, "({i}, {j}): {got}");
                } else {
                    assert_eq!(got, 7.0, "({i}, {j}) outside the block was written");
                }
            }
        }
    }
}
