//! What the model worker owns: the compute device, the restorer, the face detector and the
//! identity/teacher net, and how one face is restored with them.

use std::path::Path;
use std::time::Instant;

use burn::prelude::*;
use image::RgbImage;

use super::protocol::ModelSource;
use super::state::{FaceRestoration, Identity};
use crate::convert::{TensorReadError, tensor_to_f32};
use crate::inference::{
    BackendChoice, ComputeDevice, PriorMaps, Restorer, select_device, to_signed_chw_padded,
};
use crate::model::teacher::{FACE_RESNET_FILE, FaceResnet};
use crate::model::{Teacher, TeacherKind};
use crate::pipeline::{
    DEFAULT_FEATHER, DetectorConfig, FaceDetector, Photo, PhotoRect, crop_region,
};
use crate::restore::WORKING_SIZE;

/// What loading the models gave, for the UI (the worker turns it into a message).
#[derive(Debug, Clone)]
pub(crate) struct LoadReport {
    /// Device description.
    pub(crate) device: String,
    /// Weights summary, or why the restorer did not load.
    pub(crate) weights: Result<String, String>,
    /// Why the device is not the one asked for.
    pub(crate) notice: Option<String>,
    /// Whether identity and teacher features are available (`Err`: why not).
    pub(crate) identity: Result<(), String>,
}

/// Everything the worker owns.
pub(crate) struct Models {
    device: Device,
    /// Whether `device` is a GPU (a failure there falls back to the CPU).
    pub(crate) on_gpu: bool,
    /// Tests: every job panics, as on a failing GPU.
    #[cfg(test)]
    pub(crate) simulate_failure: bool,
    pub(crate) restorer: Result<Restorer, String>,
    pub(crate) detector: Result<FaceDetector, String>,
    teacher: Option<Teacher>,
    /// The identity net when the teacher is not the face ResNet.
    identity_net: Option<FaceResnet>,
    identity_error: Option<String>,
}

impl Models {
    /// Load the models for `source`; the report says what the UI should be told.
    pub(crate) fn load(source: &ModelSource) -> (Self, LoadReport) {
        let compute = match &source.shared_gpu {
            Some(gpu)
                if source.backend == BackendChoice::Gpu
                    || (source.backend == BackendChoice::Auto && gpu.hardware) =>
            {
                ComputeDevice {
                    device: gpu.device.clone(),
                    description: gpu.description.clone(),
                    is_gpu: true,
                    notice: None,
                }
            }
            _ => {
                let mut compute = select_device(source.backend);
                if let Some(e) = &source.shared_gpu_error {
                    compute.notice = Some(e.clone());
                }
                compute
            }
        };
        let device = compute.device.clone();
        let restorer = crate::inference::load_restorer(source.weights.as_deref(), &device)
            .map_err(|e| format!("{e:#}"));
        let detector = FaceDetector::new(DetectorConfig::default()).map_err(|e| e.to_string());
        let kind = restorer
            .as_ref()
            .map(|r| r.info().teacher)
            .unwrap_or(TeacherKind::FaceResnet);
        let (teacher, identity_net, identity_error) =
            load_teacher(kind, source.teacher_dir.as_deref(), &device);
        let models = Self {
            device,
            on_gpu: compute.is_gpu,
            #[cfg(test)]
            simulate_failure: false,
            restorer,
            detector,
            teacher,
            identity_net,
            identity_error,
        };
        if models.on_gpu {
            // The first call on a GPU compiles and autotunes its kernels (seconds on a real
            // GPU, a minute on a software one): pay it now, while the status bar still says
            // "loading", instead of on the user's first face.
            let start = Instant::now();
            models.warm_up();
            tracing::info!("GPU warm-up: {:.1} s", start.elapsed().as_secs_f32());
        }
        let report = LoadReport {
            device: compute.description.clone(),
            weights: models.restorer.as_ref().map_err(Clone::clone).map(|r| {
                format!(
                    "{} ({} steps, {:?} teacher)",
                    source
                        .weights
                        .as_deref()
                        .map_or("shipped weights".into(), |p| p.display().to_string()),
                    r.info().trained_steps,
                    r.info().teacher
                )
            }),
            notice: compute.notice.clone(),
            identity: models.identity_error.clone().map_or(Ok(()), Err),
        };
        (models, report)
    }

    /// Run every network once on a blank face of the working size.
    fn warm_up(&self) {
        let Ok(restorer) = &self.restorer else {
            return;
        };
        let blank = RgbImage::from_pixel(WORKING_SIZE, WORKING_SIZE, image::Rgb([128; 3]));
        let restored = restorer.restore(&blank);
        if let Some(net) = self.identity_net() {
            let _ = net.embed_signed(self.signed(&restored.image)).into_data();
        }
        if let Some(t) = &self.teacher {
            let _ = prior_maps(t.priors(self.signed(&restored.image)));
        }
    }

    fn identity_net(&self) -> Option<&FaceResnet> {
        match &self.teacher {
            Some(Teacher::FaceResnet(net)) => Some(net),
            _ => self.identity_net.as_ref(),
        }
    }

    fn signed(&self, img: &RgbImage) -> Tensor<4> {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let data = to_signed_chw_padded(img, w, h);
        Tensor::from_data(TensorData::new(data, [1, 3, h, w]), &self.device)
    }

    /// Restore one face: crop, network, identity distance and teacher features.
    pub(crate) fn restore(
        &self,
        photo: &Photo,
        region: PhotoRect,
    ) -> Result<FaceRestoration, String> {
        let restorer = self.restorer.as_ref().map_err(Clone::clone)?;
        let crop = crop_region(&photo.rgb_u8, region, WORKING_SIZE, DEFAULT_FEATHER)
            .map_err(|e| e.to_string())?;
        let start = Instant::now();
        let restored = restorer.restore(&crop.image);
        let seconds = start.elapsed().as_secs_f32();
        let restored_signed = self.signed(&restored.image);
        let identity = match self.identity_net() {
            Some(net) => {
                let a = net.embed_signed(self.signed(&crop.image));
                let b = net.embed_signed(restored_signed.clone());
                match tensor_to_f32((a - b).square().sum_dim(1).sqrt()) {
                    Ok(d) => match d.first() {
                        Some(&d) if d.is_finite() => Identity::Distance(d),
                        _ => Identity::Unavailable("the identity net gave no distance".into()),
                    },
                    Err(e) => Identity::Unavailable(e.to_string()),
                }
            }
            None => Identity::Unavailable(
                self.identity_error
                    .clone()
                    .unwrap_or_else(|| "no identity net".into()),
            ),
        };
        let teacher = self
            .teacher
            .as_ref()
            .map(|t| prior_maps(t.priors(restored_signed)))
            .transpose()
            .map_err(|e| e.to_string())?;
        Ok(FaceRestoration {
            crop,
            restored,
            teacher,
            identity,
            seconds,
        })
    }
}

/// The teacher of `kind` and the identity net: from `dir` when given, else the face ResNet
/// embedded in the binary (the VGG16 teacher is not shipped: without `dir` a VGG16-trained model
/// has no teacher rows in the inspector, but still an identity check).
fn load_teacher(
    kind: TeacherKind,
    dir: Option<&Path>,
    device: &Device,
) -> (Option<Teacher>, Option<FaceResnet>, Option<String>) {
    let teacher = match (dir, kind) {
        (Some(dir), _) => Teacher::load(kind, dir, device).map_err(|e| e.to_string()),
        (None, TeacherKind::FaceResnet) => FaceResnet::shipped(device)
            .map(|net| Teacher::FaceResnet(Box::new(net)))
            .map_err(|e| e.to_string()),
        (None, TeacherKind::Vgg16) => {
            Err("the VGG16 teacher is not shipped (`gui --teacher-weights DIR`)".into())
        }
    };
    if let Err(e) = &teacher {
        tracing::warn!("no teacher features in the inspector: {e}");
    }
    let identity = match (&teacher, kind) {
        (Ok(_), TeacherKind::FaceResnet) => Ok(None),
        _ => match dir {
            Some(dir) => FaceResnet::load(&dir.join(FACE_RESNET_FILE), device),
            None => FaceResnet::shipped(device),
        }
        .map(Some),
    };
    match identity {
        Ok(net) => (teacher.ok(), net, None),
        Err(e) => (
            teacher.ok(),
            None,
            Some(format!(
                "face ResNet not available ({e}); identity is not measured"
            )),
        ),
    }
}

/// Teacher feature tensors `[1, C, H, W]` as prior maps (no CA weights).
fn prior_maps(tensors: Vec<Tensor<4>>) -> Result<Vec<PriorMaps>, TensorReadError> {
    tensors
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let [_, c, h, w] = t.dims();
            Ok(PriorMaps {
                level: i + 1,
                channels: c,
                size: [h, w],
                values: tensor_to_f32(t)?,
                channel_weights: None,
            })
        })
        .collect()
}
