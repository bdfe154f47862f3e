//! Reading frozen pretrained weights from safetensors files (float32 or float16) into Burn
//! layers.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;
use safetensors::{Dtype, SafeTensors};

/// Errors while reading a pretrained weight file.
#[derive(Debug, thiserror::Error)]
pub enum WeightFileError {
    /// The file could not be read.
    #[error("cannot read weight file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid safetensors (truncated or damaged).
    #[error("weight file {path} is damaged or not safetensors: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// A tensor the network needs is not in the file.
    #[error("weight file {path} has no tensor `{name}`")]
    Missing {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
    },
    /// A tensor has another shape or dtype than the network needs.
    #[error("weight file {path}: tensor `{name}` is {found}, expected {expected}")]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// What the file holds.
        found: String,
        /// What the network needs.
        expected: String,
    },
}

/// All tensors of one safetensors file as float32, by name.
pub struct TensorFile {
    path: PathBuf,
    tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
}

impl TensorFile {
    /// Read `path`; float16 and float32 tensors are converted to float32.
    pub fn open(path: &Path) -> Result<Self, WeightFileError> {
        let bytes = std::fs::read(path).map_err(|source| WeightFileError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_bytes(path, &bytes)
    }

    /// Parse safetensors `bytes` (`path` names them in errors).
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self, WeightFileError> {
        let st = SafeTensors::deserialize(bytes).map_err(|e| WeightFileError::Format {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let mut tensors = HashMap::new();
        for (name, view) in st.tensors() {
            let data = view.data();
            let values: Vec<f32> = match view.dtype() {
                Dtype::F32 => data
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
                Dtype::F16 => data
                    .chunks_exact(2)
                    .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                    .collect(),
                other => {
                    return Err(WeightFileError::Mismatch {
                        path: path.to_owned(),
                        name,
                        found: format!("{other:?}"),
                        expected: "F32 or F16".into(),
                    });
                }
            };
            tensors.insert(name, (view.shape().to_vec(), values));
        }
        Ok(Self {
            path: path.to_owned(),
            tensors,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Tensor `name`, checked to have `shape`.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<&[f32], WeightFileError> {
        let (found, values) = self
            .tensors
            .get(name)
            .ok_or_else(|| WeightFileError::Missing {
                path: self.path.clone(),
                name: name.into(),
            })?;
        if found != shape {
            return Err(WeightFileError::Mismatch {
                path: self.path.clone(),
                name: name.into(),
                found: format!("{found:?}"),
                expected: format!("{shape:?}"),
            });
        }
        Ok(values)
    }

    /// The shape of tensor `name`, if present.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.tensors.get(name).map(|(s, _)| s.as_slice())
    }

    /// A `D`-dimensional tensor `name` with `shape` on `device`.
    pub fn tensor<const D: usize>(
        &self,
        name: &str,
        shape: [usize; D],
        device: &Device,
    ) -> Result<Tensor<D>, WeightFileError> {
        let values = self.get(name, &shape)?;
        Ok(Tensor::from_data(
            TensorData::new(values.to_vec(), shape),
            device,
        ))
    }

    /// A frozen conv layer from `{prefix}.weight` (`[out, in, k, k]`, OIHW) and optional
    /// `{prefix}.bias`.
    pub fn conv2d(
        &self,
        prefix: &str,
        stride: usize,
        padding: usize,
        device: &Device,
    ) -> Result<Conv2d, WeightFileError> {
        let wname = format!("{prefix}.weight");
        let shape = self
            .shape(&wname)
            .ok_or_else(|| WeightFileError::Missing {
                path: self.path.clone(),
                name: wname.clone(),
            })?
            .to_vec();
        if shape.len() != 4 {
            return Err(WeightFileError::Mismatch {
                path: self.path.clone(),
                name: wname,
                found: format!("{shape:?}"),
                expected: "[out, in, kh, kw]".into(),
            });
        }
        let (out, inp, kh, kw) = (shape[0], shape[1], shape[2], shape[3]);
        let bname = format!("{prefix}.bias");
        let has_bias = self.tensors.contains_key(&bname);
        let mut conv = Conv2dConfig::new([inp, out], [kh, kw])
            .with_stride([stride, stride])
            .with_padding(PaddingConfig2d::Explicit(
                padding, padding, padding, padding,
            ))
            .with_bias(has_bias)
            .init(device);
        conv.weight = Param::from_tensor(self.tensor(&wname, [out, inp, kh, kw], device)?);
        if has_bias {
            conv.bias = Some(Param::from_tensor(self.tensor(&bname, [out], device)?));
        }
        Ok(conv.no_grad())
    }
}
