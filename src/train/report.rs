//! Pictures of a training run: loss/PSNR curves and a blurred | restored | sharp sample grid.

use std::path::Path;

use anyhow::Result;
use image::{Rgb, RgbImage};

use super::checkpoint::RunState;
use super::font::draw_text;

/// CHW [0, 1] → RGB8, square `size × size`.
pub fn unit_chw_to_rgb(chw: &[f32], size: usize) -> RgbImage {
    unit_chw_to_rgb_wh(chw, size as u32, size as u32)
}

/// CHW [0, 1] → RGB8 of `width × height` (values clamped to [0, 1], rounded).
pub fn unit_chw_to_rgb_wh(chw: &[f32], width: u32, height: u32) -> RgbImage {
    let plane = (width * height) as usize;
    RgbImage::from_fn(width, height, |x, y| {
        let i = (y * width + x) as usize;
        let v = |c: usize| (chw[c * plane + i].clamp(0.0, 1.0) * 255.0).round() as u8;
        Rgb([v(0), v(1), v(2)])
    })
}

/// RGB8 → CHW in [0, 1] (the inverse of [`unit_chw_to_rgb_wh`] on 8-bit values).
pub fn rgb_to_unit_chw(img: &RgbImage) -> Vec<f32> {
    let plane = (img.width() * img.height()) as usize;
    let mut out = vec![0.0; 3 * plane];
    for (i, p) in img.pixels().enumerate() {
        for c in 0..3 {
            out[c * plane + i] = f32::from(p.0[c]) / 255.0;
        }
    }
    out
}

/// A grid with one row per face: blurred | restored | sharp (CHW [0, 1] images of `size`²).
pub fn sample_grid(rows: &[(Vec<f32>, Vec<f32>, Vec<f32>)], size: usize) -> RgbImage {
    let gap = 2u32;
    let s = size as u32;
    let mut grid = RgbImage::from_pixel(
        3 * s + 4 * gap,
        rows.len() as u32 * (s + gap) + gap,
        Rgb([255, 255, 255]),
    );
    for (r, (blurred, restored, sharp)) in rows.iter().enumerate() {
        for (c, img) in [blurred, restored, sharp].into_iter().enumerate() {
            let tile = unit_chw_to_rgb(img, size);
            let x0 = gap + c as u32 * (s + gap);
            let y0 = gap + r as u32 * (s + gap);
            image::imageops::replace(&mut grid, &tile, x0 as i64, y0 as i64);
        }
    }
    grid
}

/// Draw a polyline of `points` (data coordinates) into `img` inside `plot` = (x0, y0, w, h).
fn polyline(
    img: &mut RgbImage,
    points: &[(f64, f64)],
    x_range: (f64, f64),
    y_range: (f64, f64),
    plot: (u32, u32, u32, u32),
    colour: Rgb<u8>,
) {
    let (x0, y0, w, h) = plot;
    let to_px = |(x, y): (f64, f64)| {
        let fx = (x - x_range.0) / (x_range.1 - x_range.0).max(1e-9);
        let fy = (y - y_range.0) / (y_range.1 - y_range.0).max(1e-9);
        (
            x0 as f64 + fx.clamp(0.0, 1.0) * (w - 1) as f64,
            (y0 + h - 1) as f64 - fy.clamp(0.0, 1.0) * (h - 1) as f64,
        )
    };
    for pair in points.windows(2) {
        let (a, b) = (to_px(pair[0]), to_px(pair[1]));
        let n = ((b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil() as usize).max(1);
        for k in 0..=n {
            let t = k as f64 / n as f64;
            let (x, y) = (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1));
            for dy in 0..2 {
                let (px, py) = (x.round() as u32, y.round() as u32 + dy);
                if px < img.width() && py < img.height() {
                    img.put_pixel(px, py, colour);
                }
            }
        }
    }
}

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        (0.0, 1.0)
    } else if (hi - lo) < 1e-9 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

/// Two panels: top, validation PSNR (blue: restored, grey: blurred input) with its range;
/// bottom, losses (red: pixel L1, green: prior, orange: adversarial G, purple: D), each scaled
/// to its own range, printed in the legend. The x axis runs from step 0 to the current step.
pub fn curves(state: &RunState) -> RgbImage {
    let (w, h) = (640u32, 480u32);
    let mut img = RgbImage::from_pixel(w, h, Rgb([255, 255, 255]));
    let frame = Rgb([200, 200, 200]);
    for (y0, ph) in [(10u32, 220u32), (250, 220)] {
        for x in 10..w - 10 {
            img.put_pixel(x, y0, frame);
            img.put_pixel(x, y0 + ph - 1, frame);
        }
    }
    let max_step = state.step.max(1) as f64;
    let val = &state.validation;
    let psnr: Vec<f64> = val
        .iter()
        .flat_map(|v| [v.psnr_input, v.psnr_output])
        .collect();
    let yr = range(psnr.into_iter());
    let top = (10, 10, w - 20, 220);
    let pts = |f: &dyn Fn(&super::checkpoint::ValidationPoint) -> f64| -> Vec<(f64, f64)> {
        val.iter().map(|v| (v.step as f64, f(v))).collect()
    };
    polyline(
        &mut img,
        &pts(&|v| v.psnr_input),
        (0.0, max_step),
        yr,
        top,
        Rgb([150, 150, 150]),
    );
    polyline(
        &mut img,
        &pts(&|v| v.psnr_output),
        (0.0, max_step),
        yr,
        top,
        Rgb([30, 90, 220]),
    );
    let ink = Rgb([60, 60, 60]);
    draw_text(&mut img, 14, 14, &format!("{:.2}", yr.1), 2, ink);
    draw_text(&mut img, 14, 216, &format!("{:.2}", yr.0), 2, ink);
    draw_text(&mut img, 200, 14, "PSNR DB: OUT", 2, Rgb([30, 90, 220]));
    draw_text(&mut img, 360, 14, "IN", 2, Rgb([150, 150, 150]));
    draw_text(&mut img, w - 100, 236, &format!("{}", state.step), 2, ink);
    draw_text(&mut img, 14, 236, "0", 2, ink);
    let losses = &state.losses;
    let bottom = (10, 250, w - 20, 220);
    type Series<'a> = (&'a dyn Fn(&super::checkpoint::LossPoint) -> f64, Rgb<u8>);
    let series: [Series; 4] = [
        (&|l| l.pixel, Rgb([220, 40, 40])),
        (&|l| l.prior, Rgb([40, 160, 60])),
        (&|l| l.adversarial, Rgb([240, 150, 20])),
        (&|l| l.discriminator, Rgb([140, 60, 200])),
    ];
    let names = ["L1", "PRIOR", "ADV", "D"];
    for (k, (f, colour)) in series.into_iter().enumerate() {
        let p: Vec<(f64, f64)> = losses.iter().map(|l| (l.step as f64, f(l))).collect();
        let yr = range(p.iter().map(|q| q.1));
        polyline(&mut img, &p, (0.0, max_step), yr, bottom, colour);
        let label = format!("{} {:.3}-{:.3}", names[k], yr.0, yr.1);
        draw_text(&mut img, 14 + 155 * k as u32, 456, &label, 2, colour);
    }
    img
}

/// Write `img` as PNG to `path` atomically.
pub fn save_png(img: &RgbImage, path: &Path) -> Result<()> {
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )?;
    crate::fsutil::write_atomic(path, &bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::checkpoint::{LossPoint, ValidationPoint};

    #[test]
    fn curves_draw_both_series() {
        let mut state = RunState {
            step: 400,
            ..Default::default()
        };
        for (i, step) in [200usize, 400].into_iter().enumerate() {
            state.validation.push(ValidationPoint {
                step,
                psnr_input: 25.0,
                psnr_output: 25.5 + i as f64,
                ssim_input: 0.7,
                ssim_output: 0.72,
            });
            state.losses.push(LossPoint {
                step,
                pixel: 0.1 - 0.01 * i as f64,
                prior: 1.0,
                adversarial: 0.7,
                discriminator: 1.3,
            });
        }
        let img = curves(&state);
        let blue = img.pixels().filter(|p| p.0 == [30, 90, 220]).count();
        let red = img.pixels().filter(|p| p.0 == [220, 40, 40]).count();
        assert!(blue > 100 && red > 100, "blue {blue}, red {red}");
    }
}
