//! Background prefetching of training batches.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};

use anyhow::ensure;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Batch, FaceDataset};

/// Settings of [`spawn_loader`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoaderOptions {
    /// Images per batch.
    pub batch_size: usize,
    /// Seed of the shuffling, augmentation and degradation RNG.
    pub seed: u64,
    /// Whether to augment (and crop, if the dataset has a crop size).
    pub augment: bool,
    /// How many finished batches may wait in the channel (e.g. 4).
    pub prefetch: usize,
}

impl LoaderOptions {
    /// Augmenting loader with a prefetch depth of 4.
    pub fn new(batch_size: usize, seed: u64) -> Self {
        Self {
            batch_size,
            seed,
            augment: true,
            prefetch: 4,
        }
    }
}

/// Starts a thread named `face-deblur-loader` that endlessly produces batches: each epoch
/// visits the images in a fresh random order (Fisher–Yates, dropping the last incomplete
/// batch). One `ChaCha8Rng` seeded with `opts.seed` drives everything, so the batch sequence
/// is the same on every run. Batches go through a bounded channel of `opts.prefetch`; the
/// thread stops when the receiver is dropped. A batch that fails to load (unreadable image) is
/// sent as `Err` and the thread goes on with the next one.
pub fn spawn_loader(
    dataset: Arc<FaceDataset>,
    opts: LoaderOptions,
) -> anyhow::Result<Receiver<anyhow::Result<Batch>>> {
    ensure!(opts.batch_size > 0, "batch size must be positive");
    ensure!(
        opts.batch_size <= dataset.len(),
        "batch size {} exceeds the {} images of the dataset",
        opts.batch_size,
        dataset.len()
    );
    let (tx, rx) = sync_channel(opts.prefetch);
    std::thread::Builder::new()
        .name("face-deblur-loader".into())
        .spawn(move || {
            let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
            let mut order: Vec<usize> = (0..dataset.len()).collect();
            loop {
                for i in (1..order.len()).rev() {
                    order.swap(i, rng.random_range(0..=i));
                }
                for chunk in order.chunks_exact(opts.batch_size) {
                    let batch = dataset.batch(chunk, &mut rng, opts.augment);
                    if tx.send(batch).is_err() {
                        return;
                    }
                }
            }
        })?;
    Ok(rx)
}
