//! `face-deblur eval`: blur sharp test faces reproducibly, restore them, and report PSNR, SSIM,
//! identity distance and an LPIPS-like distance for the blurred input and the output, overall
//! and per kernel size.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::blur::RecordedKernels;
use super::data::{
    DatasetOptions, EvalKernels, EvalPolicy, FaceDataset, FaceSource, Sample, Split,
};
use super::loss::normalize_channels;
use super::metrics::{psnr, ssim};
use super::report::unit_chw_to_rgb;
use crate::convert::tensor_to_f32;
use crate::inference::{Restorer, signed_batch};
use crate::model::teacher::{FACE_RESNET_FILE, FaceResnet, VGG16_FILE, Vgg16Features};
use crate::model::tensors::{TensorFile, WeightFileError};
use crate::pipeline::detect::FaceDetector;
use burn::tensor::module::{avg_pool2d, interpolate};
use burn::tensor::ops::{AvgPoolOptions, InterpolateMode, InterpolateOptions};

/// LPIPS v0.1 linear heads for VGG (BSD-2, from the `lpips` package).
pub const LPIPS_VGG_FILE: &str = "lpips_v0.1_vgg_lin.safetensors";

/// The metric networks: identity embedding and LPIPS-like distance.
pub struct Metrics {
    resnet: FaceResnet,
    vgg: Vgg16Features,
    lpips_heads: Vec<Tensor<4>>,
}

impl Metrics {
    /// Load the nets from `weights_dir` (shared/weights).
    pub fn load(weights_dir: &Path, device: &Device) -> Result<Self, WeightFileError> {
        let heads = TensorFile::open(&weights_dir.join(LPIPS_VGG_FILE))?;
        let lpips_heads = [64, 128, 256, 512, 512]
            .iter()
            .enumerate()
            .map(|(i, &c)| heads.tensor(&format!("lin{i}.model.1.weight"), [1, c, 1, 1], device))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            resnet: FaceResnet::load(&weights_dir.join(FACE_RESNET_FILE), device)?,
            vgg: Vgg16Features::load_full(&weights_dir.join(VGG16_FILE), device)?,
            lpips_heads,
        })
    }

    /// Euclidean distance between the identity embeddings of `a` and `b` (`[B, 3, H, W]` in
    /// [-1, 1]), one per face; < 0.6 = same person by dlib's convention.
    pub fn identity_distance(&self, a: Tensor<4>, b: Tensor<4>) -> Result<Vec<f32>> {
        let ea = self.resnet.embed_signed(a);
        let eb = self.resnet.embed_signed(b);
        let d = (ea - eb).square().sum_dim(1).sqrt(); // [B, 1]
        Ok(tensor_to_f32(d)?)
    }

    /// LPIPS-like distance: LPIPS v0.1's VGG heads on Caffe ImageNet VGG16 features (not the
    /// torchvision VGG16 the heads were fitted on, so uncalibrated: compare only with itself).
    pub fn lpips_like(&self, a: Tensor<4>, b: Tensor<4>) -> Result<Vec<f32>> {
        let fa = self.vgg.lpips_features(a);
        let fb = self.vgg.lpips_features(b);
        let mut total: Option<Tensor<4>> = None;
        for ((x, y), w) in fa.into_iter().zip(fb).zip(&self.lpips_heads) {
            let d = (normalize_channels(x) - normalize_channels(y)).square();
            let weighted = (d * w.clone()).sum_dim(1).mean_dim(2).mean_dim(3); // [B,1,1,1]
            total = Some(match total {
                Some(t) => t + weighted,
                None => weighted,
            });
        }
        match total {
            Some(t) => Ok(tensor_to_f32(t)?),
            None => Ok(Vec::new()),
        }
    }
}

/// Mean scores of one group of faces.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Scores {
    /// Faces in the group.
    pub count: usize,
    /// PSNR (dB) of the blurred input / the output against the sharp face.
    pub psnr: [f64; 2],
    /// SSIM of input / output.
    pub ssim: [f64; 2],
    /// Identity distance of input / output to the sharp face.
    pub identity: [f64; 2],
    /// LPIPS-like distance (uncalibrated) of input / output.
    pub lpips_like: [f64; 2],
    /// Share of faces the face detector finds in the sharp face / the blurred input / the
    /// output (paper Table 3); empty when detection was not run.
    pub detected: Vec<f64>,
}

/// One face's scores: PSNR, SSIM, identity, LPIPS-like (input, output each), then detection
/// (sharp, input, output) when it was run.
type Row = ([f64; 8], Option<[bool; 3]>);

impl Scores {
    fn add(&mut self, (other, detected): &Row) {
        self.count += 1;
        for k in 0..2 {
            self.psnr[k] += other[k];
            self.ssim[k] += other[2 + k];
            self.identity[k] += other[4 + k];
            self.lpips_like[k] += other[6 + k];
        }
        if let Some(found) = detected {
            self.detected.resize(3, 0.0);
            for (sum, hit) in self.detected.iter_mut().zip(found) {
                *sum += f64::from(u8::from(*hit));
            }
        }
    }

    fn finish(&mut self) {
        let n = self.count.max(1) as f64;
        for arr in [
            &mut self.psnr,
            &mut self.ssim,
            &mut self.identity,
            &mut self.lpips_like,
        ] {
            arr.iter_mut().for_each(|v| *v /= n);
        }
        self.detected.iter_mut().for_each(|v| *v /= n);
    }
}

/// Scores of one test set, overall, per kernel size and per blur family.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct SetReport {
    /// E.g. "CelebA test".
    pub name: String,
    /// All faces.
    pub overall: Scores,
    /// By kernel size (0 = no blur).
    pub by_kernel_size: BTreeMap<usize, Scores>,
    /// By blur family (`recorded shake`, `synthetic shake`, `defocus`, `gaussian`).
    pub by_family: BTreeMap<String, Scores>,
    /// Side the model ran at (faces larger than it are restored as the photo pipeline does:
    /// downscaled, restored, and the change upscaled onto the input).
    pub work_size: usize,
}

/// How [`evaluate_set`] runs.
#[derive(Default)]
pub struct EvalOptions<'a> {
    /// Largest side the model runs at (0 = always the face's own size). Larger faces must be
    /// a whole multiple of it.
    pub work_size: usize,
    /// Face detector for the detection rates (none = not measured).
    pub detector: Option<&'a FaceDetector>,
}

/// Restores a `[B, 3, S, S]` signed batch at `work` px as the photo pipeline does: area
/// downscale to `work`, restore, bilinear-upscale the change and add it to the input. Faces
/// of at most `work` px (or `work` 0) are restored directly.
pub fn restore_at_work_size(restorer: &Restorer, blurred: Tensor<4>, work: usize) -> Tensor<4> {
    let [_, _, h, w] = blurred.dims();
    if work == 0 || h.max(w) <= work {
        return restorer.forward_signed(blurred);
    }
    let factor = h / work;
    assert!(
        h == w && factor * work == h,
        "faces of {h}×{w} cannot be restored at {work} px: the side must be a multiple"
    );
    let small = avg_pool2d(blurred.clone(), AvgPoolOptions::new([factor, factor]));
    let change = restorer.forward_signed(small.clone()) - small;
    let up = interpolate(
        change,
        InterpolateOptions::new(InterpolateMode::Bilinear)
            .with_align_corners(false)
            .with_output_size([h, w]),
    );
    (blurred + up).clamp(-1.0, 1.0)
}

/// Whether the detector finds a face in a CHW [0, 1] image.
fn has_face(detector: &FaceDetector, chw_unit: &[f32], size: usize) -> bool {
    !detector.detect(&unit_chw_to_rgb(chw_unit, size)).is_empty()
}

/// Evaluate `restorer` on `samples`.
pub fn evaluate_set(
    name: &str,
    restorer: &Restorer,
    metrics: &Metrics,
    samples: &[Sample],
    options: &EvalOptions,
) -> Result<SetReport> {
    let device = restorer.device().clone();
    let mut report = SetReport {
        name: name.into(),
        work_size: options.work_size,
        ..Default::default()
    };
    for chunk in samples.chunks(8) {
        let size = chunk[0].size;
        let shape = [chunk.len(), 3, size, size];
        let stack = |f: &dyn Fn(&Sample) -> &Vec<f32>| {
            let data: Vec<f32> = chunk.iter().flat_map(|s| f(s).iter().copied()).collect();
            signed_batch(data, shape, &device)
        };
        let blurred = stack(&|s| &s.blurred);
        let sharp = stack(&|s| &s.sharp);
        let restored = restore_at_work_size(restorer, blurred.clone(), options.work_size);
        let id_in = metrics.identity_distance(blurred.clone(), sharp.clone())?;
        let id_out = metrics.identity_distance(restored.clone(), sharp.clone())?;
        let lp_in = metrics.lpips_like(blurred, sharp.clone())?;
        let lp_out = metrics.lpips_like(restored.clone(), sharp)?;
        let out: Vec<f32> =
            tensor_to_f32(restored.add_scalar(1.0).mul_scalar(0.5).clamp(0.0, 1.0))?;
        let plane = 3 * size * size;
        for (k, s) in chunk.iter().enumerate() {
            let o = &out[k * plane..(k + 1) * plane];
            let scores = [
                psnr(&s.blurred, &s.sharp, 3, size, size),
                psnr(o, &s.sharp, 3, size, size),
                ssim(&s.blurred, &s.sharp, 3, size, size),
                ssim(o, &s.sharp, 3, size, size),
                id_in[k] as f64,
                id_out[k] as f64,
                lp_in[k] as f64,
                lp_out[k] as f64,
            ];
            let detected = options.detector.map(|d| {
                [
                    has_face(d, &s.sharp, size),
                    has_face(d, &s.blurred, size),
                    has_face(d, o, size),
                ]
            });
            let row = (scores, detected);
            report.overall.add(&row);
            report
                .by_kernel_size
                .entry(s.kernel_size)
                .or_default()
                .add(&row);
            report
                .by_family
                .entry(s.kernel_family.to_string())
                .or_default()
                .add(&row);
        }
    }
    report.overall.finish();
    report.by_kernel_size.values_mut().for_each(Scores::finish);
    report.by_family.values_mut().for_each(Scores::finish);
    Ok(report)
}

/// The test sets: CelebA test split and the held-out UTKFace part, `count` faces each, blurred
/// with synthetic kernels and the recorded kernels held out from training.
pub fn test_sets(
    data_dir: &Path,
    kernels: &Path,
    count: usize,
    seed: u64,
) -> Result<Vec<(String, Vec<Sample>)>> {
    let recorded = Arc::new(RecordedKernels::load(kernels).context("loading recorded kernels")?);
    let opts = DatasetOptions::training(Some(recorded));
    let mut sets = Vec::new();
    for (name, source) in [
        ("CelebA test", FaceSource::CelebA),
        ("UTKFace held-out", FaceSource::UtkFace),
    ] {
        let ds = FaceDataset::new(data_dir, Split::Test, &[source], opts.clone())?;
        sets.push((
            name.to_string(),
            ds.eval_set(count, seed, &EvalPolicy::default())?,
        ));
    }
    Ok(sets)
}

/// Noise of the use-matched sets: σ = 2/255.
pub const USE_NOISE_SIGMA: f32 = 2.0 / 255.0;

/// The use-matched test sets: CelebA test and held-out UTKFace faces together, `count` per set,
/// in two framings (the CLI detector's crop and FFHQ/CelebA-HQ's whole-head alignment) at 128²
/// and 256² (blur scaled with the face), noise σ = 2/255; the four blur families (held-out
/// recorded shake, fresh synthetic shake, defocus, Gaussian) in rotation within each set; at
/// 128² also a strong-shake set (FFHQ framing, held-out recorded kernels ×
/// [`STRONG_SHAKE_SCALE`]).
pub fn use_matched_sets(
    data_dir: &Path,
    kernels: &Path,
    count: usize,
    seed: u64,
    sizes: &[usize],
) -> Result<Vec<(String, Vec<Sample>)>> {
    let recorded = Arc::new(RecordedKernels::load(kernels).context("loading recorded kernels")?);
    let mut sets = Vec::new();
    for &size in sizes {
        let opts = DatasetOptions {
            size,
            ..DatasetOptions::training(Some(recorded.clone()))
        };
        let ds = FaceDataset::new(
            data_dir,
            Split::Test,
            &[FaceSource::CelebA, FaceSource::UtkFace],
            opts,
        )?;
        for (framing_name, framing) in [("detector crop", 0.0), ("FFHQ framing", 1.0)] {
            let policy = EvalPolicy {
                kernels: EvalKernels::Families,
                noise_sigma: USE_NOISE_SIGMA,
                jpeg_quality: None,
                framing,
                kernel_scale: size as f64 / 128.0,
            };
            sets.push((
                format!("{framing_name} {size}²"),
                ds.eval_set(count, seed, &policy)?,
            ));
        }
        if size == 128 {
            // Strong shake: the held-out recorded kernels at twice their size (51–59 px at
            // 128²), whole-head framing — blur as strong as the independent set's, where the
            // input is ≈ 22 dB rather than our families' 24–28.
            let policy = EvalPolicy {
                kernels: EvalKernels::HeldOutRecorded,
                noise_sigma: USE_NOISE_SIGMA,
                jpeg_quality: None,
                framing: 1.0,
                kernel_scale: STRONG_SHAKE_SCALE,
            };
            sets.push((
                format!("FFHQ framing {size}², strong shake"),
                ds.eval_set(count, seed, &policy)?,
            ));
        }
    }
    Ok(sets)
}

/// How much the use suite's strong-shake set enlarges the held-out recorded kernels.
pub const STRONG_SHAKE_SCALE: f64 = 2.0;

/// A Markdown table of the reports.
pub fn markdown(reports: &[SetReport]) -> String {
    let mut s = String::from(
        "| set | blur | faces | PSNR in → out (dB) | gain (dB) | SSIM in → out | identity dist. in → out | LPIPS-like in → out | detected sharp / in / out |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in reports {
        let mut row = |label: String, sc: &Scores| {
            let detected = match sc.detected.as_slice() {
                [sharp, input, output] => format!(
                    "{:.0} / {:.0} / {:.0} %",
                    100.0 * sharp,
                    100.0 * input,
                    100.0 * output
                ),
                _ => "–".into(),
            };
            s.push_str(&format!(
                "| {} | {} | {} | {:.2} → {:.2} | {:+.2} | {:.3} → {:.3} | {:.3} → {:.3} | {:.3} → {:.3} | {detected} |\n",
                r.name,
                label,
                sc.count,
                sc.psnr[0],
                sc.psnr[1],
                sc.psnr[1] - sc.psnr[0],
                sc.ssim[0],
                sc.ssim[1],
                sc.identity[0],
                sc.identity[1],
                sc.lpips_like[0],
                sc.lpips_like[1]
            ));
        };
        row("all".into(), &r.overall);
        if r.by_family.len() > 2 {
            for (family, sc) in &r.by_family {
                row(family.clone(), sc);
            }
            continue;
        }
        for (k, sc) in &r.by_kernel_size {
            row(
                if *k == 0 {
                    "none".into()
                } else {
                    format!("{k} px")
                },
                sc,
            );
        }
    }
    s
}
