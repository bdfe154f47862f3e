//! dlib's face-recognition ResNet (`dlib_face_recognition_resnet_model_v1`, via face-api.js),
//! frozen: a deep-feature teacher (a face-recognition net, like the paper's VGGFace) and the
//! 128-D identity embedding used to measure identity drift (distance < 0.6 = same person).
//!
//! Layer layout and provenance in `weights/README.md`; the converted file ships in `weights/` and
//! is embedded in the binary ([`FaceResnet::shipped`]).

use std::path::Path;

use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::module::{avg_pool2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, MaxPoolOptions};

use crate::model::tensors::{TensorFile, WeightFileError};

/// File name of the converted weights (in `weights/`, and in `shared/weights`).
pub const FACE_RESNET_FILE: &str = "faceapi_face_recognition_resnet.f16.safetensors";

/// dlib's input mean (R, G, B on 0..255); inputs are `(x - mean) / 256`.
const MEAN_RGB: [f32; 3] = [122.782, 117.001, 104.298];

/// Euclidean embedding distance below which dlib calls two faces the same person.
pub const SAME_PERSON_DISTANCE: f32 = 0.6;

/// Conv + per-channel affine ("scale") layer, optionally followed by ReLU.
#[derive(Module, Debug)]
struct ConvScale {
    conv: Conv2d,
    scale_weight: Tensor<1>,
    scale_bias: Tensor<1>,
}

impl ConvScale {
    fn load(
        file: &TensorFile,
        prefix: &str,
        stride: usize,
        padding: usize,
        device: &Device,
    ) -> Result<Self, WeightFileError> {
        let conv = file.conv2d(&format!("{prefix}.conv"), stride, padding, device)?;
        let c = conv.weight.dims()[0];
        Ok(Self {
            conv,
            scale_weight: file.tensor(&format!("{prefix}.scale.weight"), [c], device)?,
            scale_bias: file.tensor(&format!("{prefix}.scale.bias"), [c], device)?,
        })
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = self.conv.forward(x);
        let c = self.scale_weight.dims()[0];
        y * self.scale_weight.clone().reshape([1, c, 1, 1])
            + self.scale_bias.clone().reshape([1, c, 1, 1])
    }
}

/// A residual unit; `down` units use a stride-2 VALID first conv and an average-pooled skip.
#[derive(Module, Debug)]
struct Residual {
    conv1: ConvScale,
    conv2: ConvScale,
    down: bool,
}

impl Residual {
    fn load(
        file: &TensorFile,
        name: &str,
        down: bool,
        device: &Device,
    ) -> Result<Self, WeightFileError> {
        let (stride, pad) = if down { (2, 0) } else { (1, 1) };
        Ok(Self {
            conv1: ConvScale::load(file, &format!("{name}.conv1"), stride, pad, device)?,
            conv2: ConvScale::load(file, &format!("{name}.conv2"), 1, 1, device)?,
            down,
        })
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let out = self.conv2.forward(relu(self.conv1.forward(x.clone())));
        if !self.down {
            return relu(out + x);
        }
        let skip = avg_pool2d(x, AvgPoolOptions::new([2, 2]));
        let [b, cs, hs, ws] = skip.dims();
        let [_, co, ho, wo] = out.dims();
        let device = out.device();
        // Zero-pad the skip along channels to out's channel count.
        let skip = if co > cs {
            Tensor::cat(vec![skip, Tensor::zeros([b, co - cs, hs, ws], &device)], 1)
        } else {
            skip
        };
        // Zero-pad out on the bottom row / right column to the skip's size.
        let mut out = out;
        if hs > ho {
            out = Tensor::cat(vec![out, Tensor::zeros([b, co, hs - ho, wo], &device)], 2);
        }
        if ws > wo {
            out = Tensor::cat(vec![out, Tensor::zeros([b, co, hs, ws - wo], &device)], 3);
        }
        relu(out + skip)
    }
}

/// Named feature maps of one forward pass.
#[derive(Debug, Clone)]
pub struct FaceResnetFeatures {
    /// After `conv32_down` (7×7 s2 + ReLU): `[B, 32, (H-7)/2+1, ..]`.
    pub conv32_down: Tensor<4>,
    /// After `conv32_3`.
    pub conv32_3: Tensor<4>,
    /// After `conv64_3`.
    pub conv64_3: Tensor<4>,
    /// After `conv128_2`.
    pub conv128_2: Tensor<4>,
    /// The 128-D embedding `[B, 128]` (not normalised).
    pub embedding: Tensor<2>,
}

/// The frozen face-recognition ResNet.
#[derive(Module, Debug)]
pub struct FaceResnet {
    conv32_down: ConvScale,
    blocks32: Vec<Residual>,
    blocks64: Vec<Residual>,
    blocks128: Vec<Residual>,
    blocks256: Vec<Residual>,
    fc: Tensor<2>,
}

impl FaceResnet {
    /// Load from the converted safetensors file.
    pub fn load(path: &Path, device: &Device) -> Result<Self, WeightFileError> {
        Self::from_file(&TensorFile::open(path)?, device)
    }

    /// Load from the contents of a converted safetensors file (`path` names it in errors).
    pub fn from_bytes(path: &Path, bytes: &[u8], device: &Device) -> Result<Self, WeightFileError> {
        Self::from_file(&TensorFile::from_bytes(path, bytes)?, device)
    }

    /// The copy shipped in `weights/` and embedded in the binary (works from any folder).
    pub fn shipped(device: &Device) -> Result<Self, WeightFileError> {
        use crate::weights::{FACE_RESNET_SHIPPED, FACE_RESNET_SHIPPED_FILE};
        Self::from_bytes(
            Path::new(FACE_RESNET_SHIPPED_FILE),
            FACE_RESNET_SHIPPED,
            device,
        )
    }

    fn from_file(file: &TensorFile, device: &Device) -> Result<Self, WeightFileError> {
        let group = |names: &[(&str, bool)]| {
            names
                .iter()
                .map(|(n, down)| Residual::load(file, n, *down, device))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Self {
            conv32_down: ConvScale::load(file, "conv32_down", 2, 0, device)?,
            blocks32: group(&[
                ("conv32_1", false),
                ("conv32_2", false),
                ("conv32_3", false),
            ])?,
            blocks64: group(&[
                ("conv64_down", true),
                ("conv64_1", false),
                ("conv64_2", false),
                ("conv64_3", false),
            ])?,
            blocks128: group(&[
                ("conv128_down", true),
                ("conv128_1", false),
                ("conv128_2", false),
            ])?,
            blocks256: group(&[
                ("conv256_down", true),
                ("conv256_1", false),
                ("conv256_2", false),
                ("conv256_down_out", true),
            ])?,
            fc: file.tensor("fc.weight", [128, 256], device)?,
        })
    }

    /// Normalise RGB on 0..255 (`[B, 3, H, W]`) as dlib does.
    pub fn normalize_rgb255(&self, rgb255: Tensor<4>) -> Tensor<4> {
        let device = rgb255.device();
        let mean = Tensor::<1>::from_floats(MEAN_RGB, &device).reshape([1, 3, 1, 1]);
        (rgb255 - mean).div_scalar(256.0)
    }

    /// The stem and the 32-channel blocks: features up to `conv32_3`.
    fn stem(&self, x: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let down = relu(self.conv32_down.forward(x));
        let mut y = max_pool2d(
            down.clone(),
            MaxPoolOptions::new([3, 3]).with_stride([2, 2]),
        );
        for b in &self.blocks32 {
            y = b.forward(y);
        }
        (down, y)
    }

    /// Features up to `conv64_3` only (cheaper; what the prior teacher needs): returns
    /// `(conv32_down, conv32_3, conv64_3)` for input normalised by [`Self::normalize_rgb255`].
    pub fn shallow(&self, x: Tensor<4>) -> (Tensor<4>, Tensor<4>, Tensor<4>) {
        let (down, c32) = self.stem(x);
        let mut y = c32.clone();
        for b in &self.blocks64 {
            y = b.forward(y);
        }
        (down, c32, y)
    }

    /// Full forward pass on normalised input (see [`Self::normalize_rgb255`]); 150×150 is the
    /// native size (a dlib face chip).
    pub fn forward(&self, x: Tensor<4>) -> FaceResnetFeatures {
        let (conv32_down, conv32_3, conv64_3) = self.shallow(x);
        let mut y = conv64_3.clone();
        for b in &self.blocks128 {
            y = b.forward(y);
        }
        let conv128_2 = y.clone();
        for b in &self.blocks256 {
            y = b.forward(y);
        }
        let [b, c, _, _] = y.dims();
        let pooled = y.mean_dim(2).mean_dim(3).reshape([b, c]); // [B, 256]
        let embedding = pooled.matmul(self.fc.clone().transpose()); // [B, 128]
        FaceResnetFeatures {
            conv32_down,
            conv32_3,
            conv64_3,
            conv128_2,
            embedding,
        }
    }

    /// Identity embeddings `[B, 128]` of faces given as RGB in [-1, 1], resized to 150×150.
    pub fn embed_signed(&self, image_signed: Tensor<4>) -> Tensor<2> {
        let rgb255 = image_signed.add_scalar(1.0).mul_scalar(127.5);
        let x = super::resize(self.normalize_rgb255(rgb255), [150, 150]);
        self.forward(x).embedding
    }
}
