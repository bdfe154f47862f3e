//! The inspector of the selected face: a zoomed before/after with its own split line, the
//! attention-weighted prior overlay, and the P̂1..P̂3 channel heatmaps ranked by CA weight next
//! to the teacher's features of the restored face.

use eframe::egui;
use egui::{Align2, Color32, Pos2, Rect, RichText, Sense, Stroke, TextureHandle, Vec2};

use super::View;
use super::faces::identity_ui;
use super::paint::badge;
use crate::app::command::Command;
use crate::app::state::{FaceStatus, ModelStatus};
use crate::app::textures::LevelThumbs;
use crate::inference::DegradationEstimate;

/// Side of a channel thumbnail, points.
const THUMB: f32 = 52.0;

/// The right panel.
pub fn inspector_ui(ui: &mut egui::Ui, view: &View<'_>, cmds: &mut Vec<Command>) {
    ui.heading("Inspector");
    let Some(face) = view.state.selected_face() else {
        ui.label("Select a face to inspect it.");
        return;
    };
    let number = view.state.face_index(face.id).map_or(0, |i| i + 1);
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            ui.label(
                RichText::new(format!(
                    "Face {number}: before | after, and attention overlay"
                ))
                .strong(),
            );
            let half = ((ui.available_width() - 8.0) / 2.0).max(64.0);
            ui.horizontal_top(|ui| {
                if let Some((before, after)) = &view.textures.face {
                    face_compare_ui(ui, before, after, view.settings.face_split, half, cmds);
                }
                if let Some(tex) = &view.textures.overlay {
                    ui.add(egui::Image::new(tex).fit_to_exact_size(Vec2::splat(half)))
                        .on_hover_text(
                            "Σ w_c·|P_c| / Σ w_c over the estimated channels, w = CA weight",
                        );
                }
            });
            let Some(result) = &face.result else {
                match &face.status {
                    FaceStatus::Queued => {
                        ui.horizontal(|ui| {
                            ui.spinner();
                            ui.label("restoring…");
                        });
                    }
                    _ => {
                        ui.label("Not restored yet: press Restore (R) to see the priors.");
                    }
                }
                return;
            };
            let device = match &view.state.model {
                Some(ModelStatus::Ready { device, .. }) => device.as_str(),
                _ => "?",
            };
            ui.label(format!("network: {:.2} s on {device}", result.seconds));
            identity_ui(ui, &result.identity);
            if let Some(d) = &result.restored.degradation {
                ui.separator();
                degradation_ui(ui, d);
            }
            ui.separator();
            overlay_ui(ui, view, cmds);
            ui.separator();
            if view.textures.levels.is_empty() {
                ui.label("These weights have no prior stream to show.");
            }
            let has_teacher = result.teacher.is_some();
            for level in &view.textures.levels {
                level_ui(ui, level, has_teacher);
            }
            if !has_teacher {
                ui.label(
                    RichText::new("Teacher features unavailable (face ResNet weights not found).")
                        .weak()
                        .small(),
                );
            }
        });
}

/// Zoomed face with a draggable before/after line.
fn face_compare_ui(
    ui: &mut egui::Ui,
    before: &TextureHandle,
    after: &TextureHandle,
    split: f32,
    width: f32,
    cmds: &mut Vec<Command>,
) {
    let tex = before.size_vec2();
    let size = Vec2::new(width, width * tex.y / tex.x.max(1.0));
    let (rect, response) = ui.allocate_exact_size(size, Sense::click_and_drag());
    response.widget_info(|| {
        egui::WidgetInfo::labeled(egui::Role::Image, true, "Face before and after")
    });
    let uv = Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0));
    let x = rect.left() + split * rect.width();
    let painter = ui.painter_at(rect);
    let left = Rect::from_min_max(rect.min, Pos2::new(x, rect.bottom()));
    let right = Rect::from_min_max(Pos2::new(x, rect.top()), rect.max);
    painter
        .with_clip_rect(left)
        .image(before.id(), rect, uv, Color32::WHITE);
    painter
        .with_clip_rect(right)
        .image(after.id(), rect, uv, Color32::WHITE);
    painter.line_segment(
        [Pos2::new(x, rect.top()), Pos2::new(x, rect.bottom())],
        Stroke::new(1.5, Color32::WHITE),
    );
    badge(
        &painter,
        rect.left_top() + Vec2::splat(4.0),
        Align2::LEFT_TOP,
        "Before",
    );
    badge(
        &painter,
        rect.right_top() + Vec2::new(-4.0, 4.0),
        Align2::RIGHT_TOP,
        "After",
    );
    if response.hovered() {
        ui.ctx().set_cursor_icon(egui::CursorIcon::ResizeHorizontal);
    }
    if (response.dragged() || response.clicked())
        && let Some(p) = response.interact_pointer_pos()
    {
        cmds.push(Command::SetFaceSplit(
            (p.x - rect.left()) / rect.width().max(1.0),
        ));
    }
}

/// The DRE's blur estimate and, per decoder scale, how much of each channel DAFI took from the
/// prior side (mean and a bar per channel).
fn degradation_ui(ui: &mut egui::Ui, d: &DegradationEstimate) {
    ui.label(RichText::new("Degradation (DRE) and DAFI mix").strong());
    ui.label(format!("estimated blur ≈ {:.0} px", d.blur_px))
        .on_hover_text("kernel size read out linearly from the degradation representation");
    for (scale, share) in ["H", "H/2", "H/4"].iter().zip(&d.prior_share) {
        let mean = share.iter().sum::<f32>() / share.len().max(1) as f32;
        ui.horizontal(|ui| {
            ui.label(
                RichText::new(format!("{scale:>3} prior {:>3.0} %", mean * 100.0)).monospace(),
            )
            .on_hover_text("mean DAFI weight of the prior-modulated features over the channels");
            let (rect, _) = ui.allocate_exact_size(
                Vec2::new(ui.available_width().min(240.0), 14.0),
                Sense::hover(),
            );
            let painter = ui.painter_at(rect);
            let w = rect.width() / share.len().max(1) as f32;
            for (c, &m) in share.iter().enumerate() {
                let x = rect.left() + c as f32 * w;
                let h = rect.height() * m.clamp(0.0, 1.0);
                painter.rect_filled(
                    Rect::from_min_max(
                        Pos2::new(x, rect.bottom() - h),
                        Pos2::new(x + w, rect.bottom()),
                    ),
                    0.0,
                    Color32::from_rgb(90, 160, 230),
                );
            }
        });
    }
}

fn overlay_ui(ui: &mut egui::Ui, view: &View<'_>, cmds: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        ui.label("Overlay level:");
        for level in 0..view.textures.levels.len().min(3) {
            if ui
                .selectable_label(
                    view.settings.inspector_level == level,
                    format!("P{}", level + 1),
                )
                .clicked()
            {
                cmds.push(Command::SetLevel(level));
            }
        }
    });
    let mut opacity = view.settings.overlay_opacity;
    if ui
        .add(egui::Slider::new(&mut opacity, 0.0..=1.0).text("Overlay opacity"))
        .changed()
    {
        cmds.push(Command::SetOverlayOpacity(opacity));
    }
}

fn level_ui(ui: &mut egui::Ui, level: &LevelThumbs, has_teacher: bool) {
    let ranked_by = if level.thumbs.iter().any(|t| t.weight.is_some()) {
        "ranked by CA weight"
    } else {
        "ranked by mean |activation| (no CA weights)"
    };
    ui.label(
        RichText::new(format!(
            "Estimated prior P{} · {} channels @ {}×{} · top {} {ranked_by}",
            level.level,
            level.channels,
            level.size[1],
            level.size[0],
            level.thumbs.len()
        ))
        .strong(),
    );
    egui::Grid::new(("prior-grid", level.level))
        .spacing(Vec2::new(4.0, 2.0))
        .show(ui, |ui| {
            ui.label("est.").on_hover_text("estimated prior (network)");
            for t in &level.thumbs {
                ui.add(egui::Image::new(&t.estimated).fit_to_exact_size(Vec2::splat(THUMB)))
                    .on_hover_text(format!("channel {}", t.channel));
            }
            ui.end_row();
            ui.label("");
            for t in &level.thumbs {
                let text = match t.weight {
                    Some(w) => format!("{w:.2}"),
                    None => format!("#{}", t.channel),
                };
                ui.label(RichText::new(text).small().monospace());
            }
            ui.end_row();
            if has_teacher {
                ui.label("teacher")
                    .on_hover_text("teacher features of the restored face");
                for t in &level.thumbs {
                    match &t.teacher {
                        Some(tex) => {
                            ui.add(egui::Image::new(tex).fit_to_exact_size(Vec2::splat(THUMB)));
                        }
                        None => {
                            ui.label("–");
                        }
                    }
                }
                ui.end_row();
            }
        });
}
