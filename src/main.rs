//! `face-deblur`: thin entry point: parses the arguments and dispatches to the commands in
//! the library ([`face_deblur::cli`], [`face_deblur::app`]).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use face_deblur::cli;
use face_deblur::cli::eval::Suite;
use face_deblur::device::BackendChoice;

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
        backend: Option<BackendChoice>,
        /// Weight file (default: the shipped weights).
        #[arg(long)]
        weights: Option<PathBuf>,
        /// Restoration strength, 0 (original) to 1 (full).
        #[arg(long, default_value_t = 1.0)]
        strength: f32,
        /// Run the network in half precision (f16): for GPUs; on the CPU it is emulated
        /// (same result within a few 8-bit levels, about 2× slower).
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
        backend: Option<BackendChoice>,
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
        backend: Option<BackendChoice>,
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
        backend: Option<BackendChoice>,
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
        backend: Option<BackendChoice>,
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
        }) => cli::restore::restore_command(&cli::RestoreOptions {
            inputs,
            out,
            aligned,
            backend: backend.unwrap_or_default(),
            weights,
            strength: strength.clamp(0.0, 1.0),
            half,
            skip_existing,
        }),
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
        }) => cli::eval::run_eval(cli::eval::EvalCommand {
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
            backend: backend.unwrap_or_default(),
        }),
        Some(Command::Train {
            config,
            out,
            resume,
            backend,
            print_config,
        }) => cli::train::run_train(
            config,
            &out,
            resume,
            backend.unwrap_or_default(),
            print_config,
        ),
        Some(Command::TrainDre {
            config,
            out,
            backend,
        }) => cli::train::run_train_dre(config, &out, backend.unwrap_or_default()),
        Some(Command::Gui {
            image,
            screenshot,
            backend,
            weights,
            teacher_weights,
        }) => face_deblur::app::run_app(face_deblur::app::AppOptions {
            image,
            screenshot,
            backend,
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
