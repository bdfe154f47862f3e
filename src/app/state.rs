//! What the app remembers: persisted [`Settings`] (eframe storage) and the runtime
//! [`AppState`] of the open photo, its faces and the view, which is never persisted.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use egui::{Pos2, Rect, Vec2};
use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::inference::{BackendChoice, PriorMaps, RestoredFace};
use crate::pipeline::{FaceCrop, Photo, PhotoRect};

/// Settings kept between runs (eframe persistence under [`eframe::APP_KEY`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Folder of the last opened or saved photo (start folder of the file dialogs).
    pub last_folder: Option<PathBuf>,
    /// Position of the before/after line over the photo, as a fraction of the view width.
    pub split: f32,
    /// Position of the before/after line over the zoomed face, as a fraction of its width.
    pub face_split: f32,
    /// Compute backend of the model worker.
    pub backend: BackendChoice,
    /// Strength given to newly restored faces, 0 (original) to 1 (full).
    pub default_strength: f32,
    /// Prior level (0..3 → P̂1..P̂3) shown as the overlay in the inspector.
    pub inspector_level: usize,
    /// Opacity of the attention overlay on the face, 0..1.
    pub overlay_opacity: f32,
    /// Draw the face boxes over the photo.
    pub show_boxes: bool,
    /// Channel thumbnails shown per prior level.
    pub thumbnails: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            last_folder: None,
            split: 0.5,
            face_split: 0.5,
            backend: BackendChoice::Auto,
            default_strength: 1.0,
            inspector_level: 0,
            overlay_opacity: 0.6,
            show_boxes: true,
            thumbnails: 6,
        }
    }
}

/// Identifies a face box for the lifetime of the open photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FaceId(pub u64);

/// Where a face box came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FaceOrigin {
    /// Found by the detector, with its score.
    Detected {
        /// SeetaFace score.
        score: f32,
    },
    /// Drawn by the user.
    Manual,
}

/// Identity check of a restored face.
#[derive(Debug, Clone, PartialEq)]
pub enum Identity {
    /// Embedding distance between the input crop and the restored crop.
    Distance(f32),
    /// The face ResNet is not available (why).
    Unavailable(String),
}

/// The network's result for one face box.
#[derive(Debug, Clone)]
pub struct FaceRestoration {
    /// The working-resolution crop that went into the network.
    pub crop: FaceCrop,
    /// Restored crop and estimated priors P̂1..P̂3.
    pub restored: RestoredFace,
    /// Teacher features of the restored crop (same layout as the priors), when available.
    pub teacher: Option<Vec<PriorMaps>>,
    /// Identity drift input → restored.
    pub identity: Identity,
    /// Seconds the network took.
    pub seconds: f32,
}

/// Where a face box stands.
#[derive(Debug, Clone, PartialEq)]
pub enum FaceStatus {
    /// Not restored yet (or edited since).
    Pending,
    /// Sent to the worker.
    Queued,
    /// Restored; see [`FaceEntry::result`].
    Restored,
    /// Restoring failed.
    Failed(String),
}

/// One face box of the open photo.
#[derive(Debug, Clone)]
pub struct FaceEntry {
    /// Stable id.
    pub id: FaceId,
    /// Square region that is restored, in photo pixels (may extend past the edges).
    pub region: PhotoRect,
    /// Detector or user.
    pub origin: FaceOrigin,
    /// Blend strength 0..1 of the restored face.
    pub strength: f32,
    /// Progress.
    pub status: FaceStatus,
    /// Bumped on every edit, so that results for an older region are dropped.
    pub revision: u64,
    /// The network's result, when restored.
    pub result: Option<Box<FaceRestoration>>,
}

impl FaceEntry {
    /// The region as an egui rectangle in photo pixels.
    pub fn rect(&self) -> Rect {
        region_rect(&self.region)
    }
}

/// A [`PhotoRect`] as an egui rectangle in photo pixels.
pub fn region_rect(r: &PhotoRect) -> Rect {
    Rect::from_min_size(
        Pos2::new(r.x as f32, r.y as f32),
        Vec2::new(r.width as f32, r.height as f32),
    )
}

/// The square [`PhotoRect`] with the centre of `rect` and the side of its larger extent
/// (at least 8 px), in photo pixels.
pub fn square_region(rect: Rect) -> PhotoRect {
    let side = rect.width().max(rect.height()).round().max(8.0);
    let c = rect.center();
    PhotoRect {
        x: (c.x - side / 2.0).round() as i64,
        y: (c.y - side / 2.0).round() as i64,
        width: side as u32,
        height: side as u32,
    }
}

/// The open photo and its composited result.
#[derive(Debug, Clone)]
pub struct Document {
    /// The photo as loaded (upright, metadata kept for saving).
    pub photo: Arc<Photo>,
    /// The photo with every restored face blended in at its strength.
    pub after: RgbImage,
    /// Changes with every opened photo; worker results for another epoch are dropped.
    pub epoch: u64,
}

/// What the compare view shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CompareMode {
    /// Before left of the line, after right of it.
    #[default]
    Split,
    /// The original only.
    Before,
    /// The result only.
    After,
}

/// Zoom and pan of the photo view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewState {
    /// Screen points per photo pixel.
    pub zoom: f32,
    /// Screen offset of the photo's top-left corner from the canvas' top-left corner.
    pub offset: Vec2,
    /// Fit the photo into the canvas on the next frame.
    pub fit_pending: bool,
    /// The canvas rectangle of the last frame (screen points).
    pub canvas: Rect,
}

impl Default for ViewState {
    fn default() -> Self {
        Self {
            zoom: 1.0,
            offset: Vec2::ZERO,
            fit_pending: true,
            canvas: Rect::from_min_size(Pos2::ZERO, Vec2::splat(1.0)),
        }
    }
}

impl ViewState {
    /// Screen rectangle of the photo of `size` (pixels).
    pub fn image_rect(&self, size: Vec2) -> Rect {
        Rect::from_min_size(self.canvas.min + self.offset, size * self.zoom)
    }

    /// Screen point of a photo point.
    pub fn to_screen(&self, p: Pos2) -> Pos2 {
        self.canvas.min + self.offset + p.to_vec2() * self.zoom
    }

    /// Photo point of a screen point.
    pub fn to_photo(&self, p: Pos2) -> Pos2 {
        ((p - self.canvas.min - self.offset) / self.zoom).to_pos2()
    }

    /// Fit a photo of `size` into the canvas, centred.
    pub fn fit(&mut self, size: Vec2) {
        let avail = self.canvas.size();
        if size.x <= 0.0 || size.y <= 0.0 || avail.x <= 1.0 || avail.y <= 1.0 {
            return;
        }
        self.zoom = (avail.x / size.x).min(avail.y / size.y).min(8.0);
        self.offset = (avail - size * self.zoom) / 2.0;
        self.fit_pending = false;
    }

    /// Multiply the zoom by `factor` keeping the screen point `anchor` fixed.
    pub fn zoom_by(&mut self, factor: f32, anchor: Pos2) {
        let new_zoom = (self.zoom * factor).clamp(0.02, 64.0);
        let photo = self.to_photo(anchor);
        self.zoom = new_zoom;
        self.offset = anchor - self.canvas.min - photo.to_vec2() * new_zoom;
        self.fit_pending = false;
    }
}

/// State of the model worker as the UI knows it.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelStatus {
    /// Loading weights.
    Loading,
    /// Ready on a device.
    Ready {
        /// E.g. "CPU (flex)".
        device: String,
        /// Weights summary.
        weights: String,
        /// Identity/teacher net availability (`Err` says why not).
        identity: Result<(), String>,
    },
    /// The model cannot be used (why).
    Failed(String),
}

/// How bad a notice is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Information (e.g. "saved").
    Info,
    /// Something needs attention (e.g. identity drift).
    Warning,
    /// Something failed.
    Error,
}

/// A message shown at the top of the photo until dismissed.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// Severity.
    pub level: Level,
    /// Text.
    pub text: String,
}

/// Work the worker is doing, for the status bar.
#[derive(Debug, Clone)]
pub struct Busy {
    /// What is being done.
    pub label: String,
    /// Steps done.
    pub done: usize,
    /// Steps in all (0 = unknown).
    pub total: usize,
    /// When it started.
    pub since: Instant,
}

/// Runtime state of the window (not persisted).
#[derive(Debug, Default)]
pub struct AppState {
    /// The open photo, if any.
    pub doc: Option<Document>,
    /// Face boxes of the open photo.
    pub faces: Vec<FaceEntry>,
    /// The selected face.
    pub selected: Option<FaceId>,
    /// Next face id.
    pub next_face: u64,
    /// Epoch counter for opened photos.
    pub next_epoch: u64,
    /// Zoom and pan.
    pub view: ViewState,
    /// Before/after mode.
    pub compare: CompareMode,
    /// Model worker status.
    pub model: Option<ModelStatus>,
    /// What the worker is busy with.
    pub busy: Option<Busy>,
    /// Jobs sent to the worker and not yet answered.
    pub jobs_in_flight: usize,
    /// Messages at the top of the photo.
    pub notices: Vec<Notice>,
    /// Waiting for the user to confirm overwriting the original photo with this path.
    pub confirm_overwrite: Option<PathBuf>,
    /// Photo region whose composited pixels changed since the textures were updated.
    pub dirty: Option<PhotoRect>,
    /// Bumped when anything the inspector shows changes.
    pub inspector_version: u64,
    /// Path of the photo being opened.
    pub opening: Option<PathBuf>,
    /// Last file saved.
    pub last_saved: Option<PathBuf>,
}

impl AppState {
    /// The face with `id`.
    pub fn face(&self, id: FaceId) -> Option<&FaceEntry> {
        self.faces.iter().find(|f| f.id == id)
    }

    /// The face with `id`, mutable.
    pub fn face_mut(&mut self, id: FaceId) -> Option<&mut FaceEntry> {
        self.faces.iter_mut().find(|f| f.id == id)
    }

    /// Index (0-based) of the face with `id`, for "face N" labels.
    pub fn face_index(&self, id: FaceId) -> Option<usize> {
        self.faces.iter().position(|f| f.id == id)
    }

    /// The selected face.
    pub fn selected_face(&self) -> Option<&FaceEntry> {
        self.selected.and_then(|id| self.face(id))
    }

    /// Add a notice (a repeat of the last one is not added twice).
    pub fn notify(&mut self, level: Level, text: impl Into<String>) {
        let notice = Notice {
            level,
            text: text.into(),
        };
        if self.notices.last() != Some(&notice) {
            self.notices.push(notice);
        }
        if self.notices.len() > 5 {
            self.notices.remove(0);
        }
    }

    /// Mark a photo region as changed.
    pub fn mark_dirty(&mut self, r: PhotoRect) {
        self.dirty = Some(match self.dirty {
            Some(d) => union(&d, &r),
            None => r,
        });
    }

    /// Whether any face is queued for the worker.
    pub fn restoring(&self) -> bool {
        self.faces.iter().any(|f| f.status == FaceStatus::Queued)
    }
}

/// Smallest rectangle holding `a` and `b`.
pub fn union(a: &PhotoRect, b: &PhotoRect) -> PhotoRect {
    let x0 = a.x.min(b.x);
    let y0 = a.y.min(b.y);
    let x1 = (a.x + i64::from(a.width)).max(b.x + i64::from(b.width));
    let y1 = (a.y + i64::from(a.height)).max(b.y + i64::from(b.height));
    PhotoRect {
        x: x0,
        y: y0,
        width: (x1 - x0) as u32,
        height: (y1 - y0) as u32,
    }
}

/// Whether `a` and `b` share at least one pixel.
pub fn intersects(a: &PhotoRect, b: &PhotoRect) -> bool {
    a.x < b.x + i64::from(b.width)
        && b.x < a.x + i64::from(a.width)
        && a.y < b.y + i64::from(b.height)
        && b.y < a.y + i64::from(a.height)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_defaults_for_missing_fields() {
        let s = Settings {
            split: 0.3,
            backend: BackendChoice::Cpu,
            ..Settings::default()
        };
        let json = serde_json::to_string(&s).unwrap();
        let back: Settings = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        let partial: Settings = serde_json::from_str(r#"{"split": 0.25}"#).unwrap();
        assert_eq!(partial.split, 0.25);
        assert_eq!(partial.face_split, Settings::default().face_split);
    }

    #[test]
    fn view_zoom_keeps_anchor_fixed() {
        let mut v = ViewState {
            canvas: Rect::from_min_size(Pos2::new(10.0, 20.0), Vec2::new(400.0, 300.0)),
            ..ViewState::default()
        };
        v.fit(Vec2::new(800.0, 600.0));
        assert!((v.zoom - 0.5).abs() < 1e-6);
        let anchor = Pos2::new(150.0, 100.0);
        let before = v.to_photo(anchor);
        v.zoom_by(2.0, anchor);
        let after = v.to_photo(anchor);
        assert!((before - after).length() < 1e-3);
        assert!((v.to_screen(after) - anchor).length() < 1e-3);
    }

    #[test]
    fn square_region_is_square_and_centred() {
        let r = square_region(Rect::from_min_max(Pos2::new(10.0, 10.0), Pos2::new(50.0, 30.0)));
        assert_eq!((r.width, r.height), (40, 40));
        assert_eq!((r.x, r.y), (10, 0));
        let u = union(&r, &PhotoRect { x: 100, y: 5, width: 10, height: 10 });
        assert_eq!((u.x, u.y, u.width, u.height), (10, 0, 100, 40));
        assert!(intersects(&r, &PhotoRect { x: 49, y: 39, width: 5, height: 5 }));
        assert!(!intersects(&r, &PhotoRect { x: 50, y: 0, width: 5, height: 5 }));
    }
}
