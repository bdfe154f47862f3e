use std::collections::HashSet;
use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;

/// The research data root, `$FACE_DEBLUR_SHARED/data` (tests using it are ignored without it).
fn data_root() -> PathBuf {
    crate::shared::dir("data")
}

fn recorded(root: &Path) -> Arc<RecordedKernels> {
    Arc::new(RecordedKernels::load(&recorded_kernels_path(root)).unwrap())
}

fn dataset(root: &Path, split: Split, sources: &[FaceSource], crop: Option<usize>) -> FaceDataset {
    let opts = DatasetOptions {
        crop,
        ..DatasetOptions::training(Some(recorded(root)))
    };
    FaceDataset::new(root, split, sources, opts).unwrap()
}

fn in_unit_range(v: &[f32]) -> bool {
    v.iter().all(|x| (0.0..=1.0).contains(x))
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs FACE_DEBLUR_SHARED=path/to/shared (research data, not in the repository)"
)]
fn utkface_split_is_fixed_and_about_80_10_10() {
    assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    let root = data_root();
    let lens: Vec<usize> = [Split::Train, Split::Val, Split::Test]
        .iter()
        .map(|&s| dataset(&root, s, &[FaceSource::UtkFace], None).len())
        .collect();
    let total: usize = lens.iter().sum();
    assert_eq!(total, 12_000);
    assert!(
        (lens[0] as f64 / total as f64 - 0.8).abs() < 0.02,
        "{lens:?}"
    );
    assert!(
        (lens[1] as f64 / total as f64 - 0.1).abs() < 0.02,
        "{lens:?}"
    );
    assert!(
        (lens[2] as f64 / total as f64 - 0.1).abs() < 0.02,
        "{lens:?}"
    );
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs FACE_DEBLUR_SHARED=path/to/shared (research data, not in the repository)"
)]
fn splits_are_disjoint_and_sorted() {
    let root = data_root();
    let both = [FaceSource::CelebA, FaceSource::UtkFace];
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let mut celeba_identities: Vec<HashSet<String>> = Vec::new();
    for split in [Split::Train, Split::Val, Split::Test] {
        let ds = dataset(&root, split, &both, None);
        let mut ids = HashSet::new();
        for i in 0..ds.len() {
            assert!(
                seen.insert(ds.path(i).to_path_buf()),
                "{} in two splits",
                ds.path(i).display()
            );
            if ds.source(i) == FaceSource::CelebA {
                ids.insert(
                    ds.path(i)
                        .parent()
                        .unwrap()
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
            if i > 0 && ds.source(i) == ds.source(i - 1) {
                assert!(ds.path(i - 1) < ds.path(i), "not sorted");
            }
        }
        celeba_identities.push(ids);
    }
    assert_eq!(seen.len(), 6000 + 12_000);
    // The CelebA folders split images 24/3/3 within each identity, so identities are shared;
    // this documents that (the split is image-disjoint, not identity-disjoint).
    assert_eq!(celeba_identities[0].len(), 200);
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs FACE_DEBLUR_SHARED=path/to/shared (research data, not in the repository)"
)]
fn samples_are_deterministic_in_range_and_shaped() {
    let root = data_root();
    let ds = dataset(&root, Split::Train, &[FaceSource::CelebA], Some(64));
    let draw = |seed: u64, augment: bool| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        ds.sample(5, &mut rng, augment).unwrap()
    };
    let a = draw(1, true);
    assert_eq!(a, draw(1, true));
    assert_ne!(a.blurred, draw(2, true).blurred);
    assert_eq!(a.size, 64);
    assert_eq!(a.blurred.len(), 3 * 64 * 64);
    assert_eq!(a.sharp.len(), 3 * 64 * 64);
    assert!(in_unit_range(&a.blurred) && in_unit_range(&a.sharp));
    let full = draw(1, false);
    assert_eq!(full.size, 128);
    assert_eq!(full.sharp.len(), 3 * 128 * 128);
    assert!(in_unit_range(&full.blurred) && in_unit_range(&full.sharp));
    // Unaugmented sharp image = the plain loader's image.
    assert_eq!(full.sharp, ds.load_sharp(5).unwrap());
    // The degraded image differs from the sharp one, by more when it is blurred.
    let mse: f32 = full
        .blurred
        .iter()
        .zip(&full.sharp)
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    assert!(mse > 0.0, "{}", full.kernel_label);
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs FACE_DEBLUR_SHARED=path/to/shared (research data, not in the repository)"
)]
fn batches_stack_samples_and_loader_is_deterministic() {
    let root = data_root();
    let ds = Arc::new(dataset(&root, Split::Val, &[FaceSource::CelebA], None));
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let batch = ds.batch(&[0, 1, 2], &mut rng, true).unwrap();
    assert_eq!((batch.n, batch.size), (3, 128));
    assert_eq!(batch.blurred.len(), 3 * 3 * 128 * 128);
    assert_eq!(batch.sharp.len(), batch.blurred.len());
    assert_eq!(batch.kernel_sizes.len(), 3);
    let first = |seed| {
        let rx = spawn_loader(ds.clone(), LoaderOptions::new(4, seed)).unwrap();
        rx.recv().unwrap().unwrap()
    };
    let b1 = first(9);
    assert_eq!(b1.n, 4);
    assert_eq!(b1, first(9));
    assert_ne!(b1.sharp, first(10).sharp);
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs FACE_DEBLUR_SHARED=path/to/shared (research data, not in the repository)"
)]
fn eval_set_is_reproducible_and_labelled() {
    let root = data_root();
    let ds = dataset(&root, Split::Test, &[FaceSource::CelebA], Some(64));
    let policy = EvalPolicy::default();
    let set = ds.eval_set(6, 77, &policy).unwrap();
    assert_eq!(set, ds.eval_set(6, 77, &policy).unwrap());
    assert_ne!(
        set[0].blurred,
        ds.eval_set(6, 78, &policy).unwrap()[0].blurred
    );
    let labels: Vec<&str> = set.iter().map(|s| s.kernel_label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "synthetic_13",
            "kair12_00",
            "synthetic_15",
            "kair12_01",
            "synthetic_17",
            "kair12_02"
        ]
    );
    let sizes: Vec<usize> = set.iter().map(|s| s.kernel_size).collect();
    assert_eq!(sizes, [13, 25, 15, 25, 17, 25]);
    for s in &set {
        assert_eq!(s.size, 128, "eval images are never cropped");
        assert!(in_unit_range(&s.blurred));
    }
    let indices: Vec<usize> = set.iter().map(|s| s.index).collect();
    assert_eq!(indices, [0, 100, 200, 300, 400, 500]);
}

/// Prints the time for a batch of 8 at 128² (run with `--ignored --nocapture`, release).
#[test]
#[ignore = "prints a timing; needs FACE_DEBLUR_SHARED (run with --ignored --nocapture)"]
fn batch_timing() {
    let root = data_root();
    let sources = [FaceSource::CelebA, FaceSource::UtkFace];
    let training = dataset(&root, Split::Train, &sources, None);
    let photo = FaceDataset::new(
        &root,
        Split::Train,
        &sources,
        DatasetOptions::photo(Some(recorded(&root))),
    )
    .unwrap();
    for (name, ds, batch) in [("training", &training, 8), ("photo", &photo, 4)] {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let n = 20;
        let start = Instant::now();
        for b in 0..n {
            let idx: Vec<usize> = (0..batch).map(|i| (b * 997 + i * 131) % ds.len()).collect();
            ds.batch(&idx, &mut rng, true).unwrap();
        }
        println!(
            "{name} data, batch of {batch} at 128² (one thread): {:.1} ms",
            start.elapsed().as_secs_f64() * 1e3 / n as f64
        );
    }
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs FACE_DEBLUR_SHARED=path/to/shared (research data, not in the repository)"
)]
fn use_matched_eval_sets_rotate_families_and_scale_the_blur() {
    let root = data_root();
    let opts = DatasetOptions {
        size: 256,
        ..DatasetOptions::training(Some(recorded(&root)))
    };
    let ds = FaceDataset::new(&root, Split::Test, &[FaceSource::CelebA], opts).unwrap();
    let policy = EvalPolicy {
        kernels: EvalKernels::Families,
        noise_sigma: 2.0 / 255.0,
        framing: 1.0,
        kernel_scale: 2.0,
        jpeg_quality: None,
    };
    let set = ds.eval_set(8, 5, &policy).unwrap();
    let families: Vec<&str> = set.iter().map(|s| s.kernel_family).collect();
    assert_eq!(
        families,
        [
            "recorded shake",
            "synthetic shake",
            "defocus",
            "gaussian",
            "recorded shake",
            "synthetic shake",
            "defocus",
            "gaussian"
        ]
    );
    let labels: Vec<&str> = set.iter().map(|s| s.kernel_label.as_str()).collect();
    assert_eq!(labels[0], "kair12_00");
    assert_eq!(labels[1], "synthetic_27", "13 px at 128² → 27 px at 256²");
    assert_eq!(labels[2], "defocus_r4.0");
    assert_eq!(labels[3], "gaussian_s3.0");
    assert_eq!(set[0].kernel_size, 51, "the 25-px recorded kernel doubled");
    for s in &set {
        assert_eq!(s.size, 256);
        assert_eq!(s.sharp.len(), 3 * 256 * 256);
        assert!(in_unit_range(&s.blurred));
    }
    // Tight and FFHQ framings of the same face differ.
    let tight = ds
        .eval_set(
            1,
            5,
            &EvalPolicy {
                framing: 0.0,
                ..policy
            },
        )
        .unwrap();
    assert_ne!(tight[0].sharp, set[0].sharp);
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs FACE_DEBLUR_SHARED=path/to/shared (research data, not in the repository)"
)]
fn photo_mix_draws_every_blur_family() {
    let root = data_root();
    let cfg = DegradationConfig::photo(Some(recorded(&root)));
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut counts = std::collections::BTreeMap::new();
    let n = 2000;
    for _ in 0..n {
        let p = sample_degradation(&mut rng, &cfg);
        *counts.entry(p.source.family()).or_insert(0usize) += 1;
        if let Some(k) = &p.kernel {
            assert!((k.sum() - 1.0).abs() < 1e-4);
        }
    }
    let share = |f: &str| counts.get(f).copied().unwrap_or(0) as f32 / n as f32;
    assert!((share("none") - 0.05).abs() < 0.02, "{counts:?}");
    assert!((share("recorded shake") - 0.20).abs() < 0.03, "{counts:?}");
    assert!((share("defocus") - 0.18).abs() < 0.03, "{counts:?}");
    assert!((share("gaussian") - 0.12).abs() < 0.03, "{counts:?}");
    assert!((share("synthetic shake") - 0.45).abs() < 0.03, "{counts:?}");
}

#[test]
fn min_source_scale_widens_only_upscaled_windows() {
    // The CelebA tight window (116 px) at 128² must widen to ≥ 1.2 · 128 source pixels.
    let f = min_framing(CELEBA_WINDOW.side, 1.2 * 128.0);
    let side = CELEBA_WINDOW.framed(f).side;
    assert!((side - 153.6).abs() < 1e-9, "{side}");
    assert!(f > 1.0 && f < 1.1, "about the FFHQ framing, not {f}");
    // A UTKFace chip (200 px) is already downscaled: any drawn framing ≥ 0 stays.
    assert!(min_framing(200.0, 1.2 * 128.0) < 0.0);
    // Off.
    assert_eq!(min_framing(116.0, 0.0), f64::NEG_INFINITY);
}
