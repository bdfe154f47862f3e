//! `face-deblur train`: the resumable training loop around [`Trainer`] with data loading,
//! progress, validation, checkpoints, pictures and the exported best weights.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};

use super::blur::RecordedKernels;
use super::checkpoint::{self, LossPoint, ValidationPoint};
use super::config::{DataMix, TrainConfig};
use super::data::{
    DatasetOptions, EvalKernels, EvalPolicy, FaceDataset, FaceSource, LoaderOptions, Sample, Split,
    recorded_kernels_path, spawn_loader,
};
use super::metrics::{psnr, ssim};
use super::report;
use super::trainer::Trainer;
use crate::inference::signed_batch;
use crate::model::Teacher;
use crate::weights::{self, WeightsInfo};

/// Name of the exported best weights inside the run folder.
pub const BEST_WEIGHTS: &str = "best.safetensors";
/// Name of the weights exported at the latest validation (best or not), to compare runs at
/// equal steps.
pub const LATEST_WEIGHTS: &str = "latest.safetensors";

/// Run (or resume) training into `out` on `device`.
pub fn run(config: TrainConfig, out: &Path, resume: bool, device: &Device) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    if let Some(done) = checkpoint::recover_interrupted(out)? {
        tracing::warn!("{done}");
    }
    let has_checkpoint = checkpoint::checkpoint_dir(out).join("state.json").exists();
    if has_checkpoint && !resume {
        bail!(
            "{} already holds a checkpoint: pass --resume to continue it, or choose another --out",
            out.display()
        );
    }
    std::fs::write(
        out.join("config.json"),
        serde_json::to_string_pretty(&config)?,
    )?;

    let teacher = if config.variant.prior_stream() {
        Some(
            Teacher::load(config.teacher, &config.teacher_weights_dir, device)
                .context("loading the teacher network")?,
        )
    } else {
        None
    };
    config.check()?;
    let mut trainer = Trainer::new(config.clone(), teacher, device);
    if let Some(path) = config.init_weights.as_ref().filter(|_| !has_checkpoint) {
        let loaded = weights::load(path, trainer.device())
            .with_context(|| format!("loading init_weights {}", path.display()))?;
        trainer.generator = loaded
            .modules
            .generator
            .deepened(
                &loaded.info.generator,
                &config.generator_config(),
                trainer.device(),
            )
            .with_context(|| format!("init_weights {}", path.display()))?;
        if trainer.ema.is_some() {
            trainer.ema = Some(trainer.generator.valid());
        }
        trainer.state.steps_before = loaded.info.trained_steps;
        tracing::info!(
            "starting from {} ({} steps trained)",
            path.display(),
            loaded.info.trained_steps
        );
    }
    if let Some(path) = config
        .dre_weights
        .as_ref()
        .filter(|_| config.generator.fusion.uses_dre())
    {
        let dre = weights::load_dre(path, trainer.device())
            .context("loading the pre-trained degradation encoder")?;
        trainer.generator = trainer.generator.clone().with_dre(dre);
    }
    if has_checkpoint {
        warn_if_state_loads_elsewhere(device);
        let loaded = checkpoint::load(
            out,
            trainer.generator.clone(),
            trainer.discriminator.clone(),
            trainer.optim_g.clone(),
            trainer.optim_d.clone(),
        )?;
        trainer.generator = loaded.generator;
        trainer.discriminator = loaded.discriminator;
        trainer.optim_g = loaded.optim_g;
        trainer.optim_d = loaded.optim_d;
        trainer.state = loaded.state;
        if config.ema_decay.is_some() {
            // A run that starts averaging on resume starts from the resumed weights.
            trainer.ema = Some(loaded.ema.unwrap_or_else(|| trainer.generator.valid()));
        }
        checkpoint::truncate_log(&out.join("log.jsonl"), trainer.state.step)?;
        tracing::info!("resumed {} at step {}", out.display(), trainer.state.step);
    }

    let recorded = Arc::new(
        RecordedKernels::load(&recorded_kernels_path(&config.data_dir))
            .context("loading recorded blur kernels")?,
    );
    let mut opts = match config.data {
        DataMix::Training => DatasetOptions::training(Some(recorded.clone())),
        DataMix::Photo => DatasetOptions::photo(Some(recorded.clone())),
    };
    opts.size = config.image_size;
    opts.crop = (config.crop > 0).then_some(config.crop);
    opts.min_source_scale = config.min_source_scale.unwrap_or(0.0);
    if let Some(m) = config.shake_scale_max {
        opts.degradation.lengthen_shake(m);
    }
    opts.degradation.recorded_turns = config.recorded_turns;
    let sources = [FaceSource::CelebA, FaceSource::UtkFace];
    let train = Arc::new(FaceDataset::new(
        &config.data_dir,
        Split::Train,
        &sources,
        opts.clone(),
    )?);
    let val = FaceDataset::new(&config.data_dir, Split::Val, &sources, opts)?;
    // Validation blurs with fresh synthetic kernels only (no recorded ones: the held-out
    // recorded kernels stay unseen until the final evaluation).
    let val_set = match config.data {
        DataMix::Training => val.eval_set(
            config.validation_faces,
            config.seed,
            &EvalPolicy {
                kernels: EvalKernels::Synthetic,
                ..EvalPolicy::default()
            },
        )?,
        DataMix::Photo => {
            // Synthetic shake, defocus and Gaussian in turn, half in each framing, σ 2/255.
            let mut set = Vec::new();
            for (part, framing) in [0.0, 1.0].into_iter().enumerate() {
                for (k, kernels) in [
                    EvalKernels::Synthetic,
                    EvalKernels::Defocus,
                    EvalKernels::Gaussian,
                ]
                .into_iter()
                .enumerate()
                {
                    let policy = EvalPolicy {
                        kernels,
                        noise_sigma: super::eval::USE_NOISE_SIGMA,
                        framing,
                        ..EvalPolicy::default()
                    };
                    let seed = config.seed.wrapping_add((part * 3 + k) as u64);
                    let n = config.validation_faces / config.data.validation_parts();
                    set.extend(val.eval_set(n, seed, &policy)?);
                }
            }
            set
        }
    };
    tracing::info!(
        "{} training faces, {} validation faces",
        train.len(),
        val_set.len()
    );

    let loader_seed = config.seed.wrapping_mul(1_000_003) ^ trainer.state.step as u64;
    let batches = spawn_loader(train, LoaderOptions::new(config.batch_size, loader_seed))?;

    let bar = ProgressBar::new(config.steps as u64).with_position(trainer.state.step as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {per_sec}  ETA {eta}  {msg}")
            .expect("valid template"),
    );
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out.join("log.jsonl"))?;
    let mut window = LossPoint::default();
    let mut window_steps = 0usize;
    let mut since = Instant::now();
    // Training seconds and steps since the last validation of this process (its "s/step").
    let (mut span_seconds, mut span_steps) = (0.0f64, 0usize);
    while trainer.state.step < config.steps {
        let batch = batches
            .recv()
            .context("the data loader stopped")?
            .context("loading a training batch")?;
        let shape = [batch.n, 3, batch.size, batch.size];
        let dev = trainer.device().clone();
        let losses = trainer.step(
            signed_batch(batch.blurred, shape, &dev),
            signed_batch(batch.sharp, shape, &dev),
        );
        window.pixel += losses.pixel;
        window.prior += losses.prior;
        window.adversarial += losses.adversarial;
        window.discriminator += losses.discriminator;
        window_steps += 1;
        bar.set_position(trainer.state.step as u64);
        let step = trainer.state.step;

        if step.is_multiple_of(20) || step == config.steps {
            let n = window_steps.max(1) as f64;
            let point = LossPoint {
                step,
                pixel: window.pixel / n,
                prior: window.prior / n,
                adversarial: window.adversarial / n,
                discriminator: window.discriminator / n,
            };
            bar.set_message(format!(
                "L1 {:.4} prior {:.4} adv {:.3} D {:.3}",
                point.pixel, point.prior, point.adversarial, point.discriminator
            ));
            writeln!(log, "{}", serde_json::to_string(&point)?)?;
            trainer.state.losses.push(point);
            window = LossPoint::default();
            window_steps = 0;
        }
        let elapsed = since.elapsed().as_secs_f64();
        since = Instant::now();
        trainer.state.train_seconds += elapsed;
        span_seconds += elapsed;
        span_steps += 1;

        if step.is_multiple_of(config.validate_every) || step == config.steps {
            let (point, rows) = validate(&trainer, &val_set);
            let line = format!(
                "step {step}: validation PSNR {:.2} → {:.2} dB, SSIM {:.3} → {:.3} ({:.2} s/step)",
                point.psnr_input,
                point.psnr_output,
                point.ssim_input,
                point.ssim_output,
                span_seconds / span_steps.max(1) as f64
            );
            (span_seconds, span_steps) = (0.0, 0);
            if bar.is_hidden() {
                tracing::info!("{line}");
            } else {
                bar.println(line);
            }
            writeln!(log, "{}", serde_json::to_string(&point)?)?;
            let is_best = trainer
                .state
                .best_psnr
                .is_none_or(|(best, _)| point.psnr_output > best);
            if is_best {
                trainer.state.best_psnr = Some((point.psnr_output, step));
                export(&trainer, &out.join(BEST_WEIGHTS), &config)?;
            }
            export(&trainer, &out.join(LATEST_WEIGHTS), &config)?;
            trainer.state.validation.push(point);
            let samples = out.join("samples");
            std::fs::create_dir_all(&samples)?;
            report::save_png(
                &report::sample_grid(&rows, config.image_size),
                &samples.join(format!("step_{step:07}.png")),
            )?;
            report::save_png(&report::curves(&trainer.state), &out.join("curves.png"))?;
        }
        if step.is_multiple_of(config.checkpoint_every) || step == config.steps {
            checkpoint::save(
                out,
                &trainer.generator,
                trainer.ema.as_ref(),
                trainer.discriminator.as_ref(),
                &trainer.optim_g,
                trainer.optim_d.as_ref(),
                &trainer.state,
            )?;
        }
    }
    bar.finish();
    Ok(())
}

/// Export the current generator (+ CA modules) as shipped-format weights.
pub fn export(trainer: &Trainer, path: &Path, config: &TrainConfig) -> Result<()> {
    let info = WeightsInfo {
        generator: config.generator_config(),
        teacher: config.teacher,
        trained_steps: trainer.state.steps_before + trainer.state.step,
        notes: format!(
            "variant {:?}, {} steps{} (the last ones of batch {} on {}), CelebA+UTKFace \
             (research-only data), face-deblur train{}",
            config.variant,
            trainer.state.steps_before + trainer.state.step,
            if trainer.state.steps_before > 0 {
                format!(
                    " ({} of them before this run, in its init_weights)",
                    trainer.state.steps_before
                )
            } else {
                String::new()
            },
            config.batch_size,
            if config.crop > 0 && config.crop < config.image_size {
                format!("{}px crops of {}px faces", config.crop, config.image_size)
            } else {
                format!("whole {}px faces", config.image_size)
            },
            config
                .ema_decay
                .map(|d| format!(", moving average of the weights (decay {d})"))
                .unwrap_or_default()
        ),
    };
    weights::save(
        path,
        &trainer.inference_generator(),
        trainer.discriminator.as_ref(),
        &info,
    )?;
    Ok(())
}

type Row = (Vec<f32>, Vec<f32>, Vec<f32>);

/// Mean PSNR/SSIM of input and output over the validation set, plus the first rows for the
/// sample grid.
fn validate(trainer: &Trainer, set: &[Sample]) -> (ValidationPoint, Vec<Row>) {
    let device = trainer.device().clone().without_autodiff();
    let mut sums = [0.0f64; 4];
    let mut rows = Vec::new();
    let generator = trainer.inference_generator();
    for chunk in set.chunks(8) {
        let size = chunk[0].size;
        let data: Vec<f32> = chunk
            .iter()
            .flat_map(|s| s.blurred.iter().copied())
            .collect();
        let input = signed_batch(data, [chunk.len(), 3, size, size], &device);
        let restored: Vec<f32> = generator
            .forward(input)
            .image
            .add_scalar(1.0)
            .mul_scalar(0.5)
            .into_data()
            .try_to_vec()
            .expect("f32 output");
        let plane = 3 * size * size;
        for (k, s) in chunk.iter().enumerate() {
            let out = &restored[k * plane..(k + 1) * plane];
            sums[0] += psnr(&s.blurred, &s.sharp, 3, size, size);
            sums[1] += psnr(out, &s.sharp, 3, size, size);
            sums[2] += ssim(&s.blurred, &s.sharp, 3, size, size);
            sums[3] += ssim(out, &s.sharp, 3, size, size);
            if rows.len() < 6 {
                rows.push((s.blurred.clone(), out.to_vec(), s.sharp.clone()));
            }
        }
    }
    let n = set.len().max(1) as f64;
    (
        ValidationPoint {
            step: trainer.state.step,
            psnr_input: sums[0] / n,
            psnr_output: sums[1] / n,
            ssim_input: sums[2] / n,
            ssim_output: sums[3] / n,
        },
        rows,
    )
}

/// Burn 0.22 loads an optimiser state onto its *default* device (the build's first GPU runtime,
/// wgpu here, unless `BURN_DEVICE` names another) and moves it to the parameters' device on the
/// first step. On a CPU run that starts the GPU runtime's service threads, which then wake
/// about 1,600 times a second for the rest of the run (measured on a resumed run: ≈ 2.4 % of a
/// core each, two threads). `BURN_DEVICE=flex` keeps a CPU run off the GPU runtime.
fn warn_if_state_loads_elsewhere(device: &Device) {
    if *device == Device::flex() && std::env::var_os("BURN_DEVICE").is_none() {
        tracing::warn!(
            "resuming on the CPU without BURN_DEVICE=flex: Burn loads the optimiser state \
             through its default (GPU) runtime, whose idle threads then cost a few % of the CPU \
             for the whole run; set BURN_DEVICE=flex to avoid it"
        );
    }
}
