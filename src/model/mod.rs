//! DFPGnet (Jung, Lee & Heo, WACV 2022): generator, channel-attention feature discriminator and
//! the frozen teachers, in Burn.

pub mod blocks;
pub mod discriminator;
pub mod dre;
pub mod generator;
pub mod layers;
pub mod mmrb;
pub mod teacher;
pub mod tensors;

pub use discriminator::{Discriminator, DiscriminatorConfig};
pub use dre::{Dafi, DegradationEncoder};
pub use generator::{FusionKind, Generator, GeneratorConfig, GeneratorOutput};
pub use mmrb::{EncoderBlock, Mmrb};
pub use teacher::{Teacher, TeacherKind};
