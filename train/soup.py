"""Average two exported weight files of the same generator (a "model soup"; dev tool, numpy):
   python3 train/soup.py A.safetensors B.safetensors OUT.safetensors W
OUT = (1 - W) * A + W * B for every tensor; its metadata is B's, with `notes` saying what was
averaged and `trained_steps` the larger of the two. Both files must hold the same tensors."""
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


a, meta_a = load(sys.argv[1])
b, meta_b = load(sys.argv[2])
w = float(sys.argv[4])
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
save(sys.argv[3], {k: (1 - w) * a[k] + w * b[k] for k in a}, meta)
print(f"wrote {sys.argv[3]}")
