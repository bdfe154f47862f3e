//! Errors the desktop app shows in its window (never panics on them).

use std::path::PathBuf;

use thiserror::Error;

use crate::pipeline::PhotoError;

/// Something that went wrong, phrased for the person using the app.
#[derive(Debug, Error)]
pub enum AppError {
    /// The photo could not be opened (missing, unreadable, corrupt, unsupported).
    #[error("cannot open the photo: {0}")]
    Open(#[source] PhotoError),
    /// The detector found no face in the photo.
    #[error(
        "no face found in {}: drag a rectangle over a face to add it by hand (faces smaller \
         than about 32 px are not detected)",
        .0.display()
    )]
    NoFace(PathBuf),
    /// The face detector could not be created.
    #[error("the face detector is unavailable: {0}")]
    Detector(String),
    /// The restoration model could not be loaded (missing, corrupt or untrained weights).
    #[error("the restoration model is unavailable: {0}")]
    Model(String),
    /// Restoring a face failed.
    #[error("cannot restore face {face}: {reason}")]
    Restore {
        /// The face number shown in the window (1-based).
        face: usize,
        /// What went wrong.
        reason: String,
    },
    /// Saving the result failed.
    #[error("cannot save: {0}")]
    Save(#[source] PhotoError),
    /// Writing an exported face crop failed.
    #[error("cannot export {}: {reason}", path.display())]
    Export {
        /// The file that could not be written.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Nothing to do for the requested action.
    #[error("{0}")]
    Nothing(&'static str),
    /// The GPU failed during a job; the model was reloaded on the CPU.
    #[error(
        "the GPU stopped working ({0}); the model now runs on the CPU and the interrupted \
         work was started again there"
    )]
    GpuFailed(String),
    /// A bug: the worker caught a panic while doing a job.
    #[error("internal error (please report it): {0}")]
    Internal(String),
    /// The background worker stopped unexpectedly.
    #[error("the background worker stopped; restart the app")]
    WorkerGone,
}
