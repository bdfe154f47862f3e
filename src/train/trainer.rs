//! One GAN training step of DFPGnet (paper §3.4): the 𝒟^C step on teacher vs estimated priors,
//! then the generator step on 𝓛_G = 𝓛_pixel + λ_adv 𝓛_G,adv + λ_prior 𝓛_prior (eq. 10).

use burn::module::Module;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use super::checkpoint::{LossPoint, RunState};
use super::config::TrainConfig;
use super::loss;
use crate::model::{Discriminator, Generator, Teacher};

/// The modules, optimisers and state of a training run.
pub struct Trainer {
    /// The run's configuration.
    pub config: TrainConfig,
    /// Generator being trained (on the autodiff device).
    pub generator: Generator,
    /// Channel-attention feature discriminator (variant B6 only).
    pub discriminator: Option<Discriminator>,
    /// Frozen teacher (all variants with a prior stream), on the plain device.
    pub teacher: Option<Teacher>,
    /// Generator optimiser.
    pub optim_g: ModuleOptimizer,
    /// Discriminator optimiser.
    pub optim_d: Option<ModuleOptimizer>,
    /// Moving average of the generator's weights (plain device), when `ema_decay` is set.
    pub ema: Option<Generator>,
    /// Step count and histories.
    pub state: RunState,
    device: Device,
}

fn adam(clip_norm: Option<f64>) -> AdamConfig {
    AdamConfig::new()
        .with_beta_1(0.9)
        .with_beta_2(0.999)
        .with_grad_clipping(clip_norm.map(|n| GradientClippingConfig::Norm(n as f32)))
}

impl Trainer {
    /// A fresh run on `device` (autodiff is enabled on it here). `teacher` must be given for
    /// every variant with a prior stream.
    pub fn new(config: TrainConfig, teacher: Option<Teacher>, device: &Device) -> Self {
        let device = device.clone().autodiff();
        assert!(
            teacher.is_some() || !config.variant.prior_stream(),
            "variant {:?} needs a teacher",
            config.variant
        );
        let generator = config.generator_config().init(&device);
        let discriminator = config
            .variant
            .adversarial()
            .then(|| config.discriminator_config().init(&device));
        let optim_d = discriminator
            .as_ref()
            .map(|_| adam(config.grad_clip_norm).init());
        let ema = config.ema_decay.map(|_| generator.valid());
        Self {
            ema,
            generator,
            optim_d,
            discriminator,
            teacher,
            optim_g: adam(config.grad_clip_norm).init(),
            state: RunState::default(),
            device,
            config,
        }
    }

    /// The autodiff device the run trains on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// One D step and one G step on a batch (`[B, 3, H, W]` in [-1, 1], H and W multiples of
    /// 4). Returns the losses of this step.
    pub fn step(&mut self, blurred_signed: Tensor<4>, sharp_signed: Tensor<4>) -> LossPoint {
        let blurred = blurred_signed.to_device(&self.device);
        let sharp_plain = sharp_signed.without_autodiff();
        let sharp = sharp_plain.clone().to_device(&self.device);
        let factor = self.config.lr_factor(self.state.step);
        let lr_g = self.config.lr_generator * factor;
        let lr_d = self.config.lr_discriminator * factor;

        let out = self.generator.forward(blurred);
        // In the pixel-only phase neither the teacher, the prior loss nor 𝒟^C takes part.
        let adversarial_phase = self.config.adversarial_phase(self.state.step);
        // Ground-truth priors P of the sharp face: constants (no graph).
        let teacher_priors: Vec<Tensor<4>> = match &self.teacher {
            Some(t) if !out.priors.is_empty() && adversarial_phase => t
                .priors(sharp_plain)
                .into_iter()
                .map(|p| p.to_device(&self.device))
                .collect(),
            _ => Vec::new(),
        };

        // 𝒟^C step (eq. 6) on detached estimates.
        let mut d_loss_value = 0.0;
        if let (Some(d), Some(optim_d)) = (
            self.discriminator.take_if(|_| adversarial_phase),
            self.optim_d.as_mut(),
        ) {
            let fake: Vec<Tensor<4>> = out.priors.iter().map(|p| p.clone().detach()).collect();
            let d_loss = loss::discriminator_loss(d.forward(&teacher_priors), d.forward(&fake));
            d_loss_value = scalar(&d_loss);
            let grads = GradientsParams::from_grads(d_loss.backward(), &d);
            self.discriminator = Some(optim_d.step(lr_d, d, grads));
        }

        // 𝒢 step (eq. 10) through a frozen copy of the updated 𝒟^C: only 𝒢 is stepped, so the
        // backward pass computes no gradients for 𝒟^C's weights (the generator's gradients
        // are the same with or without them).
        let frozen_d = self
            .discriminator
            .as_ref()
            .filter(|_| adversarial_phase)
            .map(|d| d.clone().no_grad());
        let pixel = loss::pixel_l1(out.image.clone(), sharp);
        let mut total = pixel.clone();
        let mut prior_value = 0.0;
        let mut adv_value = 0.0;
        // 𝒟^C's channel weighting (eq. 4) of both prior sets, computed once for 𝓛_prior and
        // 𝓛_G,adv.
        let weighted = frozen_d
            .as_ref()
            .map(|d| (d.weighted(&teacher_priors), d.weighted(&out.priors)));
        if !out.priors.is_empty() && adversarial_phase {
            let (teacher, estimated) = match &weighted {
                Some((teacher, estimated)) => (teacher, estimated),
                None => (&teacher_priors, &out.priors),
            };
            let prior = loss::prior_loss(teacher, estimated);
            prior_value = scalar(&prior);
            total = total + prior.mul_scalar(self.config.lambda_prior);
        }
        if let (Some(d), Some((_, estimated))) = (frozen_d.as_ref(), weighted.as_ref()) {
            let adv = loss::generator_adversarial_loss(d.forward_weighted(estimated));
            adv_value = scalar(&adv);
            total = total + adv.mul_scalar(self.config.lambda_adv);
        }
        let pixel_value = scalar(&pixel);
        let grads = GradientsParams::from_grads(total.backward(), &self.generator);
        let generator = self.generator.clone();
        self.generator = self.optim_g.step(lr_g, generator, grads);
        if let (Some(decay), Some(ema)) = (self.config.ema_decay, self.ema.take()) {
            self.ema = Some(super::ema::blend(ema, &self.generator, decay));
        }
        self.state.step += 1;
        LossPoint {
            step: self.state.step,
            pixel: pixel_value,
            prior: prior_value,
            adversarial: adv_value,
            discriminator: d_loss_value,
        }
    }

    /// The generator to validate and export, without autodiff: the moving average when the
    /// run keeps one, else the current weights (take it once, restore many).
    pub fn inference_generator(&self) -> Generator {
        match &self.ema {
            Some(ema) => ema.clone(),
            None => self.generator.valid(),
        }
    }
}

fn scalar(t: &Tensor<1>) -> f64 {
    t.clone()
        .into_data()
        .try_to_vec::<f32>()
        .map(|v| v[0] as f64)
        .unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::GeneratorConfig;
    use crate::train::config::Variant;

    #[test]
    fn training_steps_lower_the_pixel_loss_on_a_tiny_batch() {
        let device = Device::flex();
        let mut config = TrainConfig::compact_default();
        config.variant = Variant::B1;
        config.generator = GeneratorConfig::new([4, 8, 8], [4, 8, 8], 1, 1, 1, 1);
        config.lr_generator = 1e-2;
        let mut trainer = Trainer::new(config, None, &device);
        let sharp = Tensor::<4>::random(
            [2, 3, 8, 8],
            burn::tensor::Distribution::Uniform(-0.8, 0.8),
            &device,
        );
        let blurred = sharp.clone().mul_scalar(0.5);
        let first = trainer.step(blurred.clone(), sharp.clone()).pixel;
        let mut last = first;
        for _ in 0..29 {
            last = trainer.step(blurred.clone(), sharp.clone()).pixel;
        }
        assert!(last < first * 0.8, "pixel loss {first} → {last}");
        assert_eq!(trainer.state.step, 30);
    }

    /// The generator step's frozen 𝒟^C copy: the same loss and the same gradient reaching
    /// the estimated priors (so the same generator update), and no gradients for 𝒟^C.
    #[test]
    fn frozen_discriminator_passes_the_same_gradient_and_computes_none_of_its_own() {
        let device = Device::flex().autodiff();
        let d = crate::model::DiscriminatorConfig::new([8, 12, 16], [8, 8, 8])
            .with_ca_reduction(4)
            .init(&device);
        let uniform = burn::tensor::Distribution::Uniform(-1.0, 1.0);
        let plain = |c, s| Tensor::<4>::random([2, c, s, s], uniform, &device);
        let teacher = vec![plain(8, 16), plain(12, 8), plain(16, 4)];
        let estimated = [plain(8, 16), plain(12, 8), plain(16, 4)];
        let run = |d: &Discriminator| {
            let tracked: Vec<Tensor<4>> = estimated
                .iter()
                .map(|p| p.clone().detach().require_grad())
                .collect();
            let total = loss::prior_loss(&d.weighted(&teacher), &d.weighted(&tracked))
                + loss::generator_adversarial_loss(d.forward(&tracked)).mul_scalar(0.05);
            let mut grads = total.backward();
            let input_grads: Vec<Vec<f32>> = tracked
                .iter()
                .map(|p| {
                    p.grad(&grads)
                        .unwrap()
                        .into_data()
                        .try_to_vec::<f32>()
                        .unwrap()
                })
                .collect();
            let own = GradientsParams::from_module(&mut grads, d).len();
            (scalar(&total), input_grads, own)
        };
        let (loss_tracked, grads_tracked, own_tracked) = run(&d);
        let (loss_frozen, grads_frozen, own_frozen) = run(&d.clone().no_grad());
        assert_eq!(loss_tracked, loss_frozen);
        assert_eq!(grads_tracked, grads_frozen);
        assert!(own_tracked > 0, "the tracked copy computes 𝒟^C's gradients");
        assert_eq!(own_frozen, 0, "the frozen copy computes none");
    }
}
