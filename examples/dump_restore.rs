//! Run the generator on raw float32 input and write its raw float32 output, optionally timing
//! the forward pass: the Burn side of `bench/compare.py` (PyTorch / ONNX Runtime parity and
//! speed).
//!
//! ```text
//! cargo run --release --example dump_restore -- [--weights FILE] [--backend cpu|wgpu]
//!     (--image FACE.png [--size N] | --input IN.f32 --shape B,3,H,W)
//!     [--dump-input IN.f32] [--output OUT.f32] [--time RUNS] [--forward-split 0|1]
//!     [--par-elems N] [--fused-leaky 0|1] [--winograd 0-5]
//! cargo run --release --example dump_restore -- --random compact|paper --save FILE
//! cargo run --release --example dump_restore -- [--weights FILE] --train-step RUNS
//!     [--shape B,3,H,W]
//! ```
//!
//! The first form loads a weight file (default: the shipped `weights/dfpgnet-compact.safetensors`),
//! takes the input as a face image (resized to `--size`², default 128, converted to [-1, 1]
//! exactly as `Restorer::restore` does) or as raw little-endian f32 in NCHW order, writes the
//! generator's image output `[B, 3, H, W]` in [-1, 1] as raw f32 and, with `--time RUNS`,
//! prints one line `burn_forward_ms median=… min=… runs=… shape=B,3,H,W backend=… macs=…` for
//! the generator forward pass plus the read-back of its image (two warm-up runs first; `macs`
//! is `GeneratorConfig::macs` times the batch). `--forward-split 0` turns off the patched
//! burn-flex's split of a single batch item's convolutions over tile tasks (the earlier path:
//! tiles in sequence, multithreaded GEMMs), for A/B timings in one build. `--par-elems N`
//! (any form) sets the smallest element-wise op that the patched burn-flex splits over threads
//! (`0` = never: upstream's serial loops; default 32768); `--fused-leaky 0` makes the patched
//! burn-autodiff compose LeakyReLU from three ops again (its upstream form); `--winograd 0`
//! turns off the patched burn-flex's Winograd for the 3×3 stride-1 convs (they run on the
//! kx-only GEMM paths of the fifth round instead); `1` = F(2×2, 3×3) for the forward only (the
//! seventh round), `2` = also for the weight gradient, `3` (the default) = F(4×4, 3×3) for the
//! forwards and weight gradients where `conv_gemm::WINO4_MAX_C` and `WINO4_MIN_OW` pick it,
//! `4` = for all of them, `5` = `3` with every weight gradient F(2×2, 3×3) (the ninth round).
//!
//! The third form times one generator training step as `bench/compare.py` does in PyTorch:
//! forward on a fixed random batch (default 8×3×64×64, input and target uniform in ±1), L1
//! loss, backward, Adam (lr 1e-4); two warm-up steps, then prints
//! `burn_train_step_ms median=… min=… runs=… shape=…`.
//!
//! The second form writes a weight file with random weights (every parameter perturbed, so the
//! zero-initialised output conv is not zero) for parity checks of configurations that have no
//! trained weights.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;
use face_deblur::inference::{Restorer, to_signed_chw_padded};
use face_deblur::model::{GeneratorConfig, TeacherKind};
use face_deblur::weights::{self, WeightsInfo};

/// Parsed command line.
#[derive(Debug, Default)]
struct Args {
    weights: Option<PathBuf>,
    backend: Option<String>,
    image: Option<PathBuf>,
    size: Option<u32>,
    input: Option<PathBuf>,
    shape: Option<[usize; 4]>,
    dump_input: Option<PathBuf>,
    output: Option<PathBuf>,
    time: Option<usize>,
    random: Option<String>,
    save: Option<PathBuf>,
    train_step: Option<usize>,
    forward_split: Option<usize>,
    par_elems: Option<usize>,
    fused_leaky: Option<usize>,
    winograd: Option<usize>,
}

fn parse_args() -> Result<Args> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--weights" => args.weights = Some(value()?.into()),
            "--backend" => args.backend = Some(value()?),
            "--image" => args.image = Some(value()?.into()),
            "--size" => args.size = Some(value()?.parse()?),
            "--input" => args.input = Some(value()?.into()),
            "--shape" => {
                let dims: Vec<usize> = value()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?;
                args.shape = Some(
                    dims.try_into()
                        .map_err(|_| anyhow::anyhow!("--shape takes B,C,H,W"))?,
                );
            }
            "--dump-input" => args.dump_input = Some(value()?.into()),
            "--output" => args.output = Some(value()?.into()),
            "--time" => args.time = Some(value()?.parse()?),
            "--random" => args.random = Some(value()?),
            "--save" => args.save = Some(value()?.into()),
            "--train-step" => args.train_step = Some(value()?.parse()?),
            "--forward-split" => args.forward_split = Some(value()?.parse()?),
            "--par-elems" => args.par_elems = Some(value()?.parse()?),
            "--fused-leaky" => args.fused_leaky = Some(value()?.parse()?),
            "--winograd" => args.winograd = Some(value()?.parse()?),
            "-h" | "--help" => {
                println!("see the doc comment of examples/dump_restore.rs");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(args)
}

/// Adds uniform noise in ±0.02 to every float parameter.
struct Perturb;

impl ModuleMapper for Perturb {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.map(|t| {
            let noise = Tensor::random(
                t.shape(),
                burn::tensor::Distribution::Uniform(-0.02, 0.02),
                &t.device(),
            );
            t + noise
        })
    }
}

/// `--random CONFIG --save FILE`.
fn save_random(config: &str, path: &Path) -> Result<()> {
    let config = match config {
        "compact" => GeneratorConfig::compact(),
        "paper" => GeneratorConfig::paper(),
        other => bail!("--random takes compact or paper, not {other}"),
    };
    let device = Device::flex();
    let generator = config.init(&device).map(&mut Perturb);
    let info = WeightsInfo {
        generator: config,
        teacher: TeacherKind::FaceResnet,
        trained_steps: 1,
        notes: "random weights for benchmarks (examples/dump_restore.rs)".into(),
    };
    weights::save(path, &generator, None, &info)?;
    println!("wrote random weights to {}", path.display());
    Ok(())
}

/// `--train-step RUNS`: times forward + L1 + backward + Adam of the generator.
fn time_train_step(weights_path: Option<&Path>, shape: [usize; 4], runs: usize) -> Result<()> {
    use burn::optim::{AdamConfig, GradientsParams};
    let device = Device::flex().autodiff();
    let loaded = match weights_path {
        Some(path) => weights::load(path, &device)?,
        None => weights::load_shipped(&device)?,
    };
    let mut generator = loaded.modules.generator;
    let mut optim = AdamConfig::new().init();
    let uniform = burn::tensor::Distribution::Uniform(-1.0, 1.0);
    let x = Tensor::<4>::random(shape, uniform, &device);
    let target = Tensor::<4>::random(shape, uniform, &device);
    let mut step = || {
        let out = generator.clone().forward(x.clone()).image;
        let loss = (out - target.clone()).abs().mean();
        let grads = GradientsParams::from_grads(loss.backward(), &generator);
        generator = optim.step(1e-4, generator.clone(), grads);
        // Wait for the step to finish (reads one value back).
        std::hint::black_box(loss.into_data());
    };
    step();
    step();
    let mut times: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let start = Instant::now();
            step();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let [b, c, h, w] = shape;
    println!(
        "burn_train_step_ms median={:.3} min={:.3} runs={} shape={b},{c},{h},{w}",
        times[times.len() / 2],
        times[0],
        times.len()
    );
    Ok(())
}

fn read_f32(path: &Path) -> Result<Vec<f32>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() % 4 != 0 {
        bail!("{} is not raw f32 (length {})", path.display(), bytes.len());
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

fn write_f32(path: &Path, values: &[f32]) -> Result<()> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// The input as NCHW values in [-1, 1] and its shape.
fn input(args: &Args) -> Result<(Vec<f32>, [usize; 4])> {
    match (&args.image, &args.input) {
        (Some(path), None) => {
            let size = args.size.unwrap_or(128);
            let img = image::open(path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .to_rgb8();
            let img =
                image::imageops::resize(&img, size, size, image::imageops::FilterType::CatmullRom);
            let s = size as usize;
            Ok((to_signed_chw_padded(&img, s, s), [1, 3, s, s]))
        }
        (None, Some(path)) => {
            let shape = args.shape.context("--input needs --shape B,3,H,W")?;
            let values = read_f32(path)?;
            if values.len() != shape.iter().product::<usize>() {
                bail!(
                    "{} holds {} values, shape {shape:?} needs {}",
                    path.display(),
                    values.len(),
                    shape.iter().product::<usize>()
                );
            }
            Ok((values, shape))
        }
        _ => bail!("give exactly one of --image and --input"),
    }
}

fn main() -> Result<()> {
    let args = parse_args()?;
    if let Some(split) = args.forward_split {
        burn_flex::ops::conv_gemm::set_forward_split(split);
    }
    if let Some(n) = args.par_elems {
        burn_flex::ops::par_elem::set_par_elems(if n == 0 { usize::MAX } else { n });
    }
    if let Some(on) = args.fused_leaky {
        burn_autodiff::ops::set_fused_leaky_relu(on != 0);
    }
    if let Some(on) = args.winograd {
        burn_flex::ops::conv_gemm::set_winograd(on);
    }
    if let Some(config) = &args.random {
        let path = args.save.as_deref().context("--random needs --save FILE")?;
        return save_random(config, path);
    }
    if let Some(runs) = args.train_step {
        let shape = args.shape.unwrap_or([8, 3, 64, 64]);
        return time_train_step(args.weights.as_deref(), shape, runs);
    }
    let (backend, device) = match args.backend.as_deref().unwrap_or("cpu") {
        "cpu" => ("cpu", Device::flex()),
        "wgpu" => (
            "wgpu",
            Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
        ),
        other => bail!("--backend takes cpu or wgpu, not {other}"),
    };
    let restorer = match &args.weights {
        Some(path) => Restorer::load(path, &device)?,
        None => Restorer::from_loaded(weights::load_shipped(&device)?, &device),
    };
    let (values, shape) = input(&args)?;
    if let Some(path) = &args.dump_input {
        write_f32(path, &values)?;
    }
    let x = Tensor::<4>::from_data(TensorData::new(values, shape), &device);
    let run = || -> Vec<f32> {
        restorer
            .forward_signed(x.clone())
            .into_data()
            .try_to_vec()
            .expect("f32 output")
    };
    let out = run();
    if let Some(path) = &args.output {
        write_f32(path, &out)?;
    }
    if let Some(runs) = args.time {
        run(); // second warm-up (allocator, wgpu autotune of the steady state)
        let mut times: Vec<f64> = (0..runs.max(1))
            .map(|_| {
                let start = Instant::now();
                std::hint::black_box(run());
                start.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        let [b, c, h, w] = shape;
        let macs = b as u64 * restorer.info().generator.macs(h, w);
        println!(
            "burn_forward_ms median={median:.3} min={:.3} runs={} shape={b},{c},{h},{w} \
             backend={backend} macs={macs}",
            times[0],
            times.len()
        );
    }
    Ok(())
}
