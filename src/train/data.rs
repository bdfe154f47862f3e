//! The face dataset: listing CelebA/UTKFace images per split, loading and augmenting them,
//! and pairing each sharp face with a synthetically degraded copy ([`super::blur`]).
//!
//! Images are CHW `f32` in [0, 1], 3 channels, square. Data root layout (see
//! `shared/data/README.md`): `faces/celeba/{train,val,test}/celeb_N/*.jpg` (178×218 aligned
//! CelebA) and `faces/utkface/*.jpg` (200×200 UTKFace chips).
//!
//! * **CelebA** uses its split folders (24/3/3 images of each of 200 identities, so the splits
//!   share identities but not images). Its aligned crops show head and shoulders;
//!   [`CELEBA_WINDOW`] cuts out a square that frames the face like a UTKFace chip.
//! * **UTKFace** has no split; a file goes to test if the FNV-1a hash of its file name is
//!   0 mod 10, to val if it is 1 mod 10, to train otherwise (≈ 80/10/10, fixed forever).
//!   UTKFace has no identity labels, so the same person may appear in several splits.
//!
//! Degradation happens at the output resolution: the sharp face is rendered with a margin of
//! half the kernel size of real surrounding image, blurred, and the centre kept, so blurred
//! borders contain genuinely blurred content rather than padding.

mod eval;
mod loader;
mod sample;
mod warp;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail, ensure};
use rand::Rng;

use super::blur::{
    DegradationConfig, DegradationParams, RecordedKernels, add_noise_and_jpeg, blur_rgb,
    sample_degradation,
};
pub use eval::{EvalKernels, EvalPolicy};
pub use loader::{LoaderOptions, spawn_loader};
pub use sample::{Batch, Sample};
pub use warp::{
    AugmentConfig, FFHQ_RAISE, FFHQ_SIDE_FACTOR, Jitter, SourceImage, Window, colour_jitter,
    crop_square, min_framing, render_window,
};

/// Crop of the 178×218 aligned CelebA images: a 116 px square centred at (89, 131), so the
/// eyes (CelebA landmarks y ≈ 111) sit at 33 % and the mouth (y ≈ 153) at 69 % of the height,
/// inter-ocular distance ≈ 32 % of the side: the tight framing of the UTKFace chips. Even with
/// the largest augmentation jitter and blur margin the window stays inside the photo.
pub const CELEBA_WINDOW: Window = Window {
    cx: 89.0,
    cy: 131.0,
    side: 116.0,
};

/// Side of the face images the model trains on.
pub const DEFAULT_SIZE: usize = 128;

/// Odd synthetic kernel sizes cycled through by [`FaceDataset::eval_set`].
pub const EVAL_SYNTHETIC_SIZES: [usize; 8] = [13, 15, 17, 19, 21, 23, 25, 27];

/// Path of the recorded-kernel file under a data root.
pub fn recorded_kernels_path(data_root: &Path) -> PathBuf {
    data_root.join("kernels/motion_kernels.safetensors")
}

/// Dataset split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    /// Training images.
    Train,
    /// Validation images (model selection).
    Val,
    /// Test images (final numbers only).
    Test,
}

impl Split {
    fn celeba_folder(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Val => "val",
            Self::Test => "test",
        }
    }

    /// Split of a UTKFace file, from the FNV-1a hash of its file name.
    pub fn of_utkface_file(file_name: &str) -> Self {
        match fnv1a(file_name.as_bytes()) % 10 {
            0 => Self::Test,
            1 => Self::Val,
            _ => Self::Train,
        }
    }
}

/// 64-bit FNV-1a hash (stable across platforms and Rust versions, unlike `DefaultHasher`).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Which face collection an image comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaceSource {
    /// CelebA aligned crops, cropped with [`CELEBA_WINDOW`].
    CelebA,
    /// UTKFace chips, used whole.
    UtkFace,
}

/// Settings of a [`FaceDataset`].
#[derive(Clone, Debug)]
pub struct DatasetOptions {
    /// Side of the sharp/degraded face images (128).
    pub size: usize,
    /// Side of the random training crop taken after degradation (e.g. 64); only applied when
    /// sampling with `augment = true`.
    pub crop: Option<usize>,
    /// How training samples are degraded.
    pub degradation: DegradationConfig,
    /// Augmentation ranges for `augment = true`.
    pub augment: AugmentConfig,
    /// With `augment = true`, widen the framing of any source whose face window would be
    /// upscaled: the window covers at least `min_source_scale · size` source pixels (e.g. 1.2:
    /// every target downscaled ≥ 1.2×, as sharp as faces cut from a larger photo). 0 = off.
    pub min_source_scale: f64,
}

impl DatasetOptions {
    /// 128² faces, no crop, [`DegradationConfig::training`], default augmentation.
    pub fn training(recorded: Option<Arc<RecordedKernels>>) -> Self {
        Self {
            size: DEFAULT_SIZE,
            crop: None,
            degradation: DegradationConfig::training(recorded),
            augment: AugmentConfig::default(),
            min_source_scale: 0.0,
        }
    }

    /// Like [`DatasetOptions::training`] but with data like real photos:
    /// [`DegradationConfig::photo`] blurs and framings from slightly tighter than the
    /// detector's crop to a little wider than FFHQ's (`framing` −0.1 to 1.1).
    pub fn photo(recorded: Option<Arc<RecordedKernels>>) -> Self {
        Self {
            degradation: DegradationConfig::photo(recorded),
            augment: AugmentConfig {
                framing_range: (-0.1, 1.1),
                ..AugmentConfig::default()
            },
            ..Self::training(None)
        }
    }
}

/// One image file of a dataset.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    path: PathBuf,
    source: FaceSource,
}

/// Sorted list of face images for one split, with the options to load and degrade them.
#[derive(Clone, Debug)]
pub struct FaceDataset {
    entries: Vec<Entry>,
    split: Split,
    opts: DatasetOptions,
}

impl FaceDataset {
    /// Lists the `split` images of `sources` under `data_root` (CelebA first, each sorted by
    /// path). Errors if a source folder is missing or no image is found.
    pub fn new(
        data_root: &Path,
        split: Split,
        sources: &[FaceSource],
        opts: DatasetOptions,
    ) -> anyhow::Result<Self> {
        ensure!(opts.size > 0, "image size must be positive");
        if let Some(crop) = opts.crop {
            ensure!(
                crop > 0 && crop <= opts.size,
                "crop {crop} must be in 1..={}",
                opts.size
            );
        }
        let mut entries = Vec::new();
        for &source in sources {
            let mut paths = match source {
                FaceSource::CelebA => {
                    let dir = data_root.join("faces/celeba").join(split.celeba_folder());
                    let mut paths = Vec::new();
                    for sub in list_dir(&dir)? {
                        if sub.is_dir() {
                            paths.extend(list_dir(&sub)?.into_iter().filter(|p| is_jpeg(p)));
                        }
                    }
                    paths
                }
                FaceSource::UtkFace => {
                    let dir = data_root.join("faces/utkface");
                    list_dir(&dir)?
                        .into_iter()
                        .filter(|p| is_jpeg(p))
                        .filter(|p| {
                            let name = p
                                .file_name()
                                .map(|n| n.to_string_lossy())
                                .unwrap_or_default();
                            Split::of_utkface_file(&name) == split
                        })
                        .collect()
                }
            };
            paths.sort();
            entries.extend(paths.into_iter().map(|path| Entry { path, source }));
        }
        if entries.is_empty() {
            bail!(
                "no {split:?} images of {sources:?} under {}",
                data_root.display()
            );
        }
        Ok(Self {
            entries,
            split,
            opts,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no images (never true for a successfully created dataset).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The split this dataset lists.
    pub fn split(&self) -> Split {
        self.split
    }

    /// The options it was created with.
    pub fn options(&self) -> &DatasetOptions {
        &self.opts
    }

    /// Path of image `index`.
    pub fn path(&self, index: usize) -> &Path {
        &self.entries[index].path
    }

    /// Collection of image `index`.
    pub fn source(&self, index: usize) -> FaceSource {
        self.entries[index].source
    }

    /// Decodes image `index` into RGB `f32`.
    pub fn decode(&self, index: usize) -> anyhow::Result<SourceImage> {
        let path = &self.entries[index].path;
        let img = image::open(path).with_context(|| format!("decoding {}", path.display()))?;
        Ok(SourceImage::from_rgb8(&img.to_rgb8()))
    }

    /// Face window of image `index` within its decoded photo.
    fn window(&self, index: usize, src: &SourceImage) -> Window {
        match self.entries[index].source {
            FaceSource::CelebA if src.width == 178 && src.height == 218 => CELEBA_WINDOW,
            _ => {
                // Whole image (UTKFace) or, for unexpected sizes, the central square.
                let side = src.width.min(src.height) as f64;
                Window {
                    cx: src.width as f64 / 2.0,
                    cy: src.height as f64 / 2.0,
                    side,
                }
            }
        }
    }

    /// The sharp, unaugmented `size²` face of image `index` (CHW, [0, 1]).
    pub fn load_sharp(&self, index: usize) -> anyhow::Result<Vec<f32>> {
        let src = self.decode(index)?;
        Ok(render_window(
            &src,
            self.window(index, &src).framed(0.0),
            self.opts.size,
            0,
            &Jitter::IDENTITY,
        ))
    }

    /// Renders image `index` with `jitter`, degrades it with `params` (noise drawn from `rng`)
    /// and returns the `size²` (blurred, sharp) pair. The framing is widened where needed so
    /// that the window spans at least `min_scale · size` source pixels (0 = as drawn).
    fn render_pair<R: Rng + ?Sized>(
        &self,
        index: usize,
        jitter: &Jitter,
        params: &DegradationParams,
        min_scale: f64,
        rng: &mut R,
    ) -> anyhow::Result<(Vec<f32>, Vec<f32>)> {
        let src = self.decode(index)?;
        let size = self.opts.size;
        let margin = params.kernel_size() / 2;
        let full = size + 2 * margin;
        let tight = self.window(index, &src);
        let framing = jitter
            .framing
            .max(min_framing(tight.side, min_scale * size as f64));
        let window = tight.framed(framing);
        let mut sharp_ext = render_window(&src, window, size, margin, jitter);
        colour_jitter(&mut sharp_ext, jitter);
        let sharp = crop_square(&sharp_ext, 3, full, margin, margin, size);
        let blurred = match &params.kernel {
            Some(k) => crop_square(
                &blur_rgb(&sharp_ext, 3, full, full, k),
                3,
                full,
                margin,
                margin,
                size,
            ),
            None => sharp.clone(),
        };
        let blurred = add_noise_and_jpeg(blurred, 3, size, size, params, rng)
            .with_context(|| format!("degrading {}", self.path(index).display()))?;
        Ok((blurred, sharp))
    }

    /// A training/validation pair for image `index`: with `augment`, random flip/zoom/shift/
    /// rotation/colour jitter and (if `crop` is set) a random crop of the degraded pair; then a
    /// degradation drawn with [`sample_degradation`]. All randomness comes from `rng`, in a
    /// fixed order, so the same RNG state gives the same sample.
    pub fn sample<R: Rng + ?Sized>(
        &self,
        index: usize,
        rng: &mut R,
        augment: bool,
    ) -> anyhow::Result<Sample> {
        let jitter = self.jitter(rng, augment);
        let params = sample_degradation(rng, &self.opts.degradation);
        self.finish_sample(index, &jitter, &params, rng, augment)
    }

    /// Like [`FaceDataset::sample`], but degraded with the given `params` (the noise itself is
    /// still drawn from `rng`): two faces degraded with the same params form a positive pair
    /// for the degradation encoder's contrastive training.
    pub fn sample_with_degradation<R: Rng + ?Sized>(
        &self,
        index: usize,
        params: &DegradationParams,
        rng: &mut R,
        augment: bool,
    ) -> anyhow::Result<Sample> {
        let jitter = self.jitter(rng, augment);
        self.finish_sample(index, &jitter, params, rng, augment)
    }

    /// A random augmentation (or none).
    fn jitter<R: Rng + ?Sized>(&self, rng: &mut R, augment: bool) -> Jitter {
        if augment {
            self.opts.augment.sample(rng)
        } else {
            Jitter::IDENTITY
        }
    }

    /// Renders, degrades and (with `augment` and a crop size) crops image `index`.
    fn finish_sample<R: Rng + ?Sized>(
        &self,
        index: usize,
        jitter: &Jitter,
        params: &DegradationParams,
        rng: &mut R,
        augment: bool,
    ) -> anyhow::Result<Sample> {
        let min_scale = if augment {
            self.opts.min_source_scale
        } else {
            0.0
        };
        let (mut blurred, mut sharp) = self.render_pair(index, jitter, params, min_scale, rng)?;
        let mut size = self.opts.size;
        if let Some(crop) = self.opts.crop.filter(|&c| augment && c < size) {
            let top = rng.random_range(0..=size - crop);
            let left = rng.random_range(0..=size - crop);
            blurred = crop_square(&blurred, 3, size, top, left, crop);
            sharp = crop_square(&sharp, 3, size, top, left, crop);
            size = crop;
        }
        Ok(Sample {
            blurred,
            sharp,
            size,
            kernel_size: params.kernel_size(),
            kernel_label: params.kernel_label(),
            kernel_family: params.source.family(),
            index,
        })
    }

    /// Samples `indices` in order (see [`FaceDataset::sample`]) and stacks them.
    pub fn batch<R: Rng + ?Sized>(
        &self,
        indices: &[usize],
        rng: &mut R,
        augment: bool,
    ) -> anyhow::Result<Batch> {
        let samples = indices
            .iter()
            .map(|&i| self.sample(i, rng, augment))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Batch::from_samples(&samples)
    }
}

/// Entries of a directory, with an error naming it.
fn list_dir(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let read = std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))?;
    read.map(|e| {
        e.map(|e| e.path())
            .with_context(|| format!("listing {}", dir.display()))
    })
    .collect()
}

/// Whether the file name ends in `.jpg`/`.jpeg` (any case).
fn is_jpeg(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg"))
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod warp_tests;
