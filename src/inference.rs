//! The restorer: owns a compute device and the trained generator; turns face crops into
//! restored faces plus the estimated prior features and their CA channel weights.

use std::path::Path;

use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;
use burn::tensor::FloatDType;
use image::RgbImage;

use crate::convert::{TensorReadError, tensor_to_f32};
use crate::model::Generator;
use crate::model::layers::ChannelAttention;
use crate::weights::{self, WeightsError, WeightsInfo};

pub use crate::device::{BackendChoice, ComputeDevice, hardware_gpu, select_device};

/// Load the weights to use, `path` or the shipped ones, as the product restores: with the
/// mirrored-pass ensemble ([`Restorer::with_flip_ensemble`]; the CLI's `--single-pass` turns
/// it off).
pub fn load_restorer(path: Option<&Path>, device: &Device) -> anyhow::Result<Restorer> {
    let restorer = match path {
        Some(p) => Restorer::load(p, device)?,
        None => weights::load_shipped(device).map(|w| Restorer::from_loaded(w, device))?,
    };
    if !restorer.is_trained() {
        anyhow::bail!(
            "the weights are untrained (0 training steps): face-deblur will not pretend to restore \
             with them; train with `face-deblur train` or pass --weights"
        );
    }
    Ok(restorer.with_flip_ensemble(true))
}

/// Estimated prior features of one face, for the inspector.
#[derive(Debug, Clone)]
pub struct PriorMaps {
    /// Level i+1 (P̂1..P̂3).
    pub level: usize,
    /// Channels.
    pub channels: usize,
    /// Height and width.
    pub size: [usize; 2],
    /// `[C, H, W]` row-major values.
    pub values: Vec<f32>,
    /// CA weight of each channel in (0, 1), if the weights carry CA modules.
    pub channel_weights: Option<Vec<f32>>,
}

/// One restored face.
#[derive(Debug, Clone)]
pub struct RestoredFace {
    /// The restored crop, same size as the input crop.
    pub image: RgbImage,
    /// P̂1..P̂3 (empty for a model without a prior stream).
    pub priors: Vec<PriorMaps>,
    /// What the degradation encoder saw (DAFI models only).
    pub degradation: Option<DegradationEstimate>,
}

/// The degradation representation encoder's view of one face and the DAFI mix it chose.
#[derive(Debug, Clone, PartialEq)]
pub struct DegradationEstimate {
    /// Blur kernel size estimated by the DRE's linear read-out, pixels (0 = sharp).
    pub blur_px: f32,
    /// Per decoder scale (H, H/2, H/4): the DAFI weight of the prior side of each channel.
    pub prior_share: Vec<Vec<f32>>,
}

/// Casts every float parameter of a module to f16.
struct ToHalf;

impl ModuleMapper for ToHalf {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.map(|t| t.cast(FloatDType::F16))
    }
}

/// The generator with its weights in f16 (its activations follow the input's dtype).
pub fn half_precision(generator: Generator) -> Generator {
    generator.map(&mut ToHalf)
}

/// Owns the device and the generator.
pub struct Restorer {
    generator: Generator,
    attention: Vec<ChannelAttention>,
    info: WeightsInfo,
    device: Device,
    half: bool,
    flip_ensemble: bool,
}

impl Restorer {
    /// Load weights from `path` onto `device`.
    pub fn load(path: &Path, device: &Device) -> Result<Self, WeightsError> {
        Ok(Self::from_loaded(weights::load(path, device)?, device))
    }

    /// Wrap loaded weights.
    pub fn from_loaded(loaded: weights::LoadedWeights, device: &Device) -> Self {
        Self {
            generator: loaded.modules.generator,
            attention: loaded.modules.attention,
            info: loaded.info,
            device: device.clone(),
            half: false,
            flip_ensemble: false,
        }
    }

    /// Wrap an in-memory generator (e.g. during training).
    pub fn from_parts(
        generator: Generator,
        attention: Vec<ChannelAttention>,
        info: WeightsInfo,
        device: &Device,
    ) -> Self {
        Self {
            generator,
            attention,
            info,
            device: device.clone(),
            half: false,
            flip_ensemble: false,
        }
    }

    /// Run the generator in f16 (weights and activations). Meant for GPUs: the outputs differ
    /// from f32 by a few 8-bit levels at most (`examples/f16_quality.rs`, `tests/backends.rs`);
    /// on the CPU f16 is emulated and slower than f32. The CA weights of the inspector stay f32.
    pub fn with_half_precision(mut self) -> Self {
        if !self.half {
            self.generator = half_precision(self.generator);
            self.half = true;
        }
        self
    }

    /// Whether the generator runs in f16.
    pub fn is_half(&self) -> bool {
        self.half
    }

    /// Restore each face twice, as it is and mirrored left–right, and average the two results
    /// (a test-time ensemble: twice the compute, a little more detail and fewer artefacts —
    /// `face-deblur eval` with and without `--single-pass` measures it). The inspector's maps
    /// come from the unmirrored pass.
    pub fn with_flip_ensemble(mut self, on: bool) -> Self {
        self.flip_ensemble = on;
        self
    }

    /// The generator on `x` (already in the compute dtype), averaged with its mirrored pass
    /// when the flip ensemble is on.
    fn run_generator(&self, x: Tensor<4>) -> crate::model::GeneratorOutput {
        if !self.flip_ensemble {
            return self.generator.forward(x);
        }
        let b = x.dims()[0];
        let both = Tensor::cat(vec![x.clone(), x.flip([3])], 0);
        let mut out = self.generator.forward(both);
        let first = |t: Tensor<4>| t.narrow(0, 0, b);
        let direct = first(out.image.clone());
        let mirrored = out.image.narrow(0, b, b).flip([3]);
        out.image = (direct + mirrored).mul_scalar(0.5);
        out.priors = out.priors.into_iter().map(first).collect();
        out.degradation = out.degradation.map(|d| d.narrow(0, 0, b));
        out.dafi_masks = out
            .dafi_masks
            .into_iter()
            .map(|m| m.narrow(0, 0, b))
            .collect();
        out
    }

    /// `x` in the dtype the generator computes in.
    fn compute_dtype(&self, x: Tensor<4>) -> Tensor<4> {
        if self.half {
            x.cast(FloatDType::F16)
        } else {
            x
        }
    }

    /// Metadata of the loaded weights.
    pub fn info(&self) -> &WeightsInfo {
        &self.info
    }

    /// Whether the weights were trained at all.
    pub fn is_trained(&self) -> bool {
        self.info.trained_steps > 0
    }

    /// The device the model runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Run the generator on a batch `[B, 3, H, W]` in [-1, 1] (H, W multiples of 4).
    pub fn forward_signed(&self, blurred_signed: Tensor<4>) -> Tensor<4> {
        let x = self.compute_dtype(blurred_signed);
        self.run_generator(x).image.cast(FloatDType::F32)
    }

    /// Restore one face crop of any size (padded by edge replication to a multiple of 4 and
    /// cropped back).
    pub fn restore(&self, face: &RgbImage) -> RestoredFace {
        self.restore_batch(std::slice::from_ref(face))
            .pop()
            .expect("one face in, one face out")
    }

    /// Restore several face crops; crops of the same size run as one batch. Also reads back
    /// the prior maps, their CA weights and the DRE/DAFI estimate (for the inspector).
    pub fn restore_batch(&self, faces: &[RgbImage]) -> Vec<RestoredFace> {
        self.run_batches(faces, true)
    }

    /// Restore several face crops and return only the images: skips reading back the prior
    /// maps and running the CA modules on them (the CLI's whole-photo path and its benchmarks).
    pub fn restore_images(&self, faces: &[RgbImage]) -> Vec<RgbImage> {
        self.run_batches(faces, false)
            .into_iter()
            .map(|f| f.image)
            .collect()
    }

    fn run_batches(&self, faces: &[RgbImage], with_maps: bool) -> Vec<RestoredFace> {
        let mut out: Vec<Option<RestoredFace>> = vec![None; faces.len()];
        let mut groups: Vec<((u32, u32), Vec<usize>)> = Vec::new();
        for (i, f) in faces.iter().enumerate() {
            let key = f.dimensions();
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => v.push(i),
                None => groups.push((key, vec![i])),
            }
        }
        for ((w, h), indices) in groups {
            let (w, h) = (w as usize, h as usize);
            let (pw, ph) = (w.div_ceil(4) * 4, h.div_ceil(4) * 4);
            let mut data = Vec::with_capacity(indices.len() * 3 * pw * ph);
            for &i in &indices {
                data.extend(to_signed_chw_padded(&faces[i], pw, ph));
            }
            let input = self.compute_dtype(Tensor::<4>::from_data(
                TensorData::new(data, [indices.len(), 3, ph, pw]),
                &self.device,
            ));
            let result = self.run_generator(input);
            let images: Vec<f32> = result
                .image
                .clone()
                .cast(FloatDType::F32)
                .into_data()
                .try_to_vec()
                .expect("generator output is f32");
            let details = if with_maps {
                // The image is restored either way: without its read-back the inspector
                // shows no maps for this batch, and the log says why.
                self.read_details(result)
                    .inspect_err(|e| tracing::warn!("no inspector maps for this batch: {e}"))
                    .ok()
            } else {
                None
            };
            for (k, &i) in indices.iter().enumerate() {
                let plane = 3 * pw * ph;
                let image =
                    from_signed_chw_cropped(&images[k * plane..(k + 1) * plane], pw, ph, w, h);
                let (priors, degradation) = match &details {
                    Some(d) => (d.priors_of(k), d.degradation_of(k)),
                    None => (Vec::new(), None),
                };
                out[i] = Some(RestoredFace {
                    image,
                    priors,
                    degradation,
                });
            }
        }
        out.into_iter()
            .map(|f| f.expect("every face restored"))
            .collect()
    }

    /// Read back what the inspector shows: P̂1..P̂3, their CA weights, the DRE estimate and
    /// the DAFI masks, all in f32.
    fn read_details(
        &self,
        result: crate::model::GeneratorOutput,
    ) -> Result<BatchDetails, TensorReadError> {
        let priors: Vec<Tensor<4>> = result
            .priors
            .into_iter()
            .map(|p| p.cast(FloatDType::F32))
            .collect();
        let blur: Option<Vec<f32>> = match (&result.degradation, self.generator.dre()) {
            (Some(v), Some(dre)) => Some(tensor_to_f32(
                dre.blur_size(v.clone()).cast(FloatDType::F32),
            )?),
            _ => None,
        };
        let masks = result
            .dafi_masks
            .iter()
            .map(|m| {
                let [_, c] = m.dims();
                Ok((c, tensor_to_f32(m.clone().cast(FloatDType::F32))?))
            })
            .collect::<Result<Vec<_>, TensorReadError>>()?;
        let weights: Vec<Option<Vec<f32>>> = match self.attention.len() {
            3 => priors
                .iter()
                .zip(&self.attention)
                .map(|(p, ca)| tensor_to_f32(ca.weights(p.clone())).map(Some))
                .collect::<Result<_, _>>()?,
            _ => vec![None; priors.len()],
        };
        let priors = priors
            .into_iter()
            .map(|p| {
                let [_, c, hh, ww] = p.dims();
                Ok((c, hh, ww, tensor_to_f32(p)?))
            })
            .collect::<Result<_, TensorReadError>>()?;
        Ok(BatchDetails {
            priors,
            weights,
            blur,
            masks,
        })
    }
}

/// The inspector's data for one batch, read back from the device.
struct BatchDetails {
    /// Per level: channels, height, width, values of the whole batch.
    priors: Vec<(usize, usize, usize, Vec<f32>)>,
    /// Per level: CA weights of the whole batch, when the weights carry CA modules.
    weights: Vec<Option<Vec<f32>>>,
    /// DRE kernel-size estimate per face (DAFI models).
    blur: Option<Vec<f32>>,
    /// Per decoder scale: channels and the DAFI masks of the whole batch.
    masks: Vec<(usize, Vec<f32>)>,
}

impl BatchDetails {
    fn priors_of(&self, k: usize) -> Vec<PriorMaps> {
        self.priors
            .iter()
            .enumerate()
            .map(|(level, (c, hh, ww, v))| {
                let n = c * hh * ww;
                PriorMaps {
                    level: level + 1,
                    channels: *c,
                    size: [*hh, *ww],
                    values: v[k * n..(k + 1) * n].to_vec(),
                    channel_weights: self.weights[level]
                        .as_ref()
                        .map(|w| w[k * c..(k + 1) * c].to_vec()),
                }
            })
            .collect()
    }

    fn degradation_of(&self, k: usize) -> Option<DegradationEstimate> {
        self.blur.as_ref().map(|b| DegradationEstimate {
            blur_px: b[k].max(0.0),
            prior_share: self
                .masks
                .iter()
                .map(|(c, v)| v[k * c..(k + 1) * c].to_vec())
                .collect(),
        })
    }
}

/// A batch `[B, 3, H, W]` in [-1, 1] from values in [0, 1] laid out as `shape` (training and
/// evaluation samples).
pub fn signed_batch(unit: Vec<f32>, shape: [usize; 4], device: &Device) -> Tensor<4> {
    Tensor::<4>::from_data(TensorData::new(unit, shape), device)
        .mul_scalar(2.0)
        .sub_scalar(1.0)
}

/// RGB8 → CHW in [-1, 1], padded to `pw`×`ph` by repeating the last row/column.
pub fn to_signed_chw_padded(img: &RgbImage, pw: usize, ph: usize) -> Vec<f32> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut out = vec![0.0; 3 * pw * ph];
    for y in 0..ph {
        let sy = y.min(h - 1);
        for x in 0..pw {
            let sx = x.min(w - 1);
            let p = img.get_pixel(sx as u32, sy as u32).0;
            for c in 0..3 {
                out[c * pw * ph + y * pw + x] = p[c] as f32 / 127.5 - 1.0;
            }
        }
    }
    out
}

/// CHW in [-1, 1] of size `pw`×`ph` → RGB8 of the top-left `w`×`h`.
pub fn from_signed_chw_cropped(chw: &[f32], pw: usize, ph: usize, w: usize, h: usize) -> RgbImage {
    RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let (x, y) = (x as usize, y as usize);
        let v = |c: usize| {
            let s = chw[c * pw * ph + y * pw + x];
            ((s + 1.0) * 127.5).round().clamp(0.0, 255.0) as u8
        };
        image::Rgb([v(0), v(1), v(2)])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::GeneratorConfig;
    use crate::model::TeacherKind;

    #[test]
    fn the_flip_ensemble_is_mirror_symmetric_and_differs_from_one_pass() {
        let device = Device::flex();
        let config = GeneratorConfig::new([4, 8, 8], [6, 8, 10], 1, 1, 1, 1);
        let info = WeightsInfo {
            generator: config.clone(),
            teacher: TeacherKind::FaceResnet,
            trained_steps: 1,
            notes: String::new(),
        };
        let single = Restorer::from_parts(config.init(&device).perturbed(), vec![], info, &device);
        let x = Tensor::<4>::random(
            [2, 3, 16, 12],
            burn::tensor::Distribution::Uniform(-0.9, 0.9),
            &device,
        );
        let one = single.forward_signed(x.clone());
        let ensemble = single.with_flip_ensemble(true);
        let both = ensemble.forward_signed(x.clone());
        let mirrored = ensemble.forward_signed(x.flip([3])).flip([3]);
        let asymmetry: f32 = (both.clone() - mirrored).abs().max().into_scalar();
        assert!(
            asymmetry < 1e-5,
            "ensemble not mirror-symmetric: {asymmetry}"
        );
        let change: f32 = (both - one).abs().max().into_scalar();
        assert!(change > 1e-4, "the mirrored pass changed nothing: {change}");
    }
}
