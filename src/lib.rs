//! face-deblur: restore blurred faces in photos with DFPGnet
//! ("Deep Feature Prior Guided Face Deblurring", Jung, Lee & Heo, WACV 2022) on Burn.

#[cfg(feature = "app")]
pub mod app;
pub mod cli;
pub mod convert;
pub mod device;
pub mod fsutil;
pub mod inference;
pub mod model;
pub mod pipeline;
pub mod restore;
pub mod train;
pub mod weights;

/// Test support for the tests that need the research folder (datasets, other teacher nets;
/// not in the repository). They are marked
/// `#[cfg_attr(not(shared_data), ignore = "needs FACE_DEBLUR_SHARED=…")]`: `build.rs` sets
/// `cfg(shared_data)` when `FACE_DEBLUR_SHARED` is set, so without it they are listed as
/// ignored, and with it (CI: `../shared`) they run.
#[cfg(test)]
pub(crate) mod shared {
    use std::path::PathBuf;

    /// `$FACE_DEBLUR_SHARED/sub` (relative paths are from the crate root, where tests run);
    /// panics with the reason when the variable or the folder is missing.
    pub(crate) fn dir(sub: &str) -> PathBuf {
        let root = std::env::var_os("FACE_DEBLUR_SHARED")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .expect(
                "FACE_DEBLUR_SHARED was set when the tests were built but is not set now: \
                 set it again (or rebuild without it to ignore these tests)",
            );
        let dir = root.join(sub);
        assert!(
            dir.is_dir(),
            "FACE_DEBLUR_SHARED={} has no folder `{sub}`: point it at the research folder \
             (the one with data/ and weights/)",
            root.display()
        );
        dir
    }
}
