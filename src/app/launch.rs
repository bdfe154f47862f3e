//! Opening the window (`face-deblur gui [IMAGE]`) and the `--screenshot OUT.png` mode: open
//! the image, restore its faces, render the window once everything settled, write the
//! screenshot and exit.

use eframe::egui;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};

use super::state::{FaceStatus, Identity, Level, ModelStatus};
use super::worker::ModelSource;
use super::{Command, DeblurApp, Settings};
use crate::inference::BackendChoice;
use crate::model::teacher::SAME_PERSON_DISTANCE;

/// How long the screenshot mode waits for restoration before it takes the picture anyway.
const SCREENSHOT_TIMEOUT: Duration = Duration::from_secs(600);

/// Frames drawn after the faces are restored before the screenshot (the last 20 are timed
/// as the idle frame rate).
const SETTLE_FRAMES: u32 = 25;

/// Options of `face-deblur gui`.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// Photo to open at start.
    pub image: Option<PathBuf>,
    /// Screenshot mode: write the window as a PNG here and exit.
    pub screenshot: Option<PathBuf>,
    /// Backend for this run (overrides the saved setting).
    pub backend: Option<BackendChoice>,
    /// Weight file (default: the shipped weights).
    pub weights: Option<PathBuf>,
    /// Folder with the teacher nets for identity and teacher features (`None` = the face
    /// ResNet embedded in the binary).
    pub teacher_dir: Option<PathBuf>,
    /// Initial window size in points.
    pub window_size: [f32; 2],
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            image: None,
            screenshot: None,
            backend: None,
            weights: None,
            teacher_dir: None,
            window_size: [1400.0, 900.0],
        }
    }
}

type Outcome = Arc<Mutex<Option<Result<PathBuf, String>>>>;

/// Open the window and run until it is closed (or, in screenshot mode, until the screenshot
/// is written).
pub fn run_app(options: AppOptions) -> anyhow::Result<()> {
    let screenshot = options.screenshot.clone();
    let mut native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("face-deblur")
            .with_app_id("face-deblur")
            .with_inner_size(options.window_size)
            .with_min_inner_size([640.0, 420.0])
            .with_drag_and_drop(true),
        persist_window: screenshot.is_none(),
        renderer: eframe::Renderer::Wgpu,
        ..Default::default()
    };
    super::gpu::configure(&mut native.wgpu_options);
    let outcome: Outcome = Arc::default();
    let outcome_app = outcome.clone();
    eframe::run_native(
        "face-deblur",
        native,
        Box::new(move |cc| {
            let mut settings: Settings = match (&options.screenshot, cc.storage) {
                (None, Some(storage)) => {
                    eframe::get_value(storage, eframe::APP_KEY).unwrap_or_default()
                }
                _ => Settings::default(),
            };
            if let Some(b) = options.backend {
                settings.backend = b;
            }
            let shared = cc
                .wgpu_render_state
                .as_ref()
                .and_then(|rs| super::gpu::shared_gpu(rs, settings.backend));
            let (shared_gpu, shared_gpu_error) = match shared {
                Some(Ok(gpu)) => (Some(gpu), None),
                Some(Err(e)) => (None, Some(e)),
                None => (None, None),
            };
            let source = ModelSource {
                backend: settings.backend,
                weights: options.weights.clone(),
                teacher_dir: options.teacher_dir.clone(),
                shared_gpu,
                shared_gpu_error,
            };
            let mut app = DeblurApp::new(settings, source, options.image.clone());
            Ok(match options.screenshot {
                Some(out) => {
                    app.set_persist(false);
                    Box::new(ScreenshotApp::new(app, out, outcome_app)) as Box<dyn eframe::App>
                }
                None => Box::new(app),
            })
        }),
    )
    .map_err(|e| anyhow!("cannot open the window: {e}"))?;
    match screenshot {
        None => Ok(()),
        Some(out) => match outcome.lock().map(|mut o| o.take()) {
            Ok(Some(Ok(_))) => Ok(()),
            Ok(Some(Err(e))) => Err(anyhow!(e)),
            _ => Err(anyhow!(
                "the window closed before the screenshot {} was written",
                out.display()
            )),
        },
    }
}

/// Where the screenshot mode stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the model and the photo.
    Opening,
    /// Waiting for the faces to be restored.
    Restoring,
    /// Letting textures and layout settle for a few frames.
    Settling(u32),
    /// Screenshot requested.
    Capturing,
    /// Written; closing.
    Done,
}

/// Wraps the app and drives it to a screenshot.
struct ScreenshotApp {
    app: DeblurApp,
    out: PathBuf,
    outcome: Outcome,
    phase: Phase,
    frames: u64,
    start: Instant,
    shot: Option<Receiver<Arc<egui::ColorImage>>>,
    /// Frame timing while the faces restore: (start, frames, longest gap, last frame).
    restoring: Option<(Instant, u64, Duration, Instant)>,
    /// Frame timing once everything is restored: (start, frames).
    settling: Option<(Instant, u64)>,
}

impl ScreenshotApp {
    fn new(app: DeblurApp, out: PathBuf, outcome: Outcome) -> Self {
        Self {
            app,
            out,
            outcome,
            phase: Phase::Opening,
            frames: 0,
            start: Instant::now(),
            shot: None,
            restoring: None,
            settling: None,
        }
    }

    fn advance(&mut self, ctx: &egui::Context) {
        let timed_out = self.start.elapsed() > SCREENSHOT_TIMEOUT;
        let idle = self.frames > 2 && self.app.is_idle();
        self.phase = match self.phase {
            Phase::Opening if timed_out => Phase::Settling(0),
            Phase::Opening if idle => {
                let state = self.app.state();
                let model_ok = matches!(state.model, Some(ModelStatus::Ready { .. }));
                let pending = state.faces.iter().any(|f| f.status == FaceStatus::Pending);
                if let Some(ModelStatus::Ready { device, .. }) = &state.model {
                    println!("model device: {device}");
                }
                if model_ok && pending {
                    self.app.run_cmd(Command::RestoreAll);
                    let now = Instant::now();
                    self.restoring = Some((now, 0, Duration::ZERO, now));
                    Phase::Restoring
                } else {
                    Phase::Settling(0)
                }
            }
            Phase::Restoring if idle || timed_out => {
                if let Some((start, frames, longest, _)) = self.restoring.take() {
                    let secs = start.elapsed().as_secs_f64();
                    println!(
                        "ui while restoring: {frames} frames in {secs:.2} s = {:.1} fps \
                         (longest frame gap {:.0} ms)",
                        frames as f64 / secs.max(1e-9),
                        longest.as_secs_f64() * 1000.0
                    );
                }
                for line in face_lines(self.app.state()) {
                    println!("{line}");
                }
                Phase::Settling(0)
            }
            Phase::Restoring => {
                if let Some((_, frames, longest, last)) = &mut self.restoring {
                    *frames += 1;
                    *longest = (*longest).max(last.elapsed());
                    *last = Instant::now();
                }
                // Redraw as fast as the UI thread can, to measure its frame rate.
                ctx.request_repaint();
                Phase::Restoring
            }
            Phase::Settling(n) if n >= SETTLE_FRAMES => {
                if let Some((start, frames)) = self.settling.take() {
                    let secs = start.elapsed().as_secs_f64();
                    println!(
                        "ui idle: {frames} frames in {secs:.2} s = {:.1} fps",
                        frames as f64 / secs.max(1e-9)
                    );
                }
                let (tx, rx) = channel();
                ctx.request_screenshot(move |img| {
                    let _ = tx.send(img);
                });
                self.shot = Some(rx);
                Phase::Capturing
            }
            Phase::Settling(n) => {
                // The first frames after restoring upload textures; time the rest.
                if n == 4 {
                    self.settling = Some((Instant::now(), 0));
                } else if let Some((_, frames)) = &mut self.settling {
                    *frames += 1;
                }
                ctx.request_repaint();
                Phase::Settling(n + 1)
            }
            Phase::Capturing => match self.shot.as_ref().and_then(|rx| rx.try_recv().ok()) {
                Some(img) => {
                    let errors: Vec<&str> = self
                        .app
                        .state()
                        .notices
                        .iter()
                        .filter(|n| n.level == Level::Error)
                        .map(|n| n.text.as_str())
                        .collect();
                    let result = match write_png(&img, &self.out) {
                        Err(e) => Err(format!("{e:#}")),
                        Ok(()) if errors.is_empty() => Ok(self.out.clone()),
                        Ok(()) => Err(format!(
                            "screenshot written to {}, but the window shows errors: {}",
                            self.out.display(),
                            errors.join("; ")
                        )),
                    };
                    if let Ok(mut o) = self.outcome.lock() {
                        *o = Some(result);
                    }
                    ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                    Phase::Done
                }
                None => Phase::Capturing,
            },
            other => other,
        };
    }
}

impl eframe::App for ScreenshotApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.app.show(ui);
        self.frames += 1;
        self.advance(&ui.ctx().clone());
        if self.phase != Phase::Done {
            ui.ctx().request_repaint_after(Duration::from_millis(30));
        }
    }

    fn persist_egui_memory(&self) -> bool {
        false
    }
}

/// One line per face for the screenshot mode's stdout: its identity distance (input vs restored,
/// dlib embedding) or why there is none, so a script can check that the identity net ran.
fn face_lines(state: &super::state::AppState) -> Vec<String> {
    state
        .faces
        .iter()
        .enumerate()
        .map(|(i, face)| {
            let n = i + 1;
            match (&face.status, &face.result) {
                (FaceStatus::Restored, Some(r)) => match &r.identity {
                    Identity::Distance(d) => format!(
                        "face {n}: restored in {:.2} s, identity distance {d:.3} ({})",
                        r.seconds,
                        if *d < SAME_PERSON_DISTANCE {
                            "same person"
                        } else {
                            "may look like another person"
                        }
                    ),
                    Identity::Unavailable(why) => format!(
                        "face {n}: restored in {:.2} s, identity distance unavailable: {why}",
                        r.seconds
                    ),
                },
                (FaceStatus::Failed(e), _) => format!("face {n}: failed: {e}"),
                (status, _) => format!("face {n}: not restored ({status:?})"),
            }
        })
        .collect()
}

/// Write an egui screenshot as an RGB PNG (atomically).
pub fn write_png(img: &egui::ColorImage, path: &Path) -> anyhow::Result<()> {
    let [w, h] = img.size;
    let rgb: Vec<u8> = img
        .pixels
        .iter()
        .flat_map(|p| {
            let [r, g, b, _] = p.to_array();
            [r, g, b]
        })
        .collect();
    let buf = image::RgbImage::from_raw(w as u32, h as u32, rgb)
        .context("screenshot has the wrong number of pixels")?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    crate::fsutil::write_atomic_with(path, |out| buf.write_to(out, image::ImageFormat::Png))
        .with_context(|| format!("cannot write {}", path.display()))
}
