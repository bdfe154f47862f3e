//! PATCH (face-deblur): `float_mask_where` / `float_mask_fill` give the element-wise select
//! on every storage path, including the in-place ones rewritten branch-free (`ops::mask`):
//! tensor unique, value unique (tensor shared), neither unique, broadcast mask; f32 and f64.

use burn_backend::ops::FloatTensorOps;
use burn_backend::{DType, TensorData};
use burn_flex::{Flex, FlexTensor};

fn data(n: usize, seed: u64) -> (Vec<f32>, Vec<bool>) {
    let mut s = seed;
    let mut next = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        s >> 33
    };
    let v = (0..n)
        .map(|_| (next() % 2001) as f32 / 1000.0 - 1.0)
        .collect();
    let m = (0..n).map(|_| next() % 2 == 1).collect();
    (v, m)
}

fn float(v: &[f32], shape: [usize; 3], dtype: DType) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(v.to_vec(), shape).convert_dtype(dtype))
}

fn bools(m: &[bool], shape: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(m.to_vec(), shape))
}

fn values(t: FlexTensor) -> Vec<f64> {
    t.into_data().convert::<f64>().try_to_vec::<f64>().unwrap()
}

#[test]
fn mask_where_and_fill_select_elementwise() {
    let shape = [3, 5, 67];
    let n = shape.iter().product::<usize>();
    for dtype in [DType::F32, DType::F64] {
        let (t, m) = data(n, 1);
        let (v, _) = data(n, 2);
        let want_where: Vec<f64> = (0..n)
            .map(|i| if m[i] { v[i] as f64 } else { t[i] as f64 })
            .collect();
        let want_fill: Vec<f64> = (0..n)
            .map(|i| if m[i] { 0.5 } else { t[i] as f64 })
            .collect();
        let mask = || bools(&m, shape.to_vec());

        // tensor unique: written in place
        let got = Flex::float_mask_where(float(&t, shape, dtype), mask(), float(&v, shape, dtype));
        assert_eq!(values(got), want_where, "{dtype:?}: tensor unique");
        // tensor shared, value unique: the value is written in place
        let shared = float(&t, shape, dtype);
        let keep = shared.clone();
        let got = Flex::float_mask_where(shared, mask(), float(&v, shape, dtype));
        assert_eq!(values(got), want_where, "{dtype:?}: value unique");
        // neither unique: a new tensor
        let (tt, vv) = (float(&t, shape, dtype), float(&v, shape, dtype));
        let (kt, kv) = (tt.clone(), vv.clone());
        let got = Flex::float_mask_where(tt, mask(), vv);
        assert_eq!(values(got), want_where, "{dtype:?}: neither unique");
        assert_eq!(values(keep), values(kt), "{dtype:?}: inputs untouched");
        assert_eq!(values(kv), v.iter().map(|&x| x as f64).collect::<Vec<_>>());

        // mask_fill in place and out of place
        let got = Flex::float_mask_fill(float(&t, shape, dtype), mask(), 0.5f32.into());
        assert_eq!(values(got), want_fill, "{dtype:?}: fill unique");
        let tt = float(&t, shape, dtype);
        let kt = tt.clone();
        let got = Flex::float_mask_fill(tt, mask(), 0.5f32.into());
        assert_eq!(values(got), want_fill, "{dtype:?}: fill shared");
        assert_eq!(values(kt), t.iter().map(|&x| x as f64).collect::<Vec<_>>());

        // a mask broadcast along the last axis
        let row: Vec<bool> = m[..shape[2]].to_vec();
        let want: Vec<f64> = (0..n)
            .map(|i| if row[i % shape[2]] { 0.5 } else { t[i] as f64 })
            .collect();
        let got = Flex::float_mask_fill(
            float(&t, shape, dtype),
            bools(&row, vec![1, 1, shape[2]]),
            0.5f32.into(),
        );
        assert_eq!(values(got), want, "{dtype:?}: broadcast mask");
    }
}
