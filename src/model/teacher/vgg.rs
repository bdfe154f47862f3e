//! ImageNet VGG16 conv layers (Caffe/Keras weights): a deep-feature teacher whose relu1_2 /
//! relu2_2 / relu3_3 are the paper's VGGFace layers (§4.1), and the backbone of the
//! LPIPS-like metric (relu1_2 … relu5_3).

use std::path::Path;

use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;

use crate::model::tensors::{TensorFile, WeightFileError};

/// File name of the converted weights in `shared/weights`.
pub const VGG16_FILE: &str = "vgg16_imagenet_caffe_conv.f16.safetensors";

/// Caffe mean in B, G, R order, on 0..255.
const CAFFE_MEAN_BGR: [f32; 3] = [103.939, 116.779, 123.68];

/// Indices (torchvision `features.N`) of VGG16's 13 conv layers.
const CONV_INDICES: [usize; 13] = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28];

/// VGG16 conv layers, frozen: the first seven (to relu3_3) or all thirteen.
#[derive(Module, Debug)]
pub struct Vgg16Features {
    convs: Vec<Conv2d>,
}

impl Vgg16Features {
    /// Load the layers up to relu3_3 from the converted Caffe VGG16 safetensors file.
    pub fn load(path: &Path, device: &Device) -> Result<Self, WeightFileError> {
        Self::load_layers(path, 7, device)
    }

    /// Load all 13 conv layers (for [`Self::lpips_features`]).
    pub fn load_full(path: &Path, device: &Device) -> Result<Self, WeightFileError> {
        Self::load_layers(path, 13, device)
    }

    fn load_layers(path: &Path, count: usize, device: &Device) -> Result<Self, WeightFileError> {
        let file = TensorFile::open(path)?;
        let convs = CONV_INDICES[..count]
            .iter()
            .map(|i| file.conv2d(&format!("features.{i}"), 1, 1, device))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { convs })
    }

    /// relu1_2 `[B, 64, H, W]`, relu2_2 `[B, 128, H/2, W/2]`, relu3_3 `[B, 256, H/4, W/4]` of
    /// an RGB image in [-1, 1] (`[B, 3, H, W]`, H and W multiples of 4).
    pub fn features(&self, image_signed: Tensor<4>) -> Vec<Tensor<4>> {
        self.run(image_signed, 3)
    }

    /// relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 (the LPIPS layers); needs
    /// [`Self::load_full`].
    pub fn lpips_features(&self, image_signed: Tensor<4>) -> Vec<Tensor<4>> {
        assert_eq!(self.convs.len(), 13, "LPIPS features need all VGG16 layers");
        self.run(image_signed, 5)
    }

    fn run(&self, image_signed: Tensor<4>, stages: usize) -> Vec<Tensor<4>> {
        let device = image_signed.device();
        // [-1, 1] RGB → 0..255 BGR minus the Caffe mean.
        let rgb255 = image_signed.add_scalar(1.0).mul_scalar(127.5);
        let bgr = rgb255.flip([1]);
        let mean = Tensor::<1>::from_floats(CAFFE_MEAN_BGR, &device).reshape([1, 3, 1, 1]);
        let mut x = bgr - mean;
        let pool = |x: Tensor<4>| max_pool2d(x, MaxPoolOptions::new([2, 2]));
        let mut out = Vec::with_capacity(stages);
        let per_stage = [2, 2, 3, 3, 3];
        let mut layer = 0;
        for (stage, &n) in per_stage.iter().enumerate().take(stages) {
            if stage > 0 {
                x = pool(x);
            }
            for _ in 0..n {
                x = relu(self.convs[layer].forward(x));
                layer += 1;
            }
            out.push(x.clone());
        }
        out
    }
}
