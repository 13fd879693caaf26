#!/usr/bin/env python3
"""Side-by-side whole-network throughput: `pfs bench --model M --mode X --json` and the PyTorch
peer (../shared/peer/torch_cifar.py bench, NCHW and channels-last), alternately, in one run.

  swift build -c release
  python3 Benchmarks/compare_models.py --python /tmp/torchpeer/bin/python \
      --peer ../shared/peer/torch_cifar.py --cases resnet20:128,resnet56:128,vgg16:128,vgg16:64

Any configuration file of a CIFAR ResNet or VGG (a pruned network from `pfs prune`, say) is
compared too, with `--configs pruned.json:128,...`: the peer builds the same widths from the file.

The 224-px networks go through `pfs export`: `--exported resnet50@224:32,mobilenetv2@224:32` writes
each standard configuration (`pfs flops --save`), exports it as PyTorch source, and times that very
`model.py` with Benchmarks/peer/torch_exported.py next to `pfs bench --config`.

For each case and mode it prints the median images/s of pfs, of PyTorch in each layout, the ratio
pfs / best PyTorch (> 1 means pfs is faster) and both peak memories. Every process runs one case,
so peak memory is that case's. The order alternates pfs/torch to spread machine noise over both.
On a shared VM whose speed drifts between minutes, `--rounds 3` repeats every row three times,
interleaved, and reports the median ratio with its range.
"""
import argparse
import json
import os
import subprocess
import sys
from statistics import median

HERE = os.path.dirname(os.path.abspath(__file__))


def run_json(cmd):
    """Runs cmd; returns its last JSON line and the peak RSS in MB measured by /usr/bin/time when present."""
    timed = ["/usr/bin/time", "-f", "%M"] + cmd if os.path.exists("/usr/bin/time") else cmd
    proc = subprocess.run(timed, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    record = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")][-1]
    tail = proc.stderr.strip().splitlines()
    if timed is not cmd and tail and tail[-1].strip().isdigit():
        record["max_rss_mb"] = int(tail[-1].strip()) / 1024
    return record


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--python", default=sys.executable, help="interpreter with torch installed")
    p.add_argument("--peer", default=os.path.join(HERE, "..", "..", "shared", "peer", "torch_cifar.py"))
    p.add_argument("--pfs", default=os.path.join(HERE, "..", ".build", "release", "pfs"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--cases", default="resnet20:128,resnet56:128,vgg16:128,vgg16:64",
                   help="comma-separated model:batch")
    p.add_argument("--modes", default="fwd,train,gate")
    p.add_argument("--configs", default="",
                   help="comma-separated FILE:batch of configuration files (CIFAR ResNet or VGG)")
    p.add_argument("--exported", default="",
                   help="comma-separated model@input:batch compared through pfs's PyTorch export, e.g. resnet50@224:32")
    p.add_argument("--work", default="/tmp/pfs-compare", help="where --exported writes configurations and exports")
    p.add_argument("--rounds", type=int, default=1,
                   help="measure every row this many times, pfs and PyTorch interleaved (the order reversed in "
                        "every other round); the ratio is then the median of the rounds' ratios, with their range")
    p.add_argument("--isa", choices=["native", "avx2", "avx2-im2col"], default="native",
                   help="avx2: both sides limited to AVX2 + FMA (PFS_ISA=avx2; ATEN_CPU_CAPABILITY=avx2, "
                        "ONEDNN_MAX_CPU_ISA=AVX2 and MKL_ENABLE_INSTRUCTIONS=AVX2 for PyTorch), to measure an "
                        "AVX2-only CPU on an AVX-512 one; avx2-im2col: the same, with pfs on its portable kernels "
                        "and OpenBLAS's Haswell SGEMM (what AVX2 CPUs ran before pfs had AVX2 kernels)")
    a = p.parse_args()
    if a.isa != "native":
        os.environ.update({"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"})
        os.environ.update({"PFS_ISA": "avx2"} if a.isa == "avx2" else {"PFS_ISA": "portable", "OPENBLAS_CORETYPE": "Haswell"})
    rows = []

    def measure(name, batch, mode, ours_cmd, peer_cmd):
        """One row: pfs, then the peer in NCHW and channels-last, same batch, threads and seconds; with
        --rounds N, N such rounds, so that a shared machine's drift reaches both sides alike."""
        common = ["--batch", batch, "--threads", str(a.threads), "--seconds", str(a.seconds)]
        commands = [ours_cmd + ["--mode", mode, "--json"] + common, peer_cmd + ["--mode", mode] + common,
                    peer_cmd + ["--mode", mode] + common + ["--channels-last"]]
        runs = []   # per round: [pfs, nchw, cl] records
        for r in range(a.rounds):
            order = [0, 1, 2] if r % 2 == 0 else [2, 1, 0]
            records = {i: run_json(commands[i]) for i in order}
            runs.append([records[i] for i in range(3)])
        speed = [[run[i]["img_s_median"] for run in runs] for i in range(3)]
        ratios = sorted(run[0]["img_s_median"] / max(run[1]["img_s_median"], run[2]["img_s_median"]) for run in runs)
        ours_mem = max(run[0].get("max_rss_mb", 0) for run in runs)
        peer_mem = min(x.get("max_rss_mb", float("inf")) for run in runs for x in run[1:])
        row = [name, batch, mode] + [f"{median(v):.1f}" for v in speed] + [f"{median(ratios):.2f}"]
        if a.rounds > 1:
            row.append(f"{ratios[0]:.2f}–{ratios[-1]:.2f}")
        rows.append(row + [f"{ours_mem:.0f}", f"{peer_mem:.0f}"])
        print("  ".join(rows[-1]), file=sys.stderr, flush=True)

    for case in filter(None, a.configs.split(",")):
        path, batch = case.rsplit(":", 1)
        for mode in a.modes.split(","):
            measure(os.path.basename(path), batch, mode, [a.pfs, "bench", "--config", path],
                    [a.python, a.peer, "bench", "--config", path])
    for case in filter(None, a.exported.split(",")):
        spec, batch = case.rsplit(":", 1)
        model, side = spec.split("@")
        os.makedirs(a.work, exist_ok=True)
        config = os.path.join(a.work, f"{model}-{side}.json")
        export = os.path.join(a.work, f"export-{model}-{side}")
        subprocess.run([a.pfs, "flops", "--arch", model, "--input", f"3x{side}x{side}", "--classes", "1000",
                        "--save", config], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([a.pfs, "export", config, "--format", "pytorch", "--out", export], check=True,
                       stdout=subprocess.DEVNULL)
        for mode in a.modes.split(","):
            measure(f"{model}@{side}", batch, mode, [a.pfs, "bench", "--config", config],
                    [a.python, os.path.join(HERE, "peer", "torch_exported.py"), "--model-dir", export])
    for case in filter(None, a.cases.split(",")):
        model, batch = case.split(":")
        for mode in a.modes.split(","):
            measure(model, batch, mode, [a.pfs, "bench", "--model", model],
                    [a.python, a.peer, "bench", "--model", model])
    head = ["model", "batch", "mode", "pfs img/s", "torch NCHW", "torch ch-last", "pfs / best torch"] \
        + (["range"] if a.rounds > 1 else []) + ["pfs MB", "torch MB"]
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?") \
        if os.path.exists("/proc/cpuinfo") else "?"
    rounds = f", median of {a.rounds} interleaved rounds (range: lowest–highest round's ratio)" if a.rounds > 1 else ""
    print(f"{cpu}; instruction set: {a.isa}; medians, {a.threads} thread(s){rounds}; ratio > 1 means pfs is faster")
    for i, r in enumerate([head] + rows):
        print("  ".join(c.rjust(w) if j > 2 else c.ljust(w) for j, (c, w) in enumerate(zip(r, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))


if __name__ == "__main__":
    main()
