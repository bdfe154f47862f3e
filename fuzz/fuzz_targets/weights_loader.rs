//! The weight-file loader: safetensors header, metadata, config JSON inside, shapes.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use burn::prelude::Device;
use face_deblur::weights::{load_bytes, read_info};
use libfuzzer_sys::fuzz_target;

fn device() -> &'static Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE.get_or_init(Device::flex)
}

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.safetensors");
    if read_info(path, data).is_ok() {
        let _ = load_bytes(path, data.to_vec(), device());
    }
});
