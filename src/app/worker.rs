//! The model worker: one named thread ("face-deblur-model") that owns the compute device, the
//! restorer, the face detector and the identity/teacher net. Jobs go in through a channel;
//! messages come out through another, with a repaint request after each, so the UI never
//! waits on the network.
//!
//! TODO(gpu): the model runs on the device from [`select_device`] (the flex CPU backend when
//! there is no hardware GPU). On a real GPU, Burn could share egui's own wgpu device
//! (`eframe::Frame::wgpu_render_state()`) instead of opening a second one; not done yet.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Instant;

use burn::prelude::*;
use image::RgbImage;

use super::error::AppError;
use super::state::{FaceId, FaceRestoration, Identity};
use crate::inference::{BackendChoice, PriorMaps, Restorer, select_device, to_signed_chw_padded};
use crate::model::teacher::{FACE_RESNET_FILE, FaceResnet};
use crate::model::{Teacher, TeacherKind};
use crate::pipeline::{
    DEFAULT_FEATHER, DetectorConfig, FaceBox, FaceDetector, Photo, PhotoError, PhotoRect,
    crop_region, load_photo, save_photo,
};
use crate::restore::WORKING_SIZE;

/// How the worker finds its model.
#[derive(Debug, Clone, Default)]
pub struct ModelSource {
    /// Compute backend.
    pub backend: BackendChoice,
    /// Weight file (`None` = the shipped weights).
    pub weights: Option<PathBuf>,
    /// Folder with the face ResNet (identity and teacher features); optional.
    pub teacher_dir: Option<PathBuf>,
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

/// Handle to the worker thread; dropping it stops the thread after its current job.
pub struct Worker {
    jobs: Sender<Job>,
    messages: Receiver<WorkerMsg>,
}

impl Worker {
    /// Start the worker thread; it loads the model first. `ctx` is asked to repaint after
    /// every message.
    pub fn spawn(source: ModelSource, ctx: egui::Context) -> std::io::Result<Self> {
        let (job_tx, job_rx) = channel();
        let (msg_tx, msg_rx) = channel();
        std::thread::Builder::new()
            .name("face-deblur-model".into())
            .spawn(move || run(source, job_rx, Outbox { tx: msg_tx, ctx }))?;
        Ok(Self {
            jobs: job_tx,
            messages: msg_rx,
        })
    }

    /// Queue a job; `Err` if the thread is gone.
    pub fn send(&self, job: Job) -> Result<(), AppError> {
        self.jobs.send(job).map_err(|_| AppError::WorkerGone)
    }

    /// Messages that arrived since the last call.
    pub fn poll(&self) -> Vec<WorkerMsg> {
        self.messages.try_iter().collect()
    }
}

struct Outbox {
    tx: Sender<WorkerMsg>,
    ctx: egui::Context,
}

impl Outbox {
    fn send(&self, msg: WorkerMsg) {
        // The UI may be gone when the window closes; nothing to do then.
        let _ = self.tx.send(msg);
        self.ctx.request_repaint();
    }
}

/// Everything the worker owns.
struct Models {
    device: Device,
    restorer: Result<Restorer, String>,
    detector: Result<FaceDetector, String>,
    teacher: Option<Teacher>,
    /// The identity net when the teacher is not the face ResNet.
    identity_net: Option<FaceResnet>,
    identity_error: Option<String>,
}

impl Models {
    fn load(source: &ModelSource, out: &Outbox) -> Self {
        let compute = select_device(source.backend);
        let device = compute.device.clone();
        let restorer = crate::cli::load_restorer(source.weights.as_deref(), &device)
            .map_err(|e| format!("{e:#}"));
        let detector = FaceDetector::new(DetectorConfig::default()).map_err(|e| e.to_string());
        let kind = restorer
            .as_ref()
            .map(|r| r.info().teacher)
            .unwrap_or(TeacherKind::FaceResnet);
        let (teacher, identity_net, identity_error) = match &source.teacher_dir {
            None => (None, None, Some("no folder with the face ResNet given".into())),
            Some(dir) => load_teacher(kind, dir, &device),
        };
        match &restorer {
            Ok(r) => out.send(WorkerMsg::Ready {
                device: compute.description.clone(),
                weights: format!(
                    "{} ({} steps, {:?} teacher)",
                    source
                        .weights
                        .as_deref()
                        .map_or("shipped weights".into(), |p| p.display().to_string()),
                    r.info().trained_steps,
                    r.info().teacher
                ),
                notice: compute.notice.clone(),
                identity: identity_error.clone().map_or(Ok(()), Err),
            }),
            Err(e) => out.send(WorkerMsg::Failed {
                face: None,
                error: AppError::Model(e.clone()),
                ends_job: false,
            }),
        }
        Self {
            device,
            restorer,
            detector,
            teacher,
            identity_net,
            identity_error,
        }
    }

    fn identity_net(&self) -> Option<&FaceResnet> {
        match &self.teacher {
            Some(Teacher::FaceResnet(net)) => Some(net),
            _ => self.identity_net.as_ref(),
        }
    }

    fn signed(&self, img: &RgbImage) -> Tensor<4> {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let data = to_signed_chw_padded(img, w, h);
        Tensor::from_data(TensorData::new(data, [1, 3, h, w]), &self.device)
    }

    /// Restore one face: crop, network, identity distance and teacher features.
    fn restore(&self, photo: &Photo, region: PhotoRect) -> Result<FaceRestoration, String> {
        let restorer = self.restorer.as_ref().map_err(Clone::clone)?;
        let crop = crop_region(&photo.rgb_u8, region, WORKING_SIZE, DEFAULT_FEATHER)
            .map_err(|e| e.to_string())?;
        let start = Instant::now();
        let restored = restorer.restore(&crop.image);
        let seconds = start.elapsed().as_secs_f32();
        let identity = match self.identity_net() {
            Some(net) => {
                let a = net.embed_signed(self.signed(&crop.image));
                let b = net.embed_signed(self.signed(&restored.image));
                let d: Vec<f32> = (a - b)
                    .square()
                    .sum_dim(1)
                    .sqrt()
                    .into_data()
                    .try_to_vec()
                    .unwrap_or_default();
                match d.first() {
                    Some(&d) if d.is_finite() => Identity::Distance(d),
                    _ => Identity::Unavailable("the identity net gave no distance".into()),
                }
            }
            None => Identity::Unavailable(
                self.identity_error
                    .clone()
                    .unwrap_or_else(|| "no identity net".into()),
            ),
        };
        let teacher = self
            .teacher
            .as_ref()
            .map(|t| prior_maps(t.priors(self.signed(&restored.image))));
        Ok(FaceRestoration {
            crop,
            restored,
            teacher,
            identity,
            seconds,
        })
    }
}

fn load_teacher(
    kind: TeacherKind,
    dir: &Path,
    device: &Device,
) -> (Option<Teacher>, Option<FaceResnet>, Option<String>) {
    let teacher = Teacher::load(kind, dir, device);
    let identity = match (&teacher, kind) {
        (Ok(_), TeacherKind::FaceResnet) => Ok(None),
        _ => FaceResnet::load(&dir.join(FACE_RESNET_FILE), device).map(Some),
    };
    match identity {
        Ok(net) => (teacher.ok(), net, None),
        Err(e) => (
            teacher.ok(),
            None,
            Some(format!("face ResNet not available ({e}); identity is not measured")),
        ),
    }
}

/// Teacher feature tensors `[1, C, H, W]` as prior maps (no CA weights).
fn prior_maps(tensors: Vec<Tensor<4>>) -> Vec<PriorMaps> {
    tensors
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let [_, c, h, w] = t.dims();
            PriorMaps {
                level: i + 1,
                channels: c,
                size: [h, w],
                values: t.into_data().try_to_vec::<f32>().unwrap_or_default(),
                channel_weights: None,
            }
        })
        .collect()
}

fn run(source: ModelSource, jobs: Receiver<Job>, out: Outbox) {
    let models = Models::load(&source, &out);
    for job in jobs {
        match job {
            Job::Open { path, epoch } => open(&models, &path, epoch, &out),
            Job::Restore {
                photo,
                epoch,
                faces,
            } => restore(&models, &photo, epoch, &faces, &out),
            Job::Save {
                photo,
                image,
                path,
                replace_original,
            } => match save(&photo, &image, &path, replace_original) {
                Ok(()) => out.send(WorkerMsg::Finished(Outcome::Saved(path))),
                Err(error) => out.send(WorkerMsg::Failed {
                    face: None,
                    error,
                    ends_job: true,
                }),
            },
            Job::Export { files } => export(files, &out),
        }
    }
}

fn open(models: &Models, path: &Path, epoch: u64, out: &Outbox) {
    out.send(WorkerMsg::Progress {
        label: format!("opening {}", path.display()),
        done: 0,
        total: 0,
    });
    let photo = match load_photo(path) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            return out.send(WorkerMsg::Failed {
                face: None,
                error: AppError::Open(e),
                ends_job: true,
            });
        }
    };
    let faces = match &models.detector {
        Ok(d) => d.detect(&photo.rgb_u8),
        Err(e) => {
            out.send(WorkerMsg::Failed {
                face: None,
                error: AppError::Detector(e.clone()),
                ends_job: false,
            });
            Vec::new()
        }
    };
    out.send(WorkerMsg::Finished(Outcome::Opened {
        photo,
        epoch,
        faces,
    }));
}

fn restore(models: &Models, photo: &Photo, epoch: u64, faces: &[FaceJob], out: &Outbox) {
    let start = Instant::now();
    let mut count = 0;
    for (k, f) in faces.iter().enumerate() {
        out.send(WorkerMsg::Progress {
            label: format!("restoring face {}", f.number),
            done: k,
            total: faces.len(),
        });
        match models.restore(photo, f.region) {
            Ok(result) => {
                count += 1;
                out.send(WorkerMsg::FaceRestored {
                    epoch,
                    id: f.id,
                    revision: f.revision,
                    result: Box::new(result),
                });
            }
            Err(reason) => out.send(WorkerMsg::Failed {
                face: Some((epoch, f.id)),
                error: AppError::Restore {
                    face: f.number,
                    reason,
                },
                ends_job: false,
            }),
        }
    }
    out.send(WorkerMsg::Finished(Outcome::Restored {
        epoch,
        count,
        seconds: start.elapsed().as_secs_f32(),
    }));
}

/// Save `image`; with `replace_original`, write next to the original and rename over it
/// (`save_photo` itself never overwrites its input).
fn save(photo: &Photo, image: &RgbImage, path: &Path, replace_original: bool) -> Result<(), AppError> {
    match save_photo(photo, image, path) {
        Err(PhotoError::WouldOverwriteInput { .. }) if replace_original => {
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("png");
            let tmp = path.with_extension(format!("face-deblur-tmp.{ext}"));
            save_photo(photo, image, &tmp).map_err(AppError::Save)?;
            std::fs::rename(&tmp, path).map_err(|source| {
                let _ = std::fs::remove_file(&tmp);
                AppError::Replace {
                    path: path.to_path_buf(),
                    source,
                }
            })
        }
        other => other.map_err(AppError::Save),
    }
}

fn export(files: Vec<(PathBuf, RgbImage)>, out: &Outbox) {
    let mut written = Vec::new();
    for (path, img) in files {
        let mut bytes = Vec::new();
        let result = img
            .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
            .map_err(|e| e.to_string())
            .and_then(|()| crate::fsutil::write_atomic(&path, &bytes).map_err(|e| e.to_string()));
        match result {
            Ok(()) => written.push(path),
            Err(reason) => {
                return out.send(WorkerMsg::Failed {
                    face: None,
                    error: AppError::Export { path, reason },
                    ends_job: true,
                });
            }
        }
    }
    out.send(WorkerMsg::Finished(Outcome::Exported(written)));
}
