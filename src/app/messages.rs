//! Applying the worker's messages to the state.

use std::sync::Arc;
use std::time::Instant;

use super::DeblurApp;
use super::error::AppError;
use super::state::{Busy, Document, FaceId, FaceOrigin, FaceStatus, Identity, Level, ModelStatus};
use super::worker::{Outcome, WorkerMsg};
use crate::model::teacher::SAME_PERSON_DISTANCE;
use crate::pipeline::{DEFAULT_MARGIN, FaceBox, Photo, crop::square_around};

impl DeblurApp {
    /// Apply the messages the worker sent since the last frame.
    pub(crate) fn poll_worker(&mut self) {
        let (messages, alive) = match &self.worker {
            Some(w) => w.poll(),
            None => return,
        };
        for msg in messages {
            self.on_message(msg);
        }
        if !alive {
            self.worker = None;
            self.state.jobs_in_flight = 0;
            self.job_done();
            let error = AppError::WorkerGone;
            self.state.model = Some(ModelStatus::Failed(error.to_string()));
            self.fail(error);
        }
    }

    fn on_message(&mut self, msg: WorkerMsg) {
        match msg {
            WorkerMsg::Ready {
                device,
                weights,
                notice,
                identity,
            } => {
                // With "Auto" the status bar says CPU; the notice matters when a GPU was asked for.
                if let Some(n) = notice
                    && self.settings.backend == crate::inference::BackendChoice::Gpu
                {
                    self.state.notify(Level::Info, n);
                }
                self.state.model = Some(ModelStatus::Ready {
                    device,
                    weights,
                    identity,
                });
            }
            WorkerMsg::Progress { label, done, total } => {
                let since = self
                    .state
                    .busy
                    .as_ref()
                    .map_or_else(Instant::now, |b| b.since);
                self.state.busy = Some(Busy {
                    label,
                    done,
                    total,
                    since,
                });
            }
            WorkerMsg::FaceRestored {
                epoch,
                id,
                revision,
                result,
            } => self.on_face_restored(epoch, id, revision, result),
            WorkerMsg::Finished(outcome) => {
                self.job_done();
                self.on_finished(outcome);
            }
            WorkerMsg::Failed {
                face,
                error,
                ends_job,
            } => {
                if ends_job {
                    self.job_done();
                }
                if matches!(error, AppError::Model(_)) {
                    self.state.model = Some(ModelStatus::Failed(error.to_string()));
                }
                if matches!(error, AppError::Open(_)) {
                    self.state.opening = None;
                }
                if let Some((epoch, id)) = face
                    && self.current_epoch() == Some(epoch)
                    && let Some(f) = self.state.face_mut(id)
                {
                    f.status = FaceStatus::Failed(error.to_string());
                }
                self.fail(error);
            }
        }
    }

    fn job_done(&mut self) {
        self.state.jobs_in_flight = self.state.jobs_in_flight.saturating_sub(1);
        if self.state.jobs_in_flight == 0 {
            self.state.busy = None;
            // Faces still queued were lost with their job (e.g. it failed).
            for f in &mut self.state.faces {
                if f.status == FaceStatus::Queued {
                    f.status = FaceStatus::Pending;
                }
            }
        }
    }

    fn current_epoch(&self) -> Option<u64> {
        self.state.doc.as_ref().map(|d| d.epoch)
    }

    fn on_face_restored(
        &mut self,
        epoch: u64,
        id: FaceId,
        revision: u64,
        result: Box<super::state::FaceRestoration>,
    ) {
        if self.current_epoch() != Some(epoch) {
            return;
        }
        let number = self.state.face_index(id).map_or(0, |i| i + 1);
        let Some(face) = self.state.face_mut(id) else {
            return; // removed meanwhile
        };
        if face.revision != revision {
            return; // moved meanwhile; it is pending again
        }
        if let Identity::Distance(d) = result.identity
            && d > SAME_PERSON_DISTANCE
        {
            self.state.notify(
                Level::Warning,
                format!(
                    "face {number}: identity distance {d:.2} is above {SAME_PERSON_DISTANCE}: the \
                     restored face may look like someone else; consider a lower strength"
                ),
            );
        }
        let Some(face) = self.state.face_mut(id) else {
            return;
        };
        let region = result.crop.face_in_photo;
        face.result = Some(result);
        face.status = FaceStatus::Restored;
        self.recompose(region);
    }

    fn on_finished(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Opened {
                photo,
                epoch,
                faces,
            } => {
                if epoch == self.state.next_epoch {
                    self.set_document(photo, epoch, &faces);
                }
            }
            Outcome::Restored {
                epoch,
                count,
                seconds,
            } => {
                if self.current_epoch() == Some(epoch) && count > 0 {
                    self.state.notify(
                        Level::Info,
                        format!(
                            "restored {count} face{} in {seconds:.1} s",
                            if count == 1 { "" } else { "s" }
                        ),
                    );
                }
            }
            Outcome::Saved(path) => {
                self.state
                    .notify(Level::Info, format!("saved {}", path.display()));
                self.state.last_saved = Some(path);
            }
            Outcome::Exported(files) => {
                let dir = files
                    .first()
                    .and_then(|f| f.parent())
                    .map_or(String::new(), |d| d.display().to_string());
                self.state.notify(
                    Level::Info,
                    format!("exported {} face crop files to {dir}", files.len()),
                );
            }
        }
    }

    fn set_document(&mut self, photo: Arc<Photo>, epoch: u64, boxes: &[FaceBox]) {
        let after = photo.rgb_u8.clone();
        let path = photo.path.clone();
        self.state.doc = Some(Document {
            photo,
            after,
            epoch,
        });
        self.state.opening = None;
        self.state.faces.clear();
        self.state.selected = None;
        self.state.dirty = None;
        self.state.view.fit = true;
        self.state.compare = Default::default();
        self.state.notices.clear();
        if let Some(ModelStatus::Failed(e)) = &self.state.model {
            let e = e.clone();
            self.state.notify(Level::Error, e);
        }
        for b in boxes {
            self.new_face(
                square_around(b, DEFAULT_MARGIN),
                FaceOrigin::Detected { score: b.score },
            );
        }
        self.state.selected = self.state.faces.first().map(|f| f.id);
        self.state.inspector_version += 1;
        if boxes.is_empty() {
            self.fail(AppError::NoFace(path));
        }
    }
}
