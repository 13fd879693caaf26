/// `train_ddp.py`: trains the exported `Net` with PyTorch DistributedDataParallel under
/// `torchrun`, with pfs's recipe and data conventions, and writes safetensors weights pfs imports.
enum TrainScript {
    static let source = #"""
"""Train the network of model.py with PyTorch DistributedDataParallel — pfs's recipe, under torchrun.

    torchrun --nproc_per_node=2 train_ddp.py --data DIR [--epochs 30] [--scratch-b] [--out runs/ddp]

One process per device (CPU processes with the gloo backend, or GPUs with nccl); several nodes with
torchrun's --nnodes/--node_rank/--master_addr. The recipe and data conventions are pfs's: SGD lr 0.1,
momentum 0.9, weight decay 5e-4 on every parameter, a cosine (or multistep/constant) schedule per
step, batch 128 in total over all processes, random crop with 4-pixel zero padding and horizontal
flip, per-channel normalisation (CIFAR-10's constants for CIFAR-10, else measured on the training
images), pfs's initialisation (convolutions N(0, 2/(k·k·C_out)), BatchNorm γ 1 (0.5 for VGG) and
β 0, classifier N(0, 0.01) with bias 0). Data: CIFAR-10/100 binary batches, or DIR/CLASS/*.png
(or DIR/train|test/CLASS/*.png; needs Pillow). Every epoch, rank 0 writes OUT/weights.safetensors
(the state dict, pfs's names) atomically; after the last epoch it evaluates the test part once and
writes OUT/result.json. Import the weights into pfs with
    pfs import OUT/weights.safetensors --config architecture.json --out RUN
"""
import argparse
import json
import math
import os
import struct

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

import model as exported

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2023, 0.1994, 0.2010)


def read_cifar(path, part):
    """(images uint8 (N, 3, 32, 32), labels int64) of a CIFAR-10 or CIFAR-100 binary directory."""
    names = os.listdir(path)
    if part == "train":
        files = [f"data_batch_{i}.bin" for i in range(1, 6) if f"data_batch_{i}.bin" in names] or ["train.bin"]
    else:
        files = ["test_batch.bin"] if "test_batch.bin" in names else ["test.bin"]
    hundred = "data_batch_1.bin" not in names and "test_batch.bin" not in names and "fine_label_names.txt" in names
    label_bytes = 2 if hundred else 1
    images, labels = [], []
    for name in files:
        raw = np.fromfile(os.path.join(path, name), dtype=np.uint8)
        record = label_bytes + 3072
        if raw.size % record:
            raise SystemExit(f"{os.path.join(path, name)}: not a whole number of {record}-byte records")
        raw = raw.reshape(-1, record)
        labels.append(raw[:, label_bytes - 1].astype(np.int64))
        images.append(raw[:, label_bytes:].reshape(-1, 3, 32, 32))
    return torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels)), not hundred


def read_folder(path, part):
    """An image folder DIR/CLASS/*.png, or DIR/train|test/CLASS/*.png (classes: the sorted union)."""
    from PIL import Image
    split = os.path.isdir(os.path.join(path, "train"))
    if not split and part == "test":
        return None
    roots = [os.path.join(path, p) for p in ("train", "test")] if split else [path]
    classes = sorted({c for r in roots if os.path.isdir(r) for c in os.listdir(r)
                      if os.path.isdir(os.path.join(r, c)) and not c.startswith(".")})
    root = os.path.join(path, part) if split else path
    images, labels = [], []
    for label, name in enumerate(classes):
        folder = os.path.join(root, name)
        if not os.path.isdir(folder):
            continue
        for file in sorted(f for f in os.listdir(folder) if f.lower().endswith(".png") and not f.startswith(".")):
            image = np.asarray(Image.open(os.path.join(folder, file)).convert("RGB"))
            images.append(image.transpose(2, 0, 1))
            labels.append(label)
    return torch.from_numpy(np.stack(images)), torch.tensor(labels, dtype=torch.int64), False


def load(path, part, kind):
    if kind == "auto":
        kind = "folder" if not any(n.endswith(".bin") for n in os.listdir(path)) else "cifar"
    return read_folder(path, part) if kind == "folder" else read_cifar(path, part)


def normalisation(images, cifar10):
    if cifar10 and images.shape[1] == 3:
        return torch.tensor(CIFAR10_MEAN), torch.tensor(CIFAR10_STD)
    x = images.double() / 255
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3), unbiased=False)
    return mean.float(), torch.where(std > 0, std, torch.ones_like(std)).float()


def augment(batch, generator):
    """Random crop with 4-pixel zero padding (raw pixels) and a horizontal flip, per image."""
    n, _, h, w = batch.shape
    padded = F.pad(batch, (4, 4, 4, 4))
    dy = torch.randint(0, 9, (n,), generator=generator)
    dx = torch.randint(0, 9, (n,), generator=generator)
    flip = torch.randint(0, 2, (n,), generator=generator).bool()
    out = torch.empty_like(batch)
    for i in range(n):
        crop = padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
        out[i] = crop.flip(-1) if flip[i] else crop
    return out


def initialise(net):
    """pfs's initialisation (SPEC §3)."""
    gamma = 0.5 if exported.ARCHITECTURE.startswith("vgg") else 1.0
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / (m.kernel_size[0] * m.kernel_size[1] * m.out_channels)))
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, gamma)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.zeros_(m.bias)


def save_safetensors(state, path):
    """The state dict as a safetensors file (float32 and int64 tensors), written atomically."""
    header, chunks, offset = {}, [], 0
    for name, tensor in state.items():
        array = tensor.detach().cpu().contiguous().numpy()
        dtype = {np.dtype("float32"): "F32", np.dtype("int64"): "I64"}[array.dtype]
        data = array.astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    header["__metadata__"] = {"producer": "train_ddp.py", "architecture": exported.ARCHITECTURE}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))
    os.replace(temporary, path)


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    length = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + length])
    state = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        dtype = {"F32": np.float32, "I64": np.int64}[entry["dtype"]]
        array = np.frombuffer(raw[8 + length + begin:8 + length + end], dtype=dtype).reshape(entry["shape"])
        state[name] = torch.from_numpy(array.copy())
    return state


def learning_rate(base, step, total, schedule):
    if schedule == "cosine":
        return base * 0.5 * (1 + math.cos(math.pi * step / total))
    if schedule == "multistep":
        return base * (0.1 if step >= total // 2 else 1) * (0.1 if step >= total * 3 // 4 else 1)
    return base


def evaluate(net, images, labels, mean, std, batch=250):
    net.eval()
    correct, loss = 0, 0.0
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = (images[i:i + batch].float() / 255 - mean[:, None, None]) / std[:, None, None]
            logits = net(x)
            loss += F.cross_entropy(logits, labels[i:i + batch], reduction="sum").item()
            correct += (logits.argmax(1) == labels[i:i + batch]).sum().item()
    return correct / len(images), loss / len(images)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="CIFAR binary directory or image folder")
    p.add_argument("--dataset", choices=["auto", "cifar", "folder"], default="auto")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--scratch-b", action="store_true", help="epochs × standard MACs / this network's MACs (Scratch-B)")
    p.add_argument("--batch-size", type=int, default=128, help="images per step over all processes")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--schedule", choices=["cosine", "multistep", "constant"], default="cosine")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--init", choices=["fresh", "exported"], default="fresh",
                   help="fresh: pfs's initialisation; exported: start from weights.safetensors beside this script")
    p.add_argument("--backend", choices=["gloo", "nccl"], default=None, help="default: nccl with CUDA, else gloo")
    p.add_argument("--out", default="runs/ddp")
    args = p.parse_args()

    backend = args.backend or ("nccl" if torch.cuda.is_available() else "gloo")
    dist.init_process_group(backend)
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}") if backend == "nccl" else torch.device("cpu")
    if backend == "nccl":
        torch.cuda.set_device(device)
    torch.manual_seed(args.seed)

    images, labels, cifar10 = load(args.data, "train", args.dataset)
    test = load(args.data, "test", args.dataset)
    if tuple(images.shape[1:]) != exported.INPUT:
        raise SystemExit(f"{args.data}: images of {tuple(images.shape[1:])}, the network takes {exported.INPUT}")
    mean, std = normalisation(images, cifar10)
    epochs = args.epochs
    if args.scratch_b:
        epochs = max(1, round(args.epochs * exported.STANDARD_MACS / exported.MACS))
    per_process = max(1, args.batch_size // world)

    net = exported.Net()
    if args.init == "fresh":
        initialise(net)
    else:
        net.load_state_dict(load_safetensors(os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights.safetensors")))
    net.to(device)
    model = nn.parallel.DistributedDataParallel(net, device_ids=[device] if backend == "nccl" else None)
    optimiser = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    sampler = torch.utils.data.distributed.DistributedSampler(range(len(images)), num_replicas=world, rank=rank,
                                                              shuffle=True, seed=args.seed)
    steps = math.ceil(len(sampler) / per_process)
    total = epochs * steps
    generator = torch.Generator().manual_seed(args.seed * 1000 + rank)
    os.makedirs(args.out, exist_ok=True)
    step = 0
    for epoch in range(epochs):
        model.train()
        sampler.set_epoch(epoch)
        order = torch.tensor(list(iter(sampler)))
        seen, loss_sum = torch.zeros(2, dtype=torch.float64), 0.0
        for i in range(steps):
            index = order[i * per_process:(i + 1) * per_process]
            x = augment(images[index], generator).float()
            x = ((x / 255 - mean[:, None, None]) / std[:, None, None]).to(device)
            y = labels[index].to(device)
            for group in optimiser.param_groups:
                group["lr"] = learning_rate(args.lr, step, total, args.schedule)
            loss = F.cross_entropy(model(x), y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            loss_sum += loss.item() * len(index)
            seen += torch.tensor([len(index), 0.0], dtype=torch.float64)
            step += 1
        totals = torch.tensor([loss_sum, seen[0].item()], dtype=torch.float64)
        dist.all_reduce(totals)
        mean_loss = (totals[0] / totals[1]).item()
        if rank == 0:
            print(f"epoch {epoch + 1}/{epochs}  train loss {mean_loss:.4f}  lr {optimiser.param_groups[0]['lr']:.5f}", flush=True)
            if not math.isfinite(mean_loss):
                raise SystemExit("the loss is not finite")
            save_safetensors(net.state_dict(), os.path.join(args.out, "weights.safetensors"))
    if rank == 0:
        result = {"epochs": epochs, "processes": world, "backend": backend, "train_loss": mean_loss}
        if test is not None:
            accuracy, test_loss = evaluate(net.cpu(), test[0], test[1], mean, std)
            result.update(test_accuracy=accuracy, test_loss=test_loss, test_images=len(test[0]))
            print(f"test accuracy {accuracy * 100:.2f}% ({round(accuracy * len(test[0]))}/{len(test[0])}), loss {test_loss:.4f}",
                  flush=True)
        with open(os.path.join(args.out, "result.json"), "w") as f:
            json.dump(result, f, indent=2)
    # The ranks leave together: rank 0 evaluated and wrote alone, and a rank that tears down its
    # gloo connections while a peer still works can abort the whole job at exit.
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
"""#
}
