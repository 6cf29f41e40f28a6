#!/usr/bin/env python3
"""The PyTorch side of `make bench-pytorch` (scripts/bench-pytorch.sh runs it).

`train` trains W1, W2 or W3 of WORKLOADS.md with the recipe of `nn train --model mlp|cnn|resnet`
(Sources/nn/Recipes.swift, Sources/NN/Models/ReferenceModels.swift) and prints one RESULT line.
`info` prints the torch build and fails unless it is CPU-only. `summarize` reads the rows the
shell script collected and prints the table of medians and ratios.

What is timed is what `nn train` times in its epoch line (Trainer.trainEpoch): from after the
epoch's order is drawn to the end of its last step, so batch building and augmentation, the
forward and backward passes, reading the loss (`loss.item()`, as `loss.scalar`), the accuracy
tally and the optimizer step; not loading the data, not evaluating the test set. The first
steps of a process (allocation, oneDNN primitive creation) are in that span on both sides.
`steady_ips` is PyTorch's rate over the steps after the first --warmup steps only.
"""
import argparse
import gzip
import math
import os
import statistics
import struct
import sys
import time


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train one workload and print a RESULT line")
    train.add_argument("--model", choices=["mlp", "cnn", "resnet"], required=True)
    train.add_argument("--threads", type=int, required=True)
    train.add_argument("--limit", type=int, default=None, help="train on the first N training images (as nn train --limit)")
    train.add_argument("--epochs", type=int, default=1, help="epochs to run; the last one is reported (as nn train --epochs)")
    train.add_argument("--channels-last", action="store_true", help="model and inputs in channels-last memory format")
    train.add_argument("--augment", action="store_true", help="random flip and pad-and-crop (as nn train --augment)")
    train.add_argument("--crop-padding", type=int, default=2, help="with --augment; 0 flips only (as nn train)")
    train.add_argument("--warmup", type=int, default=50, help="steps left out of steady_ips")
    train.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    train.add_argument("--seed", type=int, default=1)
    train.add_argument("--no-fused", action="store_true", help="torch.optim's default (for-loop) optimizer instead of fused=True")

    sub.add_parser("info", help="print the torch build; fail unless it is CPU-only")

    summarize = sub.add_parser("summarize", help="print the table from the collected rows")
    summarize.add_argument("rows", help="file of tab-separated rows: workload threads side pair images_per_second steady")
    return parser.parse_args(argv)


# ---------------------------------------------------------------- data

def read_idx(path):
    """An IDX file (gzip or raw) as (dims, bytes)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise SystemExit(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return dims, data[4 + 4 * ndim:]


def load_training(directory, limit):
    """Training images in [0,1] standardized with their own mean and (population) std, as nn train does
    (statistics of the --limit prefix), the standardized value of black (the augmentation's fill), labels."""
    import torch
    def path(name):
        for candidate in (name + ".gz", name):
            full = os.path.join(directory, candidate)
            if os.path.exists(full):
                return full
        raise SystemExit(f"{directory}: no {name}[.gz]")
    dims, pixels = read_idx(path("train-images-idx3-ubyte"))
    _, labels = read_idx(path("train-labels-idx1-ubyte"))
    count, height, width = dims
    images = torch.frombuffer(bytearray(pixels), dtype=torch.uint8).reshape(count, 1, height, width)
    labels = torch.frombuffer(bytearray(labels), dtype=torch.uint8).to(torch.int64)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    images = images.to(torch.float32) / 255
    as_double = images.to(torch.float64)
    mean = as_double.mean().item()
    std = math.sqrt(((as_double - mean) ** 2).mean().item())
    images = ((images - mean) / std).contiguous()
    return images, labels, (0 - mean) / std


# ---------------------------------------------------------------- models (ReferenceModels.swift)

def build_model(name):
    from torch import nn
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(inplace=True),
                             nn.Linear(256, 128), nn.ReLU(inplace=True), nn.Linear(128, 10))
    if name == "cnn":
        # Each ReLU after its max pooling, as ReferenceModels.cnn (and PyTorch's MNIST example).
        # BatchNorm: momentum 0.1, eps 1e-5 on both sides (PyTorch's defaults).
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.MaxPool2d(2), nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.MaxPool2d(2), nn.ReLU(inplace=True),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(inplace=True), nn.Dropout(0.25), nn.Linear(128, 10))

    class BasicBlock(nn.Module):
        """Residual.basicBlock: relu(conv3x3-BN-ReLU-conv3x3-BN (x) + shortcut(x)), the shortcut a
        1x1 strided conv + BN when the stride or the channel count changes; convolutions without bias."""
        def __init__(self, cin, cout, stride=1):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout))
            self.shortcut = None
            if stride != 1 or cin != cout:
                self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
            self.relu = nn.ReLU(inplace=True)

        def forward(self, x):
            skip = x if self.shortcut is None else self.shortcut(x)
            return self.relu(self.body(x) + skip)

    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
        BasicBlock(16, 16), BasicBlock(16, 32, stride=2), BasicBlock(32, 64, stride=2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


# Recipes.swift: W1, W2 Adam lr 1e-3 batch 64, no schedule; W3 SGD Nesterov 0.9, lr 0.1,
# weight decay 5e-4, cosine schedule over the run's epochs (stepped per epoch), batch 128.
RECIPES = {
    "mlp": dict(batch=64, optimizer="adam", lr=1e-3, weight_decay=0.0, cosine=False),
    "cnn": dict(batch=64, optimizer="adam", lr=1e-3, weight_decay=0.0, cosine=False),
    "resnet": dict(batch=128, optimizer="nesterov", lr=0.1, weight_decay=5e-4, cosine=True),
}


def make_optimizer(recipe, parameters, fused):
    import torch
    extra = {"fused": True} if fused else {}
    if recipe["optimizer"] == "adam":
        return torch.optim.Adam(parameters, lr=recipe["lr"], betas=(0.9, 0.999), eps=1e-8,
                                weight_decay=recipe["weight_decay"], **extra)
    return torch.optim.SGD(parameters, lr=recipe["lr"], momentum=0.9, nesterov=True,
                           weight_decay=recipe["weight_decay"], **extra)


# ---------------------------------------------------------------- training

def train(args):
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    images, labels, black = load_training(args.data, args.limit)
    count = images.shape[0]
    recipe = RECIPES[args.model]
    batch_size = recipe["batch"]
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format

    model = build_model(args.model).to(memory_format=memory_format)
    model.train()
    optimizer = make_optimizer(recipe, model.parameters(), fused=not args.no_fused)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs) if recipe["cosine"] else None

    # Augmentation as Minibatches.swift: pad each side with black, crop a random 28x28 window
    # (offset uniform in [0, 2*pad]), flip left-right with probability 1/2; per image, here
    # gathered for the whole batch at once (the fastest way in PyTorch, no DataLoader workers).
    pad = args.crop_padding if args.augment else 0
    height, width = images.shape[2], images.shape[3]
    padded = F.pad(images, (pad, pad, pad, pad), value=black) if pad > 0 else images
    rows0 = torch.arange(height).view(1, height, 1)
    cols0 = torch.arange(width).view(1, 1, width)
    generator = torch.Generator().manual_seed(args.seed)

    def make_batch(index):
        if not args.augment:
            x = images[index]
        else:
            n = index.shape[0]
            dy = torch.randint(0, 2 * pad + 1, (n, 1, 1), generator=generator)
            dx = torch.randint(0, 2 * pad + 1, (n, 1, 1), generator=generator)
            flip = torch.rand((n, 1, 1), generator=generator) < 0.5
            cols = torch.where(flip, (width - 1) - cols0, cols0) + dx
            x = padded[index.view(n, 1, 1), 0, rows0 + dy, cols].unsqueeze(1)
        return x.contiguous(memory_format=memory_format)

    step_times = []
    epoch_seconds = epoch_images = 0
    loss_sum = correct = 0
    for epoch in range(args.epochs):
        order = torch.randperm(count, generator=generator)
        batches = [order[i:i + batch_size] for i in range(0, count, batch_size)]  # the last may be partial, as nn train
        loss_sum = correct = seen = 0
        start = time.perf_counter()
        previous = start
        for index in batches:
            x = make_batch(index)
            y = labels[index]
            optimizer.zero_grad(set_to_none=True)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            value = loss.item()
            if not math.isfinite(value):
                raise SystemExit(f"the loss became {value}")
            loss.backward()
            optimizer.step()
            loss_sum += value * y.shape[0]
            correct += (logits.detach().argmax(1) == y).sum().item()
            seen += y.shape[0]
            now = time.perf_counter()
            step_times.append((now - previous, y.shape[0]))
            previous = now
        epoch_seconds = time.perf_counter() - start
        epoch_images = seen
        if schedule is not None:
            schedule.step()

    steady = step_times[args.warmup:]
    steady_images = sum(n for _, n in steady)
    steady_ips = steady_images / sum(t for t, _ in steady) if steady else float("nan")
    layout = "channels_last" if args.channels_last else "default"
    print(f"pytorch {args.model} {layout}: epoch {args.epochs}/{args.epochs}  loss {loss_sum / epoch_images:.4f}  "
          f"acc {correct / epoch_images:.4f}  {epoch_seconds:.1f}s  {epoch_images / epoch_seconds:.0f} img/s; "
          f"steady (steps after {args.warmup}): {steady_images} images, {steady_ips:.0f} img/s")
    print(f"RESULT\t{epoch_images / epoch_seconds:.1f}\t{steady_ips:.1f}\t{epoch_images}\t{steady_images}")


def info():
    import torch
    cpu_only = torch.version.cuda is None and getattr(torch.version, "hip", None) is None and not torch.cuda.is_available()
    print(f"torch {torch.__version__} ({'CPU-only' if cpu_only else 'NOT CPU-only'}), "
          f"{torch.get_num_threads()} threads by default, "
          f"{torch.get_num_interop_threads()} inter-op threads, "
          f"oneDNN {'on' if torch.backends.mkldnn.is_available() else 'off'}, "
          f"MKL {'on' if torch.backends.mkl.is_available() else 'off'}, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}")
    if not cpu_only:
        raise SystemExit("error: this torch build is not the CPU-only one (expected torch==2.13.0+cpu)")


# ---------------------------------------------------------------- the table

def summarize(path):
    rows = {}
    with open(path) as f:
        for line in f:
            workload, threads, side, _pair, ips, steady = line.rstrip("\n").split("\t")
            rows.setdefault((workload, int(threads)), {}).setdefault(side, []).append((float(ips), float(steady)))

    def median(values):
        values = [v for v in values if not math.isnan(v)]
        return statistics.median(values) if values else float("nan")

    def fmt(value, digits=0):
        return "-" if math.isnan(value) else f"{value:,.{digits}f}"

    header = ("workload", "thr", "swift-nn", "torch CL", "torch def", "nn/CL", "nn/def",
              "CL steady", "def steady", "runs")
    lines = [header]
    for (workload, threads) in sorted(rows):
        sides = rows[(workload, threads)]
        nn = median([ips for ips, _ in sides.get("nn", [])])
        cl = median([ips for ips, _ in sides.get("torch-cl", [])])
        default = median([ips for ips, _ in sides.get("torch", [])])
        cl_steady = median([s for _, s in sides.get("torch-cl", [])])
        default_steady = median([s for _, s in sides.get("torch", [])])
        runs = max(len(v) for v in sides.values())
        lines.append((workload, str(threads), fmt(nn), fmt(cl), fmt(default),
                      fmt(nn / cl if cl else float("nan"), 2), fmt(nn / default if default else float("nan"), 2),
                      fmt(cl_steady), fmt(default_steady), str(runs)))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  ".join(cell.ljust(widths[0]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(line)))
    print()
    print("Every figure is images/s of training, the median of the runs; each run is a separate process.")
    print("swift-nn, torch CL (channels-last model and inputs), torch def (PyTorch's default layout): the")
    print("  rate over the reported epoch as nn train's epoch line measures it (batch building and")
    print("  augmentation, forward, backward, loss read-back, accuracy tally, optimizer step; warm-up")
    print("  steps included when the epoch is a process's first; data loading and the test set excluded).")
    print("nn/CL, nn/def: swift-nn's rate over PyTorch's (above 1: swift-nn is faster), same span both sides.")
    print("CL steady, def steady: PyTorch's rate over the steps after its warm-up steps only (swift-nn's")
    print("  nn train prints no such figure; with --epochs 2 the compared epoch is a steady one on both sides).")
    print("W1 has no channels-last layout (no convolutions): its torch CL is not run.")


def main(argv):
    args = parse_args(argv)
    if args.command == "train":
        train(args)
    elif args.command == "info":
        info()
    else:
        summarize(args.rows)


if __name__ == "__main__":
    main(sys.argv[1:])
