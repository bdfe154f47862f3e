//! Live re-blending of restored faces into the photo without rerunning the network.
//!
//! Only the part of the photo that a change can affect is recomposed: the changed region grown
//! to cover every restored face that overlaps it (transitively), so faces outside it keep
//! their pixels and the result equals a full recomposition of the photo.

use image::RgbImage;

use super::state::{FaceEntry, intersects, union};
use crate::pipeline::{CropError, FaceCrop, PhotoRect, paste_back};

/// A restored face to blend: its crop (where it goes), the network output and the strength.
#[derive(Debug, Clone, Copy)]
pub struct Blend<'a> {
    /// The crop that went into the network.
    pub crop: &'a FaceCrop,
    /// The network output at working resolution.
    pub restored: &'a RgbImage,
    /// Strength in [0, 1].
    pub strength: f32,
}

/// The blends of every restored face, in face order.
pub fn blends(faces: &[FaceEntry]) -> Vec<Blend<'_>> {
    faces
        .iter()
        .filter_map(|f| {
            f.result.as_ref().map(|r| Blend {
                crop: &r.crop,
                restored: &r.restored.image,
                strength: f.strength,
            })
        })
        .collect()
}

/// Recompose the whole photo: `original` with every blend pasted in order.
pub fn compose_all(original: &RgbImage, blends: &[Blend<'_>]) -> Result<RgbImage, CropError> {
    let mut out = original.clone();
    for b in blends {
        paste_back(&mut out, b.crop, b.restored, b.strength)?;
    }
    Ok(out)
}

/// Recompose the part of `after` that `changed` (a photo region) can affect, from `original`
/// and `blends`. Returns the rectangle that was rewritten (inside the photo), or `None` when
/// it lies outside the photo.
pub fn recompose_region(
    after: &mut RgbImage,
    original: &RgbImage,
    blends: &[Blend<'_>],
    changed: PhotoRect,
) -> Result<Option<PhotoRect>, CropError> {
    // Grow the region until no face partly overlaps it.
    let mut region = changed;
    loop {
        let mut grown = region;
        for b in blends {
            if intersects(&grown, &b.crop.face_in_photo) {
                grown = union(&grown, &b.crop.face_in_photo);
            }
        }
        if grown == region {
            break;
        }
        region = grown;
    }
    let Some(clip) = clip_to(&region, original.width(), original.height()) else {
        return Ok(None);
    };
    let mut sub = image::imageops::crop_imm(
        original,
        clip.x as u32,
        clip.y as u32,
        clip.width,
        clip.height,
    )
    .to_image();
    for b in blends {
        if !intersects(&clip, &b.crop.face_in_photo) {
            continue;
        }
        let mut shifted = b.crop.clone();
        shifted.face_in_photo.x -= clip.x;
        shifted.face_in_photo.y -= clip.y;
        paste_back(&mut sub, &shifted, b.restored, b.strength)?;
    }
    image::imageops::replace(after, &sub, clip.x, clip.y);
    Ok(Some(clip))
}

/// The part of `r` inside a `width × height` image.
pub fn clip_to(r: &PhotoRect, width: u32, height: u32) -> Option<PhotoRect> {
    let x0 = r.x.max(0);
    let y0 = r.y.max(0);
    let x1 = (r.x + i64::from(r.width)).min(i64::from(width));
    let y1 = (r.y + i64::from(r.height)).min(i64::from(height));
    (x1 > x0 && y1 > y0).then(|| PhotoRect {
        x: x0,
        y: y0,
        width: (x1 - x0) as u32,
        height: (y1 - y0) as u32,
    })
}

/// Cut `r` (clipped to the image) out of `img`.
pub fn cut(img: &RgbImage, r: &PhotoRect) -> Option<RgbImage> {
    let c = clip_to(r, img.width(), img.height())?;
    Some(image::imageops::crop_imm(img, c.x as u32, c.y as u32, c.width, c.height).to_image())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{DEFAULT_FEATHER, crop_region};

    fn photo() -> RgbImage {
        RgbImage::from_fn(160, 120, |x, y| {
            image::Rgb([
                (x * 3 % 256) as u8,
                (y * 5 % 256) as u8,
                ((x + y) % 256) as u8,
            ])
        })
    }

    fn face(photo: &RgbImage, x: i64, y: i64, side: u32) -> (FaceCrop, RgbImage) {
        let region = PhotoRect {
            x,
            y,
            width: side,
            height: side,
        };
        let crop = crop_region(photo, region, 32, DEFAULT_FEATHER).unwrap();
        // A "restoration" that changes every pixel: the colour-inverted crop.
        let restored = RgbImage::from_fn(32, 32, |u, v| {
            let p = crop.image.get_pixel(u, v).0;
            image::Rgb([255 - p[0], 255 - p[1], 255 - p[2]])
        });
        (crop, restored)
    }

    #[test]
    fn output_moves_monotonically_with_strength() {
        let original = photo();
        let (crop, restored) = face(&original, 30, 20, 64);
        let strengths = [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0];
        let outputs: Vec<RgbImage> = strengths
            .iter()
            .map(|&s| {
                let b = [Blend {
                    crop: &crop,
                    restored: &restored,
                    strength: s,
                }];
                let mut after = original.clone();
                recompose_region(&mut after, &original, &b, crop.face_in_photo).unwrap();
                after
            })
            .collect();
        assert_eq!(
            outputs[0], original,
            "strength 0 leaves the photo unchanged"
        );
        let full = outputs.last().unwrap();
        assert_ne!(full, &original);
        for (i, px) in original.pixels().enumerate() {
            for c in 0..3 {
                let target = i32::from(full.as_raw()[i * 3 + c]);
                let start = i32::from(px.0[c]);
                let mut last = 0;
                for out in &outputs {
                    // Distance travelled from the original towards the full result.
                    let moved =
                        (i32::from(out.as_raw()[i * 3 + c]) - start) * (target - start).signum();
                    assert!(
                        moved >= last,
                        "pixel {i} channel {c} went back: {moved} < {last}"
                    );
                    last = moved;
                }
            }
        }
    }

    #[test]
    fn region_recompose_equals_full_recompose_with_overlaps() {
        let original = photo();
        let (c1, r1) = face(&original, 10, 10, 60);
        let (c2, r2) = face(&original, 50, 30, 50); // overlaps face 1
        let (c3, r3) = face(&original, 120, 70, 40); // apart, partly outside the photo
        let mut blends = vec![
            Blend {
                crop: &c1,
                restored: &r1,
                strength: 1.0,
            },
            Blend {
                crop: &c2,
                restored: &r2,
                strength: 0.8,
            },
            Blend {
                crop: &c3,
                restored: &r3,
                strength: 0.6,
            },
        ];
        let mut after = compose_all(&original, &blends).unwrap();
        // Change face 1's strength and recompose only around it.
        blends[0].strength = 0.3;
        let rewritten = recompose_region(&mut after, &original, &blends, c1.face_in_photo)
            .unwrap()
            .unwrap();
        assert_eq!(after, compose_all(&original, &blends).unwrap());
        // Face 2 overlaps face 1, so it was recomposed too; face 3 was not touched.
        assert!(rewritten.width >= 90);
        assert!(!intersects(&rewritten, &c3.face_in_photo));
        // Removing face 3 (its region changes back to the original).
        let gone = c3.face_in_photo;
        blends.pop();
        recompose_region(&mut after, &original, &blends, gone).unwrap();
        assert_eq!(after, compose_all(&original, &blends).unwrap());
    }

    #[test]
    fn clip_and_cut() {
        let r = PhotoRect {
            x: -5,
            y: 100,
            width: 20,
            height: 40,
        };
        let c = clip_to(&r, 160, 120).unwrap();
        assert_eq!((c.x, c.y, c.width, c.height), (0, 100, 15, 20));
        assert!(
            clip_to(
                &PhotoRect {
                    x: 200,
                    y: 0,
                    width: 5,
                    height: 5
                },
                160,
                120
            )
            .is_none()
        );
        assert_eq!(cut(&photo(), &r).unwrap().dimensions(), (15, 20));
    }
}
