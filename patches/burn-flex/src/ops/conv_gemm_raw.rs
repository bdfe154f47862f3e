//! PATCH (face-deblur): the only `unsafe` of the GEMM convolution kernels in
//! [`super::conv_gemm`]. One bounds-checked wrapper around `gemm::gemm`.

/// Element types the GEMM convolution kernels run natively (others are cast to f32).
pub trait GemmElem:
    bytemuck::Pod + Copy + Send + Sync + 'static + core::ops::AddAssign + core::fmt::Debug
{
    /// Additive identity.
    const ZERO: Self;
    /// Multiplicative identity.
    const ONE: Self;
}

impl GemmElem for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
}

impl GemmElem for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
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
    let lhs_max = max_index(m, k, lhs.rs, lhs.cs).unwrap();
    let rhs_max = max_index(k, n, rhs.rs, rhs.cs).unwrap();
    assert!(lhs_max < lhs.data.len(), "gemm: lhs out of bounds");
    assert!(rhs_max < rhs.data.len(), "gemm: rhs out of bounds");
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

    // SAFETY: all indices reachable through (m, n, k) and the non-negative strides were
    // checked above to lie inside the three slices; `dst` is a unique borrow so it does
    // not overlap `lhs`/`rhs`; T is f32 or f64 (GemmElem), which gemm supports.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
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
