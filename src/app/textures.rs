//! GPU textures of what the window shows, kept in step with the state: the photo before and
//! after (partial uploads of changed regions), the zoomed face and the inspector pictures.

use eframe::egui;
use egui::{ColorImage, TextureHandle, TextureOptions};
use image::RgbImage;
use image::imageops::FilterType;

use super::compose::cut;
use super::heatmap::{self, ranked_channels, to_color_image};
use super::state::{AppState, FaceId, Settings};
use crate::inference::PriorMaps;

/// Longest side of the zoomed face pictures.
const FACE_VIEW_SIDE: u32 = 512;

/// One channel thumbnail of the inspector.
pub struct Thumb {
    /// Channel index.
    pub channel: usize,
    /// Its CA weight, if the model has CA modules.
    pub weight: Option<f32>,
    /// Heatmap of the estimated prior P̂.
    pub estimated: TextureHandle,
    /// Heatmap of the teacher feature P of the restored face, when available.
    pub teacher: Option<TextureHandle>,
}

/// Thumbnails of one prior level.
pub struct LevelThumbs {
    /// 1..3.
    pub level: usize,
    /// Channels in all.
    pub channels: usize,
    /// Map size [h, w].
    pub size: [usize; 2],
    /// The top channels, most important first.
    pub thumbs: Vec<Thumb>,
}

/// The textures.
pub struct Textures {
    epoch: Option<u64>,
    /// The original photo.
    pub before: Option<TextureHandle>,
    /// The composited result.
    pub after: Option<TextureHandle>,
    /// Texture pixels per photo pixel (below 1 for photos larger than the GPU allows).
    pub scale: f32,
    zoom_key: Option<(FaceId, u64)>,
    /// The selected face's region before / after.
    pub face: Option<(TextureHandle, TextureHandle)>,
    priors_key: Option<(FaceId, u64, usize, u32, usize)>,
    /// Attention overlay on the restored face.
    pub overlay: Option<TextureHandle>,
    /// Channel thumbnails per level.
    pub levels: Vec<LevelThumbs>,
}

impl Default for Textures {
    fn default() -> Self {
        Self {
            epoch: None,
            before: None,
            after: None,
            scale: 1.0,
            zoom_key: None,
            face: None,
            priors_key: None,
            overlay: None,
            levels: Vec::new(),
        }
    }
}

impl Textures {
    /// Bring the textures up to date with `state`.
    pub fn sync(&mut self, ctx: &egui::Context, state: &mut AppState, settings: &Settings) {
        let Some(doc) = &state.doc else {
            *self = Self::default();
            return;
        };
        let max_side = ctx.input(|i| i.max_texture_side).max(256) as u32;
        if self.epoch != Some(doc.epoch) {
            let longest = doc.photo.width().max(doc.photo.height());
            self.scale = if longest > max_side {
                max_side as f32 / longest as f32
            } else {
                1.0
            };
            let before = self.display(&doc.photo.rgb_u8);
            let after = self.display(&doc.after);
            self.before = Some(ctx.load_texture("photo-before", before, TextureOptions::LINEAR));
            self.after = Some(ctx.load_texture("photo-after", after, TextureOptions::LINEAR));
            self.epoch = Some(doc.epoch);
            self.zoom_key = None;
            self.priors_key = None;
            state.dirty = None;
        }
        if let Some(rect) = state.dirty.take() {
            let full = (self.scale < 1.0).then(|| self.display(&doc.after));
            if let Some(tex) = &mut self.after {
                if let Some(img) = full {
                    tex.set(img, TextureOptions::LINEAR);
                } else if let Some(pixels) = cut(&doc.after, &rect) {
                    tex.set_partial(
                        [rect.x as usize, rect.y as usize],
                        to_color_image(&pixels),
                        TextureOptions::LINEAR,
                    );
                }
            }
        }
        self.sync_inspector(ctx, state, settings);
    }

    fn display(&self, img: &RgbImage) -> ColorImage {
        if self.scale < 1.0 {
            let w = ((img.width() as f32 * self.scale).round() as u32).max(1);
            let h = ((img.height() as f32 * self.scale).round() as u32).max(1);
            to_color_image(&image::imageops::resize(img, w, h, FilterType::Triangle))
        } else {
            to_color_image(img)
        }
    }

    fn sync_inspector(&mut self, ctx: &egui::Context, state: &AppState, settings: &Settings) {
        let (Some(doc), Some(face)) = (&state.doc, state.selected_face()) else {
            self.zoom_key = None;
            self.priors_key = None;
            self.face = None;
            self.overlay = None;
            self.levels.clear();
            return;
        };
        let zoom_key = (face.id, state.inspector_version);
        if self.zoom_key != Some(zoom_key) {
            let region = face
                .result
                .as_ref()
                .map_or(face.region, |r| r.crop.face_in_photo);
            self.face = cut(&doc.photo.rgb_u8, &region)
                .zip(cut(&doc.after, &region))
                .map(|(b, a)| {
                    (
                        ctx.load_texture("face-before", face_view(&b), TextureOptions::LINEAR),
                        ctx.load_texture("face-after", face_view(&a), TextureOptions::LINEAR),
                    )
                });
            self.zoom_key = Some(zoom_key);
        }
        let Some(result) = &face.result else {
            self.priors_key = None;
            self.overlay = None;
            self.levels.clear();
            return;
        };
        let level = settings.inspector_level.min(2);
        let key = (
            face.id,
            face.revision,
            level,
            settings.overlay_opacity.to_bits(),
            settings.thumbnails,
        );
        if self.priors_key == Some(key) {
            return;
        }
        self.priors_key = Some(key);
        let priors = &result.restored.priors;
        self.overlay = priors.get(level).map(|p| {
            let map = heatmap::weighted_sum(p);
            let img = heatmap::overlay(
                &result.restored.image,
                &map,
                p.size,
                settings.overlay_opacity,
            );
            ctx.load_texture("face-overlay", img, TextureOptions::LINEAR)
        });
        let teacher = result.teacher.as_deref().unwrap_or(&[]);
        self.levels = priors
            .iter()
            .map(|p| level_thumbs(ctx, p, teacher.get(p.level - 1), settings.thumbnails))
            .collect();
    }
}

fn level_thumbs(
    ctx: &egui::Context,
    p: &PriorMaps,
    teacher: Option<&PriorMaps>,
    count: usize,
) -> LevelThumbs {
    let thumbs = ranked_channels(p)
        .into_iter()
        .take(count)
        .map(|c| {
            let name = format!("prior-{}-{c}", p.level);
            let estimated = ctx.load_texture(
                name.clone(),
                heatmap::heatmap(heatmap::channel(p, c), p.size),
                TextureOptions::NEAREST,
            );
            let teacher = teacher.filter(|t| c < t.channels).map(|t| {
                ctx.load_texture(
                    format!("{name}-teacher"),
                    heatmap::heatmap(heatmap::channel(t, c), t.size),
                    TextureOptions::NEAREST,
                )
            });
            Thumb {
                channel: c,
                weight: p.channel_weights.as_ref().and_then(|w| w.get(c).copied()),
                estimated,
                teacher,
            }
        })
        .collect();
    LevelThumbs {
        level: p.level,
        channels: p.channels,
        size: p.size,
        thumbs,
    }
}

/// A face region resized to at most [`FACE_VIEW_SIDE`] for display.
fn face_view(img: &RgbImage) -> ColorImage {
    let longest = img.width().max(img.height());
    if longest <= FACE_VIEW_SIDE {
        return to_color_image(img);
    }
    let s = FACE_VIEW_SIDE as f32 / longest as f32;
    let w = ((img.width() as f32 * s).round() as u32).max(1);
    let h = ((img.height() as f32 * s).round() as u32).max(1);
    to_color_image(&image::imageops::resize(img, w, h, FilterType::Triangle))
}
