//! Whole-photo pipeline: image I/O with metadata, face detection, crop and paste-back.
//!
//! A typical run over one photo:
//!
//! ```no_run
//! use face_deblur::pipeline::{
//!     DEFAULT_MARGIN, DetectorConfig, FaceDetector, crop_square, load_photo, paste_back,
//!     save_photo,
//! };
//!
//! # fn main() -> anyhow::Result<()> {
//! let photo = load_photo("in.jpg")?; // upright, 8-bit RGB + original pixels and metadata
//! let detector = FaceDetector::new(DetectorConfig::default())?;
//! let mut result = photo.rgb_u8.clone();
//! for face in detector.detect(&photo.rgb_u8) {
//!     let crop = crop_square(&photo.rgb_u8, &face, DEFAULT_MARGIN, 128)?;
//!     let restored = crop.image.clone(); // run the network on `crop.image` here
//!     paste_back(&mut result, &crop, &restored, 1.0)?;
//! }
//! save_photo(&photo, &result, "out.jpg")?; // EXIF (orientation 1) and ICC kept
//! # Ok(())
//! # }
//! ```
//!
//! Crops are taken from the unmodified photo and pasted into the result, so overlapping
//! faces each see original pixels.

pub mod crop;
pub mod detect;
pub mod error;
pub mod io;
pub mod limits;
pub mod metadata;
pub mod paste;
pub mod save;
#[cfg(test)]
mod shared_data;

pub use crop::{
    CropError, CropTransform, DEFAULT_FEATHER, DEFAULT_MARGIN, FaceCrop, PhotoRect, aligned_face,
    crop_region, crop_square,
};
pub use detect::{DetectError, DetectorConfig, FaceBox, FaceDetector};
pub use io::{Photo, PhotoError, decode_photo, load_photo};
pub use limits::{MAX_DECODE_BYTES, MAX_FILE_BYTES, MAX_PIXELS};
pub use paste::paste_back;
pub use save::{output_format, save_photo, save_photo_over_input, save_photo_owned};
