//! Menu bar (File, View, Compute) and the compare/zoom toolbar above the photo.

use super::View;
use crate::app::command::Command;
use crate::app::state::{CompareMode, FaceStatus};
use crate::inference::BackendChoice;
use eframe::egui;

/// The menu bar.
pub fn menu_bar_ui(ui: &mut egui::Ui, view: &View<'_>, cmds: &mut Vec<Command>) {
    let has_doc = view.state.doc.is_some();
    let any_restored = view
        .state
        .faces
        .iter()
        .any(|f| f.status == FaceStatus::Restored);
    egui::MenuBar::new().ui(ui, |ui| {
        ui.menu_button("File", |ui| {
            if ui
                .add_enabled(
                    !view.dialog_open,
                    egui::Button::new("Open…").shortcut_text("Ctrl+O"),
                )
                .clicked()
            {
                cmds.push(Command::OpenDialog);
            }
            if ui
                .add_enabled(
                    has_doc && !view.dialog_open,
                    egui::Button::new("Save As…").shortcut_text("Ctrl+S"),
                )
                .clicked()
            {
                cmds.push(Command::SaveAsDialog);
            }
            if ui
                .add_enabled(
                    any_restored && !view.dialog_open,
                    egui::Button::new("Export face crops…").shortcut_text("Ctrl+E"),
                )
                .clicked()
            {
                cmds.push(Command::ExportDialog);
            }
            ui.separator();
            if ui
                .add(egui::Button::new("Quit").shortcut_text("Ctrl+Q"))
                .clicked()
            {
                cmds.push(Command::Quit);
            }
        });
        ui.menu_button("View", |ui| {
            for (mode, label, key) in [
                (CompareMode::Split, "Before | after split", "S"),
                (CompareMode::Before, "Before", "B"),
                (CompareMode::After, "After", "B"),
            ] {
                let b =
                    egui::Button::selectable(view.state.compare == mode, label).shortcut_text(key);
                if ui.add(b).clicked() {
                    cmds.push(Command::SetCompare(mode));
                }
            }
            ui.separator();
            let b = egui::Button::selectable(view.settings.show_boxes, "Face boxes");
            if ui.add(b).clicked() {
                cmds.push(Command::ToggleBoxes);
            }
            if ui
                .add(egui::Button::new("Zoom to fit").shortcut_text("0"))
                .clicked()
            {
                cmds.push(Command::Fit);
            }
            if ui
                .add(egui::Button::new("Actual pixels").shortcut_text("1"))
                .clicked()
            {
                cmds.push(Command::ActualSize);
            }
        });
        ui.menu_button("Compute", |ui| {
            for (b, label) in [
                (BackendChoice::Auto, "Auto (hardware GPU, else CPU)"),
                (BackendChoice::Gpu, "GPU (wgpu)"),
                (BackendChoice::Cpu, "CPU"),
            ] {
                if ui
                    .add(egui::Button::selectable(view.settings.backend == b, label))
                    .clicked()
                {
                    cmds.push(Command::SetBackend(b));
                }
            }
        });
        ui.menu_button("Help", |ui| {
            ui.label(
                "Drop a photo on the window or use File > Open.\n\
                 Drag on the photo to add a face box; drag a box to move it, its corners to \
                 resize it; Delete removes the selected box.\n\
                 R restores the selected face, Shift+R all faces.\n\
                 B flips before/after, S shows the split; drag the line to compare.\n\
                 Wheel or +/− zooms; drag with the right or middle button (or Space+drag) \
                 or use the arrow keys to pan; 0 fits the photo.",
            );
            ui.separator();
            ui.label(format!("face-deblur {}", crate::weights::PROVENANCE));
        });
    });
}

/// Compare mode, zoom and restore buttons above the photo.
pub fn toolbar_ui(ui: &mut egui::Ui, view: &View<'_>, cmds: &mut Vec<Command>) {
    let has_doc = view.state.doc.is_some();
    ui.horizontal(|ui| {
        ui.add_enabled_ui(has_doc, |ui| {
            for (mode, label) in [
                (CompareMode::Split, "Split"),
                (CompareMode::Before, "Before"),
                (CompareMode::After, "After"),
            ] {
                if ui
                    .selectable_label(view.state.compare == mode, label)
                    .on_hover_text("B flips before/after; S shows the split")
                    .clicked()
                {
                    cmds.push(Command::SetCompare(mode));
                }
            }
            ui.separator();
            if ui.button("−").on_hover_text("Zoom out (−)").clicked() {
                cmds.push(Command::Zoom {
                    factor: 0.8,
                    anchor: None,
                });
            }
            ui.label(format!("{:.0} %", view.state.view.zoom * 100.0));
            if ui.button("+").on_hover_text("Zoom in (+)").clicked() {
                cmds.push(Command::Zoom {
                    factor: 1.25,
                    anchor: None,
                });
            }
            if ui.button("Fit").on_hover_text("Zoom to fit (0)").clicked() {
                cmds.push(Command::Fit);
            }
            ui.separator();
            if ui
                .add_enabled(
                    view.state.can_restore_all(),
                    egui::Button::new("Restore all faces"),
                )
                .on_hover_text("Shift+R")
                .clicked()
            {
                cmds.push(Command::RestoreAll);
            }
        });
    });
}
