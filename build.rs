//! Build script: checks the weight files the binary embeds and exports their provenance, and
//! tells the tests what the build environment offers.
//!
//! 1. **Embedded weights.** `weights/dfpgnet-compact.safetensors` (the shipped generator) and
//!    `weights/faceapi_face_recognition_resnet.f16.safetensors` (the identity / teacher net) are
//!    compiled into the binary with `include_bytes!`. A truncated file, a Git LFS pointer, a
//!    file of another kind or with other shapes, or an untrained generator fails the build here
//!    with a message naming the file, instead of the first run. Their size, SHA-256 and (for the
//!    generator) training steps, teacher and notes become `FACE_DEBLUR_*` compile-time
//!    environment variables, read by `face_deblur::weights::provenance` (`face-deblur --version`).
//! 2. **Test gates.** `cfg(shared_data)` is set when `FACE_DEBLUR_SHARED` names the research
//!    folder (`../shared`: datasets, other teacher nets; not in the repository) and
//!    `cfg(display)` when `DISPLAY` is set; tests that need them are `ignore`d with the reason
//!    otherwise. Changing either variable re-runs this script (and rebuilds the crate).
//!    `cfg(user_namespaces)` is set when `unshare -Urm true` works here: the disk-full and
//!    read-only tests mount a tiny tmpfs in a private mount namespace.
//!
//! Only `serde_json` (already in the dependency tree) is used, so the script builds in seconds.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

const GENERATOR: &str = "weights/dfpgnet-compact.safetensors";
const FACE_RESNET: &str = "weights/faceapi_face_recognition_resnet.f16.safetensors";

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    gates();
    let generator = Checked::read(GENERATOR);
    check_generator(&generator);
    let resnet = Checked::read(FACE_RESNET);
    check_face_resnet(&resnet);
    export("GENERATOR", &generator);
    export("FACE_RESNET", &resnet);
}

/// `cfg(shared_data)` and `cfg(display)` for the tests.
fn gates() {
    println!("cargo::rustc-check-cfg=cfg(shared_data)");
    println!("cargo::rustc-check-cfg=cfg(display)");
    println!("cargo::rustc-check-cfg=cfg(user_namespaces)");
    println!("cargo::rerun-if-env-changed=FACE_DEBLUR_SHARED");
    println!("cargo::rerun-if-env-changed=DISPLAY");
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if set("FACE_DEBLUR_SHARED") {
        println!("cargo::rustc-cfg=shared_data");
    }
    // The app is built with eframe's x11 feature only, so DISPLAY is what it needs.
    if set("DISPLAY") {
        println!("cargo::rustc-cfg=display");
    }
    let unshare = std::process::Command::new("unshare")
        .args(["-Urm", "true"])
        .stderr(std::process::Stdio::null())
        .status();
    if unshare.is_ok_and(|s| s.success()) {
        println!("cargo::rustc-cfg=user_namespaces");
    }
}

/// Stop the build with `message` about `path`.
fn fail(path: &str, message: impl std::fmt::Display) -> ! {
    println!("cargo::error=embedded weight file {path}: {message}");
    std::process::exit(1)
}

/// A safetensors file whose header and data layout were validated.
struct Checked {
    path: &'static str,
    bytes: usize,
    sha256: String,
    /// Tensor name → (dtype, shape).
    tensors: BTreeMap<String, (String, Vec<usize>)>,
    metadata: BTreeMap<String, String>,
}

impl Checked {
    fn read(path: &'static str) -> Self {
        println!("cargo::rerun-if-changed={path}");
        let full = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join(path);
        let bytes =
            std::fs::read(&full).unwrap_or_else(|e| fail(path, format!("cannot read: {e}")));
        if bytes.starts_with(b"version https://git-lfs") {
            fail(
                path,
                format!(
                    "is a Git LFS pointer ({} bytes), not the weights: run `git lfs pull`",
                    bytes.len()
                ),
            );
        }
        let (tensors, metadata) = parse(&bytes).unwrap_or_else(|e| {
            fail(
                path,
                format!(
                    "is not a valid safetensors file ({} bytes): {e}",
                    bytes.len()
                ),
            )
        });
        Self {
            path,
            bytes: bytes.len(),
            sha256: sha256_hex(&bytes),
            tensors,
            metadata,
        }
    }

    fn meta(&self, key: &str) -> &str {
        self.metadata
            .get(key)
            .unwrap_or_else(|| fail(self.path, format!("metadata key `{key}` is missing")))
    }

    /// The tensor `name` must exist with `shape`.
    fn expect(&self, name: &str, shape: &[usize]) {
        match self.tensors.get(name) {
            None => fail(self.path, format!("tensor `{name}` is missing")),
            Some((_, s)) if s != shape => fail(
                self.path,
                format!("tensor `{name}` has shape {s:?}, expected {shape:?}"),
            ),
            Some(_) => {}
        }
    }
}

type Header = (
    BTreeMap<String, (String, Vec<usize>)>,
    BTreeMap<String, String>,
);

/// Parse and validate a safetensors file: header length, JSON, dtypes, and that the tensors
/// tile the data region exactly (so a truncated or padded file is caught).
fn parse(bytes: &[u8]) -> Result<Header, String> {
    let len_bytes: [u8; 8] = bytes
        .get(..8)
        .ok_or("shorter than the 8-byte header length")?
        .try_into()
        .unwrap();
    let n = u64::from_le_bytes(len_bytes) as usize;
    let header = bytes
        .get(8..8usize.saturating_add(n))
        .ok_or(format!("header length {n} runs past the end of the file"))?;
    let json: Value =
        serde_json::from_slice(header).map_err(|e| format!("header is not JSON: {e}"))?;
    let object = json.as_object().ok_or("header is not a JSON object")?;
    let data_len = bytes.len() - 8 - n;
    let mut tensors = BTreeMap::new();
    let mut metadata = BTreeMap::new();
    let mut ranges = Vec::new();
    for (name, entry) in object {
        if name == "__metadata__" {
            for (k, v) in entry.as_object().ok_or("__metadata__ is not an object")? {
                let v = v
                    .as_str()
                    .ok_or(format!("metadata `{k}` is not a string"))?;
                metadata.insert(k.clone(), v.to_string());
            }
            continue;
        }
        let bad = |what: &str| format!("tensor `{name}`: {what}");
        let dtype = entry["dtype"].as_str().ok_or_else(|| bad("no dtype"))?;
        let size = match dtype {
            "F64" | "I64" | "U64" => 8,
            "F32" | "I32" | "U32" => 4,
            "F16" | "BF16" | "I16" | "U16" => 2,
            "I8" | "U8" | "BOOL" => 1,
            other => return Err(bad(&format!("unknown dtype {other}"))),
        };
        let shape: Vec<usize> = entry["shape"]
            .as_array()
            .ok_or_else(|| bad("no shape"))?
            .iter()
            .map(|d| d.as_u64().map(|d| d as usize))
            .collect::<Option<_>>()
            .ok_or_else(|| bad("shape is not a list of sizes"))?;
        let offsets: Vec<usize> = entry["data_offsets"]
            .as_array()
            .filter(|o| o.len() == 2)
            .and_then(|o| o.iter().map(|v| v.as_u64().map(|v| v as usize)).collect())
            .ok_or_else(|| bad("data_offsets is not [begin, end]"))?;
        let (begin, end) = (offsets[0], offsets[1]);
        if end < begin || end - begin != shape.iter().product::<usize>() * size {
            return Err(bad(&format!(
                "data_offsets [{begin}, {end}] do not hold a {dtype} tensor of shape {shape:?}"
            )));
        }
        ranges.push((begin, end, name.clone()));
        tensors.insert(name.clone(), (dtype.to_string(), shape));
    }
    ranges.sort();
    let mut at = 0;
    for (begin, end, name) in &ranges {
        if *begin != at {
            return Err(format!(
                "tensor `{name}` starts at byte {begin} of the data, expected {at} (overlap or gap)"
            ));
        }
        at = *end;
    }
    if at != data_len {
        return Err(format!(
            "the tensors need {at} bytes of data, the file has {data_len} (truncated or padded)"
        ));
    }
    Ok((tensors, metadata))
}

/// The shipped generator: a trained `face-deblur/dfpgnet-v1` file whose main tensors have the
/// shapes its configuration implies (the full check against the network is `tests/shipped.rs`
/// and `tests/weights.rs`).
fn check_generator(file: &Checked) {
    let format = file.meta("format");
    if format != "face-deblur/dfpgnet-v1" {
        fail(
            file.path,
            format!("format is `{format}`, expected `face-deblur/dfpgnet-v1`"),
        );
    }
    let config: Value = serde_json::from_str(file.meta("generator_config"))
        .unwrap_or_else(|e| fail(file.path, format!("generator_config is not JSON: {e}")));
    let triple = |key: &str| -> [usize; 3] {
        config[key]
            .as_array()
            .and_then(|a| {
                a.iter()
                    .map(|v| v.as_u64().map(|v| v as usize))
                    .collect::<Option<Vec<_>>>()
            })
            .and_then(|v| v.try_into().ok())
            .unwrap_or_else(|| fail(file.path, format!("generator_config.{key} is not 3 sizes")))
    };
    let [c1, c2, c3] = triple("channels");
    let p = triple("prior_channels");
    let teacher = file.meta("teacher");
    if !["face_resnet", "vgg16"].contains(&teacher) {
        fail(file.path, format!("unknown teacher `{teacher}`"));
    }
    let steps: u64 = file
        .meta("trained_steps")
        .parse()
        .unwrap_or_else(|e| fail(file.path, format!("trained_steps: {e}")));
    if steps == 0 {
        fail(
            file.path,
            "is untrained (trained_steps = 0); the app and the CLI refuse it",
        );
    }
    file.expect("generator.head.weight", &[c1, 3, 3, 3]);
    file.expect("generator.down1.weight", &[c2, c1, 4, 4]);
    file.expect("generator.down2.weight", &[c3, c2, 4, 4]);
    file.expect("generator.to_rgb.weight", &[3, c1, 1, 1]);
    if config["prior_stream"].as_bool() != Some(false) {
        for (i, c) in [c1, c2, c3].into_iter().enumerate() {
            file.expect(
                &format!("generator.prior.branches.{i}.out.weight"),
                &[p[i], c, 3, 3],
            );
        }
    }
    if file.tensors.keys().any(|k| k.starts_with("attention.")) {
        for (i, c) in p.into_iter().enumerate() {
            file.expect(&format!("attention.{i}.excite.bias"), &[c]);
        }
    }
}

/// dlib's face-recognition ResNet as converted by face-api.js: exactly these tensors
/// (`weights/README.md`; the loader is `src/model/teacher/face_resnet.rs`).
fn check_face_resnet(file: &Checked) {
    let mut expected: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut conv = |prefix: &str, cout: usize, cin: usize, k: usize| {
        expected.insert(format!("{prefix}.conv.weight"), vec![cout, cin, k, k]);
        for t in ["conv.bias", "scale.weight", "scale.bias"] {
            expected.insert(format!("{prefix}.{t}"), vec![cout]);
        }
    };
    conv("conv32_down", 32, 3, 7);
    let blocks = [
        ("conv32_1", 32, 32),
        ("conv32_2", 32, 32),
        ("conv32_3", 32, 32),
        ("conv64_down", 32, 64),
        ("conv64_1", 64, 64),
        ("conv64_2", 64, 64),
        ("conv64_3", 64, 64),
        ("conv128_down", 64, 128),
        ("conv128_1", 128, 128),
        ("conv128_2", 128, 128),
        ("conv256_down", 128, 256),
        ("conv256_1", 256, 256),
        ("conv256_2", 256, 256),
        ("conv256_down_out", 256, 256),
    ];
    for (name, cin, cout) in blocks {
        conv(&format!("{name}.conv1"), cout, cin, 3);
        conv(&format!("{name}.conv2"), cout, cout, 3);
    }
    expected.insert("fc.weight".into(), vec![128, 256]);
    for (name, shape) in &expected {
        file.expect(name, shape);
    }
    let unexpected: Vec<&String> = file
        .tensors
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .collect();
    if !unexpected.is_empty() {
        fail(file.path, format!("unexpected tensors {unexpected:?}"));
    }
    for (name, (dtype, _)) in &file.tensors {
        if dtype != "F16" && dtype != "F32" {
            fail(
                file.path,
                format!("tensor `{name}` is {dtype}; the loader reads F16 and F32"),
            );
        }
    }
}

/// `FACE_DEBLUR_{what}_{BYTES,SHA256,...}` for `env!` in `src/weights.rs`.
fn export(what: &str, file: &Checked) {
    println!("cargo::rustc-env=FACE_DEBLUR_{what}_FILE={}", file.path);
    println!("cargo::rustc-env=FACE_DEBLUR_{what}_BYTES={}", file.bytes);
    println!("cargo::rustc-env=FACE_DEBLUR_{what}_SHA256={}", file.sha256);
    for key in ["trained_steps", "teacher", "notes"] {
        if let Some(v) = file.metadata.get(key) {
            let v = v.replace(['\n', '\r'], " ");
            println!(
                "cargo::rustc-env=FACE_DEBLUR_{what}_{}={v}",
                key.to_uppercase()
            );
        }
    }
}

/// SHA-256 (FIPS 180-4) of `data`, lowercase hex; as `sha256sum` prints it.
fn sha256_hex(data: &[u8]) -> String {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut tail = data[data.len() / 64 * 64..].to_vec();
    tail.push(0x80);
    while tail.len() % 64 != 56 {
        tail.push(0);
    }
    tail.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    let blocks = data[..data.len() / 64 * 64]
        .chunks_exact(64)
        .chain(tail.chunks_exact(64));
    let mut w = [0u32; 64];
    for block in blocks {
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}
