//! `face-deblur`: thin entry point; the commands live in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use face_deblur::inference::{BackendChoice, select_device};
use face_deblur::train::config::TrainConfig;

#[derive(Parser)]
#[command(
    name = "face-deblur",
    version,
    long_version = face_deblur::weights::PROVENANCE,
    about = "Restore blurred faces in photos (DFPGnet)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

/// Which faces `eval` measures on.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Suite {
    /// Faces as the app sees them (framings, sizes, blur families, noise).
    Use,
    /// The training distribution (the numbers of earlier sessions).
    Training,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Backend {
    /// A hardware GPU through wgpu (Vulkan/Metal/DX12), else the CPU.
    Gpu,
    /// The CPU (flex backend).
    Cpu,
}

fn backend_choice(b: Option<Backend>) -> BackendChoice {
    {
        match b {
            None => BackendChoice::Auto,
            Some(Backend::Gpu) => BackendChoice::Gpu,
            Some(Backend::Cpu) => BackendChoice::Cpu,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Restore the faces in photos (files or folders).
    Restore {
        /// Input photos or folders of photos.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Output file (one input) or folder (same file names).
        #[arg(short, long)]
        out: PathBuf,
        /// Treat each input as an aligned face crop (no detection; output same size).
        #[arg(long)]
        aligned: bool,
        /// Compute backend (default: a hardware GPU if there is one, else the CPU).
        #[arg(long, value_enum)]
        backend: Option<Backend>,
        /// Weight file (default: the shipped weights).
        #[arg(long)]
        weights: Option<PathBuf>,
        /// Restoration strength, 0 (original) to 1 (full).
        #[arg(long, default_value_t = 1.0)]
        strength: f32,
        /// Run the network in half precision (f16): for GPUs; on the CPU it is emulated
        /// (same result within one 8-bit level, about 2× slower).
        #[arg(long)]
        half: bool,
        /// Leave photos whose output file already exists alone (to finish an interrupted
        /// batch: outputs are written atomically, so an existing one is complete).
        #[arg(long)]
        skip_existing: bool,
    },
    /// Evaluate weights on blurred test faces (PSNR, SSIM, identity, LPIPS-like).
    Eval {
        /// Data root with faces/ and kernels/ (default: ../shared/data).
        #[arg(long, default_value = "../shared/data")]
        data: PathBuf,
        /// Recorded kernels file (default: DATA/kernels/motion_kernels.safetensors).
        #[arg(long)]
        kernels: Option<PathBuf>,
        /// Seed of the blur synthesis.
        #[arg(long, default_value_t = 2022)]
        seed: u64,
        /// Weight file (default: the shipped weights).
        #[arg(long)]
        weights: Option<PathBuf>,
        /// Faces per test set.
        #[arg(long, default_value_t = 200)]
        faces: usize,
        /// `use`: faces as the app sees them (detector-crop and FFHQ framings at 128² and
        /// 256², held-out recorded shake / synthetic shake / defocus / Gaussian blur, noise
        /// σ 2/255, detection rates, real-face grid); `training`: the training distribution
        /// (tight framing, 128², shake only, no noise).
        #[arg(long, value_enum, default_value_t = Suite::Use)]
        suite: Suite,
        /// Face sizes of the `use` suite.
        #[arg(long, value_delimiter = ',', default_value = "128,256")]
        sizes: Vec<usize>,
        /// Largest side the model runs at; larger faces are restored as the photo pipeline
        /// does (downscaled, restored, the change upscaled). 0 = each face at its own size.
        #[arg(long, default_value_t = 128)]
        work_size: usize,
        /// Folder with the metric nets (face ResNet, VGG16, LPIPS heads).
        #[arg(long, default_value = "../shared/weights")]
        metric_weights: PathBuf,
        /// Write eval.json and eval.md into this folder.
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Compute backend.
        #[arg(long, value_enum)]
        backend: Option<Backend>,
    },
    /// Open the desktop app (also what `face-deblur` with no subcommand does).
    Gui {
        /// Photo to open.
        image: Option<PathBuf>,
        /// Restore the photo's faces, write a screenshot of the window to this PNG, exit.
        #[arg(long)]
        screenshot: Option<PathBuf>,
        /// Compute backend (default: the saved choice, at first a hardware GPU if any).
        #[arg(long, value_enum)]
        backend: Option<Backend>,
        /// Weight file (default: the shipped weights).
        #[arg(long)]
        weights: Option<PathBuf>,
        /// Folder with the teacher nets for the identity check and teacher features
        /// (default: the face ResNet embedded in the binary).
        #[arg(long)]
        teacher_weights: Option<PathBuf>,
    },
    /// Train the degradation representation encoder (DRE) for DAFI by momentum contrast.
    TrainDre {
        /// DRE configuration (JSON); without it, the defaults.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Run folder: dre.safetensors, log, read-out report.
        #[arg(long)]
        out: PathBuf,
        /// Compute backend.
        #[arg(long, value_enum)]
        backend: Option<Backend>,
    },
    /// Train DFPGnet (resumable).
    Train {
        /// Training configuration (JSON); without it, the compact defaults.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Run folder: checkpoints, log, curves, samples, best weights.
        #[arg(long)]
        out: PathBuf,
        /// Continue the checkpoint in --out.
        #[arg(long)]
        resume: bool,
        /// Compute backend.
        #[arg(long, value_enum)]
        backend: Option<Backend>,
        /// Write the default configuration to --out/config.json and exit.
        #[arg(long)]
        print_config: bool,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,wgpu=warn,cubecl=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Restore {
            inputs,
            out,
            aligned,
            backend,
            weights,
            strength,
            half,
            skip_existing,
        }) => {
            let options = face_deblur::cli::RestoreOptions {
                inputs,
                out,
                aligned,
                backend: backend_choice(backend),
                weights,
                strength: strength.clamp(0.0, 1.0),
                half,
                skip_existing,
            };
            match face_deblur::cli::run_restore(&options) {
                Ok(0) => Ok(()),
                Ok(failed) => Err(anyhow::anyhow!("{failed} photo(s) failed")),
                Err(e) => Err(e),
            }
        }
        Some(Command::Eval {
            data,
            kernels,
            seed,
            weights,
            faces,
            suite,
            sizes,
            work_size,
            metric_weights,
            out,
            backend,
        }) => (|| {
            use face_deblur::train::eval;
            let compute = select_device(backend_choice(backend));
            if let Some(notice) = &compute.notice {
                eprintln!("note: {notice}");
            }
            let restorer = face_deblur::cli::load_restorer(weights.as_deref(), &compute.device)?;
            let metrics = eval::Metrics::load(&metric_weights, &compute.device)?;
            let kernels =
                kernels.unwrap_or_else(|| data.join("kernels/motion_kernels.safetensors"));
            let (sets, detector) = match suite {
                Suite::Use => (
                    eval::use_matched_sets(&data, &kernels, faces, seed, &sizes)?,
                    Some(face_deblur::pipeline::detect::FaceDetector::new(
                        Default::default(),
                    )?),
                ),
                Suite::Training => (eval::test_sets(&data, &kernels, faces, seed)?, None),
            };
            let options = eval::EvalOptions {
                work_size,
                detector: detector.as_ref(),
            };
            let mut reports = Vec::new();
            for (name, samples) in sets {
                eprintln!("evaluating {name} ({} faces)…", samples.len());
                reports.push(eval::evaluate_set(
                    &name, &restorer, &metrics, &samples, &options,
                ));
            }
            let md = eval::markdown(&reports);
            std::fs::create_dir_all(&out)?;
            if suite == Suite::Use {
                let faces: Vec<PathBuf> = face_deblur::train::real_grid::REAL_GRID_FACES
                    .iter()
                    .map(|f| data.join(f))
                    .collect();
                let grid = out.join("real_grid.jpg");
                face_deblur::train::real_grid::render(&restorer, &faces, &grid, 192)?;
                eprintln!("wrote {}", grid.display());
            }
            face_deblur::fsutil::write_atomic(
                &out.join("eval.json"),
                serde_json::to_string_pretty(&reports)?.as_bytes(),
            )?;
            face_deblur::fsutil::write_atomic(&out.join("eval.md"), md.as_bytes())?;
            println!("{md}");
            Ok(())
        })(),
        Some(Command::Train {
            config,
            out,
            resume,
            backend,
            print_config,
        }) => (|| {
            let config = match config {
                Some(path) => TrainConfig::load(&path)?,
                None => TrainConfig::compact_default(),
            };
            if print_config {
                println!("{}", serde_json::to_string_pretty(&config)?);
                return Ok(());
            }
            let compute = select_device(backend_choice(backend));
            if let Some(notice) = &compute.notice {
                eprintln!("note: {notice}");
            }
            eprintln!("training on {}", compute.description);
            face_deblur::train::run::run(config, &out, resume, &compute.device)
        })(),
        Some(Command::TrainDre {
            config,
            out,
            backend,
        }) => (|| {
            use face_deblur::train::dre;
            let config: dre::DreConfig = match config {
                Some(path) => serde_json::from_str(&std::fs::read_to_string(&path)?)?,
                None => dre::DreConfig::default(),
            };
            let compute = select_device(backend_choice(backend));
            if let Some(notice) = &compute.notice {
                eprintln!("note: {notice}");
            }
            let report = dre::run(config, &out, &compute.device)?;
            println!("{}", dre::readout_markdown(&report));
            Ok(())
        })(),
        Some(Command::Gui {
            image,
            screenshot,
            backend,
            weights,
            teacher_weights,
        }) => face_deblur::app::run_app(face_deblur::app::AppOptions {
            image,
            screenshot,
            backend: backend.map(|b| backend_choice(Some(b))),
            weights,
            teacher_dir: teacher_weights,
            ..Default::default()
        }),
        None => face_deblur::app::run_app(face_deblur::app::AppOptions::default()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
