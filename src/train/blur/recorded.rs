//! Recorded blur kernels from a safetensors file, and their train/test split.

use std::path::Path;

use anyhow::{Context, bail, ensure};

use super::Kernel;

/// What a recorded kernel is used for (see the module documentation for the split).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelRole {
    /// May be sampled for training.
    Train,
    /// Held out for evaluation only.
    Test,
    /// Not used by default (too large for 128² faces).
    Unused,
}

impl KernelRole {
    /// Role of the recorded kernel called `name`.
    pub fn of(name: &str) -> Self {
        if name.starts_with("kair12_") {
            Self::Test
        } else if name.starts_with("kair_k_large") {
            Self::Unused
        } else {
            Self::Train
        }
    }
}

/// Recorded blur kernels loaded from a safetensors file of `[h, w]` float32 tensors,
/// sorted by name (so indices are stable), each centred by [`Kernel::centred_from_rect`].
#[derive(Clone, Debug)]
pub struct RecordedKernels {
    /// Tensor names, sorted.
    pub names: Vec<String>,
    /// Kernels, same order as `names`.
    pub kernels: Vec<Kernel>,
}

impl RecordedKernels {
    /// Loads every tensor of the file; errors name the file and the offending tensor.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let read = || -> anyhow::Result<Self> {
            let bytes = std::fs::read(path)?;
            let st = safetensors::SafeTensors::deserialize(&bytes)?;
            let mut names: Vec<String> = st.names().into_iter().map(str::to_owned).collect();
            names.sort();
            let mut kernels = Vec::with_capacity(names.len());
            for name in &names {
                let view = st.tensor(name)?;
                let parse = || -> anyhow::Result<Kernel> {
                    if view.dtype() != safetensors::Dtype::F32 || view.shape().len() != 2 {
                        bail!(
                            "expected a 2-D float32 tensor, got {:?} {:?}",
                            view.dtype(),
                            view.shape()
                        );
                    }
                    let weights: Vec<f32> = view
                        .data()
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect();
                    Kernel::centred_from_rect(view.shape()[0], view.shape()[1], &weights)
                };
                kernels.push(parse().with_context(|| format!("kernel {name:?}"))?);
            }
            ensure!(!kernels.is_empty(), "no kernels in file");
            Ok(Self { names, kernels })
        };
        read().with_context(|| format!("loading recorded blur kernels from {}", path.display()))
    }

    /// Number of kernels.
    pub fn len(&self) -> usize {
        self.kernels.len()
    }

    /// Whether there are no kernels.
    pub fn is_empty(&self) -> bool {
        self.kernels.is_empty()
    }

    /// Indices (into `names`/`kernels`) of the kernels with the given role, ascending.
    pub fn indices_with_role(&self, role: KernelRole) -> Vec<usize> {
        (0..self.names.len())
            .filter(|&i| KernelRole::of(&self.names[i]) == role)
            .collect()
    }

    /// Index of the kernel called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
}
