#!/usr/bin/env python3
"""PyTorch (and ONNX Runtime) peer of face-deblur's DFPGnet generator: parity and speed.

Builds the generator of ``src/model/generator.rs`` / ``src/model/blocks.rs`` in PyTorch, loads
OUR safetensors weights into it (tensor names are Burn module paths and match the PyTorch
``state_dict`` keys after the ``generator.`` prefix; conv weights are OIHW in both; Burn's
ConvTranspose2d weight is ``[in, out/groups, k, k]`` like PyTorch's), checks that its output
matches Burn's on the same float input, then times Burn (``examples/dump_restore.rs`` on the
flex CPU backend), PyTorch eager and ONNX Runtime on one 128² face with 2 threads each.

Run through ``bench/compare.sh`` (sets up ``bench/.venv`` and builds the example). The last
line printed is ``restore 128px: ours X ms, pytorch Y ms, ratio X/Y``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "target" / "release" / "examples" / "dump_restore"
FACE = ROOT / "assets" / "faces" / "gfpgan_adele.jpg"
SHIPPED = ROOT / "weights" / "dfpgnet-compact.safetensors"

LEAKY_SLOPE = 0.2  # blocks.rs LEAKY_SLOPE
SFT_SLOPE = 0.1  # Sft::params
ATANH_LIMIT = 0.999  # generator.rs ATANH_LIMIT
THREADS = 2

# Parity tolerance on outputs in [-1, 1] (float32, different summation orders).
TOLERANCE_MAX_ABS = 1e-4


# --------------------------------------------------------------------------------------------
# The architecture (mirrors src/model/blocks.rs and src/model/generator.rs; attribute names are
# the Burn field names so that state_dict keys equal the Burn module paths).


def conv3x3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


def conv1x1(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 1)


def conv_down(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 4, stride=2, padding=1)


class ChannelAttention(nn.Module):
    """Squeeze-excitation: avg pool → 1×1 C→C/r → ReLU → 1×1 C/r→C → sigmoid."""

    def __init__(self, channels: int, reduction: int):
        super().__init__()
        hidden = max(channels // max(reduction, 1), 1)
        self.squeeze = conv1x1(channels, hidden)
        self.excite = conv1x1(hidden, channels)

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.mean(dim=(2, 3), keepdim=True)
        return torch.sigmoid(self.excite(F.relu(self.squeeze(pooled))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weights(x)


class ResBlock(nn.Module):
    """conv3×3 → LeakyReLU(0.2) → conv3×3 → SE → + input."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = conv3x3(channels, channels)
        self.conv2 = conv3x3(channels, channels)
        self.attention = ChannelAttention(channels, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.leaky_relu(self.conv1(x), LEAKY_SLOPE)
        y = self.conv2(y)
        return self.attention(y) + x


class ResGroup(nn.Module):
    """Blocks → 3×3 tail conv, with an outer skip."""

    def __init__(self, channels: int, blocks: int):
        super().__init__()
        self.blocks = nn.ModuleList(ResBlock(channels) for _ in range(blocks))
        self.tail = conv3x3(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for block in self.blocks:
            y = block(y)
        return self.tail(y) + x


class Sft(nn.Module):
    """α ⊗ D + β with α = 1 + conv1×1(lrelu0.1(conv3×3(cond))), β likewise without the 1."""

    def __init__(self, cond: int, feat: int, hidden: int):
        super().__init__()
        self.scale0 = conv3x3(cond, hidden)
        self.scale1 = conv1x1(hidden, feat)
        self.shift0 = conv3x3(cond, hidden)
        self.shift1 = conv1x1(hidden, feat)

    def forward(self, features: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        scale = self.scale1(F.leaky_relu(self.scale0(condition), SFT_SLOPE)) + 1.0
        shift = self.shift1(F.leaky_relu(self.shift0(condition), SFT_SLOPE))
        return features * scale + shift


class PriorFusion(nn.Module):
    """SFT (or, in ablation B3, a 1×1-conv addition) of P̂_i into D_i."""

    def __init__(self, prior: int, channels: int, feature_transforms: bool):
        super().__init__()
        if feature_transforms:
            self.sft = Sft(prior, channels, channels)
        else:
            self.add = conv1x1(prior, channels)

    def forward(self, d: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "sft"):
            return self.sft(d, p)
        return d + self.add(p)


class PriorBranch(nn.Module):
    """SSFT → residual group → (3×3 conv to the teacher's channels)."""

    def __init__(self, c: int, p: int, blocks: int, feature_transforms: bool):
        super().__init__()
        if feature_transforms:
            self.ssft = Sft(c, c, c)
        self.group = ResGroup(c, blocks)
        if c != p:
            self.out = conv3x3(c, p)

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        x = self.ssft(e, e) if hasattr(self, "ssft") else e
        x = self.group(x)
        return self.out(x) if hasattr(self, "out") else x


class PriorStream(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        self.branches = nn.ModuleList(
            PriorBranch(c, p, cfg["prior_blocks"], cfg["feature_transforms"])
            for c, p in zip(cfg["channels"], cfg["prior_channels"])
        )


class Generator(nn.Module):
    """The DFPGnet generator; ``cfg`` is the JSON ``generator_config`` of the weight file."""

    def __init__(self, cfg: dict):
        super().__init__()
        c1, c2, c3 = cfg["channels"]
        cs, ps = cfg["channels"], cfg["prior_channels"]
        eb, mb, db = cfg["encoder_blocks"], cfg["middle_blocks"], cfg["decoder_blocks"]
        self.has_prior = cfg.get("prior_stream", True)
        ft = cfg.get("feature_transforms", True)
        self.head = conv3x3(3, c1)
        self.enc1 = ResGroup(c1, eb)
        self.down1 = conv_down(c1, c2)
        self.enc2 = ResGroup(c2, eb)
        self.down2 = conv_down(c2, c3)
        self.enc3 = ResGroup(c3, eb)
        self.middle = ResGroup(c3, mb)
        if self.has_prior:
            self.prior = PriorStream({**cfg, "feature_transforms": ft})
            self.fuse3 = PriorFusion(ps[2], cs[2], ft)
            self.fuse2 = PriorFusion(ps[1], cs[1], ft)
            self.fuse1 = PriorFusion(ps[0], cs[0], ft)
        self.dec3 = ResGroup(c3, db)
        self.up2 = nn.ConvTranspose2d(c3, c2, 4, stride=2, padding=1)
        self.dec2 = ResGroup(c2, db)
        self.up1 = nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1)
        self.dec1 = ResGroup(c1, db)
        self.to_rgb = conv1x1(c1, 3)

    def forward(self, blurred: torch.Tensor) -> torch.Tensor:
        e0 = self.head(blurred)
        e1 = self.enc1(e0)
        e2 = self.enc2(F.leaky_relu(self.down1(e1), LEAKY_SLOPE))
        e3 = self.enc3(F.leaky_relu(self.down2(e2), LEAKY_SLOPE))
        e4 = self.middle(e3)
        if self.has_prior:
            p1, p2, p3 = (b(e) for b, e in zip(self.prior.branches, (e1, e2, e3)))
            d = self.fuse3(e4, p3)
        else:
            d = e4
        d = self.dec3(d)
        d = F.leaky_relu(self.up2(d), LEAKY_SLOPE)
        if self.has_prior:
            d = self.fuse2(d, p2)
        d = self.dec2(d)
        d = F.leaky_relu(self.up1(d), LEAKY_SLOPE)
        if self.has_prior:
            d = self.fuse1(d, p1)
        d0 = self.dec1(d) + e0
        residual = self.to_rgb(d0)
        x = blurred.clamp(-ATANH_LIMIT, ATANH_LIMIT)
        atanh_x = 0.5 * torch.log((x + 1.0) / (1.0 - x))
        return torch.tanh(residual + atanh_x)


# --------------------------------------------------------------------------------------------
# Weights


def read_safetensors(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Minimal safetensors reader (float32 only): tensors and metadata."""
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__", {}) or {}
    body = memoryview(data)[8 + n :]
    tensors = {}
    for name, t in header.items():
        if t["dtype"] != "F32":
            raise SystemExit(f"{path}: {name} is {t['dtype']}, expected F32")
        a, b = t["data_offsets"]
        tensors[name] = np.frombuffer(body[a:b], dtype="<f4").reshape(t["shape"]).copy()
    return tensors, meta


def load_generator(path: Path) -> tuple[Generator, dict]:
    tensors, meta = read_safetensors(path)
    cfg = json.loads(meta["generator_config"])
    model = Generator(cfg).eval()
    state = {
        k.removeprefix("generator."): torch.from_numpy(v)
        for k, v in tensors.items()
        if k.startswith("generator.")
    }
    expected = model.state_dict()
    for k, v in state.items():
        if k in expected and tuple(expected[k].shape) != tuple(v.shape):
            raise SystemExit(f"{k}: ours {tuple(v.shape)}, PyTorch {tuple(expected[k].shape)}")
    model.load_state_dict(state, strict=True)  # fails on any missing or unexpected tensor
    return model, cfg


# --------------------------------------------------------------------------------------------
# Running Burn (examples/dump_restore.rs)


def burn_env() -> dict:
    return {**os.environ, "RAYON_NUM_THREADS": str(THREADS)}


def run_burn(args: list[str]) -> str:
    out = subprocess.run(
        [str(EXAMPLE), *args], env=burn_env(), capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"{EXAMPLE.name} {' '.join(args)} failed:\n{out.stdout}{out.stderr}")
    return out.stdout


def read_f32(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    return np.fromfile(path, dtype="<f4").reshape(shape)


def burn_time(weights: Path, input_f32: Path, shape: tuple[int, ...], runs: int) -> dict:
    """Burn's forward pass timed by the example: its fields (`median`, `min` in ms, `macs` =
    GeneratorConfig::macs × batch, ...)."""
    line = run_burn(
        [
            "--weights", str(weights),
            "--input", str(input_f32),
            "--shape", ",".join(map(str, shape)),
            "--time", str(runs),
        ]
    ).strip().splitlines()[-1]
    return dict(kv.split("=", 1) for kv in line.split()[1:])


def burn_train_time(weights: Path, shape: tuple[int, ...], runs: int) -> float:
    """Median ms of one generator training step in Burn (examples/dump_restore.rs)."""
    line = run_burn(
        ["--weights", str(weights), "--train-step", str(runs),
         "--shape", ",".join(map(str, shape))]
    ).strip().splitlines()[-1]
    return float(dict(kv.split("=", 1) for kv in line.split()[1:])["median"])


def torch_train_time(model: nn.Module, shape: tuple[int, ...], runs: int) -> float:
    """Median ms of the same step in PyTorch: forward, L1, backward, Adam (lr 1e-4)."""
    model = copy.deepcopy(model).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(shape, generator=gen) * 2 - 1
    target = torch.rand(shape, generator=gen) * 2 - 1

    def step():
        opt.zero_grad(set_to_none=True)
        loss = (model(x) - target).abs().mean()
        loss.backward()
        opt.step()
        loss.item()

    return statistics.median(time_calls(step, runs))


# --------------------------------------------------------------------------------------------
# Timing


def time_calls(fn, runs: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def onnx_session(model: Generator, x: torch.Tensor, tmp: Path):
    """Export to ONNX and open an ONNX Runtime CPU session (None, with a reason, if not possible)."""
    try:
        import onnxruntime as ort
    except ImportError as e:
        return None, f"onnxruntime not installed ({e})"
    path = tmp / "generator.onnx"
    try:
        with warnings.catch_warnings():  # the TorchScript exporter is deprecated, not gone
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model, (x,), str(path), input_names=["blurred"], output_names=["image"],
                opset_version=17, dynamo=False,
            )
    except Exception as e:  # noqa: BLE001 - report and carry on without ORT
        return None, f"ONNX export failed: {e}"
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = THREADS
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return session, f"onnxruntime {ort.__version__}"


def summary(name: str, times: list[float]) -> str:
    return (
        f"{name:<14} median {statistics.median(times):8.2f} ms  min {min(times):8.2f} ms  "
        f"(over {len(times)} rounds)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", type=Path, default=SHIPPED,
                    help="weight file (default: the shipped compact weights)")
    ap.add_argument("--random", choices=["compact", "paper"],
                    help="use random weights of this configuration instead of --weights")
    ap.add_argument("--runs", type=int, default=20, help="timed runs per engine per round")
    ap.add_argument("--rounds", type=int, default=3,
                    help="alternating Burn/PyTorch/ORT rounds (evens out background load)")
    ap.add_argument("--size", type=int, default=128, help="face side in pixels")
    ap.add_argument("--no-onnx", action="store_true", help="skip ONNX Runtime")
    args = ap.parse_args()

    if not EXAMPLE.exists():
        raise SystemExit(f"{EXAMPLE} is missing: cargo build --release --example dump_restore")
    torch.set_num_threads(THREADS)
    torch.set_num_interop_threads(1)
    with tempfile.TemporaryDirectory(prefix="face-deblur-compare-") as tmp:
        compare(args, Path(tmp))


def compare(args: argparse.Namespace, tmp: Path) -> None:
    if args.random:
        weights = tmp / f"random-{args.random}.safetensors"
        run_burn(["--random", args.random, "--save", str(weights)])
        source = f"random {args.random} weights"
    else:
        # A private copy: the file may be replaced (e.g. by training) while this runs.
        weights = tmp / "weights.safetensors"
        shutil.copyfile(args.weights, weights)
        source = str(args.weights)
    model, cfg = load_generator(weights)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"weights: {source} ({n_params / 1e6:.2f} M generator parameters)")
    print(f"config: {json.dumps(cfg)}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"Burn flex with RAYON_NUM_THREADS={THREADS}")

    # --- Parity: a real face (as Restorer::restore feeds it) and a random non-square batch.
    s = args.size
    face_in, face_out = tmp / "face_in.f32", tmp / "face_out.f32"
    run_burn(["--weights", str(weights), "--image", str(FACE), "--size", str(s),
              "--dump-input", str(face_in), "--output", str(face_out)])
    rng = np.random.default_rng(5)
    rand_shape = (2, 3, 96, 64)
    rand_in, rand_out = tmp / "rand_in.f32", tmp / "rand_out.f32"
    rng.uniform(-1.0, 1.0, size=rand_shape).astype("<f4").tofile(rand_in)
    run_burn(["--weights", str(weights), "--input", str(rand_in),
              "--shape", ",".join(map(str, rand_shape)), "--output", str(rand_out)])
    worst = 0.0
    cases = [("face", face_in, face_out, (1, 3, s, s)), ("random", rand_in, rand_out, rand_shape)]
    for name, fin, fout, shape in cases:
        x = torch.from_numpy(read_f32(fin, shape))
        ours = read_f32(fout, shape)
        with torch.inference_mode():
            theirs = model(x).numpy()
        diff = np.abs(ours - theirs)
        worst = max(worst, float(diff.max()))
        print(f"parity {name} {shape}: max |burn - torch| = {diff.max():.3g}, "
              f"mean = {diff.mean():.3g}, max |output - input| = {np.abs(ours - x.numpy()).max():.3g}")
    if worst > TOLERANCE_MAX_ABS:
        raise SystemExit(f"PARITY FAILED: max abs difference {worst:.3g} > {TOLERANCE_MAX_ABS}")
    print(f"parity OK: max abs difference {worst:.3g} <= {TOLERANCE_MAX_ABS}")

    # --- Speed: one face, batch 1, alternating engines.
    x = torch.from_numpy(read_f32(face_in, (1, 3, s, s)))
    session, ort_note = (None, "skipped (--no-onnx)") if args.no_onnx else onnx_session(model, x, tmp)
    if session is not None:
        ort_out = session.run(None, {"blurred": x.numpy()})[0]
        with torch.inference_mode():
            ort_diff = float(np.abs(ort_out - model(x).numpy()).max())
        print(f"{ort_note}: max |ort - torch| = {ort_diff:.3g}")
    else:
        print(f"ONNX Runtime: {ort_note}")

    def torch_call():
        with torch.inference_mode():
            model(x)

    times: dict[str, list[float]] = {"burn (flex)": [], "pytorch eager": [], "onnxruntime": []}
    lib_macs = 0
    for r in range(args.rounds):
        burn = burn_time(weights, face_in, (1, 3, s, s), args.runs)
        lib_macs = int(burn["macs"])
        times["burn (flex)"].append(float(burn["median"]))
        times["pytorch eager"] += [statistics.median(time_calls(torch_call, args.runs))]
        if session is not None:
            feed = {"blurred": x.numpy()}
            times["onnxruntime"] += [
                statistics.median(time_calls(lambda: session.run(None, feed), args.runs))
            ]
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(
            f"{k} {v[-1]:.2f} ms" for k, v in times.items() if v))

    macs = model_macs(cfg, s, s)
    print(f"{2 * macs / 1e9:.2f} GFLOP per {s}² face, counted from the layers run "
          f"(GeneratorConfig::macs gives {2 * lib_macs / 1e9:.2f}); medians over rounds "
          f"(each round: median of {args.runs} runs):")
    for name, t in times.items():
        if t:
            med = statistics.median(t)
            print(f"  {summary(name, t)}  {2 * macs / med / 1e6:6.1f} GFLOP/s")
    # --- Training: the generator's L1 step, batch 8 at 64², alternating engines per round.
    train_shape = (8, 3, 64, 64)
    train_runs = max(3, args.runs // 4)
    train: dict[str, list[float]] = {"burn (flex)": [], "pytorch eager": []}
    for r in range(args.rounds):
        train["burn (flex)"].append(burn_train_time(weights, train_shape, train_runs))
        train["pytorch eager"].append(torch_train_time(model, train_shape, train_runs))
        print(f"train round {r + 1}/{args.rounds}: " + ", ".join(
            f"{k} {v[-1]:.1f} ms" for k, v in train.items()))
    t_ours = statistics.median(train["burn (flex)"])
    t_theirs = statistics.median(train["pytorch eager"])
    print(f"train step (generator, L1, batch 8 at 64²): ours {t_ours:.1f} ms, "
          f"pytorch {t_theirs:.1f} ms, ratio {t_ours / t_theirs:.2f}")

    ours = statistics.median(times["burn (flex)"])
    theirs = statistics.median(times["pytorch eager"])
    print(f"restore {s}px: ours {ours:.2f} ms, pytorch {theirs:.2f} ms, ratio {ours / theirs:.2f}")


def model_macs(cfg: dict, h: int, w: int) -> int:
    """Conv MACs of one forward pass, counted from the layers actually run (squeeze-excitation
    1×1 convs on pooled features included; they are negligible)."""
    model = Generator(cfg)
    total = 0

    def hook(mod, inp, out):
        nonlocal total
        if isinstance(mod, nn.ConvTranspose2d):
            # Each input pixel meets every kernel tap: in × out × k² MACs per input pixel.
            _, cin, ih, iw = inp[0].shape
            total += cin * mod.out_channels * mod.kernel_size[0] * mod.kernel_size[1] * ih * iw
        else:
            _, cout, oh, ow = out.shape
            total += mod.in_channels * cout * mod.kernel_size[0] * mod.kernel_size[1] * oh * ow

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    with torch.inference_mode():
        model(torch.zeros(1, 3, h, w))
    for hnd in handles:
        hnd.remove()
    return total


if __name__ == "__main__":
    sys.exit(main())
