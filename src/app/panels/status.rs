//! The status bar: compute device, model state, progress of the worker, photo facts.

use eframe::egui;
use egui::{Color32, RichText};

use super::View;
use crate::app::command::Command;
use crate::app::state::ModelStatus;

/// The bottom bar.
pub fn status_bar_ui(ui: &mut egui::Ui, view: &View<'_>, _cmds: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        match &view.state.model {
            None => {
                ui.spinner();
                ui.label("loading the model…");
            }
            Some(ModelStatus::Ready {
                device, weights, ..
            }) => {
                ui.label(
                    RichText::new(format!("Device: {device}"))
                        .color(Color32::from_rgb(90, 220, 120)),
                )
                .on_hover_text(format!("model: {weights}"));
            }
            Some(ModelStatus::Failed(e)) => {
                ui.label(
                    RichText::new("Model unavailable").color(Color32::from_rgb(255, 100, 100)),
                )
                .on_hover_text(e);
            }
        }
        ui.separator();
        if let Some(busy) = &view.state.busy {
            ui.spinner();
            let elapsed = busy.since.elapsed().as_secs_f32();
            if busy.total > 0 {
                let frac = busy.done as f32 / busy.total as f32;
                ui.add(
                    egui::ProgressBar::new(frac)
                        .desired_width(140.0)
                        .text(format!("{}/{}", busy.done, busy.total)),
                );
            }
            ui.label(format!("{} ({elapsed:.0} s)", busy.label));
        } else {
            ui.label("ready");
        }
        if let Some(doc) = &view.state.doc {
            ui.separator();
            let name = doc
                .photo
                .path
                .file_name()
                .map_or(String::new(), |n| n.to_string_lossy().into_owned());
            ui.label(format!(
                "{name} · {}×{} · {} face{}",
                doc.photo.width(),
                doc.photo.height(),
                view.state.faces.len(),
                if view.state.faces.len() == 1 { "" } else { "s" }
            ));
            if view.textures.scale < 1.0 {
                ui.label(RichText::new("(shown downscaled)").weak());
            }
        }
        if let Some(p) = &view.state.last_saved {
            ui.separator();
            ui.label(RichText::new(format!("saved {}", p.display())).weak());
        }
    });
}
