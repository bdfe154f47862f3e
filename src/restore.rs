//! Whole-photo restoration: detect faces (or take the image as one aligned face), crop each at
//! the model's working size, restore them in one batch, paste them back feathered.

use image::RgbImage;

use crate::inference::Restorer;
use crate::pipeline::{
    CropError, DEFAULT_MARGIN, FaceBox, FaceCrop, FaceDetector, Photo, aligned_face, crop_square,
    paste_back,
};

/// Side of the face crops the model works on (it was trained on 128² faces).
pub const WORKING_SIZE: u32 = 128;

/// Image file extensions the restore command picks up in folders.
pub const IMAGE_EXTENSIONS: [&str; 7] = ["jpg", "jpeg", "png", "webp", "tif", "tiff", "bmp"];

/// Why a photo could not be restored.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The detector found no face.
    #[error(
        "no face found in {0} (if the image is a face crop, use --aligned; faces smaller than \
         about 32 px are not detected)"
    )]
    NoFace(String),
    /// Cropping or pasting failed.
    #[error("{0}")]
    Crop(#[from] CropError),
}

/// One face of a restored photo.
#[derive(Debug, Clone)]
pub struct FaceResult {
    /// Where the detector found it (`None` in aligned mode).
    pub detected: Option<FaceBox>,
    /// The crop that was restored.
    pub crop: FaceCrop,
    /// The network's output for the crop.
    pub restored: RgbImage,
}

/// A restored photo.
#[derive(Debug, Clone)]
pub struct PhotoResult {
    /// The photo with every face pasted back at `strength`.
    pub image: RgbImage,
    /// Per-face results, in detection order.
    pub faces: Vec<FaceResult>,
}

/// Find the faces to restore: every detected face, or the whole image when `aligned`.
pub fn face_crops(
    photo: &Photo,
    detector: Option<&FaceDetector>,
    aligned: bool,
) -> Result<Vec<(Option<FaceBox>, FaceCrop)>, RestoreError> {
    if aligned || detector.is_none() {
        return Ok(vec![(None, aligned_face(&photo.rgb_u8, WORKING_SIZE)?)]);
    }
    let detector = detector.expect("checked above");
    let boxes = detector.detect(&photo.rgb_u8);
    if boxes.is_empty() {
        return Err(RestoreError::NoFace(photo.path.display().to_string()));
    }
    boxes
        .into_iter()
        .map(|b| {
            Ok((
                Some(b),
                crop_square(&photo.rgb_u8, &b, DEFAULT_MARGIN, WORKING_SIZE)?,
            ))
        })
        .collect()
}

/// Restore the faces of `photo` and paste them back with `strength` in [0, 1].
pub fn restore_photo(
    restorer: &Restorer,
    photo: &Photo,
    detector: Option<&FaceDetector>,
    aligned: bool,
    strength: f32,
) -> Result<PhotoResult, RestoreError> {
    let crops = face_crops(photo, detector, aligned)?;
    restore_crops(restorer, photo, crops, strength)
}

/// Restore already found face crops of `photo` (from [`face_crops`]) in one batch and paste
/// them back with `strength` in [0, 1].
pub fn restore_crops(
    restorer: &Restorer,
    photo: &Photo,
    crops: Vec<(Option<FaceBox>, FaceCrop)>,
    strength: f32,
) -> Result<PhotoResult, RestoreError> {
    let images: Vec<RgbImage> = crops.iter().map(|(_, c)| c.image.clone()).collect();
    let restored = restorer.restore_images(&images);
    let mut image = photo.rgb_u8.clone();
    let mut faces = Vec::with_capacity(crops.len());
    for ((detected, crop), restored) in crops.into_iter().zip(restored) {
        paste_back(&mut image, &crop, &restored, strength)?;
        faces.push(FaceResult {
            detected,
            crop,
            restored,
        });
    }
    Ok(PhotoResult { image, faces })
}
