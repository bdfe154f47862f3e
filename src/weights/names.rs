//! Parameter names in weight files and checkpoints.
//!
//! The generator's variants are enums ([`EncoderGroup`](crate::model::blocks::EncoderGroup),
//! [`PriorFusion`](crate::model::generator::PriorFusion)), and Burn puts an enum's variant name
//! into the path of every parameter below it. The files keep the names of the earlier layout,
//! in which the variants were optional fields, so weight files and checkpoints written before
//! and after the change are the same format. [`legacy_name`] maps a module path to its name in
//! a file, one rule per naming difference; saving renames with it ([`LegacyNames`]), loading
//! renames back with the inverse taken from the module being loaded ([`to_module_names`]).

use std::borrow::Cow;
use std::collections::HashMap;

use burn::module::{ModuleVisitor, Param};
use burn::prelude::*;
use burn::store::burn_pack::Tensor as PackTensor;
use burn::store::{ApplyResult, ModuleAdapter, ModuleContext, ModuleSnapshot};

/// The name a parameter at module path `path` has in weight files and checkpoints.
///
/// Weight files hold the generator under `generator.`, checkpoints at the root; names that no
/// rule matches (the rest of the generator, the discriminator, the DRE file) are unchanged.
pub fn legacy_name(path: &str) -> Cow<'_, str> {
    let (prefix, rest) = match path.strip_prefix("generator.") {
        Some(rest) => ("generator.", rest),
        None => ("", path),
    };
    let parts: Vec<&str> = rest.split('.').collect();
    let renamed: Vec<String> = match parts.as_slice() {
        // Residual encoder groups: `enc1.Residual.blocks.0.…` was `enc1.blocks.0.…`.
        [enc @ ("enc1" | "enc2" | "enc3"), "Residual", tail @ ..] => with_tail(&[*enc], tail),
        // MMRB encoder groups: the blocks were a second list beside the (empty) residual one,
        // `enc1.Mmrb.blocks.0.…` was `enc1.mmrb.0.…`, and `enc1.Mmrb.tail.…` was `enc1.tail.…`.
        [
            enc @ ("enc1" | "enc2" | "enc3"),
            "Mmrb",
            "blocks",
            tail @ ..,
        ] => with_tail(&[*enc, "mmrb"], tail),
        [enc @ ("enc1" | "enc2" | "enc3"), "Mmrb", tail @ ..] => with_tail(&[*enc], tail),
        // The prior stream: `guidance.stream.…` was `prior.…`.
        ["guidance", "stream", tail @ ..] => with_tail(&["prior"], tail),
        // The DRE of a DAFI fusion: `guidance.fusion.Dafi.dre.…` was `dre.…`.
        ["guidance", "fusion", _variant, "dre", tail @ ..] => with_tail(&["dre"], tail),
        // The fusion modules of scale i (0: H): `guidance.fusion.Sft.sft.2.…` was
        // `fuse3.sft.…` (likewise `add` and `dafi`).
        ["guidance", "fusion", _variant, kind, scale, tail @ ..] => match scale.parse::<usize>() {
            Ok(i) => with_tail(&[format!("fuse{}", i + 1).as_str(), *kind], tail),
            Err(_) => return Cow::Borrowed(path),
        },
        _ => return Cow::Borrowed(path),
    };
    Cow::Owned(format!("{prefix}{}", renamed.join(".")))
}

/// `head` followed by `tail`, as owned components.
fn with_tail(head: &[&str], tail: &[&str]) -> Vec<String> {
    head.iter().chain(tail).map(|s| s.to_string()).collect()
}

/// Renames each tensor to its [`legacy_name`] as a module is saved (a `to` adapter of
/// burn-store; the data is left alone).
#[derive(Debug, Clone, Copy, Default)]
pub struct LegacyNames;

impl ModuleAdapter for LegacyNames {
    fn adapt(&self, mut tensor: PackTensor, _: ModuleContext<'_>) -> PackTensor {
        tensor.name = legacy_name(&tensor.name).into_owned();
        tensor
    }

    fn clone_box(&self) -> Box<dyn ModuleAdapter> {
        Box::new(*self)
    }
}

/// The parameter paths of a module (without reading any parameter).
#[derive(Default)]
struct Paths {
    stack: Vec<String>,
    paths: Vec<String>,
}

impl Paths {
    fn record(&mut self) {
        self.paths.push(self.stack.join("."));
    }
}

impl ModuleVisitor for Paths {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.stack.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.stack.pop();
    }

    fn visit_float<const D: usize>(&mut self, _: &Param<Tensor<D>>) {
        self.record();
    }

    fn visit_int<const D: usize>(&mut self, _: &Param<Tensor<D, Int>>) {
        self.record();
    }

    fn visit_bool<const D: usize>(&mut self, _: &Param<Tensor<D, Bool>>) {
        self.record();
    }
}

/// The tensors of a file, renamed from their names in the file to the parameter paths of
/// `module` (the inverse of [`legacy_name`] for this module). A tensor whose name is no
/// parameter's keeps it, so loading reports it as unexpected.
pub fn to_module_names<M: Module>(module: &M, tensors: Vec<PackTensor>) -> Vec<PackTensor> {
    let mut paths = Paths::default();
    module.visit(&mut paths);
    let module_name: HashMap<String, String> = paths
        .paths
        .into_iter()
        .filter_map(|path| {
            let file_name = legacy_name(&path).into_owned();
            (file_name != path).then_some((file_name, path))
        })
        .collect();
    tensors
        .into_iter()
        .map(|mut tensor| {
            if let Some(path) = module_name.get(&tensor.name) {
                tensor.name = path.clone();
            }
            tensor
        })
        .collect()
}

/// Load the tensors of a file (named as in files) into `module`: every parameter must be
/// there with its shape and nothing else may be. The error lists what is wrong, with the
/// names as the file has them.
pub fn load_tensors<M: Module>(module: &mut M, tensors: Vec<PackTensor>) -> Result<(), String> {
    let tensors = to_module_names(module, tensors);
    let result: ApplyResult = module.apply(tensors, None, None, false);
    let mut reason = Vec::new();
    if !result.missing.is_empty() {
        let names: Vec<_> = result.missing.iter().map(|(n, _)| legacy_name(n)).collect();
        reason.push(format!("missing tensors {names:?}"));
    }
    if !result.unused.is_empty() {
        reason.push(format!("unexpected tensors {:?}", result.unused));
    }
    reason.extend(result.errors.iter().map(|e| e.to_string()));
    if reason.is_empty() {
        Ok(())
    } else {
        Err(reason.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EncoderBlock, FusionKind, GeneratorConfig};

    #[test]
    fn each_rule_gives_the_earlier_name_and_earlier_names_stay() {
        for (path, file) in [
            (
                "enc2.Residual.blocks.0.conv1.weight",
                "enc2.blocks.0.conv1.weight",
            ),
            (
                "generator.enc1.Residual.tail.bias",
                "generator.enc1.tail.bias",
            ),
            (
                "enc3.Mmrb.blocks.1.paths.2.weight",
                "enc3.mmrb.1.paths.2.weight",
            ),
            ("enc3.Mmrb.tail.weight", "enc3.tail.weight"),
            (
                "guidance.stream.branches.1.out.weight",
                "prior.branches.1.out.weight",
            ),
            (
                "guidance.fusion.SftDafi.dre.stages.0.1.bias",
                "dre.stages.0.1.bias",
            ),
            (
                "guidance.fusion.Sft.sft.2.scale0.weight",
                "fuse3.sft.scale0.weight",
            ),
            (
                "generator.guidance.fusion.Add.add.0.bias",
                "generator.fuse1.add.bias",
            ),
            (
                "guidance.fusion.Dafi.dafi.1.hidden.weight",
                "fuse2.dafi.hidden.weight",
            ),
            (
                "middle.blocks.0.conv1.weight",
                "middle.blocks.0.conv1.weight",
            ),
            ("attention.0.squeeze.weight", "attention.0.squeeze.weight"),
        ] {
            assert_eq!(legacy_name(path), file, "{path}");
            assert_eq!(legacy_name(file), file, "{file} is already a file name");
        }
    }

    #[test]
    fn file_names_map_back_to_every_parameter_of_every_variant() {
        let device = Device::flex();
        let base = GeneratorConfig::new([4, 8, 12], [6, 8, 10], 1, 1, 1, 1);
        for (prior, ft, block, fusion) in [
            (true, true, EncoderBlock::Residual, FusionKind::Sft),
            (true, false, EncoderBlock::Residual, FusionKind::Sft),
            (false, true, EncoderBlock::Mmrb, FusionKind::Sft),
            (true, true, EncoderBlock::Mmrb, FusionKind::Dafi),
            (true, true, EncoderBlock::Residual, FusionKind::SftDafi),
            (true, false, EncoderBlock::Residual, FusionKind::SftDafi),
        ] {
            let generator = base
                .clone()
                .with_prior_stream(prior)
                .with_feature_transforms(ft)
                .with_encoder_block(block)
                .with_fusion(fusion)
                .init(&device);
            let saved = generator.collect(None, Some(Box::new(LegacyNames)), false);
            let file: Vec<String> = saved.iter().map(|t| t.name.clone()).collect();
            assert!(
                file.iter()
                    .all(|n| !n.contains("Residual") && !n.contains("guidance")),
                "{file:?}"
            );
            let back = to_module_names(&generator, saved);
            let own: Vec<String> = generator
                .collect(None, None, false)
                .into_iter()
                .map(|t| t.name)
                .collect();
            let back: Vec<String> = back.into_iter().map(|t| t.name).collect();
            assert_eq!(back, own, "{prior} {ft} {block:?} {fusion:?}");
        }
    }
}
