//! Momentum contrast (MoCo, He et al. 2020) for the degradation encoder: the projection head,
//! the query/key networks (the key follows the query as a moving average,
//! [`crate::train::ema::blend`]), the InfoNCE loss and the decorrelation
//! penalty.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, log_softmax};

use super::DreConfig;
use crate::model::dre::{DRE_DIM, DegradationEncoder};

/// The MLP head the contrastive loss is computed on (discarded after training).
#[derive(Module, Debug)]
pub struct ProjectionHead {
    hidden: Linear,
    out: Linear,
}

impl ProjectionHead {
    pub(super) fn new(dim: usize, device: &Device) -> Self {
        Self {
            hidden: LinearConfig::new(DRE_DIM, DRE_DIM).init(device),
            out: LinearConfig::new(DRE_DIM, dim).init(device),
        }
    }

    /// L2-normalised projection of representations `[B, DRE_DIM]` → `[B, dim]`. The hidden
    /// layer is batch-normalised (without affine parameters, as in MoCo v2's head): without it
    /// the common component of the representations dominates and the projections collapse.
    fn forward(&self, v: Tensor<2>) -> Tensor<2> {
        let h = self.hidden.forward(v);
        let mean = h.clone().mean_dim(0);
        let centred = h - mean;
        let std = centred.clone().square().mean_dim(0).add_scalar(1e-5).sqrt();
        let z = self.out.forward(leaky_relu(centred / std, 0.2));
        let norm = z.clone().square().sum_dim(1).sqrt().add_scalar(1e-6);
        z / norm
    }
}

/// Encoder + head, trained together.
#[derive(Module, Debug)]
pub struct DreModel {
    /// The encoder that is kept.
    pub encoder: DegradationEncoder,
    pub(super) head: ProjectionHead,
}

impl DreModel {
    fn project(&self, x: Tensor<4>) -> Tensor<2> {
        self.head.forward(self.encoder.forward(x))
    }
}

/// The InfoNCE loss of queries `q` `[B, d]` against their keys `k` `[B, d]` (row i is the
/// positive of query i; the other rows and the `queue` `[K, d]` are negatives), and the share
/// of queries whose positive scores highest.
pub fn info_nce(
    q: Tensor<2>,
    k: Tensor<2>,
    queue: Tensor<2>,
    temperature: f64,
) -> (Tensor<1>, f64) {
    let [b, _] = q.dims();
    let device = q.device();
    let logits = Tensor::cat(
        vec![q.clone().matmul(k.transpose()), q.matmul(queue.transpose())],
        1,
    )
    .div_scalar(temperature); // [B, B + K]
    let accuracy = {
        let best: Vec<i64> = logits.clone().argmax(1).into_data().iter::<i64>().collect();
        best.iter()
            .enumerate()
            .filter(|&(i, &j)| j == i as i64)
            .count() as f64
            / b.max(1) as f64
    };
    let logp = log_softmax(logits, 1);
    let diagonal = logp.slice([0..b, 0..b]) * Tensor::<2>::eye(b, &device);
    (diagonal.sum().div_scalar(b as f64).neg(), accuracy)
}

/// Mean squared off-diagonal correlation of the features of `v` `[B, D]` over the batch: 0 when
/// the features are uncorrelated, near 1 when they all say the same thing (dimensional
/// collapse, which InfoNCE on a projection head does not prevent by itself).
pub fn decorrelation_penalty(v: Tensor<2>) -> Tensor<1> {
    let [b, d] = v.dims();
    let device = v.device();
    let centred = v.clone() - v.mean_dim(0);
    let std = centred.clone().square().mean_dim(0).add_scalar(1e-6).sqrt();
    let z = centred / std; // [B, D]
    let corr = z.clone().transpose().matmul(z).div_scalar(b as f64); // [D, D]
    let off = corr.square() * (Tensor::<2>::ones([d, d], &device) - Tensor::<2>::eye(d, &device));
    off.sum()
        .div_scalar((d * d.saturating_sub(1)).max(1) as f64)
}

/// The value of a one-element tensor.
pub(super) fn value(t: Tensor<1>) -> f64 {
    let v: f32 = t.into_scalar();
    f64::from(v)
}

/// The state of momentum-contrast training: query and key networks, optimiser, queue.
pub struct Moco {
    query: DreModel,
    key: DreModel,
    optim: burn::optim::ModuleOptimizer,
    queue: Tensor<2>,
    device: Device,
    lr: f64,
    momentum: f64,
    temperature: f64,
    decorrelation: f64,
}

impl Moco {
    /// Fresh networks (query on the autodiff version of `device`) and a random queue.
    pub fn new(config: &DreConfig, device: &Device) -> Self {
        let ad = device.clone().autodiff();
        let query = DreModel {
            encoder: DegradationEncoder::new(&ad),
            head: ProjectionHead::new(config.projection_dim, &ad),
        };
        let key = query.valid();
        let queue = Tensor::<2>::random(
            [config.queue, config.projection_dim],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            device,
        );
        let norm = queue.clone().square().sum_dim(1).sqrt();
        Self {
            query,
            key,
            optim: AdamConfig::new().init(),
            queue: queue / norm,
            device: device.clone(),
            lr: config.lr,
            momentum: config.momentum,
            temperature: config.temperature,
            decorrelation: config.decorrelation,
        }
    }

    /// The query encoder, without the autodiff graph (what is kept).
    pub fn encoder(&self) -> DegradationEncoder {
        self.query.encoder.valid()
    }

    /// One step on a batch of positive pairs (`[B, 3, H, W]` each, [-1, 1], plain device):
    /// InfoNCE on the query network, Adam step, momentum update of the key network, keys
    /// enqueued. Returns the loss and the top-1 accuracy.
    pub fn step(&mut self, xq: Tensor<4>, xk: Tensor<4>) -> (f64, f64) {
        let ad = self.device.clone().autodiff();
        let [n, ..] = xq.dims();
        let k = self.key.project(xk); // [B, d], no graph
        let v = self.query.encoder.forward(xq.to_device(&ad));
        let q = self.query.head.forward(v.clone());
        let (mut loss, accuracy) = info_nce(
            q,
            k.clone().to_device(&ad),
            self.queue.clone().to_device(&ad),
            self.temperature,
        );
        if self.decorrelation > 0.0 {
            loss = loss + decorrelation_penalty(v).mul_scalar(self.decorrelation);
        }
        let value = value(loss.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &self.query);
        self.query = self.optim.step(self.lr, self.query.clone(), grads);
        self.key = crate::train::ema::blend(self.key.clone(), &self.query, self.momentum);
        let [size, dim] = self.queue.dims();
        let keep = size.saturating_sub(n);
        self.queue = Tensor::cat(vec![k, self.queue.clone().slice([0..keep, 0..dim])], 0);
        (value, accuracy)
    }
}
