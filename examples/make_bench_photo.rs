//! Write the ~24-megapixel benchmark photo (`assets/photos/gfpgan_10045.jpg`, three faces,
//! upscaled to about 4050×5920 and encoded as a quality-90 JPEG): the input of
//! `bench/peak_rss.sh` and of the `photo_24mp` benchmark in `benches/restore.rs`.
//!
//! ```text
//! cargo run --release --example make_bench_photo -- OUT.jpg
//! ```

#[path = "../benches/common/mod.rs"]
mod common;

use std::path::PathBuf;

fn main() {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: make_bench_photo OUT.jpg");
        std::process::exit(2);
    };
    let (w, h) = common::make_large_photo(&out);
    println!(
        "wrote {} ({w}×{h}, {:.1} MP)",
        out.display(),
        w as f64 * h as f64 / 1e6
    );
}
