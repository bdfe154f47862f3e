//! Painting helpers of the photo view: face boxes, the split line, labels.

use eframe::egui;
use egui::{Align2, Color32, FontId, Pos2, Rect, Stroke, StrokeKind, Vec2};

use crate::app::state::FaceStatus;
use crate::app::view::ViewState;

/// Colour of a face box.
pub fn status_color(status: &FaceStatus) -> Color32 {
    match status {
        FaceStatus::Pending => Color32::from_rgb(110, 170, 255),
        FaceStatus::Queued => Color32::from_rgb(255, 200, 80),
        FaceStatus::Restored => Color32::from_rgb(90, 220, 120),
        FaceStatus::Failed(_) => Color32::from_rgb(255, 90, 90),
    }
}

/// Draw a face box `r` (photo pixels) with its number tag and, when selected, its corner
/// handles.
pub fn draw_box(
    painter: &egui::Painter,
    v: &ViewState,
    r: Rect,
    number: usize,
    status: &FaceStatus,
    selected: bool,
) {
    let s = Rect::from_min_max(v.to_screen(r.min), v.to_screen(r.max));
    let color = status_color(status);
    let width = if selected { 3.0 } else { 1.5 };
    if selected {
        painter.rect_stroke(
            s,
            0.0,
            Stroke::new(width + 2.0, Color32::from_black_alpha(160)),
            StrokeKind::Middle,
        );
    }
    painter.rect_stroke(s, 0.0, Stroke::new(width, color), StrokeKind::Middle);
    let tag = match status {
        FaceStatus::Queued => format!("{number} …"),
        FaceStatus::Restored => format!("{number} done"),
        FaceStatus::Failed(_) => format!("{number} failed"),
        FaceStatus::Pending => number.to_string(),
    };
    let galley = painter.layout_no_wrap(tag, FontId::proportional(13.0), Color32::BLACK);
    let tag_rect = Rect::from_min_size(
        s.left_top() - Vec2::new(0.0, galley.size().y + 4.0),
        galley.size() + Vec2::new(8.0, 4.0),
    );
    painter.rect_filled(tag_rect, 2.0, color);
    painter.galley(tag_rect.min + Vec2::new(4.0, 2.0), galley, Color32::BLACK);
    if selected {
        for c in [
            s.left_top(),
            s.right_top(),
            s.left_bottom(),
            s.right_bottom(),
        ] {
            painter.rect_filled(Rect::from_center_size(c, Vec2::splat(8.0)), 1.0, color);
        }
    }
}

/// Draw the before/after line at screen x `x` with its knob and labels.
pub fn draw_split(painter: &egui::Painter, rect: Rect, x: f32) {
    let top = Pos2::new(x, rect.top());
    let bottom = Pos2::new(x, rect.bottom());
    painter.line_segment(
        [top, bottom],
        Stroke::new(3.0, Color32::from_black_alpha(140)),
    );
    painter.line_segment([top, bottom], Stroke::new(1.5, Color32::WHITE));
    let knob = Pos2::new(x, rect.center().y);
    painter.circle(
        knob,
        10.0,
        Color32::from_black_alpha(180),
        Stroke::new(1.5, Color32::WHITE),
    );
    for dir in [-1.0, 1.0] {
        let tip = knob + Vec2::new(dir * 6.0, 0.0);
        let back = knob + Vec2::new(dir * 1.5, 0.0);
        painter.add(egui::Shape::convex_polygon(
            vec![tip, back + Vec2::new(0.0, -4.0), back + Vec2::new(0.0, 4.0)],
            Color32::WHITE,
            Stroke::NONE,
        ));
    }
    badge(
        painter,
        Pos2::new(x - 8.0, rect.top() + 8.0),
        Align2::RIGHT_TOP,
        "Before",
    );
    badge(
        painter,
        Pos2::new(x + 8.0, rect.top() + 8.0),
        Align2::LEFT_TOP,
        "After",
    );
}

/// A small label on a dark background.
pub fn badge(painter: &egui::Painter, pos: Pos2, align: Align2, text: &str) {
    let galley = painter.layout_no_wrap(text.into(), FontId::proportional(14.0), Color32::WHITE);
    let size = galley.size() + Vec2::new(12.0, 6.0);
    let r = align.anchor_size(pos, size);
    painter.rect_filled(r, 4.0, Color32::from_black_alpha(170));
    painter.galley(r.min + Vec2::new(6.0, 3.0), galley, Color32::WHITE);
}
