//! Time one flex (CPU) 3×3 convolution per channel shape, to see how the cost per
//! multiply-accumulate changes with the channel count (issue #5: narrow layers are slow):
//! `cargo run --release --example conv_shapes`.

use std::time::Instant;

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::prelude::*;

fn main() {
    let device = Device::flex();
    println!("| in → out ch | size | ms | GMAC/s |");
    println!("|---|---:|---:|---:|");
    for (cin, cout, size) in [
        (24, 24, 128),
        (24, 48, 128),
        (32, 32, 128),
        (32, 64, 128),
        (48, 48, 64),
        (48, 96, 64),
        (96, 96, 32),
        (96, 192, 32),
    ] {
        let conv = Conv2dConfig::new([cin, cout], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init(&device);
        let x = Tensor::<4>::ones([1, cin, size, size], &device);
        let run = || {
            let y = conv.forward(x.clone());
            let _ = y.into_data();
        };
        run();
        let n = 20;
        let t = Instant::now();
        for _ in 0..n {
            run();
        }
        let ms = t.elapsed().as_secs_f64() * 1e3 / n as f64;
        let macs = (9 * cin * cout * size * size) as f64;
        println!(
            "| {cin} → {cout} | {size}² | {ms:.2} | {:.1} |",
            macs / ms / 1e6
        );
    }
}
