#!/usr/bin/python3
"""torch_bench.py: the PyTorch side of bench/run.sh: the same network (tools/mnist_torch.py's
SpecNet), data and thread count as bench_train, timed the same way. Prints "key value" lines.

    torch_bench.py train   --batch N --steps N --reps N   images/s of training steps (Adam 1e-4)
    torch_bench.py infer   --batch N --steps N            images/s of inference
    torch_bench.py latency --steps N                      median ms for one image
    torch_bench.py to99    --eval-every N                 seconds of training until the test
                                                          accuracy reaches 0.99 (Adam 2e-3,
                                                          one-cycle, batch 64, 2 epochs at most)
    torch_bench.py softmax                                the softmax tutorial (1000 steps of
                                                          batch 100, SGD 0.5), then test accuracy
Options: --threads N (default 2), --channels-last, --model SPEC (default: the cnn), --data DIR.
The data are read once before timing starts; each step draws its batch from a shuffled order
and converts it to normalised floats, as mnist.c's trainer does.
"""
import argparse, os, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from mnist_torch import SpecNet, read_idx  # noqa: E402

CNN = "conv:32:5,relu,pool:2,conv:64:5,relu,pool:2,dense:1024,relu,dropout:0.5,dense:10"
MEAN, STD = 0.1307, 0.3081


def load(data, split):
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(data, f"{prefix}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(data, f"{prefix}-labels-idx1-ubyte.gz")).long()
    return x, y


def to_input(xb, channels_last):
    x = ((xb.float() / 255.0 - MEAN) / STD).unsqueeze(1)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def make_net(spec, channels_last, seed=1):
    torch.manual_seed(seed)
    net = SpecNet(spec, (1, 28, 28))
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    return net


def evaluate(net, x, y, channels_last):
    net.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            correct += int((net(to_input(x[i:i + 1000], channels_last)).argmax(1) == y[i:i + 1000]).sum())
    net.train()
    return correct / len(x)


class Batches:
    """Shuffled batches of indices, a new order each epoch."""

    def __init__(self, n, batch, seed=1):
        self.n, self.batch, self.pos = n, batch, n
        self.g = torch.Generator().manual_seed(seed)

    def next(self):
        if self.pos + self.batch > self.n:
            self.perm, self.pos = torch.randperm(self.n, generator=self.g), 0
        idx = self.perm[self.pos:self.pos + self.batch]
        self.pos += self.batch
        return idx


def train_steps(net, opt, x, y, batches, steps, cl, sched=None):
    for _ in range(steps):
        idx = batches.next()
        loss = F.cross_entropy(net(to_input(x[idx], cl)), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched:
            sched.step()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["train", "infer", "latency", "to99", "softmax"])
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--model", default=CNN)
    ap.add_argument("--data", default=os.environ.get("MNIST_DATA", "data/mnist"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cl = a.channels_last
    print(f"torch {torch.__version__}\nthreads {torch.get_num_threads()}\nchannels_last {int(cl)}")

    if a.mode == "softmax":
        t0 = time.time()
        x, y = load(a.data, "train")
        xt, yt = load(a.data, "test")
        net = make_net("dense:10", False)
        opt = torch.optim.SGD(net.parameters(), lr=0.5)
        train_steps(net, opt, x, y, Batches(len(x), 100), 1000, False)
        acc = evaluate(net, xt, yt, False)
        print(f"softmax_seconds {time.time() - t0:.2f}\nsoftmax_accuracy {acc:.4f}")
        return

    x, y = load(a.data, "train")
    if a.mode == "train":
        net = make_net(a.model, cl)
        opt = torch.optim.Adam(net.parameters(), lr=1e-4)
        batches = Batches(len(x), a.batch)
        train_steps(net, opt, x, y, batches, 10, cl)  # warm-up
        rates = []
        for _ in range(a.reps):
            t = time.perf_counter()
            train_steps(net, opt, x, y, batches, a.steps, cl)
            rates.append(a.steps * a.batch / (time.perf_counter() - t))
        print(f"train_images_per_s {sorted(rates)[len(rates) // 2]:.1f}")
    elif a.mode in ("infer", "latency"):
        net = make_net(a.model, cl).eval()
        n = 1 if a.mode == "latency" else a.batch
        calls = a.steps * (5 if n == 1 else 1)
        times = []
        with torch.no_grad():
            for r in range(calls + 3):
                t = time.perf_counter()
                F.softmax(net(to_input(x[:n], cl)), dim=1)
                if r >= 3:
                    times.append(time.perf_counter() - t)
        med = sorted(times)[len(times) // 2]
        if n == 1:
            print(f"latency_ms {1e3 * med:.4f}")
        else:
            print(f"infer_images_per_s {n / med:.1f}")
    else:  # to99
        xt, yt = load(a.data, "test")
        net = make_net(a.model, cl)
        batch, epochs = 64, 2
        steps = epochs * len(x) // batch
        opt = torch.optim.Adam(net.parameters(), lr=2e-3)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps,
                                                    pct_start=300 / steps)
        batches = Batches(len(x), batch)
        t0, done, reached = time.perf_counter(), 0, None
        while done < steps:
            k = min(a.eval_every, steps - done)
            train_steps(net, opt, x, y, batches, k, cl, sched)
            done += k
            acc = evaluate(net, xt, yt, cl)
            print(f"step {done} accuracy {acc:.4f} seconds {time.perf_counter() - t0:.2f}", flush=True)
            if acc >= 0.99:
                reached = time.perf_counter() - t0
                break
        print(f"to99_seconds {reached:.2f}" if reached else "to99_seconds never")


if __name__ == "__main__":
    main()
