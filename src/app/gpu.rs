//! Burn on egui's own wgpu device: the window's device is created with the adapter's full
//! features and limits (what cubecl needs), and the model worker computes on that same
//! device instead of opening a second one.
//!
//! Which device the worker gets ([`shared_gpu`]): `Cpu` → flex; `Auto` → egui's device when
//! its adapter is a hardware GPU, else flex (a software adapter such as lavapipe is ~15×
//! slower than flex); `Gpu` → egui's device whatever it is (the user asked for it).

use std::sync::Arc;

use burn::prelude::Device;
use eframe::{egui_wgpu, wgpu};

use crate::device::{BackendChoice, is_hardware};

/// egui's wgpu device, registered with Burn.
#[derive(Debug, Clone)]
pub struct SharedGpu {
    /// The Burn device on egui's wgpu device and queue.
    pub device: Device,
    /// E.g. "GPU, shared with the window: NVIDIA RTX 4070 (Vulkan)".
    pub description: String,
    /// Whether the adapter is a hardware GPU (not a software rasteriser).
    pub hardware: bool,
}

/// Make eframe create its wgpu device with all of the adapter's features (minus the
/// experimental ones and MAPPABLE_PRIMARY_BUFFERS, as cubecl requests) and limits.
pub fn configure(config: &mut egui_wgpu::WgpuConfiguration) {
    if let egui_wgpu::WgpuSetup::CreateNew(create) = &mut config.wgpu_setup {
        create.device_descriptor = Arc::new(|adapter: &wgpu::Adapter| wgpu::DeviceDescriptor {
            label: Some("face-deblur window + model"),
            required_features: adapter
                .features()
                .difference(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS)
                .difference(wgpu::Features::all_experimental_mask()),
            required_limits: adapter.limits(),
            memory_hints: wgpu::MemoryHints::MemoryUsage,
            ..Default::default()
        });
    }
}

/// Register egui's device with Burn when `backend` wants it (see the module docs); `None`
/// when it does not, `Some(Err)` when registration fails. Call once per window.
pub fn shared_gpu(
    render_state: &egui_wgpu::RenderState,
    backend: BackendChoice,
) -> Option<Result<SharedGpu, String>> {
    let info = render_state.adapter.get_info();
    let hardware = is_hardware(&info);
    let wanted = match backend {
        BackendChoice::Cpu => false,
        BackendChoice::Auto => hardware,
        BackendChoice::Gpu => true,
    };
    if !wanted {
        return None;
    }
    let setup = burn::tensor::wgpu::WgpuSetup {
        instance: render_state.instance.clone(),
        adapter: render_state.adapter.clone(),
        device: render_state.device.clone(),
        queue: render_state.queue.clone(),
        backend: info.backend,
    };
    Some(
        Device::wgpu_options()
            .setup(setup)
            .init()
            .map(|device| SharedGpu {
                device,
                description: format!(
                    "{}, shared with the window: {} ({:?})",
                    if hardware { "GPU" } else { "software GPU" },
                    info.name,
                    info.backend
                ),
                hardware,
            })
            .map_err(|e| format!("cannot run the model on the window's GPU device: {e}")),
    )
}
