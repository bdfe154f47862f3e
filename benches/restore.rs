//! Timing of restoration and training (issue #5): `cargo bench --bench restore`.
//!
//! Benchmarks (criterion ids; pass a substring after `--` to run only some, e.g.
//! `cargo bench --bench restore -- restore_128/compact`):
//! - `restore_128/{compact,paper}/{cpu,wgpu}`: [`Restorer::restore`] of one 128² face (RGB8
//!   in, RGB8 + priors out) with the shipped compact weights and with the paper-size generator
//!   (random weights: timing only). Throughput is reported in FLOP/s (criterion's `elem/s`),
//!   from [`GeneratorConfig::macs`] (FLOPs = 2 × MACs; convolutions only).
//!   `…/image_only` times [`Restorer::restore_images`] (the CLI's path: no prior maps or CA
//!   weights read back) on the same restorer; it runs only after its sibling.
//! - `batch4/compact/{cpu,wgpu}/{one_batch,4_single}`: four faces in one
//!   [`Restorer::restore_batch`] call against four [`Restorer::restore`] calls.
//! - `photo_24mp/cpu/end_to_end`: decode → detect → restore → paste → encode of a ~24 MP JPEG
//!   with three faces, made at start-up by upscaling `assets/photos/gfpgan_10045.jpg` into a
//!   temporary folder; a one-off per-stage breakdown is printed first.
//! - `train_step/compact_b8_64px/cpu`: one D + G step of [`Trainer`] with
//!   [`TrainConfig::compact_default`] (face-ResNet teacher from `../shared/weights`) on a batch
//!   of 8 random 64² crops.
//!
//! The wgpu benchmarks use `DeviceKind::DefaultDevice` and are skipped with a message when
//! there is no adapter (or `FACE_DEBLUR_SKIP_WGPU` is set). The first wgpu call of each input
//! shape compiles kernels and autotunes; that warm-up runs before the measurement and its time
//! is printed separately. The first call on the CPU is printed too. The wgpu warm-up is
//! shorter in later processes when the driver keeps a shader cache (Mesa:
//! `~/.cache/mesa_shader_cache`; `MESA_SHADER_CACHE_DISABLE=true` measures a cold start). Set
//! `FACE_DEBLUR_BENCH_SOFTWARE_PAPER=1` to also run the paper-size generator on a software
//! wgpu adapter (lavapipe; minutes per call), which is skipped by default.

#[path = "common/mod.rs"]
mod common;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use burn::prelude::*;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput, measurement::WallTime};
use face_deblur::inference::Restorer;
use face_deblur::model::{GeneratorConfig, Teacher, TeacherKind};
use face_deblur::pipeline::{DetectorConfig, FaceDetector, load_photo, paste_back, save_photo};
use face_deblur::restore::{WORKING_SIZE, face_crops, restore_photo};
use face_deblur::train::config::TrainConfig;
use face_deblur::train::trainer::Trainer;
use face_deblur::weights::{self, WeightsInfo};
use image::RgbImage;

use common::ms;

/// The two generator sizes benchmarked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Model {
    /// The shipped weights (`GeneratorConfig::compact`).
    Compact,
    /// `GeneratorConfig::paper` with random weights.
    Paper,
}

impl Model {
    fn name(self) -> &'static str {
        match self {
            Model::Compact => "compact",
            Model::Paper => "paper",
        }
    }

    fn config(self) -> GeneratorConfig {
        match self {
            Model::Compact => GeneratorConfig::compact(),
            Model::Paper => GeneratorConfig::paper(),
        }
    }

    /// A restorer for this model on `device`.
    fn restorer(self, device: &Device) -> Restorer {
        match self {
            Model::Compact => Restorer::from_loaded(
                weights::load_shipped(device).expect("the shipped weights load"),
                device,
            ),
            Model::Paper => {
                let config = self.config();
                let info = WeightsInfo {
                    generator: config.clone(),
                    teacher: TeacherKind::Vgg16,
                    trained_steps: 0,
                    notes: "random weights for timing".into(),
                };
                Restorer::from_parts(config.init(device), Vec::new(), info, device)
            }
        }
    }

    /// FLOPs of one generator forward pass on a `size`² face (2 × conv MACs).
    fn flops(self, size: usize) -> u64 {
        2 * self.config().macs(size, size)
    }
}

/// A compute device under test.
#[derive(Clone, Debug)]
struct Backend {
    /// `cpu` or `wgpu` (the criterion id part).
    name: &'static str,
    device: Device,
    /// Whether it is wgpu on a software adapter (lavapipe).
    software: bool,
}

/// The devices to benchmark: flex CPU always, wgpu when there is an adapter.
fn backends() -> Vec<Backend> {
    let mut out = vec![Backend {
        name: "cpu",
        device: Device::flex(),
        software: false,
    }];
    match common::wgpu_available() {
        Ok(()) => {
            let description = common::wgpu_description();
            println!("wgpu: DefaultDevice; {description}");
            out.push(Backend {
                name: "wgpu",
                device: Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
                software: face_deblur::inference::hardware_gpu().is_none(),
            });
        }
        Err(reason) => println!("wgpu benchmarks skipped: {reason}"),
    }
    out
}

/// Time `f` once, outside the measurement (the first call of a shape compiles kernels and
/// autotunes on wgpu), and print it.
fn timed_warm_up<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    println!("  warm-up, {what}: {:.1} ms", ms(start.elapsed()));
    out
}

/// Settings for benchmarks whose iterations take from milliseconds to seconds.
fn slow_group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    group
}

/// `restore_128/{model}/{backend}`: one face through [`Restorer::restore`].
fn bench_single(c: &mut Criterion, backends: &[Backend], face: &RgbImage) {
    let size = WORKING_SIZE as usize;
    let mut group = slow_group(c, "restore_128");
    for model in [Model::Compact, Model::Paper] {
        let flops = model.flops(size);
        println!(
            "{} generator: {:.2} GFLOP per {size}² face (2 × {:.2} GMAC)",
            model.name(),
            flops as f64 / 1e9,
            flops as f64 / 2e9
        );
        group.throughput(Throughput::Elements(flops));
        for backend in backends {
            let id = format!("{}/{}", model.name(), backend.name);
            if model == Model::Paper
                && backend.software
                && std::env::var_os("FACE_DEBLUR_BENCH_SOFTWARE_PAPER").is_none()
            {
                println!(
                    "restore_128/{id} skipped: software wgpu adapter (set \
                     FACE_DEBLUR_BENCH_SOFTWARE_PAPER=1 to run it)"
                );
                continue;
            }
            let mut restorer: Option<Restorer> = None;
            group.bench_function(&id, |b| {
                let r = restorer.get_or_insert_with(|| {
                    println!("restore_128/{id}: set-up");
                    let r = model.restorer(&backend.device);
                    timed_warm_up("first restore 1×128²", || r.restore(face));
                    timed_warm_up("second restore 1×128²", || r.restore(face));
                    r
                });
                b.iter(|| black_box(r.restore(black_box(face))));
            });
            // The CLI's path: the image only, no prior maps or CA weights read back.
            if let Some(r) = restorer.as_ref() {
                group.bench_function(format!("{id}/image_only"), |b| {
                    b.iter(|| black_box(r.restore_images(std::slice::from_ref(black_box(face)))));
                });
            }
        }
    }
    group.finish();
}

/// `batch4/compact/{backend}/{one_batch,4_single}`: four faces at once vs one at a time.
fn bench_batch(c: &mut Criterion, backends: &[Backend], face: &RgbImage) {
    let model = Model::Compact;
    let faces = vec![face.clone(); 4];
    let mut group = slow_group(c, "batch4");
    group.throughput(Throughput::Elements(4 * model.flops(WORKING_SIZE as usize)));
    for backend in backends {
        let mut restorer: Option<Restorer> = None;
        let setup = |id: &str| -> Restorer {
            println!("batch4/{id}: set-up");
            let r = model.restorer(&backend.device);
            timed_warm_up("first restore 1×128²", || r.restore(face));
            timed_warm_up("first restore_batch 4×128²", || r.restore_batch(&faces));
            timed_warm_up("second restore_batch 4×128²", || r.restore_batch(&faces));
            r
        };
        let id = format!("{}/{}/one_batch", model.name(), backend.name);
        group.bench_function(&id, |b| {
            let r = restorer.get_or_insert_with(|| setup(&id));
            b.iter(|| black_box(r.restore_batch(black_box(&faces))));
        });
        let id = format!("{}/{}/4_single", model.name(), backend.name);
        group.bench_function(&id, |b| {
            let r = restorer.get_or_insert_with(|| setup(&id));
            b.iter(|| {
                for f in &faces {
                    black_box(r.restore(black_box(f)));
                }
            });
        });
    }
    group.finish();
}

/// Everything the whole-photo benchmark needs.
struct PhotoSetup {
    input: PathBuf,
    output: PathBuf,
    restorer: Restorer,
    detector: FaceDetector,
}

impl PhotoSetup {
    fn new(dir: &Path) -> Self {
        let input = dir.join("photo_24mp.jpg");
        let output = dir.join("restored_24mp.jpg");
        let start = Instant::now();
        let (w, h) = common::make_large_photo(&input);
        let bytes = std::fs::metadata(&input).map(|m| m.len()).unwrap_or(0);
        println!(
            "photo_24mp: made {w}×{h} ({:.1} MP, {:.1} MB JPEG) in {:.1} s at {}",
            (w as f64 * h as f64) / 1e6,
            bytes as f64 / 1e6,
            start.elapsed().as_secs_f64(),
            input.display()
        );
        let device = Device::flex();
        Self {
            input,
            output,
            restorer: Model::Compact.restorer(&device),
            detector: FaceDetector::new(DetectorConfig::default()).expect("detector model"),
        }
    }

    /// One end-to-end run: what `face-deblur restore photo.jpg -o out.jpg` does per file.
    fn run(&self) -> usize {
        let photo = load_photo(&self.input).expect("decode");
        let result =
            restore_photo(&self.restorer, &photo, Some(&self.detector), false, 1.0).expect("faces");
        save_photo(&photo, &result.image, &self.output).expect("encode");
        result.faces.len()
    }

    /// Print how long each stage takes (one run, not a statistic).
    fn breakdown(&self) {
        let t = Instant::now();
        let photo = load_photo(&self.input).expect("decode");
        let decode = t.elapsed();
        let t = Instant::now();
        let crops = face_crops(&photo, Some(&self.detector), false).expect("faces");
        let detect = t.elapsed();
        let images: Vec<RgbImage> = crops.iter().map(|(_, c)| c.image.clone()).collect();
        let t = Instant::now();
        let restored = self.restorer.restore_images(&images);
        let restore = t.elapsed();
        let t = Instant::now();
        let mut out = photo.rgb_u8.clone();
        for ((_, crop), face) in crops.iter().zip(&restored) {
            paste_back(&mut out, crop, face, 1.0).expect("paste");
        }
        let paste = t.elapsed();
        let t = Instant::now();
        save_photo(&photo, &out, &self.output).expect("encode");
        let encode = t.elapsed();
        println!(
            "  stages (one run, {} faces): decode {:.0} ms, detect+crop {:.0} ms, restore {:.0} \
             ms, paste {:.0} ms (includes copying the photo), encode {:.0} ms",
            crops.len(),
            ms(decode),
            ms(detect),
            ms(restore),
            ms(paste),
            ms(encode)
        );
    }
}

/// `photo_24mp/cpu/end_to_end`.
fn bench_photo(c: &mut Criterion, dir: &Path) {
    let mut group = slow_group(c, "photo_24mp");
    group.measurement_time(Duration::from_secs(30));
    let mut setup: Option<PhotoSetup> = None;
    group.bench_function("cpu/end_to_end", |b| {
        let s = setup.get_or_insert_with(|| {
            let s = PhotoSetup::new(dir);
            let faces = timed_warm_up("first whole photo", || s.run());
            println!("  {faces} faces detected");
            s.breakdown();
            s
        });
        b.iter(|| black_box(s.run()));
    });
    group.finish();
}

/// `train_step/compact_b8_64px/cpu`.
fn bench_train_step(c: &mut Criterion) {
    let weights_dir = common::manifest_dir().join("../shared/weights");
    let teacher_file = weights_dir.join(TeacherKind::FaceResnet.file_name());
    if !teacher_file.exists() {
        println!(
            "train_step skipped: teacher weights {} not found",
            teacher_file.display()
        );
        return;
    }
    let mut group = slow_group(c, "train_step");
    group.measurement_time(Duration::from_secs(20));
    let mut state: Option<(Trainer, Tensor<4>, Tensor<4>)> = None;
    group.bench_function("compact_b8_64px/cpu", |b| {
        let (trainer, blurred, sharp) = state.get_or_insert_with(|| {
            let device = Device::flex();
            let config = TrainConfig::compact_default();
            let (batch, crop) = (config.batch_size, config.crop);
            println!(
                "train_step: batch {batch}, {crop}² crops; generator forward {:.2} GFLOP per \
                 batch (the step adds the backward pass, the teacher and the discriminator)",
                2.0 * config.generator_config().macs(crop, crop) as f64 * batch as f64 / 1e9
            );
            let teacher = Teacher::load(TeacherKind::FaceResnet, &weights_dir, &device)
                .expect("teacher weights load");
            let mut trainer = Trainer::new(config, Some(teacher), &device);
            let dist = burn::tensor::Distribution::Uniform(-0.9, 0.9);
            let sharp = Tensor::<4>::random([batch, 3, crop, crop], dist, &device);
            let blurred = sharp.clone().mul_scalar(0.8);
            timed_warm_up("first training step", || {
                trainer.step(blurred.clone(), sharp.clone())
            });
            (trainer, blurred, sharp)
        });
        b.iter(|| black_box(trainer.step(blurred.clone(), sharp.clone())));
    });
    group.finish();
}

fn main() {
    println!(
        "face-deblur benchmarks; throughput `elem/s` = FLOP/s (FLOPs = 2 × generator conv \
         MACs); {} CPU threads available",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut c = Criterion::default().configure_from_args();
    let backends = backends();
    let face = common::face(WORKING_SIZE);
    let dir = std::env::temp_dir().join(format!("face-deblur-bench-{}", std::process::id()));

    bench_single(&mut c, &backends, &face);
    bench_batch(&mut c, &backends, &face);
    bench_photo(&mut c, &dir);
    bench_train_step(&mut c);

    c.final_summary();
    // The 24 MP photo and its output, if the photo benchmark ran.
    let _ = std::fs::remove_dir_all(&dir);
}
