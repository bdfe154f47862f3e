//! The desktop app (eframe): open a photo, see its faces, restore them on a background
//! worker, compare before/after, inspect the priors, blend with a strength slider, save.
//!
//! Layout: [`DeblurApp`] owns persisted [`Settings`], runtime [`AppState`], the model
//! [`worker::Worker`] and the textures. The panels in [`panels`] only read the state and
//! return [`Command`]s; [`DeblurApp::run_cmd`] applies them. [`launch::run_app`] opens the
//! window (and implements the `--screenshot` mode).

pub mod command;
pub mod compose;
pub mod dialogs;
pub mod error;
pub mod files;
pub mod gpu;
pub mod heatmap;
pub mod launch;
mod messages;
mod models;
pub mod panels;
pub mod protocol;
pub mod state;
pub mod textures;
pub mod view;
pub mod worker;

use eframe::egui;
use std::path::PathBuf;

pub use command::Command;
pub use error::AppError;
pub use launch::{AppOptions, run_app};
pub use state::{AppState, Settings};

use dialogs::Dialogs;
use textures::Textures;
use worker::{ModelSource, Worker};

/// The app.
pub struct DeblurApp {
    settings: Settings,
    state: AppState,
    source: ModelSource,
    worker: Option<Worker>,
    textures: Textures,
    dialogs: Dialogs,
    /// Commands to run once the worker is up (e.g. the photo from the command line).
    startup: Vec<Command>,
    ctx: Option<egui::Context>,
    /// Whether settings are saved on exit.
    persist: bool,
}

impl DeblurApp {
    /// A new app with `settings`; the model worker starts on the first frame. `open` is
    /// opened then.
    pub fn new(settings: Settings, source: ModelSource, open: Option<PathBuf>) -> Self {
        Self {
            settings,
            state: AppState::default(),
            source,
            worker: None,
            textures: Textures::default(),
            dialogs: Dialogs::default(),
            startup: open.into_iter().map(Command::Open).collect(),
            ctx: None,
            persist: true,
        }
    }

    /// Persisted settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Runtime state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Whether the worker has nothing left to do (model loaded, no job in flight).
    pub fn is_idle(&self) -> bool {
        self.state.model.is_some() && self.state.jobs_in_flight == 0
    }

    /// Whether a native file dialog is showing.
    pub fn is_dialog_open(&self) -> bool {
        self.dialogs.is_open()
    }

    /// Texture pixels per photo pixel of the photo view (below 1 when the photo is larger
    /// than the GPU's texture limit and is shown downscaled).
    pub fn texture_scale(&self) -> f32 {
        self.textures.scale
    }

    /// Do not save the settings on exit (tests, screenshot mode).
    pub fn set_persist(&mut self, persist: bool) {
        self.persist = persist;
    }

    fn start_worker(&mut self, ctx: &egui::Context) {
        let mut source = self.source.clone();
        source.backend = self.settings.backend;
        self.state.model = None;
        self.state.jobs_in_flight = 0;
        self.state.busy = None;
        match Worker::spawn(source, ctx.clone()) {
            Ok(w) => self.worker = Some(w),
            Err(e) => {
                self.state.model = Some(state::ModelStatus::Failed(format!(
                    "cannot start the model thread: {e}"
                )))
            }
        }
    }

    /// Restart the worker (after a backend change); unfinished faces go back to pending.
    fn restart_worker(&mut self) {
        self.worker = None; // the old thread stops after its current job
        for f in &mut self.state.faces {
            if f.status == state::FaceStatus::Queued {
                f.status = state::FaceStatus::Pending;
            }
        }
        if let Some(ctx) = self.ctx.clone() {
            self.start_worker(&ctx);
        }
    }

    /// Draw the whole window into `ui` and apply what the user did. Used by
    /// [`eframe::App::ui`] and by tests (egui_kittest).
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        if self.ctx.is_none() {
            self.ctx = Some(ctx.clone());
            self.dialogs.set_context(&ctx);
            egui_extras_free_setup(&ctx);
            self.start_worker(&ctx);
            for cmd in std::mem::take(&mut self.startup) {
                self.run_cmd(cmd);
            }
        }
        self.poll_worker();
        for cmd in self.dialogs.poll() {
            self.run_cmd(cmd);
        }
        self.textures.sync(&ctx, &mut self.state, &self.settings);

        if self.state.view.fit
            && let Some(doc) = &self.state.doc
        {
            let size = egui::vec2(doc.photo.width() as f32, doc.photo.height() as f32);
            self.state.view.fit_to(size);
        }
        let mut cmds = Vec::new();
        panels::shortcuts(&ctx, &self.state, &mut cmds);
        panels::dropped_files(&ctx, &mut cmds);
        let view = panels::View {
            state: &self.state,
            settings: &self.settings,
            textures: &self.textures,
            dialog_open: self.dialogs.is_open(),
        };
        panels::window_ui(ui, &view, &mut cmds);
        // The canvas measured itself this frame; draw again if it moved (panels settling).
        if let Some(rect) = panels::canvas::last_canvas(&ctx)
            && rect != self.state.view.canvas
        {
            self.state.view.canvas = rect;
            ctx.request_repaint();
        }
        for cmd in cmds {
            self.run_cmd(cmd);
        }
        if self.state.busy.is_some() {
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
    }
}

/// Style tweaks for the app (dark theme, slightly larger text).
fn egui_extras_free_setup(ctx: &egui::Context) {
    ctx.set_theme(egui::Theme::Dark);
}

impl eframe::App for DeblurApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        if self.persist {
            eframe::set_value(storage, eframe::APP_KEY, &self.settings);
        }
    }

    fn persist_egui_memory(&self) -> bool {
        self.persist
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::inference::BackendChoice;

    #[derive(Default)]
    struct MemoryStorage(HashMap<String, String>);

    impl eframe::Storage for MemoryStorage {
        fn get_string(&self, key: &str) -> Option<String> {
            self.0.get(key).cloned()
        }
        fn set_string(&mut self, key: &str, value: String) {
            self.0.insert(key.into(), value);
        }
        fn remove_string(&mut self, key: &str) {
            self.0.remove(key);
        }
        fn flush(&mut self) {}
    }

    #[test]
    fn settings_persist_through_eframe_storage_and_runtime_state_does_not() {
        let settings = Settings {
            split: 0.3,
            backend: BackendChoice::Cpu,
            last_folder: Some(PathBuf::from("/photos")),
            ..Settings::default()
        };
        let mut app = DeblurApp::new(settings.clone(), ModelSource::default(), None);
        app.run_cmd(Command::SetSplit(0.7));
        app.state.notify(state::Level::Info, "runtime only");
        let mut storage = MemoryStorage::default();
        eframe::App::save(&mut app, &mut storage);
        let back: Settings = eframe::get_value(&storage, eframe::APP_KEY).unwrap();
        assert_eq!(
            back,
            Settings {
                split: 0.7,
                ..settings
            }
        );
        assert!(!storage.0[eframe::APP_KEY].contains("runtime only"));

        let mut quiet = DeblurApp::new(Settings::default(), ModelSource::default(), None);
        quiet.set_persist(false);
        let mut storage = MemoryStorage::default();
        eframe::App::save(&mut quiet, &mut storage);
        assert!(storage.0.is_empty());
    }
}
