//! Tests of the face windows cut from the source photos: framing, flips, shifts, margins,
//! mirrored edges and colour jitter (no research data needed).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

fn random_source(w: usize, h: usize, seed: u64) -> SourceImage {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    SourceImage {
        width: w,
        height: h,
        hwc_unit: (0..w * h * 3).map(|_| rng.random::<f32>()).collect(),
    }
}

#[test]
fn identity_window_reproduces_the_source() {
    let src = random_source(16, 16, 1);
    let out = render_window(
        &src,
        Window {
            cx: 8.0,
            cy: 8.0,
            side: 16.0,
        },
        16,
        0,
        &Jitter::IDENTITY,
    );
    for y in 0..16 {
        for x in 0..16 {
            for c in 0..3 {
                assert_eq!(
                    out[c * 256 + y * 16 + x],
                    src.hwc_unit[(y * 16 + x) * 3 + c]
                );
            }
        }
    }
}

#[test]
fn flip_mirrors_and_shift_moves_content() {
    let src = random_source(20, 20, 2);
    let window = Window {
        cx: 10.0,
        cy: 10.0,
        side: 20.0,
    };
    let plain = render_window(&src, window, 20, 0, &Jitter::IDENTITY);
    let flipped = render_window(
        &src,
        window,
        20,
        0,
        &Jitter {
            flip: true,
            ..Jitter::IDENTITY
        },
    );
    let shifted = render_window(
        &src,
        window,
        20,
        0,
        &Jitter {
            shift_px: (2.0, 0.0),
            ..Jitter::IDENTITY
        },
    );
    for y in 0..20 {
        for x in 0..20 {
            assert_eq!(flipped[y * 20 + x], plain[y * 20 + 19 - x]);
            if x >= 2 {
                assert_eq!(shifted[y * 20 + x], plain[y * 20 + x - 2]);
            }
        }
    }
}

#[test]
fn margin_only_adds_surroundings() {
    let src = random_source(60, 70, 3);
    let window = Window {
        cx: 30.0,
        cy: 38.0,
        side: 44.0,
    };
    let jitter = Jitter {
        rotation_rad: 0.05,
        zoom: 1.03,
        ..Jitter::IDENTITY
    };
    let plain = render_window(&src, window, 32, 0, &jitter);
    let with_margin = render_window(&src, window, 32, 5, &jitter);
    let centre = crop_square(&with_margin, 3, 42, 5, 5, 32);
    for (a, b) in plain.iter().zip(&centre) {
        assert!((a - b).abs() < 1e-5);
    }
}

#[test]
fn colour_jitter_identity_is_a_no_op_and_brightness_brightens() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let img: Vec<f32> = (0..3 * 64)
        .map(|_| 0.2 + 0.5 * rng.random::<f32>())
        .collect();
    let mut same = img.clone();
    colour_jitter(&mut same, &Jitter::IDENTITY);
    assert_eq!(same, img);
    let mut bright = img.clone();
    colour_jitter(
        &mut bright,
        &Jitter {
            brightness: 1.05,
            ..Jitter::IDENTITY
        },
    );
    assert!(
        bright
            .iter()
            .zip(&img)
            .all(|(b, a)| (b - a * 1.05).abs() < 1e-5)
    );
    let mut grey = img.clone();
    colour_jitter(
        &mut grey,
        &Jitter {
            saturation: 0.0,
            ..Jitter::IDENTITY
        },
    );
    assert!(
        (0..64).all(
            |i| (grey[i] - grey[64 + i]).abs() < 1e-5 && (grey[i] - grey[128 + i]).abs() < 1e-5
        )
    );
}

#[test]
fn framing_interpolates_from_the_tight_window_to_ffhq() {
    let tight = CELEBA_WINDOW;
    assert_eq!(tight.framed(0.0), tight);
    let ffhq = tight.framed(1.0);
    assert!((ffhq.side - tight.side * FFHQ_SIDE_FACTOR).abs() < 1e-9);
    assert!((ffhq.cy - (tight.cy - FFHQ_RAISE * tight.side)).abs() < 1e-9);
    assert_eq!(ffhq.cx, tight.cx);
    // The FFHQ framing of an aligned CelebA photo fits inside it (no padding needed).
    let (left, top) = (ffhq.cx - ffhq.side / 2.0, ffhq.cy - ffhq.side / 2.0);
    assert!(left >= 0.0 && top >= 0.0, "{ffhq:?}");
    assert!(
        left + ffhq.side <= 178.0 && top + ffhq.side <= 218.0,
        "{ffhq:?}"
    );
}

#[test]
fn windows_past_the_photo_edge_show_its_mirror_image() {
    let src = random_source(12, 10, 3);
    // A window twice the photo's width, centred: the outer quarters mirror the photo.
    let window = Window {
        cx: 6.0,
        cy: 5.0,
        side: 24.0,
    };
    let out = render_window(&src, window, 24, 0, &Jitter::IDENTITY);
    let at = |img: &[f32], side: usize, x: usize, y: usize| img[y * side + x];
    let src_at = |x: usize, y: usize| src.hwc_unit[(y * src.width + x) * 3];
    // Output column 5 is photo column 0 (window starts at −6), column 4 mirrors it.
    assert!((at(&out, 24, 6, 12) - src_at(0, 5)).abs() < 1e-6);
    assert!((at(&out, 24, 5, 12) - src_at(0, 5)).abs() < 1e-6);
    assert!((at(&out, 24, 4, 12) - src_at(1, 5)).abs() < 1e-6);
}
