use core::marker::PhantomData;

use crate::{
    Autodiff,
    checkpoint::{
        base::Checkpointer, retro_forward::RetroForward, state::BackwardStates,
        strategy::CheckpointStrategy,
    },
    grads::Gradients,
    graph::NodeId,
    ops::{Backward, Ops, OpsKind, unary},
    retro_unary,
};
use burn_backend::{
    Backend, Scalar, TensorMetadata, get_or_init_device_settings,
    ops::ActivationOps,
    ops::FloatTensorOps,
    tensor::{BoolTensor, FloatTensor},
};

// PATCH (face-deblur): switch for the fused LeakyReLU node below (on by default).
static FUSED_LEAKY_RELU: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(true);

/// Benchmark / test hook (face-deblur patch): `false` makes `leaky_relu` use the trait
/// default's composition again (lower_elem, mul_scalar, mask_where), for A/B comparisons.
#[doc(hidden)]
pub fn set_fused_leaky_relu(on: bool) {
    FUSED_LEAKY_RELU.store(on, core::sync::atomic::Ordering::Relaxed);
}

fn fused_leaky_relu() -> bool {
    FUSED_LEAKY_RELU.load(core::sync::atomic::Ordering::Relaxed)
}

impl<B: Backend, C: CheckpointStrategy> ActivationOps<Autodiff<B, C>> for Autodiff<B, C> {
    // PATCH (face-deblur): LeakyReLU as one node. The trait default composes it from
    // `lower_elem`, `mul_scalar` and `mask_where`, whose autodiff backward adds two zero
    // tensors, two selects, a scale and a gradient sum: about eight passes over the activation
    // per layer. Here the forward is the backend's `leaky_relu` (flex: one pass) plus the sign
    // mask kept for the backward, and the backward is one scale and one select, with the same
    // values as the composition (`x < 0` selects `slope · grad`).
    fn leaky_relu(tensor: FloatTensor<Self>, negative_slope: Scalar) -> FloatTensor<Self> {
        if !fused_leaky_relu() {
            // The trait default's composition (for A/B benchmarks and tests).
            let bool_dtype =
                get_or_init_device_settings::<B>(&tensor.primitive.device()).bool_dtype;
            let negative = Self::float_lower_elem(tensor.clone(), 0f32.into(), bool_dtype);
            let scaled = Self::float_mul_scalar(tensor.clone(), negative_slope);
            return Self::float_mask_where(tensor, negative, scaled);
        }

        #[derive(Debug)]
        struct LeakyRelu;

        impl<B: Backend> Backward<B, 1> for LeakyRelu {
            type State = (BoolTensor<B>, Scalar);

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let (negative, slope) = ops.state;
                unary::<B, _>(ops.parents, ops.node, grads, |grad| {
                    let scaled = B::float_mul_scalar(grad.clone(), slope);
                    B::float_mask_where(grad, negative, scaled)
                });
            }
        }

        match LeakyRelu
            .prepare::<C>([tensor.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let bool_dtype =
                    get_or_init_device_settings::<B>(&tensor.primitive.device()).bool_dtype;
                let negative =
                    B::float_lower_elem(tensor.primitive.clone(), 0f32.into(), bool_dtype);
                prep.finish(
                    (negative, negative_slope),
                    B::leaky_relu(tensor.primitive, negative_slope),
                )
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::leaky_relu(tensor.primitive, negative_slope))
            }
        }
    }

    fn gelu(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct Gelu;

        retro_unary!(RetroGelu, B::gelu);

        impl<B: Backend> Backward<B, 1> for Gelu {
            type State = NodeId;

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let input = checkpointer.retrieve_node_output(ops.state);

                unary::<B, _>(ops.parents, ops.node, grads, |grad| {
                    B::gelu_backward(input, grad)
                });
            }
        }

        match Gelu
            .prepare::<C>([tensor.node()])
            .memory_bound()
            .retro_forward(RetroGelu::<B>::new(tensor.node.id))
            .parents([&tensor])
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = prep.checkpoint(&tensor);
                prep.finish(state, B::gelu(tensor.primitive.clone()))
            }
            OpsKind::UnTracked(prep) => prep.finish(B::gelu(tensor.primitive)),
        }
    }

    fn relu(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct Relu;

        retro_unary!(RetroRelu, B::relu);

        impl<B: Backend> Backward<B, 1> for Relu {
            type State = NodeId;

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let state = checkpointer.retrieve_node_output(ops.state);
                unary::<B, _>(ops.parents, ops.node, grads, |grad| {
                    B::relu_backward(state, grad)
                });
            }
        }

        match Relu
            .prepare::<C>([tensor.node()])
            .memory_bound()
            .retro_forward(RetroRelu::<B>::new(tensor.node.id))
            .parents([&tensor])
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = prep.checkpoint(&tensor);
                prep.finish(state, B::relu(tensor.primitive))
            }
            OpsKind::UnTracked(prep) => prep.finish(B::relu(tensor.primitive)),
        }
    }

    fn sigmoid(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct Sigmoid;

        retro_unary!(RetroSigmoid, B::sigmoid);

        impl<B: Backend> Backward<B, 1> for Sigmoid {
            type State = NodeId;

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let input = checkpointer.retrieve_node_output(ops.state);
                let output = B::sigmoid(input);
                unary::<B, _>(ops.parents, ops.node, grads, |grad| {
                    B::sigmoid_backward(output, grad)
                });
            }
        }

        match Sigmoid
            .prepare::<C>([tensor.node()])
            .memory_bound()
            .retro_forward(RetroSigmoid::<B>::new(tensor.node.id))
            .parents([&tensor])
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = prep.checkpoint(&tensor);
                prep.finish(state, B::sigmoid(tensor.primitive))
            }
            OpsKind::UnTracked(prep) => prep.finish(B::sigmoid(tensor.primitive)),
        }
    }

    fn log_sigmoid(tensor: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct LogSigmoid;

        retro_unary!(RetroLogSigmoid, B::log_sigmoid);

        impl<B: Backend> Backward<B, 1> for LogSigmoid {
            type State = NodeId;

            fn backward(
                self,
                ops: Ops<Self::State, 1>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let input = checkpointer.retrieve_node_output(ops.state);

                unary::<B, _>(ops.parents, ops.node, grads, |grad| {
                    B::log_sigmoid_backward(input, grad)
                });
            }
        }

        match LogSigmoid
            .prepare::<C>([tensor.node()])
            .memory_bound()
            .retro_forward(RetroLogSigmoid::<B>::new(tensor.node.id))
            .parents([&tensor])
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = prep.checkpoint(&tensor);
                prep.finish(state, B::log_sigmoid(tensor.primitive.clone()))
            }
            OpsKind::UnTracked(prep) => prep.finish(B::log_sigmoid(tensor.primitive)),
        }
    }
}
