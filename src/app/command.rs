//! Everything the user can do, as [`Command`] values: the UI functions return them and
//! [`DeblurApp::run_cmd`] applies them, in one place.

use eframe::egui;
use std::path::{Path, PathBuf};

use egui::{Pos2, Vec2};

use super::DeblurApp;
use super::compose;
use super::error::AppError;
use super::files::default_save_name;
use super::state::{CompareMode, FaceEntry, FaceId, FaceOrigin, FaceStatus, Level};
use super::worker::{FaceJob, Job};
use crate::inference::BackendChoice;
use crate::pipeline::PhotoRect;

/// A user action.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Show the open-file dialog.
    OpenDialog,
    /// Open this photo.
    Open(PathBuf),
    /// Show the save dialog.
    SaveAsDialog,
    /// Save the result to this file (asks first when it is the original photo).
    SaveAs(PathBuf),
    /// The user confirmed replacing the original photo.
    ConfirmOverwrite,
    /// The user declined replacing the original photo.
    CancelOverwrite,
    /// Show the folder dialog for exporting face crops.
    ExportDialog,
    /// Export the restored face crops into this folder.
    ExportTo(PathBuf),
    /// Select a face (or none).
    Select(Option<FaceId>),
    /// Select the next (+1) or previous (−1) face.
    SelectNext(i32),
    /// Add a face box drawn by the user (photo pixels).
    AddFace(PhotoRect),
    /// Move or resize a face box.
    SetRegion(FaceId, PhotoRect),
    /// Remove a face box.
    Remove(FaceId),
    /// Restore the selected face.
    RestoreSelected,
    /// Restore every face not restored yet.
    RestoreAll,
    /// Set the blend strength of a face (re-blends live).
    SetStrength(FaceId, f32),
    /// Show before, after or both.
    SetCompare(CompareMode),
    /// Flip between before and after.
    ToggleBeforeAfter,
    /// Move the before/after line over the photo (fraction of the view width).
    SetSplit(f32),
    /// Move the before/after line over the zoomed face.
    SetFaceSplit(f32),
    /// Zoom by a factor around a screen point (the view centre when `None`).
    Zoom {
        /// Zoom factor.
        factor: f32,
        /// Screen point that stays fixed.
        anchor: Option<Pos2>,
    },
    /// Move the photo by a screen offset.
    Pan(Vec2),
    /// Fit the photo into the view.
    Fit,
    /// One photo pixel per screen pixel.
    ActualSize,
    /// Restart the model on another backend.
    SetBackend(BackendChoice),
    /// Dismiss the notice at this index.
    Dismiss(usize),
    /// Tell the user that no native file dialog could be shown.
    NoDialog,
    /// Prior level shown as overlay (0..3).
    SetLevel(usize),
    /// Opacity of the attention overlay.
    SetOverlayOpacity(f32),
    /// Show or hide the face boxes.
    ToggleBoxes,
    /// Close the window.
    Quit,
}

impl DeblurApp {
    /// Apply one command.
    pub fn run_cmd(&mut self, cmd: Command) {
        match cmd {
            Command::OpenDialog => self.dialogs.open(self.settings.last_folder.clone()),
            Command::Open(path) => self.open(path),
            Command::SaveAsDialog => match &self.state.doc {
                Some(doc) if self.dialogs.unavailable() => {
                    let path = crate::app::files::fallback_save_path(&doc.photo.path);
                    self.save_as(path, false);
                }
                Some(doc) => {
                    let name = default_save_name(&doc.photo.path);
                    self.dialogs.save(self.settings.last_folder.clone(), name);
                }
                None => self.fail(AppError::Nothing("open a photo first")),
            },
            Command::SaveAs(path) => self.save_as(path, false),
            Command::ConfirmOverwrite => {
                if let Some(path) = self.state.confirm_overwrite.take() {
                    self.save_as(path, true);
                }
            }
            Command::CancelOverwrite => self.state.confirm_overwrite = None,
            Command::ExportDialog => match &self.state.doc {
                Some(doc) if self.dialogs.unavailable() => {
                    let dir = doc
                        .photo
                        .path
                        .parent()
                        .map(Path::to_path_buf)
                        .unwrap_or_default();
                    self.export(&dir);
                }
                _ => self.dialogs.export(self.settings.last_folder.clone()),
            },
            Command::ExportTo(dir) => self.export(&dir),
            Command::Select(id) => {
                self.state.selected = id;
                self.state.inspector_version += 1;
            }
            Command::SelectNext(step) => {
                let n = self.state.faces.len() as i32;
                if n > 0 {
                    let cur = self.state.selected.and_then(|id| self.state.face_index(id));
                    let next = cur.map_or(0, |i| (i as i32 + step).rem_euclid(n)) as usize;
                    self.run_cmd(Command::Select(Some(self.state.faces[next].id)));
                }
            }
            Command::AddFace(region) => {
                if self.state.doc.is_some() {
                    let id = self.new_face(region, FaceOrigin::Manual);
                    self.run_cmd(Command::Select(Some(id)));
                }
            }
            Command::SetRegion(id, region) => self.edit_face(id, Some(region)),
            Command::Remove(id) => self.edit_face(id, None),
            Command::RestoreSelected => match self.state.selected {
                Some(id) => self.restore(vec![id]),
                None => self.fail(AppError::Nothing("select a face first")),
            },
            Command::RestoreAll => {
                let ids = self
                    .state
                    .faces
                    .iter()
                    .filter(|f| !matches!(f.status, FaceStatus::Restored | FaceStatus::Queued))
                    .map(|f| f.id)
                    .collect();
                self.restore(ids);
            }
            Command::SetStrength(id, s) => {
                if let Some(face) = self.state.face_mut(id) {
                    face.strength = s.clamp(0.0, 1.0);
                    if let Some(r) = &face.result {
                        let region = r.crop.face_in_photo;
                        self.recompose(region);
                    }
                }
            }
            Command::SetCompare(mode) => self.state.compare = mode,
            Command::ToggleBeforeAfter => {
                self.state.compare = match self.state.compare {
                    CompareMode::After => CompareMode::Before,
                    CompareMode::Before | CompareMode::Split => CompareMode::After,
                }
            }
            Command::SetSplit(f) => self.settings.split = f.clamp(0.0, 1.0),
            Command::SetFaceSplit(f) => self.settings.face_split = f.clamp(0.0, 1.0),
            Command::Zoom { factor, anchor } => {
                let anchor = anchor.unwrap_or(self.state.view.canvas.center());
                self.state.view.zoom_by(factor, anchor);
            }
            Command::Pan(delta) => {
                self.state.view.offset += delta;
                self.state.view.fit = false;
            }
            Command::Fit => self.state.view.fit = true,
            Command::ActualSize => {
                let z = self.state.view.zoom;
                self.state
                    .view
                    .zoom_by(1.0 / z, self.state.view.canvas.center());
            }
            Command::SetBackend(b) => {
                if self.settings.backend != b {
                    self.settings.backend = b;
                    self.restart_worker();
                }
            }
            Command::NoDialog => self.state.notify(
                Level::Warning,
                "No file dialog is available on this system (rfd needs xdg-desktop-portal): \
                 open photos by dropping them on the window or naming them on the command \
                 line; Save As now writes NAME-restored.EXT and Export the face crops next \
                 to the original (never over an existing file)",
            ),
            Command::Dismiss(i) => {
                if i < self.state.notices.len() {
                    self.state.notices.remove(i);
                }
            }
            Command::SetLevel(l) => self.settings.inspector_level = l.min(2),
            Command::SetOverlayOpacity(o) => self.settings.overlay_opacity = o.clamp(0.0, 1.0),
            Command::ToggleBoxes => self.settings.show_boxes = !self.settings.show_boxes,
            Command::Quit => {
                if let Some(ctx) = &self.ctx {
                    ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                }
            }
        }
    }

    /// Show an error (or warning) in the window.
    pub(crate) fn fail(&mut self, error: AppError) {
        let level = match error {
            AppError::Nothing(_) | AppError::NoFace(_) => Level::Warning,
            _ => Level::Error,
        };
        self.state.notify(level, error.to_string());
    }

    pub(crate) fn send(&mut self, job: Job) {
        let sent = match &self.worker {
            Some(w) => w.send(job),
            None => Err(AppError::WorkerGone),
        };
        match sent {
            Ok(()) => self.state.jobs_in_flight += 1,
            Err(e) => self.fail(e),
        }
    }

    fn open(&mut self, path: PathBuf) {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            self.settings.last_folder = Some(dir.to_path_buf());
        }
        self.state.next_epoch += 1;
        let epoch = self.state.next_epoch;
        self.state.opening = Some(path.clone());
        if let Some(w) = &self.worker {
            w.set_current_epoch(epoch);
        }
        self.send(Job::Open { path, epoch });
    }

    /// Add a face box; returns its id.
    pub(crate) fn new_face(&mut self, region: PhotoRect, origin: FaceOrigin) -> FaceId {
        self.state.next_face += 1;
        let id = FaceId(self.state.next_face);
        self.state.faces.push(FaceEntry {
            id,
            region,
            origin,
            strength: self.settings.default_strength,
            status: FaceStatus::Pending,
            revision: 0,
            result: None,
        });
        id
    }

    /// Move/resize (`Some`) or remove (`None`) a face; its restoration is dropped.
    fn edit_face(&mut self, id: FaceId, region: Option<PhotoRect>) {
        let Some(face) = self.state.face_mut(id) else {
            return;
        };
        let old = face.result.take().map(|r| r.crop.face_in_photo);
        match region {
            Some(region) => {
                face.region = region;
                face.revision += 1;
                face.status = FaceStatus::Pending;
            }
            None => {
                self.state.faces.retain(|f| f.id != id);
                if self.state.selected == Some(id) {
                    self.state.selected = None;
                }
            }
        }
        if let Some(old) = old {
            self.recompose(old);
        }
        self.state.inspector_version += 1;
    }

    /// Re-blend the photo around `region` (photo pixels) and mark it for upload.
    pub(crate) fn recompose(&mut self, region: PhotoRect) {
        let Some(doc) = self.state.doc.as_mut() else {
            return;
        };
        let blends = compose::blends(&self.state.faces);
        match compose::recompose_region(&mut doc.after, &doc.photo.rgb_u8, &blends, region) {
            Ok(Some(rect)) => {
                self.state.mark_dirty(rect);
                self.state.inspector_version += 1;
            }
            Ok(None) => {}
            Err(e) => self
                .state
                .notify(Level::Error, format!("cannot blend: {e}")),
        }
    }

    fn restore(&mut self, ids: Vec<FaceId>) {
        let Some(doc) = &self.state.doc else {
            return self.fail(AppError::Nothing("open a photo first"));
        };
        if let Some(super::state::ModelStatus::Failed(e)) = &self.state.model {
            return self.fail(AppError::Model(e.clone()));
        }
        let (photo, epoch) = (doc.photo.clone(), doc.epoch);
        let mut faces = Vec::new();
        for id in ids {
            let number = self.state.face_index(id).map_or(0, |i| i + 1);
            if let Some(face) = self.state.face_mut(id)
                && face.status != FaceStatus::Queued
            {
                face.status = FaceStatus::Queued;
                faces.push(FaceJob {
                    id,
                    revision: face.revision,
                    number,
                    region: face.region,
                });
            }
        }
        if faces.is_empty() {
            return self.fail(AppError::Nothing("no face to restore"));
        }
        self.send(Job::Restore {
            photo,
            epoch,
            faces,
        });
    }
}
