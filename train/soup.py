"""Average two exported weight files of the same generator (a "model soup"; dev tool, numpy):
   python3 train/soup.py [--grow] A.safetensors B.safetensors OUT.safetensors W
OUT = (1 - W) * A + W * B for every tensor; its metadata is B's, with `notes` saying what was
averaged and `trained_steps` the larger of the two. Both files must hold the same tensors.
With --grow, A may be a shallower generator that B was grown from (`Generator::deepened`): A is
first grown the same way, each residual block B has and A lacks becoming an identity block —
B's conv1 and attention, a zero conv2 (`ResBlock::identity`) — so the average keeps B's added
blocks at W times their strength."""
import json, os, struct, sys

import numpy as np


def load(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n :]
    tensors = {}
    for name, info in header.items():
        if info["dtype"] != "F32":
            sys.exit(f"{path}: {name} is {info['dtype']}, only F32 files are averaged")
        start, end = info["data_offsets"]
        tensors[name] = np.frombuffer(data[start:end], dtype="<f4").reshape(info["shape"])
    return tensors, meta


def save(path, tensors, meta):
    header, offset, chunks = {"__metadata__": meta}, 0, []
    for name in sorted(tensors):
        blob = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {
            "dtype": "F32",
            "shape": list(tensors[name].shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        offset += len(blob)
        chunks.append(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))
    os.replace(path + ".tmp", path)


args = sys.argv[1:]
grow = "--grow" in args
if grow:
    args.remove("--grow")
a, meta_a = load(args[0])
b, meta_b = load(args[1])
w = float(args[3])
if grow:
    added = set(b) - set(a)
    if set(a) - set(b) or not all(".blocks." in k for k in added):
        sys.exit("--grow: B must hold every tensor of A plus residual blocks only")
    for k in added:
        a[k] = np.zeros_like(b[k]) if ".conv2." in k else b[k]
    meta_a = dict(meta_a, generator_config=meta_b.get("generator_config"))
if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
    sys.exit("the two files hold different tensors")
if meta_a.get("generator_config") != meta_b.get("generator_config"):
    sys.exit("the two files are different generators")
meta = dict(meta_b)
meta["trained_steps"] = str(max(int(meta_a["trained_steps"]), int(meta_b["trained_steps"])))
meta["notes"] = (
    f"average of two runs' weights, {1 - w:g} x [{meta_a.get('notes', '')}] + "
    f"{w:g} x [{meta_b.get('notes', '')}]"
)
save(args[2], {k: (1 - w) * a[k] + w * b[k] for k in a}, meta)
print(f"wrote {args[2]}")
