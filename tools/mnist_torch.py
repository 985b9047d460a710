#!/usr/bin/python3
"""mnist_torch.py: mnist.c model files in PyTorch, to show they are plain state_dicts.

    /usr/bin/python3 tools/mnist_torch.py eval MODEL.safetensors [--data DIR]
        rebuilds the network from the file's spec, loads its tensors with load_state_dict
        (strict), and prints the test accuracy PyTorch computes.
    /usr/bin/python3 tools/mnist_torch.py roundtrip IN.safetensors OUT.safetensors
        loads into PyTorch and writes the state_dict back with the same metadata.

Batch normalisation (`bn` in a spec) is nn.BatchNorm2d after convolutions and pooling, and
nn.BatchNorm1d after a dense layer or flatten, named bn1, bn2, ... (a lone one: bn). mnist.c
files hold no num_batches_tracked (an int64 that momentum 0.1 never reads): loading sets it to
0, writing leaves it out. A file's `preprocess` metadata (deskew or width:N, mnist train
--preprocess) is applied to the pixels before normalisation, as src/preprocess.c does.

Needs only torch (Debian: python3-torch); the .safetensors format is read with struct + json.
"""
import argparse, gzip, json, os, struct, sys

import torch
import torch.nn as nn
import torch.nn.functional as F


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    tensors = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", f"{name}: dtype {info['dtype']}"
        b, e = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[b:e]), dtype=torch.float32)
        tensors[name] = t.reshape(info["shape"]).clone()
    return tensors, meta


def save_safetensors(path, tensors, meta):
    header, offset, blobs = {"__metadata__": meta}, 0, []
    for name, t in tensors.items():
        b = t.detach().contiguous().to(torch.float32).numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    os.replace(path + ".tmp", path)


class SpecNet(nn.Module):
    """The network a spec string describes, with mnist.c's tensor names (conv1, fc1, ...)."""

    def __init__(self, spec, in_shape):
        super().__init__()
        tokens = [t.split(":") for t in spec.split(",")]
        nconv = sum(t[0] == "conv" for t in tokens)
        ndense = sum(t[0] == "dense" for t in tokens)
        nbn = sum(t[0] == "bn" for t in tokens)
        c, h, w = in_shape
        self.steps, ci, di, bi, flat = [], 0, 0, 0, False
        for t in tokens:
            kind = t[0]
            if kind == "conv":
                oc, k = int(t[1]), int(t[2])
                s = int(t[3]) if len(t) > 3 else 1
                p = k // 2 if len(t) < 5 or t[4] == "same" else 0 if t[4] == "valid" else int(t[4])
                ci += 1
                name = "conv" if nconv == 1 else f"conv{ci}"
                self.add_module(name, nn.Conv2d(c, oc, k, stride=s, padding=p))
                self.steps.append(("module", name))
                c, h, w = oc, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
            elif kind == "pool":
                k = int(t[1]); s = int(t[2]) if len(t) > 2 else k
                self.steps.append(("pool", (k, s)))
                h, w = (h - k) // s + 1, (w - k) // s + 1
            elif kind == "dense":
                di += 1
                name = "fc" if ndense == 1 else f"fc{di}"
                self.steps.append(("flatten", None))
                self.add_module(name, nn.Linear(c * h * w, int(t[1])))
                self.steps.append(("module", name))
                c, h, w = int(t[1]), 1, 1
                flat = True
            elif kind == "bn":
                bi += 1
                name = "bn" if nbn == 1 else f"bn{bi}"
                self.add_module(name, nn.BatchNorm1d(c * h * w) if flat else nn.BatchNorm2d(c))
                self.steps.append(("module", name))
            elif kind == "relu":
                self.steps.append(("relu", None))
            elif kind == "dropout":
                self.steps.append(("dropout", float(t[1])))
            elif kind == "flatten":
                self.steps.append(("flatten", None))
                c, h, w, flat = c * h * w, 1, 1, True

    def forward(self, x):
        for kind, arg in self.steps:
            if kind == "module":
                x = getattr(self, arg)(x)
            elif kind == "pool":
                x = F.max_pool2d(x, arg[0], arg[1])
            elif kind == "relu":
                x = F.relu(x)
            elif kind == "dropout":
                x = F.dropout(x, arg, self.training)
            elif kind == "flatten":
                x = torch.flatten(x, 1)
        return x


def model_from_file(path):
    tensors, meta = load_safetensors(path)
    shape = json.loads(meta["input_shape"])
    net = SpecNet(meta["spec"], shape)
    for name, module in net.named_children():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            tensors.setdefault(f"{name}.num_batches_tracked", torch.tensor(0, dtype=torch.long))
    net.load_state_dict(tensors, strict=True)
    return net.eval(), meta


def bilinear(x, sy, sx):
    """x [N,H,W] sampled at float positions sy, sx [N,H,W], zero outside."""
    N, H, W = x.shape
    y0, x0 = sy.floor(), sx.floor()
    wy, wx = (sy - y0).float(), (sx - x0).float()
    y0, x0 = y0.long(), x0.long()
    n = torch.arange(N).view(N, 1, 1).expand(N, H, W)
    def at(yi, xi):
        ok = (yi >= 0) & (yi < H) & (xi >= 0) & (xi < W)
        return torch.where(ok, x[n, yi.clamp(0, H - 1), xi.clamp(0, W - 1)], torch.zeros(()))
    return (1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x0 + 1)) + \
        wy * ((1 - wx) * at(y0 + 1, x0) + wx * at(y0 + 1, x0 + 1))


def preprocess(x, name):
    """x [N,H,W] pixels 0..255: none, deskew or width:N, as src/preprocess.c."""
    if name in (None, "", "none"):
        return x
    N, H, W = x.shape
    v = x.double()
    ys = torch.arange(H, dtype=torch.float64).view(1, H, 1)
    xs = torch.arange(W, dtype=torch.float64).view(1, 1, W)
    oy, ox = (H - 1) / 2, (W - 1) / 2
    if name == "deskew":
        m = v.sum((1, 2))
        blank = ~(m > 0)
        m = torch.where(blank, torch.ones(()), m)
        cy, cx = (v * ys).sum((1, 2)) / m, (v * xs).sum((1, 2)) / m
        dy, dx = ys - cy.view(N, 1, 1), xs - cx.view(N, 1, 1)
        yy, xy = (v * dy * dy).sum((1, 2)), (v * dx * dy).sum((1, 2))
        alpha = torch.where(yy > 1e-6 * m, xy / torch.where(yy > 0, yy, torch.ones(())), torch.zeros(()))
        alpha = torch.where(alpha.abs() > 1, torch.zeros(()), alpha)
        ay, ax, scale = cy, cx, torch.ones(N, dtype=torch.float64)
    elif name.startswith("width:"):
        n = int(name[6:])
        ink = (x > 0).any(1)  # [N, W]
        blank = ~ink.any(1)
        cols = torch.arange(W).expand(N, W)
        x0 = torch.where(ink, cols, torch.full_like(cols, W)).min(1).values
        x1 = torch.where(ink, cols, torch.full_like(cols, -1)).max(1).values
        ay, ax = torch.full((N,), oy, dtype=torch.float64), (x0 + x1).double() / 2
        scale, alpha = (x1 - x0 + 1).double() / n, torch.zeros(N, dtype=torch.float64)
    else:
        sys.exit(f"mnist_torch.py: preprocessing {name!r} is not known")
    r = lambda t: t.view(N, 1, 1)
    sy = (ys - oy + r(ay)).expand(N, H, W)
    sx = r(scale) * (xs - ox) + r(alpha) * (ys - oy) + r(ax)
    out = bilinear(x.float(), sy, sx)
    return torch.where(r(blank), x.float(), out)


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    magic, = struct.unpack(">I", raw[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(raw[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("eval"); e.add_argument("model"); e.add_argument("--data", default=os.environ.get("MNIST_DATA", "data/mnist"))
    r = sub.add_parser("roundtrip"); r.add_argument("model"); r.add_argument("out")
    a = ap.parse_args()
    net, meta = model_from_file(a.model)
    if a.cmd == "roundtrip":
        state = {k: v for k, v in net.state_dict().items() if not k.endswith(".num_batches_tracked")}
        save_safetensors(a.out, state, meta)
        return
    x = read_idx(os.path.join(a.data, "t10k-images-idx3-ubyte.gz")).float()
    y = read_idx(os.path.join(a.data, "t10k-labels-idx1-ubyte.gz")).long()
    mean, std = float(meta["normalisation_mean"]), float(meta["normalisation_std"])
    x = preprocess(x, meta.get("preprocess"))
    x = ((x / 255.0 - mean) / std).unsqueeze(1)
    with torch.no_grad():
        pred = torch.cat([net(x[i:i + 1000]).argmax(1) for i in range(0, len(x), 1000)])
    acc = (pred == y).float().mean().item()
    print(f"PyTorch {torch.__version__}: {a.model}: test accuracy {acc:.4f} ({int((pred == y).sum())}/{len(y)})")


if __name__ == "__main__":
    main()
