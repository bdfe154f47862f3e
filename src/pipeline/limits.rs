//! The size limits of photo loading, shared by the decoder ([`super::io`]) and the errors
//! that report them ([`super::error`]).

/// Largest photo we decode, in pixels (100 megapixels).
pub const MAX_PIXELS: u64 = 100_000_000;
/// Most memory a decoder may allocate (2 GiB); a 100 MP RGBA16 photo needs 800 MB.
pub const MAX_DECODE_BYTES: u64 = 2 << 30;
/// Largest photo file read (1 GiB): a 100 MP 16-bit RGBA TIFF is 800 MB uncompressed.
pub const MAX_FILE_BYTES: u64 = 1 << 30;
