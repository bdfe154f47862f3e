//! Geometry of the photo view: zoom and pan ([`ViewState`]) and photo-pixel rectangles.

use eframe::egui::{Pos2, Rect, Vec2};

use crate::pipeline::PhotoRect;

/// Zoom and pan of the photo view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewState {
    /// Screen points per photo pixel.
    pub zoom: f32,
    /// Screen offset of the photo's top-left corner from the canvas' top-left corner.
    pub offset: Vec2,
    /// Keep the photo fitted to the canvas (until the user zooms or pans).
    pub fit: bool,
    /// The canvas rectangle of the last frame (screen points).
    pub canvas: Rect,
}

impl Default for ViewState {
    fn default() -> Self {
        Self {
            zoom: 1.0,
            offset: Vec2::ZERO,
            fit: true,
            canvas: Rect::from_min_size(Pos2::ZERO, Vec2::splat(1.0)),
        }
    }
}

impl ViewState {
    /// Screen rectangle of the photo of `size` (pixels).
    pub fn image_rect(&self, size: Vec2) -> Rect {
        Rect::from_min_size(self.canvas.min + self.offset, size * self.zoom)
    }

    /// Screen point of a photo point.
    pub fn to_screen(&self, p: Pos2) -> Pos2 {
        self.canvas.min + self.offset + p.to_vec2() * self.zoom
    }

    /// Photo point of a screen point.
    pub fn to_photo(&self, p: Pos2) -> Pos2 {
        ((p - self.canvas.min - self.offset) / self.zoom).to_pos2()
    }

    /// Fit a photo of `size` into the canvas, centred.
    pub fn fit_to(&mut self, size: Vec2) {
        let avail = self.canvas.size();
        if size.x <= 0.0 || size.y <= 0.0 || avail.x <= 1.0 || avail.y <= 1.0 {
            return;
        }
        self.zoom = (avail.x / size.x).min(avail.y / size.y).min(8.0);
        self.offset = (avail - size * self.zoom) / 2.0;
    }

    /// Multiply the zoom by `factor` keeping the screen point `anchor` fixed.
    pub fn zoom_by(&mut self, factor: f32, anchor: Pos2) {
        let new_zoom = (self.zoom * factor).clamp(0.02, 64.0);
        let photo = self.to_photo(anchor);
        self.zoom = new_zoom;
        self.offset = anchor - self.canvas.min - photo.to_vec2() * new_zoom;
        self.fit = false;
    }
}

/// A [`PhotoRect`] as an egui rectangle in photo pixels.
pub fn region_rect(r: &PhotoRect) -> Rect {
    Rect::from_min_size(
        Pos2::new(r.x as f32, r.y as f32),
        Vec2::new(r.width as f32, r.height as f32),
    )
}

/// The square [`PhotoRect`] with the centre of `rect` and the side of its larger extent
/// (at least 8 px), in photo pixels.
pub fn square_region(rect: Rect) -> PhotoRect {
    let side = rect.width().max(rect.height()).round().max(8.0);
    let c = rect.center();
    PhotoRect {
        x: (c.x - side / 2.0).round() as i64,
        y: (c.y - side / 2.0).round() as i64,
        width: side as u32,
        height: side as u32,
    }
}

/// Smallest rectangle holding `a` and `b`.
pub fn union(a: &PhotoRect, b: &PhotoRect) -> PhotoRect {
    let x0 = a.x.min(b.x);
    let y0 = a.y.min(b.y);
    let x1 = (a.x + i64::from(a.width)).max(b.x + i64::from(b.width));
    let y1 = (a.y + i64::from(a.height)).max(b.y + i64::from(b.height));
    PhotoRect {
        x: x0,
        y: y0,
        width: (x1 - x0) as u32,
        height: (y1 - y0) as u32,
    }
}

/// Whether `a` and `b` share at least one pixel.
pub fn intersects(a: &PhotoRect, b: &PhotoRect) -> bool {
    a.x < b.x + i64::from(b.width)
        && b.x < a.x + i64::from(a.width)
        && a.y < b.y + i64::from(b.height)
        && b.y < a.y + i64::from(a.height)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_zoom_keeps_anchor_fixed() {
        let mut v = ViewState {
            canvas: Rect::from_min_size(Pos2::new(10.0, 20.0), Vec2::new(400.0, 300.0)),
            ..ViewState::default()
        };
        v.fit_to(Vec2::new(800.0, 600.0));
        assert!((v.zoom - 0.5).abs() < 1e-6);
        let anchor = Pos2::new(150.0, 100.0);
        let before = v.to_photo(anchor);
        v.zoom_by(2.0, anchor);
        let after = v.to_photo(anchor);
        assert!((before - after).length() < 1e-3);
        assert!((v.to_screen(after) - anchor).length() < 1e-3);
    }

    #[test]
    fn square_region_is_square_and_centred() {
        let r = square_region(Rect::from_min_max(
            Pos2::new(10.0, 10.0),
            Pos2::new(50.0, 30.0),
        ));
        assert_eq!((r.width, r.height), (40, 40));
        assert_eq!((r.x, r.y), (10, 0));
        let u = union(
            &r,
            &PhotoRect {
                x: 100,
                y: 5,
                width: 10,
                height: 10,
            },
        );
        assert_eq!((u.x, u.y, u.width, u.height), (10, 0, 100, 40));
        assert!(intersects(
            &r,
            &PhotoRect {
                x: 49,
                y: 39,
                width: 5,
                height: 5
            }
        ));
        assert!(!intersects(
            &r,
            &PhotoRect {
                x: 50,
                y: 0,
                width: 5,
                height: 5
            }
        ));
    }
}
