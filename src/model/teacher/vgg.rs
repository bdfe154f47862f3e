//! ImageNet VGG16 conv layers (Caffe/Keras weights) up to relu3_3: the deep-feature teacher
//! whose relu1_2 / relu2_2 / relu3_3 are the analogues of the paper's VGGFace layers (§4.1).

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

/// The first seven conv layers of VGG16 (`features.0 .. features.14`), frozen.
#[derive(Module, Debug)]
pub struct Vgg16Features {
    convs: Vec<Conv2d>,
}

impl Vgg16Features {
    /// Load from the converted Caffe VGG16 safetensors file.
    pub fn load(path: &Path, device: &Device) -> Result<Self, WeightFileError> {
        let file = TensorFile::open(path)?;
        let convs = [0, 2, 5, 7, 10, 12, 14]
            .iter()
            .map(|i| file.conv2d(&format!("features.{i}"), 1, 1, device))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { convs })
    }

    /// relu1_2 `[B, 64, H, W]`, relu2_2 `[B, 128, H/2, W/2]`, relu3_3 `[B, 256, H/4, W/4]` of
    /// an RGB image in [-1, 1] (`[B, 3, H, W]`, H and W multiples of 4).
    pub fn features(&self, image_signed: Tensor<4>) -> Vec<Tensor<4>> {
        let device = image_signed.device();
        // [-1, 1] RGB → 0..255 BGR minus the Caffe mean.
        let rgb255 = image_signed.add_scalar(1.0).mul_scalar(127.5);
        let bgr = rgb255.flip([1]);
        let mean = Tensor::<1>::from_floats(CAFFE_MEAN_BGR, &device).reshape([1, 3, 1, 1]);
        let mut x = bgr - mean;
        let pool = |x: Tensor<4>| max_pool2d(x, MaxPoolOptions::new([2, 2]));
        let mut out = Vec::with_capacity(3);
        let c = &self.convs;
        x = relu(c[0].forward(x));
        x = relu(c[1].forward(x)); // relu1_2
        out.push(x.clone());
        x = relu(c[2].forward(pool(x)));
        x = relu(c[3].forward(x)); // relu2_2
        out.push(x.clone());
        x = relu(c[4].forward(pool(x)));
        x = relu(c[5].forward(x));
        x = relu(c[6].forward(x)); // relu3_3
        out.push(x);
        out
    }
}
