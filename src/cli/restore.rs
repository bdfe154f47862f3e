//! `face-deblur restore`: batch restoration of files and folders.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};

use crate::device::BackendChoice;
pub use crate::inference::load_restorer;
use crate::pipeline::{DetectorConfig, FaceDetector, load_photo, output_format, save_photo_owned};
pub use crate::restore::IMAGE_EXTENSIONS;
use crate::restore::{face_crops, restore_crops};

/// Options of `face-deblur restore`.
#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// Files or folders (a folder's images, not recursive).
    pub inputs: Vec<PathBuf>,
    /// Output file (one input) or folder.
    pub out: PathBuf,
    /// Treat each input as one aligned face crop.
    pub aligned: bool,
    /// Compute backend.
    pub backend: BackendChoice,
    /// Weight file (default: the shipped weights).
    pub weights: Option<PathBuf>,
    /// Restoration strength in [0, 1].
    pub strength: f32,
    /// Run the network in f16 (for GPUs; emulated and slower on the CPU).
    pub half: bool,
    /// Restore each face once, without the mirrored pass.
    pub single_pass: bool,
    /// Skip inputs whose output file already exists.
    pub skip_existing: bool,
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Expand folders into their image files (sorted); files are kept as given.
pub fn collect_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .with_context(|| format!("cannot list {}", input.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_image(p))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(input.clone());
        }
    }
    Ok(files)
}

/// Where each input's result goes: `out` itself for a single file input when `out` is not a
/// folder, else `out/<input file name>`.
pub fn output_paths(files: &[PathBuf], inputs: &[PathBuf], out: &Path) -> Vec<PathBuf> {
    let single_file = files.len() == 1 && inputs.len() == 1 && !inputs[0].is_dir();
    if single_file && !out.is_dir() && output_format(out).is_some() {
        return vec![out.to_path_buf()];
    }
    files
        .iter()
        .map(|f| out.join(f.file_name().unwrap_or_default()))
        .collect()
}

/// Run `face-deblur restore`: [`run_restore`], with photos that failed reported as an error.
pub fn restore_command(options: &RestoreOptions) -> Result<()> {
    match run_restore(options)? {
        0 => Ok(()),
        failed => bail!("{failed} photo(s) failed"),
    }
}

/// Remove the temporary files that a killed earlier run left in the output folders.
fn remove_stale_temps(outputs: &[PathBuf]) {
    let mut folders: Vec<&Path> = outputs
        .iter()
        .map(|o| o.parent().filter(|p| !p.as_os_str().is_empty()))
        .map(|p| p.unwrap_or(Path::new(".")))
        .collect();
    folders.sort();
    folders.dedup();
    for folder in folders.into_iter().filter(|f| f.is_dir()) {
        // Not fatal: an unwritable folder fails, with its own error, when a photo is saved.
        match crate::fsutil::remove_stale_temps(folder) {
            Ok(removed) => {
                for path in removed {
                    eprintln!("removed {} (left by an interrupted run)", path.display());
                }
            }
            Err(e) => eprintln!(
                "note: cannot look for leftovers in {}: {e}",
                folder.display()
            ),
        }
    }
}

/// Run the restore command; returns the number of inputs that failed.
pub fn run_restore(options: &RestoreOptions) -> Result<usize> {
    let files = collect_inputs(&options.inputs)?;
    if files.is_empty() {
        bail!("no input images");
    }
    let outputs = output_paths(&files, &options.inputs, &options.out);
    if outputs.len() > 1 || options.out.extension().is_none() {
        std::fs::create_dir_all(&options.out)
            .with_context(|| format!("cannot create {}", options.out.display()))?;
    }
    remove_stale_temps(&outputs);
    let (files, outputs) = if options.skip_existing {
        let total = files.len();
        let (files, outputs): (Vec<_>, Vec<_>) = files
            .into_iter()
            .zip(outputs)
            .filter(|(_, output)| !output.exists())
            .unzip();
        if files.len() < total {
            eprintln!(
                "skipping {} photo(s) whose output exists (--skip-existing)",
                total - files.len()
            );
        }
        if files.is_empty() {
            return Ok(0);
        }
        (files, outputs)
    } else {
        (files, outputs)
    };
    let compute = super::device_with_notice(options.backend);
    let detector = if options.aligned {
        None
    } else {
        Some(FaceDetector::new(DetectorConfig::default())?)
    };

    let bar = ProgressBar::new(files.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} photos  {per_sec}  ETA {eta}  {msg}")
            .expect("valid template"),
    );
    let mut failed = 0;
    // Two stages: a reader thread decodes each photo and finds its faces while this thread
    // restores, pastes and saves the previous one (and, for the first photo, loads the
    // model). The channel holds one photo, so at most three are in memory.
    std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let aligned = options.aligned;
        let detector = detector.as_ref();
        let files = &files;
        scope.spawn(move || {
            for input in files {
                let found = load_photo(input)
                    .map_err(anyhow::Error::from)
                    .and_then(|photo| {
                        let crops = face_crops(&photo, detector, aligned)?;
                        Ok((photo, crops))
                    });
                if tx.send(found).is_err() {
                    break; // the restoring side stopped
                }
            }
        });
        let mut restorer = load_restorer(options.weights.as_deref(), &compute.device)?
            .with_flip_ensemble(!options.single_pass);
        if options.half {
            if !compute.is_gpu {
                eprintln!(
                    "note: --half on the CPU is emulated: same quality, about 2× slower than f32"
                );
            }
            restorer = restorer.with_half_precision();
        }
        for ((input, output), found) in files.iter().zip(&outputs).zip(rx) {
            bar.set_message(input.display().to_string());
            let result = found.and_then(|(photo, crops)| -> Result<usize> {
                let restored = restore_crops(&restorer, &photo, crops, options.strength)?;
                // The faces go into the photo's own full-precision pixels: no second copy.
                save_photo_owned(photo, restored.image, output)?;
                Ok(restored.faces.len())
            });
            match result {
                Ok(n) => bar.suspend(|| {
                    eprintln!(
                        "{} → {} ({n} face{})",
                        input.display(),
                        output.display(),
                        if n == 1 { "" } else { "s" }
                    )
                }),
                Err(e) => {
                    failed += 1;
                    bar.suspend(|| eprintln!("error: {}: {e:#}", input.display()));
                }
            }
            bar.inc(1);
        }
        Ok(())
    })?;
    bar.finish_and_clear();
    eprintln!(
        "{} of {} photos restored on {}",
        files.len() - failed,
        files.len(),
        compute.description
    );
    Ok(failed)
}
