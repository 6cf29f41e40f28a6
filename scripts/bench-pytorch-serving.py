#!/usr/bin/env python3
"""W2 inference latency at batch 1 in PyTorch (issue 17), for scripts/bench-pytorch.sh --serving.

  bench-pytorch-serving.py latency --threads T [--channels-last] [--calls N] [--warmup N]
      One process, one layout, one thread count: W2 (WORKLOADS.md, the same layers as
      Models.cnn) in eval mode under torch.no_grad(), called on one 1x1x28x28 image at a time;
      prints "RESULT<TAB>median_us<TAB>p99_us<TAB>calls".
  bench-pytorch-serving.py summarize ROWS.tsv
      The rows the shell script collected (side, threads, round, median_us, p99_us): medians
      over the rounds per side and thread count, and swift-nn's ratio to PyTorch's best layout.

The timed part is the model call alone, as on swift-nn's side (KernelBench serving): the
inputs are made (and converted to channels-last) before the clock starts.
"""
import argparse
import statistics
import sys
import time

# W2 is bench_pytorch.py's "cnn" (the same layers as Models.cnn), beside this script.
from bench_pytorch import build_model


def percentile(values, p):
    """Nearest rank, as KernelBench's percentile()."""
    ordered = sorted(values)
    rank = -(-p * len(ordered) // 100)  # ceil
    return ordered[min(len(ordered) - 1, max(0, int(rank) - 1))]


def latency(args):
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build_model("cnn")
    # Running statistics of a trained model's order of magnitude, as KernelBench's servedW2.
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(0.5, 1.5)
            module.running_var.uniform_(0.5, 1.5)
    model.eval()
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    images = [torch.randn(1, 1, 28, 28).contiguous(memory_format=memory_format) for _ in range(64)]
    times = []
    with torch.no_grad():
        for i in range(args.warmup):
            model(images[i % len(images)])
        for i in range(args.calls):
            x = images[i % len(images)]
            start = time.perf_counter_ns()
            model(x)
            times.append((time.perf_counter_ns() - start) / 1e3)
    print(f"pytorch W2 batch 1 {'channels_last' if args.channels_last else 'default'} {args.threads}T: "
          f"median {statistics.median(times):.0f} us, p99 {percentile(times, 99):.0f} us over {args.calls} calls "
          f"(torch {torch.__version__}, threads {torch.get_num_threads()})")
    print(f"RESULT\t{statistics.median(times):.2f}\t{percentile(times, 99):.2f}\t{args.calls}")


def summarize(path):
    rows = {}
    with open(path) as f:
        for line in f:
            side, threads, _round, p50, p99 = line.rstrip("\n").split("\t")
            rows.setdefault((int(threads), side), []).append((float(p50), float(p99)))
    print("W2 inference at batch 1, same window, medians over rounds (each round: one process per side,")
    print("in rotating order). Ratio: swift-nn's median / PyTorch's best median at the same thread count.")
    print(f"{'threads':>7}  {'side':<9} {'median us':>10} {'p99 us':>8} {'rounds':>6}  per-round medians")
    for threads in sorted({t for t, _ in rows}):
        best = None
        for side in ("nn", "torch-cl", "torch"):
            values = rows.get((threads, side))
            if not values:
                continue
            p50 = statistics.median(v[0] for v in values)
            p99 = statistics.median(v[1] for v in values)
            if side != "nn":
                best = p50 if best is None else min(best, p50)
            print(f"{threads:>7}  {side:<9} {p50:>10.0f} {p99:>8.0f} {len(values):>6}  "
                  + " ".join(f"{v[0]:.0f}" for v in values))
        nn = rows.get((threads, "nn"))
        if nn and best:
            ratio = statistics.median(v[0] for v in nn) / best
            print(f"{threads:>7}  ratio     {ratio:>10.2f}x PyTorch's best ({best:.0f} us); target <= 0.5x: "
                  + ("met" if ratio <= 0.5 else "NOT met"))


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("latency")
    run.add_argument("--threads", type=int, required=True)
    run.add_argument("--channels-last", action="store_true")
    run.add_argument("--calls", type=int, default=3000)
    run.add_argument("--warmup", type=int, default=200)
    summary = sub.add_parser("summarize")
    summary.add_argument("rows")
    args = parser.parse_args(argv)
    if args.command == "latency":
        latency(args)
    else:
        summarize(args.rows)


if __name__ == "__main__":
    main(sys.argv[1:])
