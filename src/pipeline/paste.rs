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
//! `up(restored) − up(crop)` (computed in f32, without 8-bit clipping). The `image` crate
//! clamps `f32` images to [0, 1] when it resizes them, so the change (−255…255) is carried
//! through the resize offset and scaled into that range ([`upscale_change`]).
//!
//! `mask` is 1 in the middle of the crop and falls to 0 at its edges with a raised-cosine ramp
//! over `feather × side` pixels on each side (separable in x and y), so the transition is
//! smooth with no visible seam. Pixels outside the crop region are never written.

use image::{DynamicImage, ImageBuffer, Pixel, Rgb32FImage, RgbImage, imageops::FilterType};

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
    let delta_in_photo = upscale_change(&crop.image, restored, region.width, region.height);

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

/// Half-width of the range the change is scaled into for resizing: a change of ±255 becomes
/// 0.5 ± 0.25, leaving room for Catmull-Rom's overshoot (under 10 % of a step) inside [0, 1].
const CHANGE_SPAN: f32 = 1024.0;

/// `restored − before` (8-bit values, as f32) resized to `width × height` with Catmull-Rom.
///
/// `image::imageops::resize` clamps `f32` pixels to [0, 1] (the crate's nominal float range),
/// which would cut every darkening to 0 and every brightening to at most 1/255. So the change
/// is mapped to `0.5 + change / CHANGE_SPAN` before the resize and back after it; the mapping
/// is affine, so the result equals the resized change.
#[must_use]
pub fn upscale_change(
    before: &RgbImage,
    restored: &RgbImage,
    width: u32,
    height: u32,
) -> Rgb32FImage {
    let encoded = Rgb32FImage::from_fn(restored.width(), restored.height(), |x, y| {
        let after = restored.get_pixel(x, y).0;
        let before = before.get_pixel(x, y).0;
        image::Rgb(std::array::from_fn(|c| {
            0.5 + (f32::from(after[c]) - f32::from(before[c])) / CHANGE_SPAN
        }))
    });
    let mut resized = if encoded.dimensions() == (width, height) {
        encoded
    } else {
        image::imageops::resize(&encoded, width, height, FilterType::CatmullRom)
    };
    for value in resized.iter_mut() {
        *value = (*value - 0.5) * CHANGE_SPAN;
    }
    resized
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

/// Rows converted at a time by [`merge_into_original`].
const MERGE_STRIP_ROWS: u32 = 64;

/// Writes the pixels the pipeline changed (where `after` differs from `before`, both the
/// photo's upright 8-bit RGB) into `original`, the same photo at full precision, converted to
/// its layout and keeping its alpha. Every other pixel keeps its full precision. The
/// conversion goes strip by strip (rows without a change are skipped), so no converted copy
/// of the whole photo is ever made. All three images have the same size.
pub fn merge_into_original(original: &mut DynamicImage, before: &RgbImage, after: &RgbImage) {
    debug_assert_eq!(before.dimensions(), after.dimensions());
    debug_assert_eq!(original.width(), after.width());
    debug_assert_eq!(original.height(), after.height());
    match original {
        DynamicImage::ImageLuma8(o) => merge_strips(o, before, after, DynamicImage::to_luma8),
        DynamicImage::ImageLumaA8(o) => {
            merge_strips(o, before, after, DynamicImage::to_luma_alpha8);
        }
        DynamicImage::ImageRgb8(o) => merge_strips(o, before, after, DynamicImage::to_rgb8),
        DynamicImage::ImageRgba8(o) => merge_strips(o, before, after, DynamicImage::to_rgba8),
        DynamicImage::ImageLuma16(o) => merge_strips(o, before, after, DynamicImage::to_luma16),
        DynamicImage::ImageLumaA16(o) => {
            merge_strips(o, before, after, DynamicImage::to_luma_alpha16);
        }
        DynamicImage::ImageRgb16(o) => merge_strips(o, before, after, DynamicImage::to_rgb16),
        DynamicImage::ImageRgba16(o) => merge_strips(o, before, after, DynamicImage::to_rgba16),
        DynamicImage::ImageRgb32F(o) => merge_strips(o, before, after, DynamicImage::to_rgb32f),
        DynamicImage::ImageRgba32F(o) => {
            merge_strips(o, before, after, DynamicImage::to_rgba32f);
        }
        // A layout this version does not know: keep the 8-bit result.
        _ => *original = DynamicImage::ImageRgb8(after.clone()),
    }
}

fn merge_strips<P: Pixel>(
    original: &mut ImageBuffer<P, Vec<P::Subpixel>>,
    before: &RgbImage,
    after: &RgbImage,
    convert: impl Fn(&DynamicImage) -> ImageBuffer<P, Vec<P::Subpixel>>,
) {
    let (width, height) = after.dimensions();
    let row_len = width as usize * 3;
    let alpha = usize::from(P::CHANNEL_COUNT) - 1;
    for top in (0..height).step_by(MERGE_STRIP_ROWS as usize) {
        let rows = MERGE_STRIP_ROWS.min(height - top);
        let span = top as usize * row_len..(top + rows) as usize * row_len;
        let changed = &after.as_raw()[span.clone()];
        if before.as_raw()[span] == *changed {
            continue;
        }
        let strip = RgbImage::from_raw(width, rows, changed.to_vec()).expect("whole rows");
        let converted = convert(&DynamicImage::ImageRgb8(strip));
        for (x, y, pixel) in converted.enumerate_pixels() {
            let y = top + y;
            if before.get_pixel(x, y) == after.get_pixel(x, y) {
                continue;
            }
            let target = original.get_pixel_mut(x, y);
            let kept_alpha = target.channels()[alpha];
            *target = *pixel;
            if P::HAS_ALPHA {
                target.channels_mut()[alpha] = kept_alpha;
            }
        }
    }
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

    /// The 64² region at (30, 10) of `photo`, cropped to 32² (downscaled 2×).
    fn crop_64_at_30_10(photo: &RgbImage) -> FaceCrop {
        let region = PhotoRect {
            x: 30,
            y: 10,
            width: 64,
            height: 64,
        };
        crop_region(photo, region, 32, 0.125).unwrap()
    }

    fn setup() -> (RgbImage, FaceCrop, RgbImage) {
        let photo = noisy(120, 90);
        let crop = crop_64_at_30_10(&photo);
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
    fn merge_changes_only_changed_pixels_and_keeps_alpha() {
        // 16-bit RGBA over more than one strip; one pixel in the second strip changes.
        let (width, height) = (5, MERGE_STRIP_ROWS + 3);
        let rgba = ImageBuffer::<image::Rgba<u16>, Vec<u16>>::from_fn(width, height, |x, y| {
            image::Rgba([
                x as u16 * 1000 + 7,
                y as u16 * 300 + 1,
                40_001,
                1234 + x as u16,
            ])
        });
        let mut original = DynamicImage::ImageRgba16(rgba.clone());
        let before = original.to_rgb8();
        let mut after = before.clone();
        let changed = (3, MERGE_STRIP_ROWS + 1);
        after.put_pixel(changed.0, changed.1, image::Rgb([10, 20, 30]));
        merge_into_original(&mut original, &before, &after);
        let merged = original.as_rgba16().unwrap();
        for (x, y, pixel) in merged.enumerate_pixels() {
            if (x, y) == changed {
                assert_eq!(pixel.0, [10 * 257, 20 * 257, 30 * 257, 1234 + 3]);
            } else {
                assert_eq!(pixel, rgba.get_pixel(x, y), "({x}, {y}) keeps 16 bits");
            }
        }
    }

    #[test]
    fn upscaled_change_keeps_its_sign_and_size() {
        // A crop restored 40 levels brighter in red and darker in green, pasted into a region
        // twice its size: the change must arrive whole (image's f32 resize alone clamps it to
        // [0, 1], i.e. +1 and 0).
        let before = RgbImage::from_pixel(32, 32, image::Rgb([100, 100, 100]));
        let after = RgbImage::from_pixel(32, 32, image::Rgb([140, 60, 100]));
        let up = upscale_change(&before, &after, 64, 64);
        assert_eq!(up.dimensions(), (64, 64));
        for p in up.pixels() {
            assert!((p[0] - 40.0).abs() < 1e-3, "{p:?}");
            assert!((p[1] + 40.0).abs() < 1e-3, "{p:?}");
            assert!(p[2].abs() < 1e-3, "{p:?}");
        }
        // Full ±255 steps survive Catmull-Rom's overshoot without clipping.
        let edge = RgbImage::from_fn(8, 8, |x, _| image::Rgb([if x < 4 { 0 } else { 255 }; 3]));
        let flat = RgbImage::from_fn(8, 8, |x, _| image::Rgb([if x < 4 { 255 } else { 0 }; 3]));
        let up = upscale_change(&flat, &edge, 40, 40);
        let (lo, hi) = up
            .iter()
            .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        assert!(lo < -255.0 && hi > 255.0, "overshoot kept: {lo} … {hi}");
    }

    #[test]
    fn pasted_change_is_whole_when_the_crop_was_downscaled() {
        let photo = RgbImage::from_pixel(120, 90, image::Rgb([100, 100, 100]));
        let crop = crop_64_at_30_10(&photo);
        let restored = RgbImage::from_pixel(32, 32, image::Rgb([140, 60, 100]));
        let mut out = photo.clone();
        paste_back(&mut out, &crop, &restored, 1.0).unwrap();
        assert_eq!(
            out.get_pixel(62, 42).0,
            [140, 60, 100],
            "centre gets the full change"
        );
        let mut half = photo.clone();
        paste_back(&mut half, &crop, &restored, 0.5).unwrap();
        assert_eq!(half.get_pixel(62, 42).0, [120, 80, 100]);
        assert_eq!(
            out.get_pixel(10, 10),
            photo.get_pixel(10, 10),
            "outside untouched"
        );
    }

    #[test]
    fn size_mismatch_is_error() {
        let (mut photo, crop, _) = setup();
        let wrong = RgbImage::new(31, 32);
        let err = paste_back(&mut photo, &crop, &wrong, 1.0).unwrap_err();
        assert!(matches!(err, CropError::SizeMismatch { .. }));
    }
}
