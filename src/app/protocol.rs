//! The model worker's protocol: where the models come from ([`ModelSource`]), the jobs the UI
//! sends ([`Job`]) and the messages that come back ([`WorkerMsg`], [`Outcome`]) through the
//! worker's [`Outbox`]. [`super::worker`] runs the jobs; [`super::models`] loads and runs the
//! networks and knows nothing of messages.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::mpsc::Sender;

use eframe::egui;
use image::RgbImage;

use super::error::AppError;
use super::state::{FaceId, FaceRestoration};
use crate::device::BackendChoice;
use crate::pipeline::{FaceBox, Photo, PhotoRect};

/// How the worker finds its model.
#[derive(Debug, Clone, Default)]
pub struct ModelSource {
    /// Compute backend.
    pub backend: BackendChoice,
    /// Weight file (`None` = the shipped weights).
    pub weights: Option<PathBuf>,
    /// Folder with the teacher nets (face ResNet, VGG16) for identity and teacher features
    /// (`None` = the face ResNet embedded in the binary).
    pub teacher_dir: Option<PathBuf>,
    /// egui's wgpu device registered with Burn, when the window has one the backend wants.
    pub shared_gpu: Option<super::gpu::SharedGpu>,
    /// Why the window's device could not be shared (shown as a notice).
    pub shared_gpu_error: Option<String>,
}

impl ModelSource {
    /// The same model on the CPU (after the GPU failed).
    pub fn on_cpu(&self) -> Self {
        Self {
            backend: BackendChoice::Cpu,
            shared_gpu: None,
            shared_gpu_error: None,
            ..self.clone()
        }
    }
}

/// One face to restore.
#[derive(Debug, Clone)]
pub struct FaceJob {
    /// Which face.
    pub id: FaceId,
    /// Its revision when the job was sent.
    pub revision: u64,
    /// Face number shown to the user (1-based).
    pub number: usize,
    /// The square region to restore.
    pub region: PhotoRect,
}

/// Work for the worker.
#[derive(Debug)]
pub enum Job {
    /// Load a photo and detect its faces.
    Open {
        /// The file.
        path: PathBuf,
        /// Epoch to tag the answer with.
        epoch: u64,
    },
    /// Restore faces of the open photo, one after the other.
    Restore {
        /// The photo.
        photo: Arc<Photo>,
        /// Its epoch.
        epoch: u64,
        /// The faces.
        faces: Vec<FaceJob>,
    },
    /// Save the composited result.
    Save {
        /// The photo (metadata, original path).
        photo: Arc<Photo>,
        /// The composited pixels.
        image: RgbImage,
        /// Destination.
        path: PathBuf,
        /// The user confirmed replacing the original photo.
        replace_original: bool,
    },
    /// Write face crops as PNG files.
    Export {
        /// (file, pixels) pairs.
        files: Vec<(PathBuf, RgbImage)>,
    },
}

impl Job {
    /// A copy of an open or restore job, to run again after a GPU failure (cheap: the photo
    /// is shared). Save and export jobs do not touch the GPU.
    pub(crate) fn retry_copy(&self) -> Option<Job> {
        match self {
            Job::Open { path, epoch } => Some(Job::Open {
                path: path.clone(),
                epoch: *epoch,
            }),
            Job::Restore {
                photo,
                epoch,
                faces,
            } => Some(Job::Restore {
                photo: photo.clone(),
                epoch: *epoch,
                faces: faces.clone(),
            }),
            _ => None,
        }
    }
}

/// What a finished job produced.
#[derive(Debug)]
pub enum Outcome {
    /// A photo was opened; its detected faces (best first).
    Opened {
        /// The photo.
        photo: Arc<Photo>,
        /// Epoch of the request.
        epoch: u64,
        /// Detected faces.
        faces: Vec<FaceBox>,
    },
    /// All faces of a restore job are done.
    Restored {
        /// Epoch of the request.
        epoch: u64,
        /// Faces restored.
        count: usize,
        /// Wall time.
        seconds: f32,
    },
    /// The result was written.
    Saved(PathBuf),
    /// Face crops were written.
    Exported(Vec<PathBuf>),
}

/// Messages from the worker.
#[derive(Debug)]
pub enum WorkerMsg {
    /// The model is loaded.
    Ready {
        /// Device description.
        device: String,
        /// Weights summary.
        weights: String,
        /// Why the device is not the one asked for.
        notice: Option<String>,
        /// Whether identity and teacher features are available (`Err`: why not).
        identity: Result<(), String>,
    },
    /// Step `done` of `total` of the current job.
    Progress {
        /// What is being done.
        label: String,
        /// Steps done.
        done: usize,
        /// Steps in all.
        total: usize,
    },
    /// One face is restored.
    FaceRestored {
        /// Epoch of the photo.
        epoch: u64,
        /// Which face.
        id: FaceId,
        /// Revision it was restored at.
        revision: u64,
        /// The result.
        result: Box<FaceRestoration>,
    },
    /// A job is done.
    Finished(Outcome),
    /// A job (or one face of it) failed.
    Failed {
        /// The face concerned (photo epoch, face), for restore jobs.
        face: Option<(u64, FaceId)>,
        /// What went wrong, readable.
        error: AppError,
        /// Whether the job ends with this message (no `Finished` follows).
        ends_job: bool,
    },
}

/// The worker's side of the message channel.
pub(crate) struct Outbox {
    pub(crate) tx: Sender<WorkerMsg>,
    pub(crate) ctx: egui::Context,
    pub(crate) current: Arc<AtomicU64>,
}

impl Outbox {
    /// Send a message and ask the UI to repaint.
    pub(crate) fn send(&self, msg: WorkerMsg) {
        // The UI may be gone when the window closes; nothing to do then.
        let _ = self.tx.send(msg);
        self.ctx.request_repaint();
    }
}
