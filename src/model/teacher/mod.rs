//! Frozen teachers that provide the ground-truth deep features P1..P3 (paper §3.2, §4.1).
//!
//! VGGFace, the paper's teacher, is not obtainable; two substitutes are implemented:
//! - [`Teacher::FaceResnet`]: dlib's face-recognition ResNet (a face-recognition net like
//!   VGGFace). Fed the face at 2× size so its `conv32_down`, `conv32_3` and `conv64_3` maps land
//!   near H, H/2 and H/4; they are resampled bilinearly onto exactly those grids.
//!   Priors: 32 @H, 32 @H/2, 64 @H/4.
//! - [`Teacher::Vgg16`]: ImageNet VGG16 relu1_2 / relu2_2 / relu3_3, the paper's exact layers
//!   in a net trained on ImageNet instead of faces. Priors: 64 @H, 128 @H/2, 256 @H/4.

pub mod face_resnet;
pub mod vgg;

use std::path::Path;

use burn::prelude::*;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use serde::{Deserialize, Serialize};

pub use face_resnet::{FACE_RESNET_FILE, FaceResnet, SAME_PERSON_DISTANCE};
pub use vgg::{VGG16_FILE, Vgg16Features};

use super::tensors::WeightFileError;

/// Which frozen net provides the prior features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TeacherKind {
    /// dlib face-recognition ResNet.
    FaceResnet,
    /// ImageNet VGG16.
    Vgg16,
}

impl TeacherKind {
    /// Channels of P1, P2, P3 for this teacher.
    pub fn prior_channels(self) -> [usize; 3] {
        match self {
            TeacherKind::FaceResnet => [32, 32, 64],
            TeacherKind::Vgg16 => [64, 128, 256],
        }
    }

    /// The weight file name in `shared/weights`.
    pub fn file_name(self) -> &'static str {
        match self {
            TeacherKind::FaceResnet => FACE_RESNET_FILE,
            TeacherKind::Vgg16 => VGG16_FILE,
        }
    }
}

/// A loaded (frozen) teacher.
#[derive(Debug)]
pub enum Teacher {
    /// dlib face-recognition ResNet.
    FaceResnet(Box<FaceResnet>),
    /// ImageNet VGG16.
    Vgg16(Box<Vgg16Features>),
}

impl Teacher {
    /// Load `kind` from the weights directory `dir`.
    pub fn load(kind: TeacherKind, dir: &Path, device: &Device) -> Result<Self, WeightFileError> {
        let path = dir.join(kind.file_name());
        Ok(match kind {
            TeacherKind::FaceResnet => {
                Teacher::FaceResnet(Box::new(FaceResnet::load(&path, device)?))
            }
            TeacherKind::Vgg16 => Teacher::Vgg16(Box::new(Vgg16Features::load(&path, device)?)),
        })
    }

    /// Ground-truth priors P1 `[B, p1, H, W]`, P2 `[B, p2, H/2, W/2]`, P3 `[B, p3, H/4, W/4]` of
    /// RGB images in [-1, 1] (`[B, 3, H, W]`, H and W multiples of 4).
    pub fn priors(&self, image_signed: Tensor<4>) -> Vec<Tensor<4>> {
        let [_, _, h, w] = image_signed.dims();
        match self {
            Teacher::Vgg16(vgg) => vgg.features(image_signed),
            Teacher::FaceResnet(net) => {
                let rgb255 = image_signed.add_scalar(1.0).mul_scalar(127.5);
                let x = resize(net.normalize_rgb255(rgb255), [2 * h, 2 * w]);
                let (p1, p2, p3) = net.shallow(x);
                vec![
                    resize(p1, [h, w]),
                    resize(p2, [h / 2, w / 2]),
                    resize(p3, [h / 4, w / 4]),
                ]
            }
        }
    }
}

/// Bilinear resize of `[B, C, H, W]` to `size` (half-pixel centres).
pub fn resize(x: Tensor<4>, size: [usize; 2]) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    if [h, w] == size {
        return x;
    }
    let mut options = InterpolateOptions::new(InterpolateMode::Bilinear);
    options.align_corners = false;
    options.output_size = Some(size);
    interpolate(x, options)
}
