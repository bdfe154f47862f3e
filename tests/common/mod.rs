//! Helpers shared by the integration tests: generators of odd and broken image files, and
//! deterministic tensor data.
#![allow(dead_code)]

use burn::prelude::*;

/// Adds uniform noise in ±0.05 to every float parameter of a module (a fresh generator is the
/// identity; perturbed, its output depends on every layer).
pub struct Noise;

impl burn::module::ModuleMapper for Noise {
    fn map_float<const D: usize>(
        &mut self,
        param: burn::module::Param<Tensor<D>>,
    ) -> burn::module::Param<Tensor<D>> {
        param.map(|t| {
            let noise = Tensor::random(
                t.shape(),
                burn::tensor::Distribution::Uniform(-0.05, 0.05),
                &t.device(),
            );
            t + noise
        })
    }
}

/// A fixed `[1, 3, 32, 32]` input in (-0.8, 0.8), the same in every run (no random numbers).
pub fn fixed_input(device: &Device) -> Tensor<4> {
    let values: Vec<f32> = (0..3 * 32 * 32)
        .map(|k| (0.37 * k as f32).sin() * 0.8)
        .collect();
    Tensor::from_data(
        burn::tensor::TensorData::new(values, [1, 3, 32, 32]),
        device,
    )
}

/// What a generator does to [`fixed_input`], in three numbers: the sum of the image, a
/// weighted sum of the image (so that moved values count) and the sum of the priors.
pub fn fingerprint(generator: &face_deblur::model::Generator, device: &Device) -> [f64; 3] {
    let out = generator.forward(fixed_input(device));
    let image: Vec<f32> = out.image.into_data().try_to_vec().unwrap();
    let sum: f64 = image.iter().map(|&x| x as f64).sum();
    let weighted: f64 = image
        .iter()
        .enumerate()
        .map(|(k, &x)| x as f64 * (0.11 * k as f64).cos())
        .sum();
    let priors: f64 = out
        .priors
        .into_iter()
        .map(|p| {
            let v: Vec<f32> = p.into_data().try_to_vec().unwrap();
            v.iter().map(|&x| x as f64).sum::<f64>()
        })
        .sum();
    [sum, weighted, priors]
}

/// Asserts that two fingerprints agree to 1e-5 of their size (the same weights on the same
/// CPU backend give the same numbers; a tensor loaded into the wrong place changes them by
/// far more).
pub fn assert_same_fingerprint(got: [f64; 3], expected: [f64; 3], what: &str) {
    for (g, e) in got.iter().zip(&expected) {
        assert!(
            (g - e).abs() <= 1e-5 * e.abs().max(1.0),
            "{what}: fingerprint {got:?}, expected {expected:?}"
        );
    }
}

/// A baseline 8×8 four-component (Adobe, inverted CMYK) JPEG of one flat colour.
pub fn cmyk_jpeg(cmyk: [u8; 4]) -> Vec<u8> {
    let segment = |out: &mut Vec<u8>, marker: u8, body: &[u8]| {
        out.extend([0xFF, marker]);
        out.extend(u16::try_from(body.len() + 2).unwrap().to_be_bytes());
        out.extend(body);
    };
    let mut jpeg = vec![0xFF, 0xD8];
    segment(&mut jpeg, 0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x00"); // transform 0: CMYK
    segment(&mut jpeg, 0xDB, &[[0u8].as_slice(), &[1; 64]].concat());
    let mut sof = vec![8, 0, 8, 0, 8, 4];
    (1..=4).for_each(|id| sof.extend([id, 0x11, 0]));
    segment(&mut jpeg, 0xC0, &sof);
    let dc_bits = [0u8, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
    let mut dht = vec![0x00];
    dht.extend(dc_bits);
    dht.extend(0..12u8);
    dht.extend([0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00]); // AC: EOB = "0"
    segment(&mut jpeg, 0xC4, &dht);
    segment(&mut jpeg, 0xDA, &[4, 1, 0, 2, 0, 3, 0, 4, 0, 0, 63, 0]);
    // Canonical Huffman codes of the DC table: (code, length) per category.
    let mut codes = Vec::new();
    let mut code = 0u32;
    for (len, &count) in dc_bits.iter().enumerate() {
        for _ in 0..count {
            codes.push((code, len as u32 + 1));
            code += 1;
        }
        code <<= 1;
    }
    let mut bits: Vec<bool> = Vec::new();
    let mut put = |value: u32, len: u32| {
        (0..len)
            .rev()
            .for_each(|i| bits.push((value >> i) & 1 == 1))
    };
    for value in cmyk {
        let dc = 8 * (i32::from(value) - 128); // flat block: DC = 8 × (value − 128)
        let category = 32 - dc.unsigned_abs().leading_zeros();
        let (code, len) = codes[category as usize];
        put(code, len);
        let extra = if dc < 0 { dc + (1 << category) - 1 } else { dc };
        put(extra as u32, category);
        put(0, 1); // EOB
    }
    bits.resize(bits.len().div_ceil(8) * 8, true);
    for byte in bits.chunks(8) {
        let byte = byte.iter().fold(0u8, |acc, &b| (acc << 1) | u8::from(b));
        jpeg.push(byte);
        if byte == 0xFF {
            jpeg.push(0x00);
        }
    }
    jpeg.extend([0xFF, 0xD9]);
    jpeg
}

pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG whose header claims `width × height` RGB8 but holds no real pixel data.
pub fn png_header_bomb(width: u32, height: u32) -> Vec<u8> {
    let chunk = |out: &mut Vec<u8>, kind: &[u8; 4], body: &[u8]| {
        out.extend(u32::try_from(body.len()).unwrap().to_be_bytes());
        let typed: Vec<u8> = kind.iter().chain(body).copied().collect();
        out.extend(&typed);
        out.extend(crc32(&typed).to_be_bytes());
    };
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let ihdr: Vec<u8> = [width.to_be_bytes(), height.to_be_bytes()].concat();
    chunk(
        &mut png,
        b"IHDR",
        &[ihdr.as_slice(), &[8, 2, 0, 0, 0]].concat(),
    );
    chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut png, b"IEND", &[]);
    png
}

/// Deterministic test data (no `Tensor::random`): a 64-bit LCG (Knuth's MMIX constants); the
/// top 24 bits give uniform f32 in [-1, 1).
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x2545_F491_4F6C_DD1D)
    }

    pub fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    pub fn values(&mut self, len: usize, scale: f32) -> Vec<f32> {
        (0..len).map(|_| self.next() * scale).collect()
    }
}

/// A `[d0, d1, d2, d3]` tensor of `values` on `device`.
pub fn tensor4(values: &[f32], shape: [usize; 4], device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(values.to_vec(), shape), device)
}

/// A 1-D tensor of `values` on `device`.
pub fn tensor1(values: &[f32], device: &Device) -> Tensor<1> {
    Tensor::from_data(TensorData::new(values.to_vec(), [values.len()]), device)
}

/// The values of a float tensor (flex: f32).
pub fn read<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .try_to_vec::<f32>()
        .expect("flex float tensors are f32")
}
