//! The command bodies of the `face-deblur` binary (`main.rs` only parses the arguments and
//! dispatches here): `restore` ([`restore`]), `eval` ([`eval`]), `train` and `train-dre`
//! ([`train`]). The desktop app (`gui`) is [`crate::app::run_app`].

pub mod eval;
pub mod restore;
pub mod train;

pub use restore::{
    IMAGE_EXTENSIONS, RestoreOptions, collect_inputs, load_restorer, output_paths, run_restore,
};

use crate::device::{BackendChoice, ComputeDevice, select_device};

/// [`select_device`], printing its notice (why the CPU was chosen) to stderr.
pub fn device_with_notice(choice: BackendChoice) -> ComputeDevice {
    let compute = select_device(choice);
    if let Some(notice) = &compute.notice {
        eprintln!("note: {notice}");
    }
    compute
}
