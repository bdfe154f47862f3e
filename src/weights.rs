//! The shipped weight file: the generator and the discriminator's CA modules in one
//! safetensors file, with the configuration and provenance in its metadata.
//!
//! Format (`face-deblur/dfpgnet-v1`): tensor names are Burn module paths (`generator.enc1.…`,
//! `attention.0.squeeze.weight`, …) in the layout before the model variants became enums
//! ([`names`] translates), float32, conv weights OIHW; metadata keys: `format`,
//! `generator_config` (JSON of [`GeneratorConfig`]), `teacher` (`face_resnet` or `vgg16`),
//! `trained_steps`, `notes`.

pub mod names;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::store::{ModuleSnapshot, ModuleStore, SafetensorsStore};
use safetensors::SafeTensors;

use crate::model::layers::ChannelAttention;
use crate::model::{DegradationEncoder, Discriminator, Generator, GeneratorConfig, TeacherKind};

/// Value of the `format` metadata key.
pub const FORMAT: &str = "face-deblur/dfpgnet-v1";

/// Errors loading or saving the model weights. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// The file does not exist or cannot be read.
    #[error("cannot read weights {path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause (not a `source`, so error chains do not print it twice).
        cause: std::io::Error,
    },
    /// Truncated or not a safetensors file.
    #[error("weights {path} are damaged (truncated or not safetensors): {reason}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        reason: String,
    },
    /// A safetensors file of another kind, or with an unreadable configuration.
    #[error("weights {path} are not face-deblur DFPGnet weights: {reason}")]
    WrongKind {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The tensors do not match the network the metadata describes.
    #[error("weights {path} do not match the network: {reason}")]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// Missing, unexpected or mis-shaped tensors.
        reason: String,
    },
    /// Writing failed.
    #[error("cannot write weights {path}: {reason}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        reason: String,
    },
}

/// The modules stored in a weight file.
#[derive(Module, Debug)]
pub struct DfpgnetWeights {
    /// The generator 𝒢.
    pub generator: Generator,
    /// CA_1..CA_3 of the discriminator (empty if trained without 𝒟^C).
    pub attention: Vec<ChannelAttention>,
}

/// What the metadata says about a weight file.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightsInfo {
    /// Generator configuration.
    pub generator: GeneratorConfig,
    /// The teacher the priors imitate.
    pub teacher: TeacherKind,
    /// Generator steps trained (0 = untrained).
    pub trained_steps: usize,
    /// Free-form provenance.
    pub notes: String,
}

/// A loaded model: modules plus metadata.
#[derive(Debug)]
pub struct LoadedWeights {
    /// Generator and CA modules.
    pub modules: DfpgnetWeights,
    /// Metadata.
    pub info: WeightsInfo,
}

/// Save `generator` and the CA modules of `discriminator` to `path` (written atomically).
pub fn save(
    path: &Path,
    generator: &Generator,
    discriminator: Option<&Discriminator>,
    info: &WeightsInfo,
) -> Result<(), WeightsError> {
    let write_err = |reason: String| WeightsError::Write {
        path: path.to_owned(),
        reason,
    };
    let modules = DfpgnetWeights {
        generator: generator.valid(),
        attention: discriminator
            .map(|d| d.valid().attention)
            .unwrap_or_default(),
    };
    let teacher = serde_json::to_value(info.teacher).map_err(|e| write_err(e.to_string()))?;
    let mut store = SafetensorsStore::from_bytes(None)
        .with_to_adapter(names::LegacyNames)
        .metadata("format", FORMAT)
        .metadata(
            "generator_config",
            serde_json::to_string(&info.generator).map_err(|e| write_err(e.to_string()))?,
        )
        .metadata("teacher", teacher.as_str().unwrap_or_default().to_string())
        .metadata("trained_steps", info.trained_steps.to_string())
        .metadata("notes", info.notes.clone());
    modules
        .save_into(&mut store)
        .map_err(|e| write_err(e.to_string()))?;
    let bytes = store.get_bytes().map_err(|e| write_err(e.to_string()))?;
    crate::fsutil::write_atomic(path, &bytes).map_err(|e| write_err(e.to_string()))
}

/// Read the metadata of a weight file without building the network.
pub fn read_info(path: &Path, bytes: &[u8]) -> Result<WeightsInfo, WeightsError> {
    let (header_len, meta) =
        SafeTensors::read_metadata(bytes).map_err(|e| WeightsError::Damaged {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    let wrong = |reason: String| WeightsError::WrongKind {
        path: path.to_owned(),
        reason,
    };
    let meta: HashMap<String, String> = meta.metadata().clone().unwrap_or_default();
    let get = |key: &str| {
        meta.get(key)
            .cloned()
            .ok_or_else(|| wrong(format!("metadata key `{key}` is missing")))
    };
    let format = get("format")?;
    if format != FORMAT {
        return Err(wrong(format!("format is `{format}`, expected `{FORMAT}`")));
    }
    let generator: GeneratorConfig = serde_json::from_str(&get("generator_config")?)
        .map_err(|e| wrong(format!("generator_config: {e}")))?;
    generator
        .check()
        .map_err(|e| wrong(format!("generator_config: {e}")))?;
    // Refuse a config whose network could not fit in the file before allocating it (values
    // are stored as f32; 2 bytes each leaves room for half-precision files).
    let stored = bytes.len().saturating_sub(8 + header_len) as u128;
    if generator.min_parameters() * 2 > stored {
        return Err(wrong(format!(
            "generator_config describes at least {} parameters but the file holds {} bytes of \
             tensors",
            generator.min_parameters(),
            stored
        )));
    }
    let teacher: TeacherKind = serde_json::from_value(serde_json::Value::String(get("teacher")?))
        .map_err(|e| wrong(format!("teacher: {e}")))?;
    let trained_steps = get("trained_steps")?
        .parse()
        .map_err(|e| wrong(format!("trained_steps: {e}")))?;
    Ok(WeightsInfo {
        generator,
        teacher,
        trained_steps,
        notes: meta.get("notes").cloned().unwrap_or_default(),
    })
}

/// Load a weight file onto `device`.
pub fn load(path: &Path, device: &Device) -> Result<LoadedWeights, WeightsError> {
    let bytes = std::fs::read(path).map_err(|cause| WeightsError::Io {
        path: path.to_owned(),
        cause,
    })?;
    load_bytes(path, bytes, device)
}

/// Load weights from `bytes` (`path` names them in errors).
pub fn load_bytes(
    path: &Path,
    bytes: Vec<u8>,
    device: &Device,
) -> Result<LoadedWeights, WeightsError> {
    // Parse the whole file first: a truncated file fails here, not half-way through loading.
    let has_attention = SafeTensors::deserialize(&bytes)
        .map_err(|e| WeightsError::Damaged {
            path: path.to_owned(),
            reason: e.to_string(),
        })?
        .names()
        .iter()
        .any(|n| n.starts_with("attention."));
    let info = read_info(path, &bytes)?;
    let n_attention = if has_attention { 3 } else { 0 };
    let mut modules = DfpgnetWeights {
        generator: info.generator.init(device),
        attention: (0..n_attention)
            .map(|i| ChannelAttention::new(info.generator.prior_channels[i], 16, device))
            .collect(),
    };
    load_into(&mut modules, bytes, path)?;
    Ok(LoadedWeights { modules, info })
}

/// Format tag of a degradation-encoder file.
pub const DRE_FORMAT: &str = "face-deblur/dre-v1";

/// Save a trained degradation representation encoder (with its blur read-out) to `path`.
pub fn save_dre(path: &Path, dre: &DegradationEncoder, notes: &str) -> Result<(), WeightsError> {
    let write_err = |reason: String| WeightsError::Write {
        path: path.to_owned(),
        reason,
    };
    let mut store = SafetensorsStore::from_bytes(None)
        .metadata("format", DRE_FORMAT)
        .metadata("notes", notes.to_string());
    dre.valid()
        .save_into(&mut store)
        .map_err(|e| write_err(e.to_string()))?;
    let bytes = store.get_bytes().map_err(|e| write_err(e.to_string()))?;
    crate::fsutil::write_atomic(path, &bytes).map_err(|e| write_err(e.to_string()))
}

/// Load a degradation representation encoder saved by [`save_dre`] onto `device`.
pub fn load_dre(path: &Path, device: &Device) -> Result<DegradationEncoder, WeightsError> {
    let bytes = std::fs::read(path).map_err(|cause| WeightsError::Io {
        path: path.to_owned(),
        cause,
    })?;
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| WeightsError::Damaged {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let format = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get("format").cloned())
        .unwrap_or_default();
    if format != DRE_FORMAT {
        return Err(WeightsError::WrongKind {
            path: path.to_owned(),
            reason: format!("format is `{format}`, expected `{DRE_FORMAT}`"),
        });
    }
    let mut dre = DegradationEncoder::new(device);
    load_into(&mut dre, bytes, path)?;
    Ok(dre)
}

/// Load every tensor of the safetensors `bytes` into `module` (names as [`names`] describes);
/// any missing, unexpected or mis-shaped tensor is a [`WeightsError::Mismatch`] naming `path`.
fn load_into<M: Module>(module: &mut M, bytes: Vec<u8>, path: &Path) -> Result<(), WeightsError> {
    let mismatch = |reason: String| WeightsError::Mismatch {
        path: path.to_owned(),
        reason,
    };
    let mut store = SafetensorsStore::from_bytes(Some(bytes));
    let tensors = store
        .get_all_tensors()
        .map_err(|e| mismatch(e.to_string()))?
        .values()
        .cloned()
        .collect();
    names::load_tensors(module, tensors).map_err(mismatch)
}

/// File name of the shipped weights (in `weights/`, embedded in the binary).
pub const SHIPPED_FILE: &str = "weights/dfpgnet-compact.safetensors";

/// The shipped weights, embedded at build time.
static SHIPPED: &[u8] = include_bytes!("../weights/dfpgnet-compact.safetensors");

/// Load the shipped weights onto `device`.
pub fn load_shipped(device: &Device) -> Result<LoadedWeights, WeightsError> {
    load_bytes(Path::new(SHIPPED_FILE), SHIPPED.to_vec(), device)
}

/// File name of the shipped face-recognition ResNet (dlib's, via face-api.js; CC0/MIT; see
/// `weights/README.md`): the identity check and the `face_resnet` teacher's features.
pub const FACE_RESNET_SHIPPED_FILE: &str =
    "weights/faceapi_face_recognition_resnet.f16.safetensors";

/// The shipped face ResNet, embedded at build time (load it with
/// [`crate::model::teacher::FaceResnet::shipped`]).
pub static FACE_RESNET_SHIPPED: &[u8] =
    include_bytes!("../weights/faceapi_face_recognition_resnet.f16.safetensors");

/// The crate version and the provenance of the embedded weight files (steps, size, SHA-256),
/// measured by `build.rs`, which also refuses to build with a truncated, mismatched or untrained
/// file or a Git LFS pointer. Printed by `face-deblur --version` and the app's Help menu.
pub const PROVENANCE: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\nembedded weights:\n  ",
    env!("FACE_DEBLUR_GENERATOR_FILE"),
    ": ",
    env!("FACE_DEBLUR_GENERATOR_TRAINED_STEPS"),
    " steps, teacher ",
    env!("FACE_DEBLUR_GENERATOR_TEACHER"),
    ", ",
    env!("FACE_DEBLUR_GENERATOR_BYTES"),
    " bytes, sha256 ",
    env!("FACE_DEBLUR_GENERATOR_SHA256"),
    "\n    (",
    env!("FACE_DEBLUR_GENERATOR_NOTES"),
    ")\n  ",
    env!("FACE_DEBLUR_FACE_RESNET_FILE"),
    ": dlib face-recognition ResNet (CC0) via face-api.js (MIT), ",
    env!("FACE_DEBLUR_FACE_RESNET_BYTES"),
    " bytes, sha256 ",
    env!("FACE_DEBLUR_FACE_RESNET_SHA256"),
);
