//! The channel-attention feature discriminator 𝒟^C (paper §3.4, eq. 4–5, Fig. 4a).

use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::leaky_relu;
use burn::tensor::module::adaptive_avg_pool2d;

use super::layers::{ChannelAttention, LEAKY_SLOPE, conv_down, conv1x1, conv3x3};

/// Discriminator hyper-parameters.
#[derive(Config, Debug, PartialEq)]
pub struct DiscriminatorConfig {
    /// Channels of the prior features P1..P3 it classifies.
    pub prior_channels: [usize; 3],
    /// Output channels of the feature blocks 𝒟_f,1..𝒟_f,3.
    pub channels: [usize; 3],
    /// Reduction ratio of the CA modules.
    #[config(default = 16)]
    pub ca_reduction: usize,
    /// Whether the CA modules exist (false: a plain feature discriminator, ablation B5).
    #[config(default = true)]
    pub channel_attention: bool,
}

impl DiscriminatorConfig {
    /// Build the discriminator on `device`.
    pub fn init(&self, device: &Device) -> Discriminator {
        let [p1, p2, p3] = self.prior_channels;
        let [d1, d2, d3] = self.channels;
        Discriminator {
            attention: if self.channel_attention {
                self.prior_channels
                    .iter()
                    .map(|&c| ChannelAttention::new(c, self.ca_reduction, device))
                    .collect()
            } else {
                Vec::new()
            },
            block1: conv_down(p1, d1, device),
            block2: conv_down(d1 + p2, d2, device),
            block3: conv_down(d2 + p3, d3, device),
            head_conv: conv3x3(d3, d3, device),
            head_out: conv1x1(d3, 1, device),
        }
    }
}

/// 𝒟^C: CA_i weights each P_i (eq. 4); 𝒟_f,i blocks downsample and concatenate the next level;
/// the head 𝒟_h gives one logit per sample (eq. 5; real = sharp teacher features).
#[derive(Module, Debug)]
pub struct Discriminator {
    /// CA_1..CA_3; empty when channel attention is disabled.
    pub attention: Vec<ChannelAttention>,
    block1: Conv2d,
    block2: Conv2d,
    block3: Conv2d,
    head_conv: Conv2d,
    head_out: Conv2d,
}

impl Discriminator {
    /// P_i' = CA_i(P_i) for each level (the input unchanged without CA modules).
    pub fn weighted(&self, priors: &[Tensor<4>]) -> Vec<Tensor<4>> {
        priors
            .iter()
            .enumerate()
            .map(|(i, p)| match self.attention.get(i) {
                Some(ca) => ca.forward(p.clone()),
                None => p.clone(),
            })
            .collect()
    }

    /// The CA weights `[B, C_i, 1, 1]` of each level, for the prior loss and the inspector;
    /// `None` without channel attention.
    pub fn channel_weights(&self, priors: &[Tensor<4>]) -> Option<Vec<Tensor<4>>> {
        if self.attention.is_empty() {
            return None;
        }
        Some(
            priors
                .iter()
                .zip(&self.attention)
                .map(|(p, ca)| ca.weights(p.clone()))
                .collect(),
        )
    }

    /// Real/fake logits `[B]` for the priors P1..P3 (`[B, p_i, H/2^(i-1), W/2^(i-1)]`).
    pub fn forward(&self, priors: &[Tensor<4>]) -> Tensor<1> {
        self.forward_weighted(&self.weighted(priors))
    }

    /// [`Self::forward`] from priors already weighted by [`Self::weighted`] (the training
    /// step's prior loss weights them too, and shares them).
    pub fn forward_weighted(&self, w: &[Tensor<4>]) -> Tensor<1> {
        let x = leaky_relu(self.block1.forward(w[0].clone()), LEAKY_SLOPE); // [B, d1, H/2, W/2]
        let x = Tensor::cat(vec![x, w[1].clone()], 1);
        let x = leaky_relu(self.block2.forward(x), LEAKY_SLOPE); // [B, d2, H/4, W/4]
        let x = Tensor::cat(vec![x, w[2].clone()], 1);
        let x = leaky_relu(self.block3.forward(x), LEAKY_SLOPE); // [B, d3, H/8, W/8]
        let x = leaky_relu(self.head_conv.forward(x), LEAKY_SLOPE);
        let x = self.head_out.forward(adaptive_avg_pool2d(x, [1, 1])); // [B, 1, 1, 1]
        let [b, _, _, _] = x.dims();
        x.reshape([b])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logits_and_weights_have_expected_shapes() {
        let device = Device::flex();
        let d = DiscriminatorConfig::new([4, 6, 8], [4, 4, 4])
            .with_ca_reduction(2)
            .init(&device);
        let priors = vec![
            Tensor::<4>::ones([3, 4, 16, 16], &device),
            Tensor::<4>::ones([3, 6, 8, 8], &device),
            Tensor::<4>::ones([3, 8, 4, 4], &device),
        ];
        assert_eq!(d.forward(&priors).dims(), [3]);
        let w = d.channel_weights(&priors).unwrap();
        assert_eq!(w[2].dims(), [3, 8, 1, 1]);
    }
}
