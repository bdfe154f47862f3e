//! `face-deblur`: thin entry point: parses the arguments and dispatches to the commands in
//! the library ([`face_deblur::cli`], [`face_deblur::app`]).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use face_deblur::cli;
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
        /// Restore each face once, not also mirrored with the two results averaged: half
        /// the network time, about 0.15 dB less restored (`face-deblur eval --single-pass`).
        #[arg(long)]
        single_pass: bool,
        /// Leave photos whose output file already exists alone (to finish an interrupted
        /// batch: outputs are written atomically, so an existing one is complete).
        #[arg(long)]
        skip_existing: bool,
    },
    /// Evaluate weights on blurred test faces (PSNR, SSIM, identity, LPIPS-like).
    Eval(cli::eval::EvalCommand),
    /// Open the desktop app (also what `face-deblur` with no subcommand does).
    #[cfg(feature = "app")]
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
    TrainDre(cli::train::TrainDreCommand),
    /// Train DFPGnet (resumable).
    Train(cli::train::TrainCommand),
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
            single_pass,
            skip_existing,
        }) => cli::restore::restore_command(&cli::RestoreOptions {
            inputs,
            out,
            aligned,
            backend: backend.unwrap_or_default(),
            weights,
            strength: strength.clamp(0.0, 1.0),
            half,
            single_pass,
            skip_existing,
        }),
        Some(Command::Eval(cmd)) => cli::eval::run_eval(cmd),
        Some(Command::Train(cmd)) => cli::train::run_train(cmd),
        Some(Command::TrainDre(cmd)) => cli::train::run_train_dre(cmd),
        #[cfg(feature = "app")]
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
        #[cfg(feature = "app")]
        None => face_deblur::app::run_app(face_deblur::app::AppOptions::default()),
        #[cfg(not(feature = "app"))]
        None => Err(anyhow::anyhow!(
            "this build has no desktop app (built without the `app` feature): \
             give a command, e.g. `face-deblur --help`"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
