//! PATCH (face-deblur): element-wise loops over large contiguous slices, cut into one chunk
//! per thread and run on rayon's pool.
//!
//! Upstream flex runs every element-wise op (add, scale, select, compare, activations) on
//! the calling thread. In a training step these ops run between the convolutions, whose
//! GEMMs are multithreaded, so the other cores wait: on a 2-core machine the main thread
//! alone did 11 % of the step's work while the rayon workers idled (`perf record`). The
//! helpers here keep each op's own loop body and only split the slices, so every element
//! is computed by the same code as before and results are bit-identical.

use super::conv_lower::Knob;

/// Default smallest slice (elements) that is split over threads: 32 Ki elements (128 KiB
/// of f32), below which a rayon hand-off costs about as much as the loop.
pub const PAR_ELEMS: usize = 32 * 1024;

static MIN_ELEMS: Knob = Knob::new(PAR_ELEMS);

/// Benchmark / test hook: the smallest slice that is split (`usize::MAX` = never split,
/// i.e. upstream's serial loops; 1 = always, for tests).
#[doc(hidden)]
pub fn set_par_elems(n: usize) {
    MIN_ELEMS.set(n.max(1));
}

/// Chunk length for `len` elements, or `None` when the loop should stay serial.
fn chunk_len(len: usize) -> Option<usize> {
    #[cfg(feature = "rayon")]
    {
        let threads = rayon::current_num_threads();
        if threads > 1 && len >= MIN_ELEMS.get() && len >= 2 {
            // Whole 64-element blocks per chunk (SIMD loops keep their alignment).
            return Some(len.div_ceil(threads).next_multiple_of(64).min(len));
        }
    }
    let _ = len;
    None
}

/// Whether a loop over `len` elements is split over threads (the same rule as the helpers).
pub(crate) fn splits(len: usize) -> bool {
    chunk_len(len).is_some()
}

/// `f(dst)` on chunks of `dst`.
pub(crate) fn map_mut<T, F>(dst: &mut [T], f: F)
where
    T: Send,
    F: Fn(&mut [T]) + Sync + Send,
{
    match chunk_len(dst.len()) {
        #[cfg(feature = "rayon")]
        Some(c) => {
            use rayon::prelude::*;
            dst.par_chunks_mut(c).for_each(f);
        }
        _ => f(dst),
    }
}

/// `f(dst, a)` on matching chunks of `dst` and `a` (same length).
pub(crate) fn zip_mut<T, A, F>(dst: &mut [T], a: &[A], f: F)
where
    T: Send,
    A: Sync,
    F: Fn(&mut [T], &[A]) + Sync + Send,
{
    assert_eq!(dst.len(), a.len(), "par_elem::zip_mut: lengths");
    match chunk_len(dst.len()) {
        #[cfg(feature = "rayon")]
        Some(c) => {
            use rayon::prelude::*;
            dst.par_chunks_mut(c)
                .zip(a.par_chunks(c))
                .for_each(|(d, a)| f(d, a));
        }
        _ => f(dst, a),
    }
}

/// `f(dst, a, b)` on matching chunks of `dst`, `a` and `b` (same length).
pub(crate) fn zip2_mut<T, A, B, F>(dst: &mut [T], a: &[A], b: &[B], f: F)
where
    T: Send,
    A: Sync,
    B: Sync,
    F: Fn(&mut [T], &[A], &[B]) + Sync + Send,
{
    assert_eq!(dst.len(), a.len(), "par_elem::zip2_mut: lengths");
    assert_eq!(dst.len(), b.len(), "par_elem::zip2_mut: lengths");
    match chunk_len(dst.len()) {
        #[cfg(feature = "rayon")]
        Some(c) => {
            use rayon::prelude::*;
            dst.par_chunks_mut(c)
                .zip(a.par_chunks(c))
                .zip(b.par_chunks(c))
                .for_each(|((d, a), b)| f(d, a, b));
        }
        _ => f(dst, a, b),
    }
}

/// A new vector of `src.len()` elements, `out[i] = op(src[i])`, built in chunks.
pub(crate) fn map_collect<S, T, F>(src: &[S], op: F) -> alloc::vec::Vec<T>
where
    S: Sync + Copy,
    T: Send + Copy + bytemuck::Zeroable,
    F: Fn(S) -> T + Sync + Send,
{
    match chunk_len(src.len()) {
        #[cfg(feature = "rayon")]
        Some(_) => {
            let mut out = alloc::vec![T::zeroed(); src.len()];
            zip_mut(&mut out, src, |d, s| {
                for (d, &s) in d.iter_mut().zip(s) {
                    *d = op(s);
                }
            });
            out
        }
        _ => src.iter().map(|&s| op(s)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_element_once() {
        set_par_elems(1);
        for len in [0usize, 1, 2, 63, 64, 65, 1000, 4097] {
            let mut v = alloc::vec![0u32; len];
            let idx: alloc::vec::Vec<u32> = (0..len as u32).collect();
            zip_mut(&mut v, &idx, |d, s| {
                for (d, &s) in d.iter_mut().zip(s) {
                    *d += s + 1;
                }
            });
            assert!(v.iter().enumerate().all(|(i, &x)| x == i as u32 + 1));
            let m = map_collect(&idx, |s| s * 2);
            assert!(m.iter().enumerate().all(|(i, &x)| x == 2 * i as u32));
        }
        set_par_elems(PAR_ELEMS);
    }
}
