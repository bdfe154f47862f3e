//! Face detection on whole photos with rustface (SeetaFace funnel-structured cascade,
//! frontal model, grey-scale input), on a resized copy, with boxes mapped back to photo pixels.

use image::{GrayImage, RgbImage, imageops::FilterType};
use rustface::{ImageData, Model};
use thiserror::Error;

/// The SeetaFace frontal detection model (BSD-2-Clause, see `assets/models/README.md`).
const SEETA_MODEL: &[u8] = include_bytes!("../../assets/models/seeta_fd_frontal_v1.0.bin");

/// rustface scans a fixed 40-pixel window over an image pyramid that starts at scale 1,
/// so the smallest face it can find is 40 pixels in the image it is given.
const SEETA_WINDOW: f32 = 40.0;

/// A detected face, in photo pixels (upright photo). The box is SeetaFace's tight face box
/// (roughly eyebrows to chin, ear to ear) and may extend past the photo's edges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceBox {
    /// Left edge, photo pixels.
    pub x: f32,
    /// Top edge, photo pixels.
    pub y: f32,
    /// Width, photo pixels.
    pub w: f32,
    /// Height, photo pixels.
    pub h: f32,
    /// Detector confidence (SeetaFace score; larger is more certain, typically 1–40).
    pub score: f32,
}

impl FaceBox {
    /// Centre of the box, photo pixels.
    #[must_use]
    pub fn center(&self) -> (f32, f32) {
        (self.x + self.w / 2.0, self.y + self.h / 2.0)
    }

    /// Area in square pixels.
    #[must_use]
    pub fn area(&self) -> f32 {
        self.w.max(0.0) * self.h.max(0.0)
    }

    /// Area of the intersection with `other`.
    #[must_use]
    pub fn intersection(&self, other: &FaceBox) -> f32 {
        let w = (self.x + self.w).min(other.x + other.w) - self.x.max(other.x);
        let h = (self.y + self.h).min(other.y + other.h) - self.y.max(other.y);
        w.max(0.0) * h.max(0.0)
    }

    /// Intersection over union with `other` (0 when disjoint).
    #[must_use]
    pub fn iou(&self, other: &FaceBox) -> f32 {
        let inter = self.intersection(other);
        let union = self.area() + other.area() - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }
}

/// Detection settings.
///
/// The defaults were tuned on `shared/data/real` (`pipeline::shared_data`): every aligned
/// face crop (104 of 104, blurred and old photos included) is found, as are all 29 faces of the
/// 2732×1066 Solvay group photo; a threshold of 1.0 adds boxes on non-faces and on tiny
/// background faces, and `max_side` 1280 misses two small faces of the Solvay photo.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorConfig {
    /// Longest side of the grey copy the detector scans; larger photos are downscaled to it
    /// (bounds time and memory: about `max_side²` pixels are scanned).
    pub max_side: u32,
    /// Smallest face to look for, in photo pixels. Smaller photos are upscaled so that such
    /// a face spans the detector's 40-pixel window (as far as `max_side` allows).
    pub min_face: u32,
    /// Minimum SeetaFace score (the library's default is 3.85; its example uses 2.0).
    pub score_threshold: f64,
    /// Scale step between pyramid levels, in (0.1, 0.99); larger is slower and finds more.
    pub pyramid_scale: f32,
    /// Sliding window step in pixels of the pyramid level (≥ 1); smaller is slower.
    pub window_step: u32,
    /// Boxes overlapping a better one by more than this IoU are dropped.
    pub nms_iou: f32,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            max_side: 2048,
            min_face: 32,
            score_threshold: 2.0,
            pyramid_scale: 0.8,
            window_step: 4,
            nms_iou: 0.3,
        }
    }
}

/// Why the detector could not be created.
#[derive(Debug, Error)]
pub enum DetectError {
    /// The embedded SeetaFace model could not be parsed.
    #[error("cannot read the embedded SeetaFace model: {0}")]
    Model(#[from] std::io::Error),
}

/// A reusable face detector (parses the embedded model once). `Send + Sync`; `detect` takes
/// `&self`, so one detector can serve several threads.
#[derive(Clone)]
pub struct FaceDetector {
    model: Model,
    config: DetectorConfig,
}

impl std::fmt::Debug for FaceDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaceDetector")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl FaceDetector {
    /// Creates a detector with the embedded SeetaFace frontal model.
    pub fn new(config: DetectorConfig) -> Result<Self, DetectError> {
        Ok(Self {
            model: rustface::read_model(SEETA_MODEL)?,
            config,
        })
    }

    /// The settings in use.
    #[must_use]
    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// Finds faces in an upright RGB photo. Boxes are in photo pixels, best score first,
    /// after non-maximum suppression. Photos too small to hold a face give an empty list.
    #[must_use]
    pub fn detect(&self, photo_rgb: &RgbImage) -> Vec<FaceBox> {
        let (width, height) = photo_rgb.dimensions();
        let longest = width.max(height) as f32;
        let cfg = &self.config;
        let detect_from_photo = (SEETA_WINDOW / cfg.min_face.max(1) as f32)
            .min(cfg.max_side.max(64) as f32 / longest.max(1.0));
        let det_w = (width as f32 * detect_from_photo).round() as u32;
        let det_h = (height as f32 * detect_from_photo).round() as u32;
        if det_w.min(det_h) < SEETA_WINDOW as u32 {
            return Vec::new();
        }
        let gray = image::imageops::grayscale(photo_rgb);
        let gray: GrayImage = if (det_w, det_h) == (width, height) {
            gray
        } else if detect_from_photo < 1.0 {
            // Area averaging: a proper anti-aliasing filter for shrinking, and 4–5× faster
            // than a Triangle resize on a 24 MP photo (≈ 0.2 s instead of ≈ 1 s here).
            image::imageops::thumbnail(&gray, det_w, det_h)
        } else {
            image::imageops::resize(&gray, det_w, det_h, FilterType::CatmullRom)
        };

        let mut detector = rustface::create_detector_with_model(self.model.clone());
        detector.set_min_face_size(SEETA_WINDOW as u32);
        detector.set_score_thresh(cfg.score_threshold.max(f64::MIN_POSITIVE));
        detector.set_pyramid_scale_factor(cfg.pyramid_scale.clamp(0.1, 0.99));
        detector.set_slide_window_step(cfg.window_step.max(1), cfg.window_step.max(1));
        let faces = detector.detect(&ImageData::new(gray.as_raw(), det_w, det_h));

        // Map back with the exact per-axis ratio of the rounded detection size.
        let (sx, sy) = (width as f32 / det_w as f32, height as f32 / det_h as f32);
        let boxes = faces
            .iter()
            .map(|face| {
                let b = face.bbox();
                FaceBox {
                    x: b.x() as f32 * sx,
                    y: b.y() as f32 * sy,
                    w: b.width() as f32 * sx,
                    h: b.height() as f32 * sy,
                    score: face.score() as f32,
                }
            })
            .filter(|b| b.w > 0.0 && b.h > 0.0)
            .collect();
        non_maximum_suppression(boxes, cfg.nms_iou)
    }
}

/// Sorts by score (best first) and drops boxes that overlap a kept one by more than
/// `max_iou`, or that lie mostly (> 70 %) inside a kept one (a face part found as a face).
#[must_use]
pub fn non_maximum_suppression(mut boxes: Vec<FaceBox>, max_iou: f32) -> Vec<FaceBox> {
    boxes.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<FaceBox> = Vec::with_capacity(boxes.len());
    for candidate in boxes {
        let suppressed = kept.iter().any(|k| {
            let inside = candidate.intersection(k) / candidate.area().min(k.area()).max(1e-6);
            k.iou(&candidate) > max_iou || inside > 0.7
        });
        if !suppressed {
            kept.push(candidate);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face_box(x: f32, y: f32, w: f32, score: f32) -> FaceBox {
        FaceBox {
            x,
            y,
            w,
            h: w,
            score,
        }
    }

    #[test]
    fn nms_keeps_best_and_sorts() {
        let boxes = vec![
            face_box(0.0, 0.0, 10.0, 1.0),
            face_box(1.0, 1.0, 10.0, 5.0),
            face_box(100.0, 100.0, 10.0, 3.0),
            face_box(3.0, 3.0, 4.0, 0.5), // inside the best one
        ];
        let kept = non_maximum_suppression(boxes, 0.3);
        let scores: Vec<f32> = kept.iter().map(|b| b.score).collect();
        assert_eq!(scores, vec![5.0, 3.0]);
    }

    #[test]
    fn iou_of_identical_and_disjoint_boxes() {
        let a = face_box(0.0, 0.0, 10.0, 1.0);
        assert!((a.iou(&a) - 1.0).abs() < 1e-6);
        assert_eq!(a.iou(&face_box(20.0, 20.0, 5.0, 1.0)), 0.0);
    }

    #[test]
    fn detector_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<FaceDetector>();
    }

    #[test]
    fn tiny_and_blank_photos_give_no_faces() {
        let detector = FaceDetector::new(DetectorConfig::default()).unwrap();
        assert!(detector.detect(&RgbImage::new(1, 1)).is_empty());
        assert!(detector.detect(&RgbImage::new(3, 500)).is_empty());
        let blank = RgbImage::from_pixel(300, 200, image::Rgb([128, 128, 128]));
        assert!(detector.detect(&blank).is_empty());
    }
}
