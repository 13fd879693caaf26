#!/usr/bin/env python3
"""PyTorch peer for `pfs bench --op gemm|conv`: the same operations, timed the same way
(median of repeated runs after a warm-up), so the two can be compared on one machine.

  conv: 3x3, stride 1, padding 1, no bias, CIFAR-ResNet shapes (16/32/64 channels at 32/16/8
        pixels), batch 128; passes forward (no autograd), backward (input + weight gradient),
        backward-data, backward-weight, the backward passes via aten.convolution_backward so the
        forward is not timed with them. GFLOPS = 2 * MACs / median seconds.
  gemm: torch.mm at the sizes pfs uses.

Set-up (CPU wheel, see ../../README.md):
  python3 -m venv /tmp/torchpeer && /tmp/torchpeer/bin/pip install numpy 'torch==2.13.0+cpu'
  /tmp/torchpeer/bin/python Benchmarks/peer/torch_conv.py --threads 2
Prints one JSON line per measurement.
"""
import argparse
import json
import statistics
import time

import torch

SHAPES = [(16, 32), (32, 16), (64, 8)]
GEMMS = [(256, 256, 256), (512, 512, 512), (1024, 1024, 1024), (16, 1024, 144), (32, 256, 288), (64, 64, 576),
         (16, 2048, 144), (32, 2048, 288), (64, 2048, 576)]


def measure(fn, seconds, warmup=1, min_runs=5):
    for _ in range(warmup):
        fn()
    times, total = [], 0.0
    while len(times) < min_runs or total < seconds:
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        times.append(dt)
        total += dt
    return statistics.median(times), len(times)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--op", choices=["conv", "gemm", "all"], default="all")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    base = {"peer": "pytorch", "torch": torch.__version__, "threads": a.threads}
    if a.op in ("gemm", "all"):
        for m, n, k in GEMMS:
            x, y = torch.randn(m, k), torch.randn(k, n)
            med, runs = measure(lambda: torch.mm(x, y), a.seconds)
            print(json.dumps({**base, "op": "gemm", "m": m, "n": n, "k": k, "median_ms": med * 1e3,
                              "gflops": 2 * m * n * k / med * 1e-9, "runs": runs}), flush=True)
    if a.op in ("conv", "all"):
        conv_bw = torch.ops.aten.convolution_backward
        for layout in ("nchw", "channels_last"):
            for c, s in SHAPES:
                x = torch.randn(a.batch, c, s, s)
                w = torch.randn(c, c, 3, 3) * 0.1
                if layout == "channels_last":
                    x = x.contiguous(memory_format=torch.channels_last)
                    w = w.contiguous(memory_format=torch.channels_last)
                with torch.no_grad():
                    dy = torch.randn_like(torch.nn.functional.conv2d(x, w, padding=1))
                macs = a.batch * c * s * s * c * 9

                def bw(mask):
                    return lambda: conv_bw(dy, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, mask)

                passes = {
                    "forward": (lambda: torch.nn.functional.conv2d(x, w, padding=1), macs),
                    "backward": (bw([True, True, False]), 2 * macs),
                    "backward-data": (bw([True, False, False]), macs),
                    "backward-weight": (bw([False, True, False]), macs),
                }
                for name, (fn, flop_macs) in passes.items():
                    with torch.no_grad():
                        med, runs = measure(fn, a.seconds)
                    print(json.dumps({**base, "op": "conv", "layout": layout, "channels": c, "pixels": s,
                                      "batch": a.batch, "pass": name, "median_ms": med * 1e3,
                                      "gflops": 2 * flop_macs / med * 1e-9, "runs": runs}), flush=True)


if __name__ == "__main__":
    main()
