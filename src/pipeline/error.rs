//! The error type of photo loading and saving, grouped by concern (I/O, content, size,
//! support, encoding, safety), each variant naming the file.

use std::path::PathBuf;

use thiserror::Error;

use super::limits::{MAX_FILE_BYTES, MAX_PIXELS};

/// Why a photo could not be loaded or saved. Every variant names the file.
#[derive(Debug, Error)]
pub enum PhotoError {
    /// Reading or writing the file failed at the operating-system level.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying I/O error (in the message, not a separate cause, so `{:#}` does not
        /// repeat it).
        error: std::io::Error,
    },
    /// Writing the output file failed (disk full, read-only folder, …); no partial file is
    /// left.
    #[error("cannot write {}: {error}", path.display())]
    Write {
        /// The output file.
        path: PathBuf,
        /// The underlying I/O error.
        error: std::io::Error,
    },
    /// The path is a folder (or another non-file), not a photo.
    #[error("{path}: this is a folder, not a photo file (open the photos in it one by one)")]
    NotAFile {
        /// The path concerned.
        path: PathBuf,
    },
    /// The file is larger than [`MAX_FILE_BYTES`]: it is not read.
    #[error(
        "{path}: the file is too large ({} MiB); at most {} MiB are read",
        bytes >> 20,
        MAX_FILE_BYTES >> 20
    )]
    FileTooLarge {
        /// The file concerned.
        path: PathBuf,
        /// Its size in bytes.
        bytes: u64,
    },
    /// The file is empty (0 bytes).
    #[error("{path}: the file is empty (0 bytes)")]
    Empty {
        /// The file concerned.
        path: PathBuf,
    },
    /// The file is an image in a supported format but its data is corrupt or truncated.
    #[error("{path}: cannot decode the image: {reason}")]
    Decode {
        /// The file concerned.
        path: PathBuf,
        /// What the decoder reported.
        reason: String,
    },
    /// The image is larger than [`MAX_PIXELS`] or needs more than
    /// [`MAX_DECODE_BYTES`](super::limits::MAX_DECODE_BYTES).
    #[error(
        "{path}: the image is too large ({width}×{height}); at most {} megapixels are supported",
        MAX_PIXELS / 1_000_000
    )]
    TooLarge {
        /// The file concerned.
        path: PathBuf,
        /// Width the file declares (0 when unknown).
        width: u32,
        /// Height the file declares (0 when unknown).
        height: u32,
    },
    /// The file is not in a format (or colour layout, or extension) that we handle.
    #[error("{path}: unsupported: {reason}")]
    Unsupported {
        /// The file concerned.
        path: PathBuf,
        /// What is unsupported.
        reason: String,
    },
    /// Encoding the output image failed.
    #[error("{path}: cannot encode the image: {reason}")]
    Encode {
        /// The output file.
        path: PathBuf,
        /// What the encoder reported.
        reason: String,
    },
    /// The output path is the input photo itself; we never overwrite an input.
    #[error("{path}: refusing to overwrite the input photo")]
    WouldOverwriteInput {
        /// The output path given.
        path: PathBuf,
    },
    /// The processed pixels do not have the photo's dimensions.
    #[error("{path}: result is {actual_width}×{actual_height} but the photo is {width}×{height}")]
    SizeMismatch {
        /// The output file.
        path: PathBuf,
        /// Photo width.
        width: u32,
        /// Photo height.
        height: u32,
        /// Result width.
        actual_width: u32,
        /// Result height.
        actual_height: u32,
    },
}
