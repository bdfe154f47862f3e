//! Native file dialogs (rfd) on a helper thread, so the window keeps drawing while one is
//! open. The choice comes back as a [`Command`]; cancelling gives nothing.

use eframe::egui;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};

use super::command::Command;
use crate::restore::IMAGE_EXTENSIONS;

/// A dialog that "returns" faster than this was never shown.
const NO_DIALOG_WITHIN: std::time::Duration = std::time::Duration::from_millis(150);

/// Runs one file dialog at a time and collects the resulting commands.
pub struct Dialogs {
    tx: Sender<Command>,
    rx: Receiver<Command>,
    open: Arc<AtomicBool>,
    unavailable: Arc<AtomicBool>,
    ctx: Option<egui::Context>,
}

impl Default for Dialogs {
    fn default() -> Self {
        let (tx, rx) = channel();
        Self {
            tx,
            rx,
            open: Arc::new(AtomicBool::new(false)),
            unavailable: Arc::new(AtomicBool::new(false)),
            ctx: None,
        }
    }
}

impl Dialogs {
    /// Set the context to repaint when a dialog closes.
    pub fn set_context(&mut self, ctx: &egui::Context) {
        self.ctx = Some(ctx.clone());
    }

    /// Whether a dialog is showing.
    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::SeqCst)
    }

    /// Whether a dialog has been found not to work on this system (then Save As and Export
    /// write next to the original instead).
    pub fn unavailable(&self) -> bool {
        self.unavailable.load(Ordering::SeqCst)
    }

    /// Commands from dialogs closed since the last call.
    pub fn poll(&self) -> Vec<Command> {
        self.rx.try_iter().collect()
    }

    /// Ask for a photo to open.
    pub fn open(&self, folder: Option<PathBuf>) {
        self.spawn(move || {
            let mut d = rfd::FileDialog::new()
                .set_title("Open photo")
                .add_filter("Images", &IMAGE_EXTENSIONS);
            if let Some(f) = folder {
                d = d.set_directory(f);
            }
            d.pick_file().map(Command::Open)
        });
    }

    /// Ask where to save the result.
    pub fn save(&self, folder: Option<PathBuf>, name: String) {
        self.spawn(move || {
            let mut d = rfd::FileDialog::new()
                .set_title("Save restored photo")
                .add_filter("PNG", &["png"])
                .add_filter("JPEG", &["jpg", "jpeg"])
                .add_filter("WebP", &["webp"])
                .set_file_name(name);
            if let Some(f) = folder {
                d = d.set_directory(f);
            }
            d.save_file().map(Command::SaveAs)
        });
    }

    /// Ask for a folder to export face crops into.
    pub fn export(&self, folder: Option<PathBuf>) {
        self.spawn(move || {
            let mut d = rfd::FileDialog::new().set_title("Export face crops to folder");
            if let Some(f) = folder {
                d = d.set_directory(f);
            }
            d.pick_folder().map(Command::ExportTo)
        });
    }

    fn spawn(&self, show: impl FnOnce() -> Option<Command> + Send + 'static) {
        if self.open.swap(true, Ordering::SeqCst) {
            return; // one dialog at a time
        }
        let (tx, open, ctx) = (self.tx.clone(), self.open.clone(), self.ctx.clone());
        let unavailable = self.unavailable.clone();
        let spawned = std::thread::Builder::new()
            .name("face-deblur-dialog".into())
            .spawn(move || {
                let shown = std::time::Instant::now();
                match show() {
                    Some(cmd) => {
                        let _ = tx.send(cmd);
                    }
                    // rfd's portal backend returns "cancelled" at once when there is no
                    // xdg-desktop-portal; nobody cancels a real dialog that fast.
                    None if shown.elapsed() < NO_DIALOG_WITHIN => {
                        unavailable.store(true, Ordering::SeqCst);
                        let _ = tx.send(Command::NoDialog);
                    }
                    None => {}
                }
                open.store(false, Ordering::SeqCst);
                if let Some(ctx) = ctx {
                    ctx.request_repaint();
                }
            });
        if spawned.is_err() {
            self.open.store(false, Ordering::SeqCst);
        }
    }
}
