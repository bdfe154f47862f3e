//! Resampling a face window out of a decoded photo (with optional geometric jitter) and the
//! colour jitter used for training augmentation.

use rand::Rng;

/// A decoded RGB photo as interleaved HWC `f32` in [0, 1].
pub struct SourceImage {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `height * width * 3` values, row-major, RGB interleaved.
    pub hwc_unit: Vec<f32>,
}

impl SourceImage {
    /// Converts an 8-bit RGB image.
    pub fn from_rgb8(img: &image::RgbImage) -> Self {
        Self {
            width: img.width() as usize,
            height: img.height() as usize,
            hwc_unit: img.as_raw().iter().map(|&v| f32::from(v) / 255.0).collect(),
        }
    }
}

/// Square region of a source photo that becomes the face image: centre and side in source
/// pixels (continuous coordinates, pixel `i` covers `[i, i + 1)`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    /// Centre x.
    pub cx: f64,
    /// Centre y.
    pub cy: f64,
    /// Side length.
    pub side: f64,
}

/// Random augmentation of one training sample. [`Jitter::IDENTITY`] changes nothing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Jitter {
    /// Mirror left–right.
    pub flip: bool,
    /// Zoom factor (> 1 shows a smaller region larger).
    pub zoom: f64,
    /// Shift of the content in output pixels (x, y).
    pub shift_px: (f64, f64),
    /// Rotation in radians.
    pub rotation_rad: f64,
    /// Brightness factor (1 = unchanged).
    pub brightness: f32,
    /// Contrast factor around the mean luminance (1 = unchanged).
    pub contrast: f32,
    /// Saturation factor around each pixel's luminance (1 = unchanged).
    pub saturation: f32,
    /// Face framing: 0 = the tight window (like the CLI's detector crops), 1 = the whole-head
    /// framing of FFHQ/CelebA-HQ aligned faces ([`Window::framed`]).
    pub framing: f64,
}

impl Jitter {
    /// No augmentation.
    pub const IDENTITY: Self = Self {
        flip: false,
        zoom: 1.0,
        shift_px: (0.0, 0.0),
        rotation_rad: 0.0,
        brightness: 1.0,
        contrast: 1.0,
        saturation: 1.0,
        framing: 0.0,
    };
}

/// Side of the FFHQ/CelebA-HQ framing relative to the tight window. FFHQ's alignment crops a
/// square of side 2·max(2·eye distance, 1.8·eye-to-mouth distance) centred 0.1·eye-to-mouth
/// below the eyes; with the tight window's eyes at 33 % and mouth at 69 % of its height and an
/// eye distance of 32 % of its side (CelebA window and UTKFace chips alike) that is 1.30 sides…
pub const FFHQ_SIDE_FACTOR: f64 = 1.30;
/// …centred 0.136 tight-window sides higher.
pub const FFHQ_RAISE: f64 = 0.136;

impl Window {
    /// This (tight) window reframed: `framing` 0 keeps it, 1 gives the FFHQ-style whole-head
    /// framing, values in between (or slightly outside) interpolate linearly.
    pub fn framed(self, framing: f64) -> Self {
        Self {
            cx: self.cx,
            cy: self.cy - FFHQ_RAISE * framing * self.side,
            side: self.side * (1.0 + (FFHQ_SIDE_FACTOR - 1.0) * framing),
        }
    }
}

/// The smallest [`Window::framed`] framing at which a tight window of side `tight_side` spans
/// `min_side` source pixels (−∞ when `min_side` ≤ 0: no constraint).
pub fn min_framing(tight_side: f64, min_side: f64) -> f64 {
    if min_side <= 0.0 {
        return f64::NEG_INFINITY;
    }
    (min_side / tight_side - 1.0) / (FFHQ_SIDE_FACTOR - 1.0)
}

/// Ranges of the training augmentation (each jitter is drawn uniformly in ±range).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AugmentConfig {
    /// Random horizontal flips (probability 1/2).
    pub flip: bool,
    /// Relative zoom range, e.g. 0.05 for ±5 %.
    pub max_zoom: f64,
    /// Shift range in output pixels, e.g. 4.
    pub max_shift_px: f64,
    /// Rotation range in degrees, e.g. 5.
    pub max_rotation_deg: f64,
    /// Relative brightness, contrast and saturation range, e.g. 0.05 for ±5 %.
    pub max_colour: f32,
    /// Range of [`Jitter::framing`] (drawn uniformly; (0, 0) = always the tight window).
    pub framing_range: (f64, f64),
}

impl Default for AugmentConfig {
    /// Flip, ±5 % zoom, ±4 px shift, ±5° rotation, ±5 % colour.
    fn default() -> Self {
        Self {
            flip: true,
            max_zoom: 0.05,
            max_shift_px: 4.0,
            max_rotation_deg: 5.0,
            max_colour: 0.05,
            framing_range: (0.0, 0.0),
        }
    }
}

impl AugmentConfig {
    /// Draws one jitter.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Jitter {
        let mut sym = |r: f64| {
            if r > 0.0 {
                rng.random_range(-r..=r)
            } else {
                0.0
            }
        };
        let zoom = 1.0 + sym(self.max_zoom);
        let shift_px = (sym(self.max_shift_px), sym(self.max_shift_px));
        let rotation_rad = sym(self.max_rotation_deg).to_radians();
        let c = f64::from(self.max_colour);
        let brightness = (1.0 + sym(c)) as f32;
        let contrast = (1.0 + sym(c)) as f32;
        let saturation = (1.0 + sym(c)) as f32;
        let flip = self.flip && rng.random_bool(0.5);
        // Drawn last and only when the range is not empty, so older configurations keep
        // their exact random streams.
        let (lo, hi) = self.framing_range;
        let framing = if hi > lo {
            rng.random_range(lo..=hi)
        } else {
            lo
        };
        Jitter {
            framing,
            flip,
            zoom,
            shift_px,
            rotation_rad,
            brightness,
            contrast,
            saturation,
        }
    }
}

/// Renders `window` of `src` as a CHW [0, 1] image of side `out_side + 2 * margin`, where the
/// window maps onto the central `out_side²` pixels and the margin shows the surroundings at the
/// same scale (so a blur can be applied without padding artefacts). Geometric jitter is applied
/// about the window centre. Resampling uses a triangle (tent) filter whose radius is the
/// source-pixels-per-output-pixel ratio (at least 1), i.e. an antialiased bilinear resize;
/// outside the photo it is mirrored. `jitter.framing` is not applied here: callers pass the
/// window already [`Window::framed`].
pub fn render_window(
    src: &SourceImage,
    window: Window,
    out_side: usize,
    margin: usize,
    jitter: &Jitter,
) -> Vec<f32> {
    let side = out_side + 2 * margin;
    let scale = window.side / (out_side as f64 * jitter.zoom);
    let radius = scale.max(1.0);
    let (sin, cos) = jitter.rotation_rad.sin_cos();
    let plane = side * side;
    let mut out = vec![0.0f32; 3 * plane];
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    let centre = side as f64 / 2.0;
    for v in 0..side {
        for u in 0..side {
            let mut ox = u as f64 + 0.5 - centre - jitter.shift_px.0;
            let oy = v as f64 + 0.5 - centre - jitter.shift_px.1;
            if jitter.flip {
                ox = -ox;
            }
            // Source position in pixel-index coordinates (pixel centres at integers).
            let sx = window.cx + scale * (cos * ox - sin * oy) - 0.5;
            let sy = window.cy + scale * (sin * ox + cos * oy) - 0.5;
            tent_taps(sx, radius, src.width, &mut xs);
            tent_taps(sy, radius, src.height, &mut ys);
            let mut acc = [0.0f32; 3];
            let mut total = 0.0f32;
            for &(iy, wy) in &ys {
                let row = &src.hwc_unit[iy * src.width * 3..];
                for &(ix, wx) in &xs {
                    let wt = wx * wy;
                    let px = &row[ix * 3..ix * 3 + 3];
                    acc[0] += wt * px[0];
                    acc[1] += wt * px[1];
                    acc[2] += wt * px[2];
                    total += wt;
                }
            }
            for (ch, a) in acc.iter().enumerate() {
                out[ch * plane + v * side + u] = (a / total).clamp(0.0, 1.0);
            }
        }
    }
    out
}

/// Fills `taps` with (clamped index, weight) pairs of a tent filter of `radius` at `pos`.
fn tent_taps(pos: f64, radius: f64, n: usize, taps: &mut Vec<(usize, f32)>) {
    taps.clear();
    let first = (pos - radius).floor() as isize + 1;
    let last = (pos + radius).ceil() as isize - 1;
    for i in first..=last {
        let wt = 1.0 - (i as f64 - pos).abs() / radius;
        if wt > 0.0 {
            taps.push((mirror(i, n), wt as f32));
        }
    }
    if taps.is_empty() {
        // Only when `pos` sits exactly on a pixel with radius ≤ 1 rounding away all weights.
        taps.push((mirror(pos.round() as isize, n), 1.0));
    }
}

/// Index `i` mirrored into `0..n` (edge pixel repeated once: `-1 → 0`, `n → n - 1`), so
/// windows reaching past the photo show a reflection of it rather than smeared edge pixels.
fn mirror(i: isize, n: usize) -> usize {
    let n = n as isize;
    let period = 2 * n;
    let m = i.rem_euclid(period);
    (if m < n { m } else { period - 1 - m }) as usize
}

/// Applies brightness, contrast (about the image's mean BT.601 luminance) and saturation
/// (about each pixel's luminance) jitter to a 3-channel CHW [0, 1] image, clamping to [0, 1].
pub fn colour_jitter(chw_unit: &mut [f32], jitter: &Jitter) {
    if jitter.brightness == 1.0 && jitter.contrast == 1.0 && jitter.saturation == 1.0 {
        return;
    }
    let plane = chw_unit.len() / 3;
    let luma = |p: &[f32], i: usize| 0.299 * p[i] + 0.587 * p[plane + i] + 0.114 * p[2 * plane + i];
    let mean_luma = (0..plane).map(|i| luma(chw_unit, i)).sum::<f32>() / plane.max(1) as f32
        * jitter.brightness;
    for i in 0..plane {
        let y = luma(chw_unit, i) * jitter.brightness;
        for ch in 0..3 {
            let v = chw_unit[ch * plane + i] * jitter.brightness;
            let v = y + (v - y) * jitter.saturation;
            chw_unit[ch * plane + i] =
                (mean_luma + (v - mean_luma) * jitter.contrast).clamp(0.0, 1.0);
        }
    }
}

/// Copies the `side²` square at (`top`, `left`) out of a `c × full × full` CHW image.
pub fn crop_square(
    chw: &[f32],
    c: usize,
    full: usize,
    top: usize,
    left: usize,
    side: usize,
) -> Vec<f32> {
    assert!(
        top + side <= full && left + side <= full,
        "crop outside the image"
    );
    let mut out = Vec::with_capacity(c * side * side);
    for ch in 0..c {
        for y in top..top + side {
            let start = ch * full * full + y * full + left;
            out.extend_from_slice(&chw[start..start + side]);
        }
    }
    out
}
