#!/usr/bin/env python3
"""Side-by-side: `pfs bench --json` and the PyTorch peer (peer/torch_conv.py) on this machine,
run back to back in one invocation, joined on the same operation and shape.

  python3 Benchmarks/compare.py --python /tmp/torchpeer/bin/python --threads 2

Prints, per operation: pfs median ms and GFLOPS, PyTorch's (NCHW and channels_last for
convolutions), and the ratio pfs time / best PyTorch time (< 1 means pfs is faster).
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run_json(cmd):
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def key(r):
    if r["op"] == "gemm":
        return ("gemm", r["m"], r["n"], r["k"])
    return ("conv", r["channels"], r["pixels"], r["pass"])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--python", default=sys.executable, help="interpreter with torch installed")
    p.add_argument("--pfs", default=os.path.join(HERE, "..", ".build", "release", "pfs"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--op", choices=["gemm", "conv"], default="conv")
    a = p.parse_args()
    common = ["--op", a.op, "--threads", str(a.threads), "--seconds", str(a.seconds)]
    ours = run_json([a.pfs, "bench", "--json"] + common)
    peer = run_json([a.python, os.path.join(HERE, "peer", "torch_conv.py")] + common)
    best = {}
    by_layout = {}
    for r in peer:
        k = key(r)
        by_layout[(k, r.get("layout", "-"))] = r
        if k not in best or r["median_ms"] < best[k]["median_ms"]:
            best[k] = r
    torch_version = peer[0]["torch"] if peer else "?"
    print(f"pfs ({ours[0]['backend']} SGEMM) vs PyTorch {torch_version}, {a.threads} thread(s), medians")
    head = ["operation", "pfs ms", "pfs GFLOPS", "torch ms (NCHW)", "torch ms (ch-last)", "pfs / best torch"]
    rows = []
    for r in ours:
        k = key(r)
        label = " ".join(str(x) for x in k[1:])
        nchw = by_layout.get((k, "nchw")) or by_layout.get((k, "-"))
        cl = by_layout.get((k, "channels_last"))
        rows.append([f"{k[0]} {label}", f"{r['median_ms']:.3f}", f"{r['gflops']:.1f}",
                     f"{nchw['median_ms']:.3f}" if nchw else "-", f"{cl['median_ms']:.3f}" if cl else "-",
                     f"{r['median_ms'] / best[k]['median_ms']:.2f}" if k in best else "-"])
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    for line in [head, ["-" * w for w in widths]] + rows:
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths))))


if __name__ == "__main__":
    main()
