//! The face list: select, restore, remove, strength slider and identity check per face.

use eframe::egui;
use egui::{Color32, RichText};

use super::View;
use super::paint::status_color;
use crate::app::command::Command;
use crate::app::state::{FaceEntry, FaceOrigin, FaceStatus, Identity, ModelStatus};
use crate::model::teacher::SAME_PERSON_DISTANCE;

/// The left panel.
pub fn faces_ui(ui: &mut egui::Ui, view: &View<'_>, cmds: &mut Vec<Command>) {
    ui.heading("Faces");
    if view.state.doc.is_none() {
        ui.label("No photo open.");
        return;
    }
    let model_failed = matches!(view.state.model, Some(ModelStatus::Failed(_)));
    ui.horizontal(|ui| {
        if ui
            .add_enabled(
                view.state.can_restore_all(),
                egui::Button::new("Restore all"),
            )
            .clicked()
        {
            cmds.push(Command::RestoreAll);
        }
        let selected = view.state.selected_face();
        let can = selected.is_some_and(|f| f.status != FaceStatus::Queued) && !model_failed;
        if ui
            .add_enabled(can, egui::Button::new("Restore selected"))
            .on_hover_text("R")
            .clicked()
        {
            cmds.push(Command::RestoreSelected);
        }
    });
    if view.state.faces.is_empty() {
        ui.label("No face boxes. Drag a rectangle over a face on the photo to add one.");
    }
    ui.separator();
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for (i, face) in view.state.faces.iter().enumerate() {
                face_row_ui(ui, view, i + 1, face, cmds);
                ui.separator();
            }
        });
}

fn face_row_ui(
    ui: &mut egui::Ui,
    view: &View<'_>,
    number: usize,
    face: &FaceEntry,
    cmds: &mut Vec<Command>,
) {
    let selected = view.state.selected == Some(face.id);
    let origin = match face.origin {
        FaceOrigin::Detected { score } => format!("detected ({score:.1})"),
        FaceOrigin::Manual => "drawn".into(),
    };
    let status = match &face.status {
        FaceStatus::Pending => "not restored".to_string(),
        FaceStatus::Queued => "restoring…".into(),
        FaceStatus::Restored => "restored".into(),
        FaceStatus::Failed(_) => "failed".into(),
    };
    let text = format!("Face {number} · {origin} · {status}");
    let title = RichText::new(&text).color(status_color(&face.status));
    ui.horizontal(|ui| {
        if face.status == FaceStatus::Queued {
            ui.spinner();
        }
        // Truncated to the panel: a long title (even a passing "restoring…") must not widen
        // the panel for good.
        let title = egui::Button::selectable(selected, title).truncate();
        if ui.add(title).on_hover_text(text).clicked() {
            cmds.push(Command::Select(Some(face.id)));
        }
    });
    ui.label(
        RichText::new(format!(
            "{}×{} px at ({}, {})",
            face.region.width, face.region.height, face.region.x, face.region.y
        ))
        .small()
        .weak(),
    );
    if let FaceStatus::Failed(e) = &face.status {
        ui.add(
            egui::Label::new(
                RichText::new(e)
                    .color(Color32::from_rgb(255, 110, 110))
                    .small(),
            )
            .wrap(),
        );
    }
    if !selected && face.result.is_none() {
        return;
    }
    if let Some(r) = &face.result {
        let mut strength = face.strength;
        let slider = egui::Slider::new(&mut strength, 0.0..=1.0).text(format!("Strength {number}"));
        if ui.add(slider).changed() {
            cmds.push(Command::SetStrength(face.id, strength));
        }
        identity_ui(ui, &r.identity);
    }
    if selected {
        ui.horizontal(|ui| {
            if ui
                .add_enabled(
                    face.status != FaceStatus::Queued,
                    egui::Button::new("Restore"),
                )
                .clicked()
            {
                cmds.push(Command::Select(Some(face.id)));
                cmds.push(Command::RestoreSelected);
            }
            if ui.button("Remove").on_hover_text("Delete").clicked() {
                cmds.push(Command::Remove(face.id));
            }
        });
    }
}

/// The identity line: distance input → restored, with a warning above the threshold.
pub fn identity_ui(ui: &mut egui::Ui, identity: &Identity) {
    match identity {
        Identity::Distance(d) if *d > SAME_PERSON_DISTANCE => {
            ui.label(
                RichText::new(format!(
                    "Warning: identity distance {d:.3} > {SAME_PERSON_DISTANCE}: may look like another person"
                ))
                .color(Color32::from_rgb(255, 190, 60)),
            );
        }
        Identity::Distance(d) => {
            ui.label(format!(
                "identity distance {d:.3} (same person below {SAME_PERSON_DISTANCE})"
            ));
        }
        Identity::Unavailable(why) => {
            ui.label(
                RichText::new(format!("identity: unavailable — {why}"))
                    .weak()
                    .small(),
            );
        }
    }
}
