#!/usr/bin/env python3
"""Cross-check a pfs CIFAR-ResNet checkpoint in PyTorch: load checkpoint.safetensors (with the
official `safetensors` package) into the PyTorch peer's CifarResNet, evaluate on test_batch.bin
with the same normalisation, and print the test accuracy, to compare with `pfs eval`.

  /tmp/torchpeer/bin/pip install safetensors
  /tmp/torchpeer/bin/python Benchmarks/peer/torch_eval_checkpoint.py runs/r20 \
      --peer ../shared/peer/torch_cifar.py --data ../shared/data/cifar-10-batches-bin

CIFAR ResNets of any widths are supported (standard, pruned by `pfs prune`, narrowed by
`pfs scale`): the network is assembled from the peer's own BasicBlock with the widths stored in the
checkpoint, so the forward pass that is evaluated is the peer's.
"""
import argparse
import importlib.util
import json
import os

import torch
from safetensors import safe_open


def peer_name(name):
    """pfs tensor name → the peer's state_dict key."""
    parts = name.split(".")
    if parts[0] == "stem":
        return ".".join(parts[1:])                      # stem.conv.weight → conv.weight
    if parts[0].startswith("stage"):
        stage, block = int(parts[0][5:]), int(parts[1][5:])
        rest = parts[2:]
        if rest[0] == "shortcut":
            rest = ["shortcut", {"conv": "0", "bn": "1"}[rest[1]]] + rest[2:]
        return ".".join(["blocks", str((stage - 1) * PER_STAGE + block - 1)] + rest)
    return name                                         # fc.weight, fc.bias


def build_with_widths(peer, doc):
    """The peer's CifarResNet with the stem, block and stage widths of a pfs configuration."""
    arch = doc["architecture"]
    widths = {w["name"]: w["channels"] for w in doc["widths"]}
    model = peer.build(arch, num_classes=doc.get("classes", 10))
    stage = [widths[f"stage{s}"] for s in (1, 2, 3)]
    model.conv = torch.nn.Conv2d(3, stage[0], 3, 1, 1, bias=False)
    model.bn = torch.nn.BatchNorm2d(stage[0])
    blocks, cin = [], stage[0]
    for s in range(3):
        for b in range(PER_STAGE):
            stride = 2 if s > 0 and b == 0 else 1
            mid = widths[f"stage{s + 1}.block{b + 1}.conv1"]
            blocks.append(peer.BasicBlock(cin, mid, stage[s], stride, False))
            cin = stage[s]
    model.blocks = torch.nn.Sequential(*blocks)
    model.fc = torch.nn.Linear(cin, doc.get("classes", 10))
    return model


def main():
    global PER_STAGE
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="run directory or checkpoint.safetensors")
    p.add_argument("--peer", required=True, help="path to torch_cifar.py")
    p.add_argument("--data", required=True, help="directory with test_batch.bin")
    a = p.parse_args()
    path = os.path.join(a.run, "checkpoint.safetensors") if os.path.isdir(a.run) else a.run
    spec = importlib.util.spec_from_file_location("peer", a.peer)
    peer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer)
    with safe_open(path, "pt") as f:
        doc = json.loads(f.metadata()["pfs.architecture"])
        arch = doc["architecture"]
        tensors = {k: f.get_tensor(k) for k in f.keys() if not k.startswith("optimizer/")}
    depth = int(arch[len("resnet"):])
    PER_STAGE = (depth - 2) // 6
    model = build_with_widths(peer, doc)
    state = {peer_name(k): v for k, v in tensors.items()}
    own = model.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    if missing:
        raise SystemExit(f"checkpoint lacks {missing[:5]}")
    model.load_state_dict({k: state.get(k, own[k]) for k in own})
    model.eval()
    x, y = peer.load_cifar([os.path.join(a.data, "test_batch.bin")])
    x = peer.normalize(x)
    correct = 0
    with torch.no_grad():
        for s in range(0, len(x), 500):
            correct += (model(torch.from_numpy(x[s:s + 500])).argmax(1).numpy() == y[s:s + 500]).sum()
    print(json.dumps({"checkpoint": path, "architecture": arch, "torch": torch.__version__,
                      "test_accuracy": correct / len(x), "images": len(x)}))


if __name__ == "__main__":
    main()
