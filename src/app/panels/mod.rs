//! The window's parts. Every function reads a [`View`] and pushes [`Command`]s; none changes
//! the state itself.

pub mod canvas;
pub mod faces;
pub mod inspector;
pub mod menu;
pub mod paint;
pub mod status;

use eframe::egui;
use egui::{Color32, Key, Modifiers, RichText};

use super::command::Command;
use super::state::{AppState, CompareMode, Level, Settings};
use super::textures::Textures;

/// What the panels read.
pub struct View<'a> {
    /// Runtime state.
    pub state: &'a AppState,
    /// Settings.
    pub settings: &'a Settings,
    /// Textures.
    pub textures: &'a Textures,
    /// A file dialog is showing.
    pub dialog_open: bool,
}

/// Lay out the whole window: menu, status bar, faces, inspector, photo.
pub fn window_ui(ui: &mut egui::Ui, view: &View<'_>, cmds: &mut Vec<Command>) {
    egui::Panel::top("menu").show(ui, |ui| menu::menu_bar_ui(ui, view, cmds));
    egui::Panel::bottom("status").show(ui, |ui| status::status_bar_ui(ui, view, cmds));
    egui::Panel::left("faces")
        .default_size(240.0)
        .min_size(200.0)
        .show(ui, |ui| faces::faces_ui(ui, view, cmds));
    egui::Panel::right("inspector")
        .default_size(440.0)
        .min_size(280.0)
        .show(ui, |ui| inspector::inspector_ui(ui, view, cmds));
    egui::CentralPanel::default_margins().show(ui, |ui| {
        notices_ui(ui, view, cmds);
        menu::toolbar_ui(ui, view, cmds);
        canvas::canvas_ui(ui, view, cmds);
    });
    confirm_overwrite_ui(ui, view, cmds);
}

/// The dismissable messages above the photo.
pub fn notices_ui(ui: &mut egui::Ui, view: &View<'_>, cmds: &mut Vec<Command>) {
    for (i, n) in view.state.notices.iter().enumerate() {
        let (color, icon) = match n.level {
            Level::Info => (Color32::from_rgb(120, 180, 255), ""),
            Level::Warning => (Color32::from_rgb(255, 190, 60), "Warning: "),
            Level::Error => (Color32::from_rgb(255, 100, 100), "Error: "),
        };
        egui::Frame::group(ui.style())
            .stroke(egui::Stroke::new(1.0, color))
            .show(ui, |ui| {
                ui.horizontal(|ui| {
                    if ui.small_button("x").on_hover_text("Dismiss").clicked() {
                        cmds.push(Command::Dismiss(i));
                    }
                    ui.add(
                        egui::Label::new(RichText::new(format!("{icon}{}", n.text)).color(color))
                            .wrap(),
                    );
                });
            });
    }
}

/// The modal that asks before replacing the original photo.
pub fn confirm_overwrite_ui(ui: &mut egui::Ui, view: &View<'_>, cmds: &mut Vec<Command>) {
    let Some(path) = &view.state.confirm_overwrite else {
        return;
    };
    egui::Modal::new(egui::Id::unique("confirm-overwrite")).show(ui.ctx(), |ui| {
        ui.heading("Replace the original photo?");
        ui.label(format!(
            "{} is the photo you opened. Saving here replaces it with the restored version; \
             the original cannot be recovered.",
            path.display()
        ));
        ui.horizontal(|ui| {
            if ui.button("Replace original").clicked() {
                cmds.push(Command::ConfirmOverwrite);
            }
            if ui.button("Cancel").clicked() || ui.input(|i| i.key_pressed(Key::Escape)) {
                cmds.push(Command::CancelOverwrite);
            }
        });
    });
}

/// Keyboard shortcuts of the window.
pub fn shortcuts(ctx: &egui::Context, state: &AppState, cmds: &mut Vec<Command>) {
    if ctx.text_edit_focused() || state.confirm_overwrite.is_some() {
        return;
    }
    // A focused widget (slider, button) keeps the arrow and Tab keys for itself.
    let focused = ctx.memory(|m| m.focused().is_some());
    ctx.input_mut(|i| {
        let ctrl = Modifiers::COMMAND;
        if i.consume_key(ctrl | Modifiers::SHIFT, Key::S) || i.consume_key(ctrl, Key::S) {
            cmds.push(Command::SaveAsDialog);
        }
        if i.consume_key(ctrl, Key::O) {
            cmds.push(Command::OpenDialog);
        }
        if i.consume_key(ctrl, Key::E) {
            cmds.push(Command::ExportDialog);
        }
        if i.consume_key(ctrl, Key::Q) {
            cmds.push(Command::Quit);
        }
        let plain = |i: &mut egui::InputState, k: Key| i.consume_key(Modifiers::NONE, k);
        if (plain(i, Key::Delete) || plain(i, Key::Backspace))
            && let Some(id) = state.selected
        {
            cmds.push(Command::Remove(id));
        }
        if plain(i, Key::B) {
            cmds.push(Command::ToggleBeforeAfter);
        }
        if plain(i, Key::S) {
            cmds.push(Command::SetCompare(CompareMode::Split));
        }
        if i.consume_key(Modifiers::SHIFT, Key::R) {
            cmds.push(Command::RestoreAll);
        } else if plain(i, Key::R) {
            cmds.push(Command::RestoreSelected);
        }
        if !focused && plain(i, Key::Tab) {
            cmds.push(Command::SelectNext(1));
        }
        if !focused && i.consume_key(Modifiers::SHIFT, Key::Tab) {
            cmds.push(Command::SelectNext(-1));
        }
        if plain(i, Key::Escape) {
            cmds.push(Command::Select(None));
        }
        if plain(i, Key::Plus)
            || plain(i, Key::Equals)
            || i.consume_key(Modifiers::SHIFT, Key::Equals)
        {
            cmds.push(Command::Zoom {
                factor: 1.25,
                anchor: None,
            });
        }
        if plain(i, Key::Minus) {
            cmds.push(Command::Zoom {
                factor: 0.8,
                anchor: None,
            });
        }
        if plain(i, Key::Num0) {
            cmds.push(Command::Fit);
        }
        if plain(i, Key::Num1) {
            cmds.push(Command::ActualSize);
        }
        const STEP: f32 = 40.0;
        for (key, delta) in [
            (Key::ArrowLeft, egui::vec2(STEP, 0.0)),
            (Key::ArrowRight, egui::vec2(-STEP, 0.0)),
            (Key::ArrowUp, egui::vec2(0.0, STEP)),
            (Key::ArrowDown, egui::vec2(0.0, -STEP)),
        ] {
            if !focused && plain(i, key) {
                cmds.push(Command::Pan(delta));
            }
        }
    });
}

/// Files dropped on the window: open the first one.
pub fn dropped_files(ctx: &egui::Context, cmds: &mut Vec<Command>) {
    let path = ctx.input(|i| i.raw.dropped_files.first().map(|f| f.path().to_path_buf()));
    if let Some(path) = path {
        cmds.push(Command::Open(path));
    }
}
