//! The model worker: one named thread ("face-deblur-model") that owns the compute device, the
//! restorer, the face detector and the identity/teacher net. Jobs go in through a channel;
//! messages come out through another, with a repaint request after each, so the UI never
//! waits on the network.
//!
//! The worker computes on egui's own wgpu device when [`super::gpu::shared_gpu`] registered it
//! with Burn (a hardware GPU, or a GPU the user asked for), else on the device from
//! [`crate::inference::select_device`] (flex on the CPU).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::time::Instant;

use eframe::egui;
use image::RgbImage;

use super::error::AppError;
use super::models::{LoadReport, Models};
pub(crate) use super::protocol::Outbox;
pub use super::protocol::{FaceJob, Job, ModelSource, Outcome, WorkerMsg};
use crate::pipeline::{Photo, PhotoError, load_photo, save_photo, save_photo_over_input};

/// Handle to the worker thread; dropping it stops the thread after its current job.
pub struct Worker {
    jobs: Sender<Job>,
    messages: Receiver<WorkerMsg>,
    /// Epoch of the photo the UI shows; restore jobs of older photos stop early.
    current: Arc<AtomicU64>,
}

impl Worker {
    /// Start the worker thread; it loads the model first. `ctx` is asked to repaint after
    /// every message.
    pub fn spawn(source: ModelSource, ctx: egui::Context) -> std::io::Result<Self> {
        let (job_tx, job_rx) = channel();
        let (msg_tx, msg_rx) = channel();
        let current = Arc::new(AtomicU64::new(0));
        let outbox = Outbox {
            tx: msg_tx,
            ctx,
            current: current.clone(),
        };
        std::thread::Builder::new()
            .name("face-deblur-model".into())
            .spawn(move || run(source, job_rx, outbox))?;
        Ok(Self {
            jobs: job_tx,
            messages: msg_rx,
            current,
        })
    }

    /// Tell the worker that photo `epoch` is being opened: faces of older photos still
    /// waiting to be restored are skipped.
    pub fn set_current_epoch(&self, epoch: u64) {
        self.current.fetch_max(epoch, Ordering::SeqCst);
    }

    /// Queue a job; `Err` if the thread is gone.
    pub fn send(&self, job: Job) -> Result<(), AppError> {
        self.jobs.send(job).map_err(|_| AppError::WorkerGone)
    }

    /// Messages that arrived since the last call, and whether the thread is still alive.
    pub fn poll(&self) -> (Vec<WorkerMsg>, bool) {
        let mut messages = Vec::new();
        loop {
            match self.messages.try_recv() {
                Ok(m) => messages.push(m),
                Err(TryRecvError::Empty) => return (messages, true),
                Err(TryRecvError::Disconnected) => return (messages, false),
            }
        }
    }
}

/// Threads the CPU model may use: all cores but one, so the window keeps a core to draw on
/// (a software-rendered window needs it), unless `FACE_DEBLUR_MODEL_THREADS` says otherwise.
pub fn model_threads() -> usize {
    if let Some(n) = std::env::var("FACE_DEBLUR_MODEL_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
    {
        return n;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.saturating_sub(1).max(1)
}

fn run(source: ModelSource, jobs: Receiver<Job>, out: Outbox) {
    let models = load(&source, &out);
    serve(models, &source, jobs, &out);
}

/// Load the models and tell the UI how it went.
fn load(source: &ModelSource, out: &Outbox) -> Models {
    let (models, report) = Models::load(source);
    out.send(ready_message(report));
    models
}

/// The message for a model load: `Ready`, or `Failed` when the restorer did not load.
fn ready_message(report: LoadReport) -> WorkerMsg {
    match report.weights {
        Ok(weights) => WorkerMsg::Ready {
            device: report.device,
            weights,
            notice: report.notice,
            identity: report.identity,
        },
        Err(e) => WorkerMsg::Failed {
            face: None,
            error: AppError::Model(e),
            ends_job: false,
        },
    }
}

/// Do the jobs until the UI hangs up. A job that panics is reported; when it panicked on a
/// GPU (device lost, driver reset, out of GPU memory, a kernel the adapter cannot run: the
/// compute backend panics on all of these), the models are reloaded on the CPU and an open or
/// restore job is run again there, so the user loses nothing.
fn serve(mut models: Models, source: &ModelSource, jobs: Receiver<Job>, out: &Outbox) {
    // The flex CPU backend parallelises with rayon: running the jobs inside a smaller pool
    // leaves the UI thread a core of its own.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(model_threads())
        .thread_name(|i| format!("face-deblur-model-{i}"))
        .build()
        .ok();
    for job in jobs {
        let retry = job.retry_copy();
        let Err(what) = run_guarded(&models, pool.as_ref(), job, out) else {
            continue;
        };
        if !models.on_gpu {
            out.send(WorkerMsg::Failed {
                face: None,
                error: AppError::Internal(what),
                ends_job: true,
            });
            continue;
        }
        tracing::warn!("the GPU failed ({what}); reloading the model on the CPU");
        out.send(WorkerMsg::Failed {
            face: None,
            error: AppError::GpuFailed(what),
            ends_job: retry.is_none(),
        });
        models = load(&source.on_cpu(), out);
        if let Some(job) = retry
            && let Err(what) = run_guarded(&models, pool.as_ref(), job, out)
        {
            out.send(WorkerMsg::Failed {
                face: None,
                error: AppError::Internal(what),
                ends_job: true,
            });
        }
    }
}

/// Run one job; a panic in it (a bug, or a failing GPU) comes back as its message instead of
/// taking the worker, and the model, down with it.
fn run_guarded(
    models: &Models,
    pool: Option<&rayon::ThreadPool>,
    job: Job,
    out: &Outbox,
) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(|| match pool {
        Some(pool) => pool.install(|| run_job(models, job, out)),
        None => run_job(models, job, out),
    }))
    .map_err(|panic| {
        panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into())
    })
}

fn run_job(models: &Models, job: Job, out: &Outbox) {
    #[cfg(test)]
    if models.simulate_failure {
        panic!("simulated device failure");
    }
    match job {
        Job::Open { path, epoch } => open(models, &path, epoch, out),
        Job::Restore {
            photo,
            epoch,
            faces,
        } => restore(models, &photo, epoch, &faces, out),
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
        Job::Export { files } => export(files, out),
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
        if out.current.load(Ordering::SeqCst) > epoch {
            break; // another photo was opened meanwhile
        }
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

/// Save `image`; with `replace_original` (the user confirmed it) the original photo itself
/// may be the destination, replaced atomically like any output (`save_photo` alone never
/// overwrites its input).
fn save(
    photo: &Photo,
    image: &RgbImage,
    path: &Path,
    replace_original: bool,
) -> Result<(), AppError> {
    match save_photo(photo, image, path) {
        Err(PhotoError::WouldOverwriteInput { .. }) if replace_original => {
            save_photo_over_input(photo, image, path).map_err(AppError::Save)
        }
        other => other.map_err(AppError::Save),
    }
}

fn export(files: Vec<(PathBuf, RgbImage)>, out: &Outbox) {
    let mut written = Vec::new();
    for (path, img) in files {
        let result = crate::fsutil::write_atomic_with(&path, |out| {
            img.write_to(out, image::ImageFormat::Png)
        })
        .map_err(|e| e.to_string());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::BackendChoice;

    /// Serve `jobs` with models that panic in every job (`on_gpu`: as if on a GPU).
    fn serve_failing(on_gpu: bool, jobs: Vec<Job>) -> Vec<WorkerMsg> {
        let source = ModelSource {
            backend: BackendChoice::Cpu,
            ..Default::default()
        };
        let (tx, rx) = channel();
        let out = Outbox {
            tx,
            ctx: egui::Context::default(),
            current: Arc::new(AtomicU64::new(0)),
        };
        let mut models = load(&source, &out);
        assert!(matches!(rx.try_recv(), Ok(WorkerMsg::Ready { .. })));
        models.on_gpu = on_gpu;
        models.simulate_failure = true;
        let (job_tx, job_rx) = channel();
        for job in jobs {
            job_tx.send(job).unwrap();
        }
        drop(job_tx);
        serve(models, &source, job_rx, &out);
        rx.try_iter().collect()
    }

    fn open_missing() -> Job {
        Job::Open {
            path: PathBuf::from("/nonexistent/photo.jpg"),
            epoch: 7,
        }
    }

    #[test]
    fn a_gpu_failure_reloads_the_model_on_the_cpu_and_runs_the_job_again() {
        let m = serve_failing(true, vec![open_missing()]);
        assert!(
            matches!(&m[0], WorkerMsg::Failed { error: AppError::GpuFailed(w), ends_job: false, .. }
                if w.contains("simulated")),
            "{m:?}"
        );
        match &m[1] {
            WorkerMsg::Ready { device, .. } => assert_eq!(device, "CPU (flex)"),
            other => panic!("expected Ready on the CPU, got {other:?}"),
        }
        // The open job ran again on the CPU models (which do not fail): it reports the
        // missing file and ends the job.
        assert!(
            matches!(
                &m[2..],
                [
                    WorkerMsg::Progress { .. },
                    WorkerMsg::Failed {
                        error: AppError::Open(_),
                        ends_job: true,
                        ..
                    }
                ]
            ),
            "{m:?}"
        );
    }

    #[test]
    fn a_failure_on_the_cpu_is_reported_once_per_job_and_the_worker_goes_on() {
        let m = serve_failing(false, vec![open_missing(), open_missing()]);
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(m.iter().all(|m| matches!(
            m,
            WorkerMsg::Failed {
                error: AppError::Internal(_),
                ends_job: true,
                ..
            }
        )));
    }

    #[test]
    fn only_jobs_that_use_the_models_are_run_again() {
        assert!(matches!(
            open_missing().retry_copy(),
            Some(Job::Open { epoch: 7, .. })
        ));
        assert!(Job::Export { files: Vec::new() }.retry_copy().is_none());
    }
}
