//! `face-deblur`: thin entry point; the commands live in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use face_deblur::inference::{BackendChoice, select_device};
use face_deblur::train::config::TrainConfig;

#[derive(Parser)]
#[command(name = "face-deblur", version, about = "Restore blurred faces in photos (DFPGnet)")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
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
        None => Err(anyhow::anyhow!(
            "the desktop app is not built yet; use a subcommand (see --help)"
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
