#!/usr/bin/env python3
"""The cost model of docs/distributed.md: scaling efficiency of synchronous data parallelism.

A step on N hosts costs the compute of one rank's batch plus a ring all-reduce of the
gradient, 2(N-1)/N x bytes / bandwidth + 2(N-1) x latency (reduce-scatter then all-gather,
N-1 hops each), when nothing overlaps; with perfect overlap behind backward it costs
max(compute, all-reduce). Efficiency = compute / step. Inputs are the figures measured here
(see the doc); prints the table and the host count where efficiency falls below 90%.

usage: distributed-cost-model.py STEP_SECONDS_W2 LATENCY_SECONDS GFLOPS_PER_RANK
"""
import sys

step_w2, latency, gflops = (float(a) for a in sys.argv[1:4])
# ResNet-50: 25.6 M parameters, about 4.1 GFLOP forward per 224x224 image, x3 for training,
# 32 images per rank per step (the usual per-GPU batch) at the rate W2 reaches per rank here.
step_r50 = 3 * 4.1 * 32 / gflops
models = [("W2 (421,834 params, 1.69 MB)", 421_834 * 4, step_w2),
          ("ResNet-50 (25.6 M params, 102.4 MB)", 25_600_000 * 4, step_r50)]
hosts = [2, 4, 8, 16, 32, 64]
for name, nbytes, compute in models:
    print(f"\n{name}: compute {compute * 1e3:.1f} ms per step per rank")
    for gbit in (10, 25, 100):
        bandwidth = gbit * 1e9 / 8
        row, below = [], None
        for n in hosts:
            allreduce = 2 * (n - 1) / n * nbytes / bandwidth + 2 * (n - 1) * latency
            serial = compute / (compute + allreduce)
            overlapped = compute / max(compute, allreduce)
            row.append(f"{n}: {serial:.0%}/{overlapped:.0%}")
            if below is None and serial < 0.9:
                below = n
        print(f"  {gbit:>3} Gb/s  " + "  ".join(row)
              + f"   (serial below 90% from {below} hosts)" if below else f"  {gbit:>3} Gb/s  " + "  ".join(row)
              + "   (serial >= 90% up to 64 hosts)")
