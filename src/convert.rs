//! Reading tensors back to the host: one conversion with an error instead of an empty vector.

use burn::prelude::*;

/// A tensor that could not be read back as `f32` values.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot read a tensor back as f32: {0}")]
pub struct TensorReadError(pub String);

/// The values of `t` as `f32` (row-major); an error when they cannot be read back (e.g. a
/// tensor of another element type, or a failed device read).
pub fn tensor_to_f32<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, TensorReadError> {
    t.into_data()
        .try_to_vec::<f32>()
        .map_err(|e| TensorReadError(format!("{e:?}")))
}
