#!/usr/bin/env bash
# The third sitting's measurements (2026-12-05, 03:08-): resumable, a finished log is skipped. Run
# from the repository root with the binaries copied to runs/bin/ (pfs-l2 = f4d523f, pfs-s3 = 4115955).
set -u
L=Benchmarks/results/2026-12-05-zen4/logs
G=Benchmarks/results/2026-12-04-zen4/gates.json
OUT=Benchmarks/results/2026-12-05-zen4
PY=/tmp/torchpeer/bin/python
step() { local name=$1; shift; [ -s "$L/$name" ] && return; echo "== $name $(date +%T)"; ( "$@" ) > "$L/$name.tmp" 2>&1 && mv "$L/$name.tmp" "$L/$name"; }

# 1. Winograd chunk footprint (V + M = half of PFS_L2_KB) on this 1 MiB-L2 machine (pfs-l2).
sweep() { for r in 1 2 3; do for kb in 256 1024 2048 4096; do echo "round $r PFS_L2_KB=$kb"; PFS_L2_KB=$kb runs/bin/pfs-l2 bench --op conv --seconds 1 --threads 2 | grep -E "forward|backward-data"; done; done; }
step chunk-sweep-avx512.log sweep
net() { for r in 1 2 3; do for kb in 512 1024 2048 4096; do for m in fwd train; do echo -n "round $r PFS_L2_KB=$kb $m: "; PFS_L2_KB=$kb runs/bin/pfs-l2 bench --model resnet56 --mode $m --seconds 2 --threads 2 | grep -A2 "img/s median" | tail -1; done; done; done; }
step chunk-resnet56.log net
# 2. The speed-up with Winograd off (direct kernels only) and on, interleaved (pfs-l2).
for isa in avx512 avx2; do for w in 0 1; do
  step "prune-winograd$w-$isa.log" env PFS_ISA=$isa PFS_WINOGRAD=$w runs/bin/pfs-l2 prune $G --keep-macs 0.5 --measure-speed --threads 2 --out runs/s3/pruned-w$w-$isa.json
done; done
# 3. Per-image time of one layer against the batch (activations cache-resident or not).
batch() { for r in 1 2 3; do for b in 8 32 128; do echo "round $r batch $b"; runs/bin/pfs-l2 bench --op conv --batch $b --seconds 1 --threads 2 | grep -E " forward"; done; done; }
step conv-batch.log batch
# 4. The end of the sitting (pfs-s3): the pruned network's speed-up, and pfs against PyTorch.
for isa in avx512 avx2; do
  for run in 1 2; do
    step "s3-prune-any-$isa-$run.log" env PFS_ISA=$isa runs/bin/pfs-s3 prune $G --keep-macs 0.5 --measure-speed --threads 2 --out runs/s3/any-$isa.json
  done
  step "s3-prune-round8-$isa.log" env PFS_ISA=$isa runs/bin/pfs-s3 prune $G --keep-macs 0.5 --round-to 8 --measure-speed --threads 2 --out runs/s3/r8-$isa.json
done
for isa in native avx2; do
  step "s3-compare-full-$isa.log" python3 Benchmarks/compare_models.py --python $PY --pfs runs/bin/pfs-s3 --threads 2 --seconds 3 --rounds 2 --isa $isa --cases resnet20:128,resnet56:128,vgg16:64
  step "s3-compare-pruned-$isa.log" python3 Benchmarks/compare_models.py --python $PY --pfs runs/bin/pfs-s3 --threads 2 --seconds 3 --rounds 2 --isa $isa --cases "" --configs $OUT/pruned-any.json:128,$OUT/pruned-round8.json:128
done
