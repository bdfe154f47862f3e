//! Training: data, blur synthesis, losses, metrics, the GAN trainer and evaluation.

pub mod blur;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod dre;
pub mod ema;
pub mod eval;
pub mod font;
pub mod loss;
pub mod metrics;
pub mod real_grid;
pub mod report;
pub mod run;
pub mod trainer;
