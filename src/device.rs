//! Compute devices: the backend choice, the hardware-adapter check and the device pick
//! (wgpu on a hardware GPU, else the flex CPU backend).

use burn::backend::wgpu::wgpu;
use burn::prelude::*;

/// Which compute backend to use.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum BackendChoice {
    /// A hardware GPU through wgpu if there is one, else the CPU.
    #[default]
    Auto,
    /// wgpu on a hardware GPU (falls back to the CPU, with a notice, if there is none).
    Gpu,
    /// The flex CPU backend.
    Cpu,
}

/// A chosen device and a one-line description of it.
#[derive(Debug, Clone)]
pub struct ComputeDevice {
    /// The Burn device.
    pub device: Device,
    /// E.g. "GPU: NVIDIA RTX 4070 (Vulkan)" or "CPU (flex)".
    pub description: String,
    /// Whether it is a hardware GPU.
    pub is_gpu: bool,
    /// Why the CPU was chosen when a GPU was asked for (for a notice).
    pub notice: Option<String>,
}

/// Whether an adapter is a hardware GPU (discrete, integrated or virtual), not a software
/// rasteriser such as lavapipe or WARP (those are slower than the flex CPU backend).
pub fn is_hardware(info: &wgpu::AdapterInfo) -> bool {
    matches!(
        info.device_type,
        wgpu::DeviceType::DiscreteGpu
            | wgpu::DeviceType::IntegratedGpu
            | wgpu::DeviceType::VirtualGpu
    )
}

/// The first hardware (non-software) wgpu adapter: its Burn device kind and description.
pub fn hardware_gpu() -> Option<(burn::tensor::DeviceKind, String)> {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    let mut counts = [0usize; 3];
    for adapter in adapters {
        let info = adapter.get_info();
        if !is_hardware(&info) {
            continue; // software adapters (lavapipe, WARP) count as no GPU
        }
        let slot = match info.device_type {
            wgpu::DeviceType::DiscreteGpu => 0,
            wgpu::DeviceType::IntegratedGpu => 1,
            _ => 2,
        };
        let index = counts[slot];
        counts[slot] += 1;
        if index == 0 {
            let kind = match slot {
                0 => burn::tensor::DeviceKind::DiscreteGpu(0),
                1 => burn::tensor::DeviceKind::IntegratedGpu(0),
                _ => burn::tensor::DeviceKind::VirtualGpu(0),
            };
            return Some((kind, format!("GPU: {} ({:?})", info.name, info.backend)));
        }
    }
    None
}

/// Environment variable that lets `--backend gpu|auto` use a software adapter (lavapipe, WARP)
/// when there is no hardware GPU: only to test the GPU code path on a machine without one
/// (`train/gpu/test_lavapipe.sh`); a software adapter is far slower than the CPU backend.
pub const SOFTWARE_GPU_VAR: &str = "FACE_DEBLUR_SOFTWARE_GPU";

/// Pick the device for `choice`.
pub fn select_device(choice: BackendChoice) -> ComputeDevice {
    let cpu = |notice: Option<String>| ComputeDevice {
        device: Device::flex(),
        description: "CPU (flex)".into(),
        is_gpu: false,
        notice,
    };
    match choice {
        BackendChoice::Cpu => cpu(None),
        BackendChoice::Auto | BackendChoice::Gpu => match hardware_gpu() {
            Some((kind, description)) => ComputeDevice {
                device: Device::wgpu(kind),
                description,
                is_gpu: true,
                notice: None,
            },
            None if std::env::var_os(SOFTWARE_GPU_VAR).is_some_and(|v| v == "1") => ComputeDevice {
                device: Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
                description: format!("GPU: the default wgpu adapter ({SOFTWARE_GPU_VAR}=1)"),
                is_gpu: true,
                notice: None,
            },
            None => cpu(Some(
                "no hardware GPU found (software adapters such as lavapipe are slower than the \
                 CPU backend): running on the CPU"
                    .into(),
            )),
        },
    }
}
