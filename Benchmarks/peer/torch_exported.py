#!/usr/bin/env python3
"""PyTorch peer for any network pfs exports: times the `model.py` that `pfs export --format pytorch`
writes, so the comparison runs exactly pfs's architecture (ResNet-50, MobileNetV2 at 224 px, a
pruned network, ...) — the same work as `pfs bench --config FILE --mode MODE`.

  pfs flops --arch resnet50 --input 3x224x224 --classes 1000 --save r50.json
  pfs export r50.json --format pytorch --out export-r50
  python3 torch_exported.py --model-dir export-r50 --mode train --batch 32 --threads 2

Modes as torch_cifar.py: fwd (no_grad, eval), train (SGD 0.01/0.9, wd 1e-4, cross-entropy), gate
(weights frozen, BatchNorm in training mode, one gate per prunable width multiplying the output of
the BatchNorm that follows its convolution, objective CE + 0.5·(mean gate − 0.2)², Adam 0.01 on the
gates, clamped to [0, 1]). One JSON line per run.
"""
import argparse
import importlib.util
import json
import os
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def load(model_dir):
    spec = importlib.util.spec_from_file_location("exported_model", os.path.join(model_dir, "model.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def gated_batchnorms(model, widths):
    """The BatchNorm after the convolution of each prunable width (named W or W.conv)."""
    modules = list(model.named_modules())
    names = [n for n, _ in modules]
    found = []
    for width, (channels, prunable) in widths.items():
        if not prunable:
            continue
        conv = next((i for i, n in enumerate(names) if n in (width, width + ".conv")
                     and isinstance(modules[i][1], nn.Conv2d)), None)
        if conv is None:
            raise SystemExit(f"no convolution named {width} in model.py")
        bn = next((m for _, m in modules[conv + 1:] if isinstance(m, nn.BatchNorm2d)), None)
        if bn is None or bn.num_features != channels:
            raise SystemExit(f"no BatchNorm of {channels} channels after {width}")
        found.append(bn)
    return found


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", required=True)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--mode", choices=["fwd", "train", "gate"], default="train")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--channels-last", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m = load(a.model_dir)
    model = m.Net()
    c, h, w = m.INPUT
    x = torch.randn(a.batch, c, h, w)
    y = torch.randint(0, m.CLASSES, (a.batch,))
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    if a.mode == "fwd":
        model.eval()

        def step():
            with torch.no_grad():
                model(x)
    elif a.mode == "train":
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)

        def step():
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            opt.step()
    else:
        model.train()
        # Prunable flags: model.py's WIDTHS comments them; rebuild from the pfs configuration file.
        config = json.load(open(os.path.join(a.model_dir, "architecture.json")))
        widths = {wd["name"]: (wd["channels"], wd["prunable"]) for wd in config["widths"]}
        for p_ in model.parameters():
            p_.requires_grad_(False)
        gates = []
        for bn in gated_batchnorms(model, widths):
            g = nn.Parameter(torch.ones(bn.num_features))
            gates.append(g)
            bn.register_forward_hook(lambda _m, _i, out, g=g: out * g.view(1, -1, 1, 1))
        opt = torch.optim.Adam(gates, lr=0.01)

        def step():
            opt.zero_grad(set_to_none=True)
            mean = torch.cat(gates).mean()
            loss = F.cross_entropy(model(x), y) + 0.5 * (mean - 0.2) ** 2
            loss.backward()
            opt.step()
            with torch.no_grad():
                for g in gates:
                    g.clamp_(0, 1)
    for _ in range(a.warmup):
        step()
    times = []
    t_end = time.perf_counter() + a.seconds
    while time.perf_counter() < t_end or len(times) < 3:
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(json.dumps({"peer": "pytorch", "torch": torch.__version__, "model": m.ARCHITECTURE, "input": h,
                      "mode": a.mode, "batch": a.batch, "threads": a.threads, "channels_last": a.channels_last,
                      "macs_per_image": m.MACS, "img_s_median": a.batch / med, "img_s_min": a.batch / max(times),
                      "img_s_max": a.batch / min(times), "steps": len(times),
                      "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
