//! `face-deblur eval`: measure weights on blurred test faces and write eval.json/eval.md.

use std::path::PathBuf;

use anyhow::Result;

use crate::device::BackendChoice;
use crate::train::eval;

/// Which faces `eval` measures on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Suite {
    /// Faces as the app sees them (framings, sizes, blur families, noise).
    Use,
    /// The training distribution (the numbers of earlier sessions).
    Training,
}

/// Options of `face-deblur eval` (its `--help` text).
#[derive(Debug, Clone, clap::Args)]
pub struct EvalCommand {
    /// Data root with faces/ and kernels/ (default: ../shared/data).
    #[arg(long, default_value = "../shared/data")]
    pub data: PathBuf,
    /// Recorded kernels file (default: DATA/kernels/motion_kernels.safetensors).
    #[arg(long)]
    pub kernels: Option<PathBuf>,
    /// Seed of the blur synthesis.
    #[arg(long, default_value_t = 2022)]
    pub seed: u64,
    /// Weight file (default: the shipped weights).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Faces per test set.
    #[arg(long, default_value_t = 200)]
    pub faces: usize,
    /// `use`: faces as the app sees them (detector-crop and FFHQ framings at 128² and
    /// 256², held-out recorded shake / synthetic shake / defocus / Gaussian blur, noise
    /// σ 2/255, detection rates, real-face grid); `training`: the training distribution
    /// (tight framing, 128², shake only, no noise).
    #[arg(long, value_enum, default_value_t = Suite::Use)]
    pub suite: Suite,
    /// Face sizes of the `use` suite.
    #[arg(long, value_delimiter = ',', default_value = "128,256")]
    pub sizes: Vec<usize>,
    /// Largest side the model runs at; larger faces are restored as the photo pipeline
    /// does (downscaled, restored, the change upscaled). 0 = each face at its own size.
    #[arg(long, default_value_t = 128)]
    pub work_size: usize,
    /// Folder with the metric nets (face ResNet, VGG16, LPIPS heads).
    #[arg(long, default_value = "../shared/weights")]
    pub metric_weights: PathBuf,
    /// Write eval.json and eval.md into this folder.
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Compute backend.
    #[arg(long, value_enum)]
    pub backend: Option<BackendChoice>,
    /// Restore each face once instead of averaging it with its mirrored pass (as `restore
    /// --single-pass`).
    #[arg(long)]
    pub single_pass: bool,
}

/// Run `face-deblur eval`.
pub fn run_eval(cmd: EvalCommand) -> Result<()> {
    let EvalCommand {
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
        single_pass,
    } = cmd;
    let compute = super::device_with_notice(backend.unwrap_or_default());
    let restorer =
        super::load_restorer(weights.as_deref(), &compute.device)?.with_flip_ensemble(!single_pass);
    let metrics = eval::Metrics::load(&metric_weights, &compute.device)?;
    let kernels = kernels.unwrap_or_else(|| data.join("kernels/motion_kernels.safetensors"));
    let (sets, detector) = match suite {
        Suite::Use => (
            eval::use_matched_sets(&data, &kernels, faces, seed, &sizes)?,
            Some(crate::pipeline::detect::FaceDetector::new(
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
        )?);
    }
    let md = eval::markdown(&reports);
    std::fs::create_dir_all(&out)?;
    if suite == Suite::Use {
        let faces: Vec<PathBuf> = crate::train::real_grid::REAL_GRID_FACES
            .iter()
            .map(|f| data.join(f))
            .collect();
        let grid = out.join("real_grid.jpg");
        crate::train::real_grid::render(&restorer, &faces, &grid, 192)?;
        eprintln!("wrote {}", grid.display());
        let photos: Vec<PathBuf> = crate::train::real_grid::PHOTO_GRID_PHOTOS
            .iter()
            .map(|p| data.join(p))
            .collect();
        let grid = out.join("photo_grid.jpg");
        let detector = detector.as_ref().expect("the use suite has a detector");
        crate::train::real_grid::render_photo_faces(&restorer, detector, &photos, &grid, 192)?;
        eprintln!("wrote {}", grid.display());
    }
    crate::fsutil::write_atomic(
        &out.join("eval.json"),
        serde_json::to_string_pretty(&reports)?.as_bytes(),
    )?;
    crate::fsutil::write_atomic(&out.join("eval.md"), md.as_bytes())?;
    println!("{md}");
    Ok(())
}
