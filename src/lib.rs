//! face-deblur: restore blurred faces in photos with DFPGnet
//! ("Deep Feature Prior Guided Face Deblurring", Jung, Lee & Heo, WACV 2022) on Burn.

pub mod app;
pub mod cli;
pub mod fsutil;
pub mod inference;
pub mod model;
pub mod pipeline;
pub mod restore;
pub mod train;
pub mod weights;
