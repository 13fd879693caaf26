#!/bin/bash
# Issue 15, the pruned network's speed-up (Zen 4, 2 threads): session-start binary (BASE, 3a66cea)
# against this sitting's (NEW). Resumable: each step writes its own log and is skipped when the
# log exists. Binaries are release builds copied to runs/bin after building each commit.
cd /work/main
OUT=runs/fold; BASE=runs/bin/pfs-base; NEW=runs/bin/pfs-r7
G=Benchmarks/results/2026-12-04-zen4/gates.json
P=Benchmarks/results/2026-12-04-zen4/winograd/pruned-any.json
mkdir -p $OUT
step() { local name=$1; shift; [ -s $OUT/$name.log ] && return; echo "== $(date -u +%H:%M:%S) $name"; "$@" > $OUT/$name.tmp 2>&1 && mv $OUT/$name.tmp $OUT/$name.log; }
# Pruned (50 % MACs) and full ResNet-56 alternately, 5 rounds of 1.5 s each, both binaries, batch 128.
rounds() {   # isa mode
  for r in 1 2 3 4 5; do
    for bin in BASE NEW; do
      for net in pruned full; do
        if [ $net = pruned ]; then a="--config $P"; else a="--model resnet56"; fi
        v=$(PFS_ISA=$1 ${!bin} bench $a --mode $2 --seconds 1.5 --threads 2 2>&1 | tail -1 | awk '{print $4}')
        echo "round $r $bin $net $v"
      done
    done
  done
}
# 1. The speed-up rounds, both instruction sets.
for isa in avx512 avx2; do for mode in fwd train; do step rounds-$isa-$mode rounds $isa $mode; done; done
# 2. pfs prune's own report (full, then pruned, ≥ 3 s each), any width and --round-to 8.
for isa in avx512 avx2; do
  step prune-any-$isa env PFS_ISA=$isa $NEW prune $G --keep-macs 0.5 --measure-speed --threads 2 --out $OUT/pruned-any.json
  step prune-round8-$isa env PFS_ISA=$isa $NEW prune $G --keep-macs 0.5 --round-to 8 --measure-speed --threads 2 --out $OUT/pruned-round8.json
done
# 3. PyTorch on the same widths, then the full networks (interleaved rounds, median ratios).
for isa in native avx2; do
  step compare-pruned-$isa python3 Benchmarks/compare_models.py --python /tmp/torchpeer/bin/python --pfs $NEW --threads 2 --seconds 3 --rounds 2 --isa $isa --cases "" --configs $OUT/pruned-any.json:128,$OUT/pruned-round8.json:128
done
for isa in native avx2; do
  step compare-full-$isa python3 Benchmarks/compare_models.py --python /tmp/torchpeer/bin/python --pfs $NEW --threads 2 --seconds 3 --rounds 2 --isa $isa --cases resnet20:128,resnet56:128,vgg16:64
done
echo "== $(date -u +%H:%M:%S) done"
