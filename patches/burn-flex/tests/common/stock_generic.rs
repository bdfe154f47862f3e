//! PATCH (face-deblur) test/bench support: the *stock* Burn 0.22.1 conv gradient paths, copied
//! from `burn-backend-0.22.1/src/backend/ops/modules/conv.rs` (the `ModuleOps` defaults that
//! flex used before this patch), with `B::conv2d` / `B::conv_transpose2d` pinned to flex's
//! stock forward kernels (`burn_flex::ops::conv::conv2d_*`, `conv_transpose::conv_transpose2d_*`)
//! so the reference does not depend on the patched `ModuleOps` overrides.
#![allow(dead_code)]

use burn_backend::ops::conv::{calculate_padding_out, pad_asymmetric_conv_input};
use burn_backend::ops::{ConvOptions, ConvTransposeOptions, FloatTensorOps};
use burn_backend::{DType, TensorMetadata};
use burn_flex::{Flex, FlexTensor};
use burn_std::{Shape, Slice};

type T = FlexTensor;

/// Stock flex conv2d forward (what `Flex::conv2d` is without the patch).
pub fn stock_conv2d(x: T, weight: T, bias: Option<T>, options: ConvOptions<2>) -> T {
    let (x, options) = pad_asymmetric_conv_input::<Flex, 2>(x, options);
    match x.dtype() {
        DType::F32 => burn_flex::ops::conv::conv2d_f32(x, weight, bias, &options),
        DType::F64 => burn_flex::ops::conv::conv2d_f64(x, weight, bias, &options),
        d => panic!("stock_conv2d: {d:?}"),
    }
}

/// Stock flex conv_transpose2d forward.
pub fn stock_conv_transpose2d(
    x: T,
    weight: T,
    bias: Option<T>,
    options: ConvTransposeOptions<2>,
) -> T {
    match x.dtype() {
        DType::F32 => {
            burn_flex::ops::conv_transpose::conv_transpose2d_f32(x, weight, bias, &options)
        }
        DType::F64 => {
            burn_flex::ops::conv_transpose::conv_transpose2d_f64(x, weight, bias, &options)
        }
        d => panic!("stock_conv_transpose2d: {d:?}"),
    }
}

fn crop_asymmetric_input_grad(grad: T, input_shape: &Shape, padding: &[(usize, usize); 2]) -> T {
    let mut ranges = input_shape
        .iter()
        .map(|&size| Slice::from(0..size))
        .collect::<Vec<_>>();
    for (dim, (begin, _)) in padding.iter().enumerate() {
        ranges[dim + 2] = Slice::from(*begin..*begin + input_shape[dim + 2]);
    }
    Flex::float_slice(grad, &ranges)
}

pub fn conv2d_x_backward(x: T, weight: T, output_grad: T, options: ConvOptions<2>) -> T {
    if options.is_asymmetric() {
        let input_shape = x.shape();
        let padding = options.padding;
        let (x, options) = pad_asymmetric_conv_input::<Flex, 2>(x, options);
        let grad = conv2d_x_backward_symmetric(x, weight, output_grad, options);
        return crop_asymmetric_input_grad(grad, &input_shape, &padding);
    }
    conv2d_x_backward_symmetric(x, weight, output_grad, options)
}

fn conv2d_x_backward_symmetric(x: T, weight: T, output_grad: T, options: ConvOptions<2>) -> T {
    let weight_shape = weight.shape();
    let [_b, _c, height_in, width_in] = x.shape().dims();
    let [_, _, height_out, width_out] = output_grad.shape().dims();
    let [_co, _, k1, k2] = weight_shape.dims();
    let p1 = calculate_padding_out(
        k1,
        options.stride[0],
        options.padding_begin()[0],
        options.dilation[0],
        height_in,
        height_out,
    );
    let p2 = calculate_padding_out(
        k2,
        options.stride[1],
        options.padding_begin()[1],
        options.dilation[1],
        width_in,
        width_out,
    );
    stock_conv_transpose2d(
        output_grad,
        weight,
        None,
        ConvTransposeOptions::new(
            options.stride,
            options.padding_begin(),
            [p1, p2],
            options.dilation,
            options.groups,
        ),
    )
}

pub fn conv2d_weight_backward(x: T, weight: T, output_grad: T, options: ConvOptions<2>) -> T {
    let (x, options) = pad_asymmetric_conv_input::<Flex, 2>(x, options);
    let weight_shape = weight.shape();
    match options.groups == 1 {
        true => conv2d_weight_grad_no_groups(x, output_grad, weight_shape, options),
        false => {
            let z = Flex::float_zeros(weight_shape, &Default::default(), weight.dtype().into());
            conv2d_weight_grad_groups(x, z, output_grad, options)
        }
    }
}

fn conv2d_weight_grad_no_groups(
    x: T,
    output_grad: T,
    weight_shape: Shape,
    options: ConvOptions<2>,
) -> T {
    let x_swapped = Flex::float_swap_dims(x, 0, 1);
    let output_grad_swapped = Flex::float_swap_dims(output_grad, 0, 1);
    let weight_grad_swapped = stock_conv2d(
        x_swapped,
        output_grad_swapped,
        None,
        ConvOptions::new(options.dilation, options.padding_begin(), options.stride, 1),
    );
    let mut weight_grad = Flex::float_swap_dims(weight_grad_swapped, 0, 1);
    if weight_grad.shape() != weight_shape {
        let slices = (0..4)
            .map(|i| Slice::from(0..weight_shape[i]))
            .collect::<Vec<_>>();
        weight_grad = Flex::float_slice(weight_grad, &slices);
    }
    weight_grad
}

fn conv2d_weight_grad_groups(
    x: T,
    mut weight_grad: T,
    output_grad: T,
    options: ConvOptions<2>,
) -> T {
    let [channels_out, increment_ci, k1, k2] = weight_grad.shape().dims();
    let increment_co = channels_out / options.groups;
    let x_swapped = Flex::float_swap_dims(x, 0, 1);
    let output_grad_swapped = Flex::float_swap_dims(output_grad, 0, 1);
    for g in 0..options.groups {
        let x = Flex::float_slice(
            x_swapped.clone(),
            &[Slice::from(g * increment_ci..(g + 1) * increment_ci)],
        );
        let grad = Flex::float_slice(
            output_grad_swapped.clone(),
            &[Slice::from(g * increment_co..(g + 1) * increment_co)],
        );
        let mut tmp = stock_conv2d(
            x,
            grad,
            None,
            ConvOptions::new(options.dilation, options.padding_begin(), options.stride, 1),
        );
        tmp = Flex::float_swap_dims(tmp, 0, 1);
        let [_, _, kt1, kt2] = tmp.shape().dims();
        if kt1 != k1 || kt2 != k2 {
            tmp = Flex::float_slice(
                tmp,
                &[
                    Slice::from(0..increment_co),
                    Slice::from(0..increment_ci),
                    Slice::from(0..k1),
                    Slice::from(0..k2),
                ],
            );
        }
        weight_grad = Flex::float_slice_assign(
            weight_grad,
            &[
                Slice::from(g * increment_co..(g + 1) * increment_co),
                Slice::from(0..increment_ci),
                Slice::from(0..k1),
                Slice::from(0..k2),
            ],
            tmp,
        );
    }
    weight_grad
}

pub fn conv_transpose2d_x_backward(
    weight: T,
    output_grad: T,
    options: ConvTransposeOptions<2>,
) -> T {
    let [batch_size, _c_out, out_h, out_w] = output_grad.shape().dims();
    let [c_in, _, k_h, k_w] = weight.shape().dims();
    let grad = stock_conv2d(
        output_grad,
        weight,
        None,
        ConvOptions::new(
            options.stride,
            options.padding,
            options.dilation,
            options.groups,
        ),
    );
    if options.padding_out == [0, 0] {
        return grad;
    }
    let size = |out: usize, k: usize, i: usize| {
        (out + 2 * options.padding[i] - options.dilation[i] * (k - 1) - options.padding_out[i] - 1)
            / options.stride[i]
            + 1
    };
    let (exp_h, exp_w) = (size(out_h, k_h, 0), size(out_w, k_w, 1));
    Flex::float_slice(
        grad,
        &[
            Slice::from(0..batch_size),
            Slice::from(0..c_in),
            Slice::from(0..exp_h),
            Slice::from(0..exp_w),
        ],
    )
}

pub fn conv_transpose2d_weight_backward(
    x: T,
    weight: T,
    output_grad: T,
    options: ConvTransposeOptions<2>,
) -> T {
    let weight_shape = weight.shape();
    if options.groups == 1 {
        let x_swapped = Flex::float_swap_dims(x, 0, 1);
        let output_grad_swapped = Flex::float_swap_dims(output_grad, 0, 1);
        let wg = stock_conv2d(
            output_grad_swapped,
            x_swapped,
            None,
            ConvOptions::new(options.dilation, options.padding, options.stride, 1),
        );
        let mut weight_grad = Flex::float_swap_dims(wg, 0, 1);
        if weight_grad.shape() != weight_shape {
            let slices = (0..4)
                .map(|i| Slice::from(0..weight_shape[i]))
                .collect::<Vec<_>>();
            weight_grad = Flex::float_slice(weight_grad, &slices);
        }
        return weight_grad;
    }
    let mut weight_grad =
        Flex::float_zeros(weight_shape, &Default::default(), weight.dtype().into());
    let [channels_in, increment_co, k1, k2] = weight_grad.shape().dims();
    let increment_ci = channels_in / options.groups;
    let x_swapped = Flex::float_swap_dims(x, 0, 1);
    let output_grad_swapped = Flex::float_swap_dims(output_grad, 0, 1);
    for g in 0..options.groups {
        let x = Flex::float_slice(
            x_swapped.clone(),
            &[Slice::from(g * increment_ci..(g + 1) * increment_ci)],
        );
        let grad = Flex::float_slice(
            output_grad_swapped.clone(),
            &[Slice::from(g * increment_co..(g + 1) * increment_co)],
        );
        let mut tmp = stock_conv2d(
            grad,
            x,
            None,
            ConvOptions::new(options.dilation, options.padding, options.stride, 1),
        );
        tmp = Flex::float_swap_dims(tmp, 0, 1);
        let [_, _, kt1, kt2] = tmp.shape().dims();
        if kt1 != k1 || kt2 != k2 {
            tmp = Flex::float_slice(
                tmp,
                &[
                    Slice::from(0..increment_ci),
                    Slice::from(0..increment_co),
                    Slice::from(0..k1),
                    Slice::from(0..k2),
                ],
            );
        }
        weight_grad = Flex::float_slice_assign(
            weight_grad,
            &[
                Slice::from(g * increment_ci..(g + 1) * increment_ci),
                Slice::from(0..increment_co),
                Slice::from(0..k1),
                Slice::from(0..k2),
            ],
            tmp,
        );
    }
    weight_grad
}
