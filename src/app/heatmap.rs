//! Pictures of prior feature maps for the inspector: channel heatmaps ranked by their CA
//! weight, the attention-weighted sum, and its overlay on the face.

use eframe::egui;
use egui::{Color32, ColorImage};
use image::RgbImage;

use crate::inference::PriorMaps;

/// Colour stops of the heatmap (dark blue → purple → orange → light yellow, "inferno"-like).
const STOPS: [[u8; 3]; 5] = [
    [0, 0, 4],
    [87, 16, 110],
    [188, 55, 84],
    [249, 142, 9],
    [252, 255, 164],
];

/// Heatmap colour of `t` in [0, 1] (clamped; NaN gives the lowest colour).
pub fn colormap(t: f32) -> Color32 {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let pos = t * (STOPS.len() - 1) as f32;
    let i = (pos.floor() as usize).min(STOPS.len() - 2);
    let f = pos - i as f32;
    let lerp = |c: usize| {
        let a = f32::from(STOPS[i][c]);
        let b = f32::from(STOPS[i + 1][c]);
        (a + (b - a) * f).round() as u8
    };
    Color32::from_rgb(lerp(0), lerp(1), lerp(2))
}

/// Channel indices of `p`, most important first: by CA weight when the weights carry CA
/// modules, else by mean absolute activation.
pub fn ranked_channels(p: &PriorMaps) -> Vec<usize> {
    let score: Vec<f32> = match &p.channel_weights {
        Some(w) if w.len() == p.channels => w.clone(),
        _ => (0..p.channels)
            .map(|c| {
                let plane = channel(p, c);
                plane.iter().map(|v| v.abs()).sum::<f32>() / plane.len().max(1) as f32
            })
            .collect(),
    };
    let mut order: Vec<usize> = (0..p.channels).collect();
    order.sort_by(|&a, &b| score[b].total_cmp(&score[a]).then(a.cmp(&b)));
    order
}

/// The `H × W` values of channel `c` of `p` (empty if out of range).
pub fn channel(p: &PriorMaps, c: usize) -> &[f32] {
    let n = p.size[0] * p.size[1];
    p.values.get(c * n..(c + 1) * n).unwrap_or(&[])
}

/// Min-max normalised heatmap of `values` (`size` = [h, w]).
pub fn heatmap(values: &[f32], size: [usize; 2]) -> ColorImage {
    let (lo, hi) = values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let lo = if lo.is_finite() { lo } else { 0.0 };
    let pixels = values.iter().map(|&v| colormap((v - lo) / span)).collect();
    ColorImage::new([size[1], size[0]], pixels)
}

/// The attention-weighted sum `Σ_c w_c |P̂_c| / Σ_c w_c` of a prior level (`H × W`); with no
/// CA weights every channel weighs the same.
pub fn weighted_sum(p: &PriorMaps) -> Vec<f32> {
    let n = p.size[0] * p.size[1];
    let mut out = vec![0.0; n];
    let mut total = 0.0;
    for c in 0..p.channels {
        let w = p
            .channel_weights
            .as_ref()
            .and_then(|w| w.get(c).copied())
            .unwrap_or(1.0);
        total += w;
        for (o, v) in out.iter_mut().zip(channel(p, c)) {
            *o += w * v.abs();
        }
    }
    if total > 0.0 {
        out.iter_mut().for_each(|o| *o /= total);
    }
    out
}

/// `face` with `map` (`size` = [h, w], any scale) drawn over it as a heatmap with `opacity`.
pub fn overlay(face: &RgbImage, map: &[f32], size: [usize; 2], opacity: f32) -> ColorImage {
    let (w, h) = (face.width() as usize, face.height() as usize);
    let (mh, mw) = (size[0], size[1]);
    let (lo, hi) = map
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let a = opacity.clamp(0.0, 1.0);
    let sample = |x: usize, y: usize| -> f32 {
        if mw == 0 || mh == 0 || map.len() < mw * mh {
            return 0.0;
        }
        // Bilinear sample at the centre of face pixel (x, y).
        let fx = ((x as f32 + 0.5) * mw as f32 / w as f32 - 0.5).clamp(0.0, (mw - 1) as f32);
        let fy = ((y as f32 + 0.5) * mh as f32 / h as f32 - 0.5).clamp(0.0, (mh - 1) as f32);
        let (x0, y0) = (fx.floor() as usize, fy.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(mw - 1), (y0 + 1).min(mh - 1));
        let (tx, ty) = (fx - x0 as f32, fy - y0 as f32);
        let v = |xx: usize, yy: usize| map[yy * mw + xx];
        let top = v(x0, y0) * (1.0 - tx) + v(x1, y0) * tx;
        let bottom = v(x0, y1) * (1.0 - tx) + v(x1, y1) * tx;
        top * (1.0 - ty) + bottom * ty
    };
    let mut pixels = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let heat = colormap((sample(x, y) - lo) / span);
            let p = face.get_pixel(x as u32, y as u32).0;
            let mix = |f: u8, o: u8| (f32::from(f) * (1.0 - a) + f32::from(o) * a).round() as u8;
            pixels.push(Color32::from_rgb(
                mix(p[0], heat.r()),
                mix(p[1], heat.g()),
                mix(p[2], heat.b()),
            ));
        }
    }
    ColorImage::new([w, h], pixels)
}

/// An `RgbImage` as an egui image.
pub fn to_color_image(img: &RgbImage) -> ColorImage {
    ColorImage::from_rgb([img.width() as usize, img.height() as usize], img.as_raw())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps(weights: Option<Vec<f32>>) -> PriorMaps {
        // 3 channels of 2×2: channel c holds the value c+1 (channel 1 negative).
        let values = vec![
            1.0, 1.0, 1.0, 1.0, -2.0, -2.0, -2.0, -2.0, 3.0, 3.0, 3.0, 0.0,
        ];
        PriorMaps {
            level: 1,
            channels: 3,
            size: [2, 2],
            values,
            channel_weights: weights,
        }
    }

    #[test]
    fn channels_rank_by_ca_weight_else_by_energy() {
        assert_eq!(
            ranked_channels(&maps(Some(vec![0.2, 0.9, 0.5]))),
            vec![1, 2, 0]
        );
        // Mean |x|: 1, 2, 2.25.
        assert_eq!(ranked_channels(&maps(None)), vec![2, 1, 0]);
        assert_eq!(channel(&maps(None), 1), &[-2.0; 4]);
        assert!(channel(&maps(None), 3).is_empty());
    }

    #[test]
    fn weighted_sum_uses_weights_on_magnitudes() {
        let s = weighted_sum(&maps(Some(vec![1.0, 0.0, 1.0])));
        assert_eq!(s, vec![2.0, 2.0, 2.0, 0.5]);
        let s = weighted_sum(&maps(None));
        assert!((s[0] - 2.0).abs() < 1e-6);
    }

    #[test]
    fn colormap_and_pictures() {
        assert_eq!(colormap(0.0), Color32::from_rgb(0, 0, 4));
        assert_eq!(colormap(1.0), Color32::from_rgb(252, 255, 164));
        assert_eq!(colormap(f32::NAN), colormap(0.0));
        let h = heatmap(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], [2, 3]);
        assert_eq!(h.size, [3, 2]);
        assert_eq!(h.pixels[0], colormap(0.0));
        assert_eq!(h.pixels[5], colormap(1.0));
        let face = RgbImage::from_pixel(8, 4, image::Rgb([10, 20, 30]));
        let o = overlay(&face, &[0.0, 1.0], [1, 2], 0.0);
        assert_eq!(o.size, [8, 4]);
        assert_eq!(o.pixels[0], Color32::from_rgb(10, 20, 30));
        let o = overlay(&face, &[0.0, 1.0], [1, 2], 1.0);
        assert_eq!(o.pixels[7], colormap(1.0));
    }
}
