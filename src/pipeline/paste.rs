//! Putting a restored face back into the photo without seams or colour steps.
//!
//! # What is pasted
//!
//! The network sees the face at working resolution (e.g. 128²), while the face in the photo
//! may be much larger. Pasting the upscaled network output directly would replace the
//! photo's full-resolution pixels with a blurrier upscale wherever the network did nothing,
//! and any small colour shift of the network would show as a step at the crop edge.
//!
//! Instead only the *change* the network made is pasted:
//!
//! ```text
//! photo' = photo + strength · mask · up(restored − crop)
//! ```
//!
//! where `crop` is the working-resolution input the network received (the original downscaled)
//! and `up` is a Catmull-Rom upscale to the crop's photo size. Where the network returns its
//! input unchanged the photo is untouched at full resolution; where it sharpens, the added
//! detail is carried over. Because resizing is linear, `up(restored − crop)` equals
//! `up(restored) − up(crop)` (computed in f32, without 8-bit clipping).
//!
//! `mask` is 1 in the middle of the crop and falls to 0 at its edges with a raised-cosine ramp
//! over `feather × side` pixels on each side (separable in x and y), so the transition is
//! smooth with no visible seam. Pixels outside the crop region are never written.

use image::{Rgb32FImage, RgbImage, imageops::FilterType};

use super::crop::{CropError, FaceCrop};

/// Blends a restored face back into the photo in place; see the module docs for the formula.
///
/// `restored` must have the crop's working resolution. `strength` is clamped to `[0, 1]`:
/// 0 leaves the photo bit-identical, 1 applies the full change, and every pixel moves
/// monotonically towards the restored value as `strength` grows. Pixels outside
/// `crop.face_in_photo` are never modified.
pub fn paste_back(
    photo_rgb: &mut RgbImage,
    crop: &FaceCrop,
    restored: &RgbImage,
    strength: f32,
) -> Result<(), CropError> {
    if restored.dimensions() != crop.image.dimensions() {
        return Err(CropError::SizeMismatch {
            expected: crop.image.dimensions(),
            actual: restored.dimensions(),
        });
    }
    let strength = if strength.is_finite() {
        strength.clamp(0.0, 1.0)
    } else {
        0.0
    };
    if strength == 0.0 {
        return Ok(());
    }
    let region = crop.face_in_photo;
    let delta_crop = Rgb32FImage::from_fn(restored.width(), restored.height(), |x, y| {
        let after = restored.get_pixel(x, y).0;
        let before = crop.image.get_pixel(x, y).0;
        image::Rgb(std::array::from_fn(|c| {
            f32::from(after[c]) - f32::from(before[c])
        }))
    });
    let delta_in_photo = if delta_crop.dimensions() == (region.width, region.height) {
        delta_crop
    } else {
        image::imageops::resize(
            &delta_crop,
            region.width,
            region.height,
            FilterType::CatmullRom,
        )
    };

    let mask_x = feather_ramp(region.width, crop.feather);
    let mask_y = feather_ramp(region.height, crop.feather);
    let (width, height) = photo_rgb.dimensions();
    // Part of the region that lies inside the photo, in region coordinates.
    let u_start = (-region.x).clamp(0, i64::from(region.width)) as u32;
    let v_start = (-region.y).clamp(0, i64::from(region.height)) as u32;
    let u_end = (i64::from(width) - region.x).clamp(0, i64::from(region.width)) as u32;
    let v_end = (i64::from(height) - region.y).clamp(0, i64::from(region.height)) as u32;
    for v in v_start..v_end {
        let y = (region.y + i64::from(v)) as u32;
        for u in u_start..u_end {
            let weight = strength * mask_x[u as usize] * mask_y[v as usize];
            if weight <= 0.0 {
                continue;
            }
            let x = (region.x + i64::from(u)) as u32;
            let delta = delta_in_photo.get_pixel(u, v).0;
            let pixel = photo_rgb.get_pixel_mut(x, y);
            for (channel, change) in pixel.0.iter_mut().zip(delta) {
                let value = f32::from(*channel) + weight * change;
                *channel = value.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    Ok(())
}

/// Blending weight along one side of the crop: a raised-cosine ramp from 0 at the edge to 1
/// at `feather × len` pixels in, then flat. `feather` 0 gives all ones.
#[must_use]
pub fn feather_ramp(len: u32, feather: f32) -> Vec<f32> {
    let ramp = feather.clamp(0.0, 0.5) * len as f32;
    (0..len)
        .map(|i| {
            if ramp <= 0.0 {
                return 1.0;
            }
            // Distance of the pixel centre from the nearest edge.
            let edge_distance = (i as f32 + 0.5).min(len as f32 - i as f32 - 0.5);
            let t = (edge_distance / ramp).min(1.0);
            0.5 - 0.5 * (std::f32::consts::PI * t).cos()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::crop::{PhotoRect, crop_region};

    fn noisy(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, y| {
            let v = (x * 37 + y * 91 + (x * y) % 13) % 256;
            image::Rgb([v as u8, (255 - v) as u8, ((x * 3) % 256) as u8])
        })
    }

    fn setup() -> (RgbImage, FaceCrop, RgbImage) {
        let photo = noisy(120, 90);
        let region = PhotoRect {
            x: 30,
            y: 10,
            width: 64,
            height: 64,
        };
        let crop = crop_region(&photo, region, 32, 0.125).unwrap();
        let restored = RgbImage::from_fn(32, 32, |x, y| {
            let p = crop.image.get_pixel(x, y).0;
            image::Rgb([p[0].saturating_add(40), p[1].saturating_sub(40), p[2]])
        });
        (photo, crop, restored)
    }

    #[test]
    fn ramp_shape() {
        let ramp = feather_ramp(100, 0.1);
        assert!(ramp[0] < 0.05 && ramp[99] < 0.05);
        assert_eq!(ramp[50], 1.0);
        assert!(ramp.windows(2).take(10).all(|w| w[1] >= w[0]));
        assert!(feather_ramp(7, 0.0).iter().all(|&w| w == 1.0));
    }

    #[test]
    fn unchanged_restoration_leaves_photo_identical() {
        let (photo, crop, _) = setup();
        let mut out = photo.clone();
        paste_back(&mut out, &crop, &crop.image, 1.0).unwrap();
        assert_eq!(out, photo);
    }

    #[test]
    fn strength_zero_identity_and_monotonic() {
        let (photo, crop, restored) = setup();
        let mut previous = photo.clone();
        for step in 0..=10 {
            let strength = step as f32 / 10.0;
            let mut out = photo.clone();
            paste_back(&mut out, &crop, &restored, strength).unwrap();
            if step == 0 {
                assert_eq!(out, photo);
            }
            for ((now, before), orig) in out.pixels().zip(previous.pixels()).zip(photo.pixels()) {
                for c in 0..3 {
                    // Each value moves away from the original in one direction only.
                    let (now, before, orig) = (now[c] as i32, before[c] as i32, orig[c] as i32);
                    assert!((now - orig).abs() >= (before - orig).abs());
                    assert!((now - orig) * (before - orig) >= 0);
                }
            }
            previous = out;
        }
        assert_ne!(previous, photo);
    }

    #[test]
    fn aligned_mode_covers_the_whole_photo() {
        let photo = noisy(90, 70);
        let crop = crate::pipeline::crop::aligned_face(&photo, 32).unwrap();
        let brighter = RgbImage::from_fn(32, 32, |x, y| {
            image::Rgb(crop.image.get_pixel(x, y).0.map(|v| v.saturating_add(20)))
        });
        let mut out = photo.clone();
        paste_back(&mut out, &crop, &brighter, 1.0).unwrap();
        assert_eq!(out.dimensions(), photo.dimensions());
        // No feathering in aligned mode: even the corners change.
        for (x, y) in [(0, 0), (89, 0), (0, 69), (89, 69)] {
            assert_ne!(out.get_pixel(x, y), photo.get_pixel(x, y), "({x}, {y})");
        }
    }

    #[test]
    fn size_mismatch_is_error() {
        let (mut photo, crop, _) = setup();
        let wrong = RgbImage::new(31, 32);
        let err = paste_back(&mut photo, &crop, &wrong, 1.0).unwrap_err();
        assert!(matches!(err, CropError::SizeMismatch { .. }));
    }
}
