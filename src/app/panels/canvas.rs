//! The photo view: before/after with a draggable split line, zoom and pan, and face boxes
//! that can be selected, drawn, moved, resized.

use eframe::egui;
use egui::{Align2, Color32, CursorIcon, FontId, Key, Pos2, Rect, Sense, Stroke, StrokeKind, Vec2};

use super::View;
use super::paint::{badge, draw_box, draw_split};
use crate::app::command::Command;
use crate::app::state::{CompareMode, FaceId, ViewState, square_region};

/// Screen distance within which a corner handle or the split line is grabbed.
const GRAB: f32 = 8.0;
/// Smallest face box the user can draw, in photo pixels.
const MIN_BOX: f32 = 8.0;

/// A drag in progress on the photo.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Drag {
    Pan,
    Split,
    Move { id: FaceId, start: Rect, grab: Pos2 },
    Resize { id: FaceId, anchor: Pos2 },
    New { anchor: Pos2 },
}

fn drag_id() -> egui::Id {
    egui::Id::unique("photo-canvas-drag")
}

fn canvas_id() -> egui::Id {
    egui::Id::unique("photo-canvas-rect")
}

/// The canvas rectangle of the last frame, if the canvas was shown.
pub fn last_canvas(ctx: &egui::Context) -> Option<Rect> {
    ctx.data(|d| d.get_temp(canvas_id()))
}

/// The photo view.
pub fn canvas_ui(ui: &mut egui::Ui, view: &View<'_>, cmds: &mut Vec<Command>) {
    let rect = ui.available_rect_before_wrap();
    let response = ui.allocate_rect(rect, Sense::click_and_drag());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, "Photo"));
    ui.ctx().data_mut(|d| d.insert_temp(canvas_id(), rect));
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, Color32::from_gray(24));
    let hovering_files = ui.input(|i| !i.raw.hovered_files.is_empty());

    let (Some(doc), Some(before), Some(after)) =
        (&view.state.doc, &view.textures.before, &view.textures.after)
    else {
        let text = match &view.state.opening {
            Some(p) => format!("Opening {}…", p.display()),
            None => "Drop a photo here, or use File > Open…".into(),
        };
        painter.text(
            rect.center(),
            Align2::CENTER_CENTER,
            text,
            FontId::proportional(20.0),
            Color32::GRAY,
        );
        if hovering_files {
            painter.rect_stroke(
                rect.shrink(4.0),
                8.0,
                Stroke::new(3.0, Color32::LIGHT_BLUE),
                StrokeKind::Inside,
            );
        }
        return;
    };

    let mut v: ViewState = view.state.view;
    v.canvas = rect;
    let size = Vec2::new(doc.photo.width() as f32, doc.photo.height() as f32);
    let img_rect = v.image_rect(size);
    let uv = Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0));
    let split_x = rect.left() + view.settings.split * rect.width();
    match view.state.compare {
        CompareMode::Before => {
            painter.image(before.id(), img_rect, uv, Color32::WHITE);
        }
        CompareMode::After => {
            painter.image(after.id(), img_rect, uv, Color32::WHITE);
        }
        CompareMode::Split => {
            let left = Rect::from_min_max(rect.min, Pos2::new(split_x, rect.bottom()));
            let right = Rect::from_min_max(Pos2::new(split_x, rect.top()), rect.max);
            painter
                .with_clip_rect(left)
                .image(before.id(), img_rect, uv, Color32::WHITE);
            painter
                .with_clip_rect(right)
                .image(after.id(), img_rect, uv, Color32::WHITE);
        }
    }

    let drag: Option<Drag> = ui.ctx().data(|d| d.get_temp(drag_id()));
    let pointer = response.hover_pos().or(response.interact_pointer_pos());
    let pointer_photo = pointer.map(|p| v.to_photo(p));

    // Face boxes (with the dragged one at its preview position).
    if view.settings.show_boxes {
        for (i, face) in view.state.faces.iter().enumerate() {
            let mut r = face.rect();
            if let (Some(d), Some(p)) = (drag, pointer_photo)
                && let Some((id, preview)) = preview(d, p)
                && id == Some(face.id)
            {
                r = preview;
            }
            let selected = view.state.selected == Some(face.id);
            draw_box(&painter, &v, r, i + 1, &face.status, selected);
        }
        if let (Some(d @ Drag::New { .. }), Some(p)) = (drag, pointer_photo)
            && let Some((_, r)) = preview(d, p)
        {
            let s = Rect::from_min_max(v.to_screen(r.min), v.to_screen(r.max));
            painter.rect_stroke(s, 0.0, Stroke::new(2.0, Color32::WHITE), StrokeKind::Middle);
        }
    }

    if view.state.compare == CompareMode::Split {
        draw_split(&painter, rect, split_x);
    } else {
        let label = if view.state.compare == CompareMode::Before {
            "Before"
        } else {
            "After"
        };
        badge(
            &painter,
            rect.left_top() + Vec2::splat(8.0),
            Align2::LEFT_TOP,
            label,
        );
    }
    if hovering_files {
        painter.rect_filled(rect, 0.0, Color32::from_black_alpha(120));
        painter.text(
            rect.center(),
            Align2::CENTER_CENTER,
            "Drop to open",
            FontId::proportional(28.0),
            Color32::WHITE,
        );
    }

    interact(ui, &response, view, &v, split_x, drag, cmds);
}

fn interact(
    ui: &egui::Ui,
    response: &egui::Response,
    view: &View<'_>,
    v: &ViewState,
    split_x: f32,
    drag: Option<Drag>,
    cmds: &mut Vec<Command>,
) {
    let rect = v.canvas;
    if response.hovered() {
        let (scroll, zoom) = ui.input(|i| (i.smooth_scroll_delta.y, i.zoom_delta()));
        let factor = (scroll / 300.0).exp() * zoom;
        if (factor - 1.0).abs() > 1e-4 {
            cmds.push(Command::Zoom {
                factor,
                anchor: response.hover_pos(),
            });
        }
    }
    let space = ui.input(|i| i.key_down(Key::Space));
    if let Some(pos) = response.hover_pos() {
        let cursor = match drag {
            Some(Drag::Pan) => CursorIcon::Grabbing,
            Some(Drag::Split) => CursorIcon::ResizeHorizontal,
            Some(Drag::Move { .. }) => CursorIcon::Move,
            Some(Drag::Resize { .. } | Drag::New { .. }) => CursorIcon::Crosshair,
            None if space => CursorIcon::Grab,
            None => match hit(view, v, split_x, pos) {
                Hit::Split => CursorIcon::ResizeHorizontal,
                Hit::Corner(..) => CursorIcon::ResizeNwSe,
                Hit::Face(_) => CursorIcon::Move,
                Hit::Nothing => CursorIcon::Crosshair,
            },
        };
        ui.ctx().set_cursor_icon(cursor);
    }

    if response.drag_started() {
        let origin = ui
            .input(|i| i.pointer.press_origin())
            .unwrap_or(rect.center());
        let primary = response.dragged_by(egui::PointerButton::Primary);
        let new = if !primary || space {
            Drag::Pan
        } else {
            match hit(view, v, split_x, origin) {
                Hit::Split => Drag::Split,
                Hit::Corner(id, anchor) => Drag::Resize { id, anchor },
                Hit::Face(id) => {
                    cmds.push(Command::Select(Some(id)));
                    let start = view.state.face(id).map_or(Rect::NOTHING, |f| f.rect());
                    Drag::Move {
                        id,
                        start,
                        grab: v.to_photo(origin),
                    }
                }
                Hit::Nothing if view.settings.show_boxes => Drag::New {
                    anchor: v.to_photo(origin),
                },
                Hit::Nothing => Drag::Pan,
            }
        };
        ui.ctx().data_mut(|d| d.insert_temp(drag_id(), new));
    }
    let drag: Option<Drag> = ui.ctx().data(|d| d.get_temp(drag_id()));
    if let Some(d) = drag {
        // The pointer may be gone on the frame the button is released: use its last position.
        let last_id = drag_id().with("last-pointer");
        let pos = response
            .interact_pointer_pos()
            .or(response.hover_pos())
            .or_else(|| ui.ctx().data(|m| m.get_temp::<Pos2>(last_id)));
        if let Some(p) = pos {
            ui.ctx().data_mut(|m| m.insert_temp(last_id, p));
        }
        match d {
            Drag::Pan => cmds.push(Command::Pan(response.drag_delta())),
            Drag::Split => {
                if let Some(p) = pos {
                    cmds.push(Command::SetSplit(
                        (p.x - rect.left()) / rect.width().max(1.0),
                    ));
                }
            }
            _ => {}
        }
        if response.drag_stopped() || !response.dragged() {
            if let Some(p) = pos
                && let Some((id, r)) = preview(d, v.to_photo(p))
                && r.width().max(r.height()) >= MIN_BOX
            {
                let region = square_region(r);
                cmds.push(match id {
                    Some(id) => Command::SetRegion(id, region),
                    None => Command::AddFace(region),
                });
            }
            ui.ctx().data_mut(|m| {
                m.remove::<Drag>(drag_id());
                m.remove::<Pos2>(last_id);
            });
        }
    }
    if response.clicked() {
        match response
            .interact_pointer_pos()
            .map(|p| hit(view, v, split_x, p))
        {
            Some(Hit::Face(id) | Hit::Corner(id, _)) => cmds.push(Command::Select(Some(id))),
            Some(Hit::Nothing) => cmds.push(Command::Select(None)),
            Some(Hit::Split) | None => {}
        }
    }
}

/// What is under a screen point.
enum Hit {
    Split,
    /// A corner handle of the selected face, with the opposite corner (photo pixels).
    Corner(FaceId, Pos2),
    Face(FaceId),
    Nothing,
}

fn hit(view: &View<'_>, v: &ViewState, split_x: f32, pos: Pos2) -> Hit {
    if view.settings.show_boxes
        && let Some(face) = view.state.selected_face()
    {
        let r = face.rect();
        let corners = [
            (r.left_top(), r.right_bottom()),
            (r.right_top(), r.left_bottom()),
            (r.left_bottom(), r.right_top()),
            (r.right_bottom(), r.left_top()),
        ];
        for (corner, opposite) in corners {
            if v.to_screen(corner).distance(pos) <= GRAB {
                return Hit::Corner(face.id, opposite);
            }
        }
    }
    if view.state.compare == CompareMode::Split && (pos.x - split_x).abs() <= GRAB / 2.0 + 2.0 {
        return Hit::Split;
    }
    if view.settings.show_boxes {
        let p = v.to_photo(pos);
        let inside = view
            .state
            .faces
            .iter()
            .filter(|f| f.rect().contains(p))
            .min_by(|a, b| a.rect().area().total_cmp(&b.rect().area()));
        if let Some(f) = inside {
            return Hit::Face(f.id);
        }
    }
    Hit::Nothing
}

/// The rectangle (photo pixels) a box drag would give with the pointer at `p`, and the face
/// it belongs to (`None` for a new box).
fn preview(d: Drag, p: Pos2) -> Option<(Option<FaceId>, Rect)> {
    let square_from = |anchor: Pos2| {
        let delta = p - anchor;
        let side = delta.x.abs().max(delta.y.abs());
        let corner = anchor + Vec2::new(side * delta.x.signum(), side * delta.y.signum());
        Rect::from_two_pos(anchor, corner)
    };
    match d {
        Drag::Move { id, start, grab } => Some((Some(id), start.translate(p - grab))),
        Drag::Resize { id, anchor } => Some((Some(id), square_from(anchor))),
        Drag::New { anchor } => Some((None, square_from(anchor))),
        Drag::Pan | Drag::Split => None,
    }
}
