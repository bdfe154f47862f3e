//! DFPGnet (Jung, Lee & Heo, WACV 2022): generator, channel-attention feature discriminator and
//! the frozen teachers, in Burn.

pub mod blocks;
pub mod discriminator;
pub mod generator;
pub mod teacher;
pub mod tensors;

pub use discriminator::{Discriminator, DiscriminatorConfig};
pub use generator::{Generator, GeneratorConfig, GeneratorOutput};
pub use teacher::{Teacher, TeacherKind};
