//! Cutting a face out of a photo at the model's working resolution, with the transform
//! needed to put it back.

use image::{RgbImage, imageops::FilterType};
use thiserror::Error;

use super::detect::FaceBox;

/// Default crop side relative to the larger side of the detector box.
///
/// Chosen to match the training framing (`train::data`: UTKFace chips used whole, CelebA cut
/// to a 116-px window framing the face like a UTKFace chip). Measured with the detector on 300
/// training crops each (`pipeline::shared_data::framing_on_training_crops`): the box spans
/// 94 % of a UTKFace chip (margin 1.06) and 83 % of the CelebA window (margin 1.20).
pub const DEFAULT_MARGIN: f32 = 1.15;

/// Default width of the feathered border of a crop, as a fraction of its side. With
/// [`DEFAULT_MARGIN`] the detector box edge lies 6.5 % inside the crop, where the blend weight
/// is already 0.73; the face interior gets full weight.
pub const DEFAULT_FEATHER: f32 = 0.1;

/// Fraction of the box height by which the crop centre lies below the box centre in the
/// training framing (UTKFace 0.02, CelebA window 0.065; same measurement as above).
pub const CENTER_SHIFT_DOWN: f32 = 0.04;

/// Maps crop pixel coordinates to photo pixel coordinates: `photo = offset + scale * crop`
/// (pixel corners, so crop `(0,0)` is the photo point `offset` and crop `(size,size)` the
/// opposite corner of the region).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CropTransform {
    /// Photo x of the crop's left edge (an integer; may be negative past the photo edge).
    pub offset_x: f32,
    /// Photo y of the crop's top edge (an integer; may be negative).
    pub offset_y: f32,
    /// Photo pixels per crop pixel, horizontally.
    pub scale_x: f32,
    /// Photo pixels per crop pixel, vertically.
    pub scale_y: f32,
}

impl CropTransform {
    /// Photo point of a crop point.
    #[must_use]
    pub fn apply(&self, crop_x: f32, crop_y: f32) -> (f32, f32) {
        (
            self.offset_x + self.scale_x * crop_x,
            self.offset_y + self.scale_y * crop_y,
        )
    }

    /// Crop point of a photo point (the inverse transform, `crop_from_photo`).
    #[must_use]
    pub fn invert(&self, photo_x: f32, photo_y: f32) -> (f32, f32) {
        (
            (photo_x - self.offset_x) / self.scale_x,
            (photo_y - self.offset_y) / self.scale_y,
        )
    }
}

/// An integer pixel rectangle in photo coordinates; may extend past the photo's edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhotoRect {
    /// Left edge.
    pub x: i64,
    /// Top edge.
    pub y: i64,
    /// Width (≥ 1).
    pub width: u32,
    /// Height (≥ 1).
    pub height: u32,
}

impl PhotoRect {
    /// True when photo pixel `(x, y)` lies inside the rectangle.
    #[must_use]
    pub fn contains(&self, x: i64, y: i64) -> bool {
        (self.x..self.x + i64::from(self.width)).contains(&x)
            && (self.y..self.y + i64::from(self.height)).contains(&y)
    }
}

/// A face cut out of a photo at working resolution, plus where it came from.
#[derive(Debug, Clone)]
pub struct FaceCrop {
    /// The face at working resolution (`size × size`, 8-bit RGB). Pixels past the photo's edge
    /// are replicated from the nearest edge pixel.
    pub image: RgbImage,
    /// Where the crop lies in the photo.
    pub face_in_photo: PhotoRect,
    /// Crop pixel → photo pixel transform.
    pub photo_from_crop: CropTransform,
    /// Width of the blending border, as a fraction of the crop side (0 = hard edge).
    pub feather: f32,
}

/// Why a crop could not be made or pasted.
#[derive(Debug, Error, PartialEq)]
pub enum CropError {
    /// The face box has a non-finite or non-positive size.
    #[error("invalid face box {0:?}")]
    InvalidBox(FaceBox),
    /// The working resolution is zero, or the photo is empty.
    #[error("empty photo or zero working size")]
    Empty,
    /// The restored face does not have the crop's working resolution.
    #[error("restored face is {actual:?} but the crop is {expected:?}")]
    SizeMismatch {
        /// The crop's working size.
        expected: (u32, u32),
        /// The restored image's size.
        actual: (u32, u32),
    },
}

/// Square photo region for a detector box: side `margin × max(w, h)`, centred on the box
/// centre moved down by [`CENTER_SHIFT_DOWN`] of the box height, rounded to whole pixels.
#[must_use]
pub fn square_around(face: &FaceBox, margin: f32) -> PhotoRect {
    let side = (face.w.max(face.h) * margin).round().max(1.0);
    let (cx, cy) = face.center();
    let cy = cy + CENTER_SHIFT_DOWN * face.h;
    PhotoRect {
        x: (cx - side / 2.0).round() as i64,
        y: (cy - side / 2.0).round() as i64,
        width: side as u32,
        height: side as u32,
    }
}

/// Cuts the square around `face` (see [`square_around`]) out of the photo, replicating edge
/// pixels where it extends past the photo, and resizes it to `size × size` (Lanczos3 when
/// shrinking, Catmull-Rom when enlarging).
pub fn crop_square(
    photo_rgb: &RgbImage,
    face: &FaceBox,
    margin: f32,
    size: u32,
) -> Result<FaceCrop, CropError> {
    let valid = [face.x, face.y, face.w, face.h]
        .iter()
        .all(|v| v.is_finite())
        && face.w > 0.0
        && face.h > 0.0
        && margin.is_finite()
        && margin > 0.0;
    if !valid {
        return Err(CropError::InvalidBox(*face));
    }
    crop_region(
        photo_rgb,
        square_around(face, margin),
        size,
        DEFAULT_FEATHER,
    )
}

/// The whole photo as the face (for already aligned face images): resized to `size × size`
/// (stretched if not square), pasted back over the whole photo with no feathering, so the
/// output has the input's size.
pub fn aligned_face(photo_rgb: &RgbImage, size: u32) -> Result<FaceCrop, CropError> {
    let region = PhotoRect {
        x: 0,
        y: 0,
        width: photo_rgb.width(),
        height: photo_rgb.height(),
    };
    crop_region(photo_rgb, region, size, 0.0)
}

/// Cuts `region` out of the photo (edge pixels replicated outside it) at `size × size`.
pub fn crop_region(
    photo_rgb: &RgbImage,
    region: PhotoRect,
    size: u32,
    feather: f32,
) -> Result<FaceCrop, CropError> {
    let (width, height) = photo_rgb.dimensions();
    if width == 0 || height == 0 || size == 0 || region.width == 0 || region.height == 0 {
        return Err(CropError::Empty);
    }
    let clamp = |v: i64, len: u32| v.clamp(0, i64::from(len) - 1) as u32;
    let region_rgb = RgbImage::from_fn(region.width, region.height, |u, v| {
        let x = clamp(region.x + i64::from(u), width);
        let y = clamp(region.y + i64::from(v), height);
        *photo_rgb.get_pixel(x, y)
    });
    let shrinking = region.width.max(region.height) > size;
    let filter = if shrinking {
        FilterType::Lanczos3
    } else {
        FilterType::CatmullRom
    };
    let image = if region.width == size && region.height == size {
        region_rgb
    } else {
        image::imageops::resize(&region_rgb, size, size, filter)
    };
    Ok(FaceCrop {
        image,
        face_in_photo: region,
        photo_from_crop: CropTransform {
            offset_x: region.x as f32,
            offset_y: region.y as f32,
            scale_x: region.width as f32 / size as f32,
            scale_y: region.height as f32 / size as f32,
        },
        feather: feather.clamp(0.0, 0.5),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
        })
    }

    #[test]
    fn crop_geometry_and_transform() {
        let photo = gradient(400, 300);
        let face = FaceBox {
            x: 100.0,
            y: 80.0,
            w: 100.0,
            h: 100.0,
            score: 5.0,
        };
        let crop = crop_square(&photo, &face, 1.6, 128).unwrap();
        assert_eq!(crop.image.dimensions(), (128, 128));
        let r = crop.face_in_photo;
        assert_eq!((r.width, r.height), (160, 160));
        assert_eq!((r.x, r.y), (70, 54)); // centre (150, 130 + 4)
        let (px, py) = crop.photo_from_crop.apply(128.0, 128.0);
        assert_eq!((px, py), (230.0, 214.0));
        let (cx, cy) = crop.photo_from_crop.invert(px, py);
        assert!((cx - 128.0).abs() < 1e-4 && (cy - 128.0).abs() < 1e-4);
    }

    #[test]
    fn crop_at_border_replicates_edge() {
        let photo = gradient(50, 50);
        let face = FaceBox {
            x: -20.0,
            y: -20.0,
            w: 40.0,
            h: 40.0,
            score: 1.0,
        };
        let crop = crop_square(&photo, &face, 2.0, 80).unwrap();
        assert_eq!(crop.face_in_photo.width, 80);
        // Top-left corner is fully outside: replicated photo pixel (0,0).
        assert_eq!(crop.image.get_pixel(0, 0).0, photo.get_pixel(0, 0).0);
    }

    #[test]
    fn invalid_inputs_are_errors() {
        let photo = gradient(10, 10);
        let bad = FaceBox {
            x: 0.0,
            y: 0.0,
            w: f32::NAN,
            h: 4.0,
            score: 1.0,
        };
        assert!(matches!(
            crop_square(&photo, &bad, 1.7, 64),
            Err(CropError::InvalidBox(_))
        ));
        assert_eq!(
            aligned_face(&RgbImage::new(0, 0), 64).unwrap_err(),
            CropError::Empty
        );
        let aligned = aligned_face(&photo, 0);
        assert_eq!(aligned.unwrap_err(), CropError::Empty);
    }
}
