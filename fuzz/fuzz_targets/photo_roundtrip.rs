//! Photo decode → EXIF orientation → metadata → save with metadata, in every output format.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use face_deblur::pipeline::{decode_photo, save_photo};
use libfuzzer_sys::fuzz_target;

const FORMATS: [&str; 5] = ["png", "jpg", "webp", "tif", "bmp"];

fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("fuzz-photo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

/// Inputs declaring more pixels than this are left out: decoding them within the product's
/// limits (100 MP) is correct but takes ~0.1 s each and would slow the fuzzer a hundredfold;
/// the limit itself is covered by the header-bomb tests in `tests/`.
const FUZZ_MAX_PIXELS: u64 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let declared = image::ImageReader::new(std::io::Cursor::new(data))
        .with_guessed_format()
        .ok()
        .and_then(|r| r.into_dimensions().ok());
    if declared.is_some_and(|(w, h)| u64::from(w) * u64::from(h) > FUZZ_MAX_PIXELS) {
        return;
    }
    let Ok(photo) = decode_photo(Path::new("input.bin"), data) else {
        return;
    };
    // Save the (unchanged) pixels in one format chosen by the input, with its metadata.
    let format = FORMATS[data.len() % FORMATS.len()];
    let out = scratch().join(format!("out.{format}"));
    let rgb = photo.rgb_u8.clone();
    if save_photo(&photo, &rgb, &out).is_ok() {
        // What we wrote must decode again, at the same size.
        let bytes = std::fs::read(&out).unwrap();
        let again = decode_photo(&out, &bytes).expect("a saved photo decodes");
        assert_eq!(again.rgb_u8.dimensions(), photo.rgb_u8.dimensions());
    }
});
