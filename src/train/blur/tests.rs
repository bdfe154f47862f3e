use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::kernel::reflect_index;
use super::*;

/// The recorded kernels of the research data (tests using them are ignored without it).
fn kernels_path() -> PathBuf {
    crate::shared::dir("data").join("kernels/motion_kernels.safetensors")
}

fn random_image(rng: &mut ChaCha8Rng, c: usize, h: usize, w: usize) -> Vec<f32> {
    (0..c * h * w).map(|_| rng.random::<f32>()).collect()
}

/// Direct convolution with the same reflect padding, for checking the fast path.
fn naive_blur(img: &[f32], c: usize, h: usize, w: usize, k: &Kernel) -> Vec<f32> {
    let r = (k.size / 2) as isize;
    let mut out = vec![0.0f32; img.len()];
    for ch in 0..c {
        for y in 0..h as isize {
            for x in 0..w as isize {
                let mut acc = 0.0f32;
                for i in 0..k.size as isize {
                    for j in 0..k.size as isize {
                        let sy = reflect_index(y + r - i, h);
                        let sx = reflect_index(x + r - j, w);
                        acc += k.data[(i * k.size as isize + j) as usize]
                            * img[ch * h * w + sy * w + sx];
                    }
                }
                out[ch * h * w + y as usize * w + x as usize] = acc;
            }
        }
    }
    out
}

#[test]
fn synthetic_kernels_are_normalised_non_negative_and_centred() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let cfg = DegradationConfig {
        no_blur_share: 0.0,
        ..DegradationConfig::training(None)
    };
    let mut sizes_seen = std::collections::BTreeSet::new();
    for _ in 0..200 {
        let p = sample_degradation(&mut rng, &cfg);
        let k = p.kernel.as_ref().expect("no-blur share is 0");
        assert!(
            k.size % 2 == 1 && (13..=27).contains(&k.size),
            "size {}",
            k.size
        );
        assert_eq!(k.data.len(), k.size * k.size);
        assert!((k.sum() - 1.0).abs() < 1e-5, "sum {}", k.sum());
        assert!(k.data.iter().all(|&v| v >= 0.0));
        // Centre of mass on the central pixel.
        let half = (k.size / 2) as f32;
        let (mut cy, mut cx) = (0.0, 0.0);
        for (i, &v) in k.data.iter().enumerate() {
            cy += (i / k.size) as f32 * v;
            cx += (i % k.size) as f32 * v;
        }
        assert!(
            (cy - half).abs() < 1e-3 && (cx - half).abs() < 1e-3,
            "centroid ({cy}, {cx}) vs {half}"
        );
        // A real blur, not a delta: the peak holds well under all the mass.
        assert!(k.data.iter().cloned().fold(0.0, f32::max) < 0.9);
        assert_eq!(p.source, KernelSource::Synthetic { size: k.size });
        sizes_seen.insert(k.size);
    }
    assert_eq!(
        sizes_seen.len(),
        8,
        "all odd sizes 13..=27 drawn: {sizes_seen:?}"
    );
}

#[test]
fn same_seed_same_kernel_and_image_different_seed_differs() {
    let img = random_image(&mut ChaCha8Rng::seed_from_u64(7), 3, 40, 36);
    let cfg = DegradationConfig {
        no_blur_share: 0.0,
        jpeg_share: 1.0,
        ..DegradationConfig::training(None)
    };
    let run = |seed: u64| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let p = sample_degradation(&mut rng, &cfg);
        let out = apply_degradation(&img, 3, 40, 36, &p, &mut rng).unwrap();
        (p, out)
    };
    let (p1, o1) = run(42);
    let (p2, o2) = run(42);
    let (p3, o3) = run(43);
    assert_eq!(p1, p2);
    assert_eq!(o1, o2);
    assert_ne!(p1.kernel, p3.kernel);
    assert_ne!(o1, o3);
    assert!(o1.iter().all(|v| (0.0..=1.0).contains(v)));
    assert_eq!(o1.len(), img.len());
}

#[test]
fn constant_image_stays_constant() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let k = synthetic_kernel(&mut rng, 27);
    let img = vec![0.37f32; 3 * 20 * 30];
    let out = blur_rgb(&img, 3, 20, 30, &k);
    assert!(out.iter().all(|v| (v - 0.37).abs() < 1e-5));
}

#[test]
fn delta_kernel_is_identity() {
    let img = random_image(&mut ChaCha8Rng::seed_from_u64(4), 3, 17, 23);
    assert_eq!(blur_rgb(&img, 3, 17, 23, &Kernel::delta(9)), img);
}

#[test]
fn shifted_delta_is_a_true_convolution() {
    // Weight at (row 1, col 2) of a 3×3 kernel moves content one pixel right: out(y, x) = in(y, x - 1).
    let (h, w) = (5, 6);
    let img = random_image(&mut ChaCha8Rng::seed_from_u64(5), 1, h, w);
    let mut data = vec![0.0; 9];
    data[5] = 1.0;
    let out = blur_rgb(&img, 1, h, w, &Kernel { size: 3, data });
    for y in 0..h {
        for x in 1..w {
            assert_eq!(out[y * w + x], img[y * w + x - 1]);
        }
        assert_eq!(
            out[y * w],
            img[y * w + 1],
            "reflect padding at the left edge"
        );
    }
}

#[test]
fn fast_blur_matches_naive_convolution_even_for_kernels_larger_than_the_image() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    for &(h, w, size) in &[(24, 19, 13), (9, 11, 27), (1, 5, 3)] {
        let img = random_image(&mut rng, 3, h, w);
        let k = synthetic_kernel(&mut rng, size);
        let fast = blur_rgb(&img, 3, h, w, &k);
        let slow = naive_blur(&img, 3, h, w, &k);
        for (a, b) in fast.iter().zip(&slow) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b} at {h}×{w}, k {size}");
        }
    }
}

#[test]
fn reflect_index_mirrors_without_repeating_the_edge() {
    let got: Vec<usize> = (-4..8).map(|i| reflect_index(i, 4)).collect();
    assert_eq!(got, vec![2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1]);
}

#[test]
fn centred_from_rect_pads_to_odd_square_around_centre_of_mass() {
    // 2×4 kernel with all mass in its last column: centre of mass (0.5, 3).
    let k = Kernel::centred_from_rect(2, 4, &[0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 3.0]).unwrap();
    assert_eq!(k.size % 2, 1);
    assert!((k.sum() - 1.0).abs() < 1e-6);
    let half = k.size / 2;
    let peak = k.data.iter().position(|&v| v == 0.75).unwrap();
    assert_eq!(
        peak % k.size,
        half,
        "mass column lands in the centre column"
    );
    assert!(Kernel::centred_from_rect(1, 2, &[1.0, -0.5]).is_err());
    assert!(Kernel::centred_from_rect(1, 2, &[0.0, 0.0]).is_err());
}

#[test]
fn noise_and_jpeg_change_the_image_and_stay_in_range() {
    let img = random_image(&mut ChaCha8Rng::seed_from_u64(8), 3, 32, 32);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let noisy = DegradationParams {
        source: KernelSource::None,
        kernel: None,
        noise_sigma: 0.02,
        jpeg_quality: None,
    };
    let out = apply_degradation(&img, 3, 32, 32, &noisy, &mut rng).unwrap();
    let mse: f32 = out
        .iter()
        .zip(&img)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f32>()
        / img.len() as f32;
    // Clamping removes a little of the variance near 0 and 1.
    assert!(
        mse > 0.7 * 0.02 * 0.02 && mse < 1.1 * 0.02 * 0.02,
        "noise mse {mse}"
    );
    let jpeg = DegradationParams {
        noise_sigma: 0.0,
        jpeg_quality: Some(50),
        ..noisy
    };
    let out = apply_degradation(&img, 3, 32, 32, &jpeg, &mut rng).unwrap();
    assert_ne!(out, img);
    assert!(out.iter().all(|v| (0.0..=1.0).contains(v)));
}

#[test]
fn degradation_shares_are_respected() {
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let cfg = DegradationConfig::training(None);
    let n = 2000;
    let none = (0..n)
        .filter(|_| sample_degradation(&mut rng, &cfg).kernel.is_none())
        .count();
    let share = none as f32 / n as f32;
    assert!((share - 0.1).abs() < 0.03, "no-blur share {share}");
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs FACE_DEBLUR_SHARED=path/to/shared (research data, not in the repository)"
)]
fn recorded_kernels_load_and_split() {
    let path = kernels_path();
    let rec = RecordedKernels::load(&path).unwrap();
    assert_eq!(rec.len(), 39);
    assert_eq!(rec.names.len(), 39);
    for (name, k) in rec.names.iter().zip(&rec.kernels) {
        assert_eq!(k.size % 2, 1, "{name}");
        assert_eq!(k.data.len(), k.size * k.size);
        assert!((k.sum() - 1.0).abs() < 1e-5, "{name} sums to {}", k.sum());
        assert!(k.data.iter().all(|&v| v >= 0.0), "{name}");
    }
    let train = rec.indices_with_role(KernelRole::Train);
    let test = rec.indices_with_role(KernelRole::Test);
    assert_eq!(train.len(), 25);
    assert_eq!(test.len(), 12);
    assert!(test.iter().all(|i| rec.names[*i].starts_with("kair12_")));
    assert!(train.iter().all(|i| !test.contains(i)));
    assert_eq!(rec.kernels[rec.index_of("kair12_00").unwrap()].size, 25);
    assert_eq!(
        rec.kernels[rec.index_of("kair_k_large_2").unwrap()].size % 2,
        1
    );

    // Training draws recorded kernels only from the train role.
    let cfg = DegradationConfig {
        no_blur_share: 0.0,
        recorded_share: 1.0,
        ..DegradationConfig::training(Some(Arc::new(rec.clone())))
    };
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for _ in 0..100 {
        match sample_degradation(&mut rng, &cfg).source {
            KernelSource::Recorded { index, name } => {
                assert!(train.contains(&index));
                assert_eq!(name, rec.names[index]);
            }
            other => panic!("expected a recorded kernel, got {other:?}"),
        }
    }

    // Enlarged recorded kernels: never smaller than recorded, up to the range's factor.
    let cfg = DegradationConfig {
        recorded_scale_range: (1.0, 2.0),
        ..cfg
    };
    let mut enlarged = 0;
    for _ in 0..100 {
        let params = sample_degradation(&mut rng, &cfg);
        let KernelSource::Recorded { index, .. } = params.source else {
            panic!("expected a recorded kernel");
        };
        let (size, recorded) = (params.kernel_size(), rec.kernels[index].size);
        assert!(
            size >= recorded && size <= 2 * recorded + 1,
            "{size} from {recorded}"
        );
        enlarged += usize::from(size > recorded + 2);
    }
    assert!(enlarged > 50, "only {enlarged} of 100 kernels enlarged");
}

#[test]
fn missing_kernel_file_error_names_the_file() {
    let err = RecordedKernels::load(Path::new("/nonexistent/kernels.safetensors")).unwrap_err();
    assert!(
        format!("{err:#}").contains("/nonexistent/kernels.safetensors"),
        "{err:#}"
    );
}

#[test]
fn turned_kernels_are_the_eight_symmetries() {
    // An asymmetric 3×3 kernel: every turn gives a different kernel with the same weights.
    let k = Kernel {
        size: 3,
        data: vec![0.5, 0.2, 0.0, 0.0, 0.2, 0.0, 0.0, 0.0, 0.1],
    };
    let turns: Vec<Kernel> = (0..8).map(|t| k.turned(t)).collect();
    assert_eq!(turns[0], k);
    for (i, a) in turns.iter().enumerate() {
        assert_eq!(a.data[4], 0.2, "turn {i} keeps the centre");
        assert!((a.sum() - k.sum()).abs() < 1e-6);
        for b in &turns[i + 1..] {
            assert_ne!(a, b, "turn {i} repeats another");
        }
    }
    // Mirror left–right moves the top-left weight to the top-right; transposing swaps (0,1)
    // with (1,0).
    assert_eq!(turns[1].data[2], 0.5);
    assert_eq!(turns[4].data[3], 0.2);
    // Each turn undone by itself (mirrors) or by its inverse: turning twice by a mirror is
    // the identity.
    assert_eq!(k.turned(1).turned(1), k);
    assert_eq!(k.turned(2).turned(2), k);
}
