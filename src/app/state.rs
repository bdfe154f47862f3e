//! What the app remembers: persisted [`Settings`] (eframe storage) and the runtime
//! [`AppState`] of the open photo, its faces and the view, which is never persisted.

use eframe::egui::Rect;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::inference::{BackendChoice, PriorMaps, RestoredFace};
use crate::pipeline::{FaceCrop, Photo, PhotoRect};

pub use super::view::{ViewState, intersects, region_rect, square_region, union};

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

/// State of the model worker as the UI knows it.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelStatus {
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

    /// Whether "Restore all" has work to do: some face neither restored nor queued, and a
    /// model that did not fail to load.
    pub fn can_restore_all(&self) -> bool {
        !matches!(self.model, Some(ModelStatus::Failed(_)))
            && self
                .faces
                .iter()
                .any(|f| !matches!(f.status, FaceStatus::Restored | FaceStatus::Queued))
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
    fn restore_all_needs_a_pending_face_and_a_usable_model() {
        let face = |id, status| FaceEntry {
            id: FaceId(id),
            region: PhotoRect {
                x: 0,
                y: 0,
                width: 8,
                height: 8,
            },
            origin: FaceOrigin::Manual,
            strength: 1.0,
            status,
            revision: 0,
            result: None,
        };
        let mut state = AppState::default();
        assert!(!state.can_restore_all(), "no faces");
        state.faces = vec![face(1, FaceStatus::Restored), face(2, FaceStatus::Queued)];
        assert!(!state.can_restore_all(), "nothing left to restore");
        state.faces.push(face(3, FaceStatus::Pending));
        assert!(state.can_restore_all());
        state.model = Some(ModelStatus::Failed("damaged weights".into()));
        assert!(!state.can_restore_all(), "the model failed to load");
    }
}
