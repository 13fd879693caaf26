#!/bin/bash
# Issue 15 evidence after the Winograd kernels (Zen 4, 2 threads). Resumable: each step writes its
# own log and is skipped when the log exists. The search runs separately (search.log).
cd /work/main
OUT=runs/wino; NEW=runs/bin/pfs-wino3
G=Benchmarks/results/2026-12-04-zen4/gates.json
step() { local name=$1; shift; [ -s $OUT/$name.log ] && return; echo "== $(date -u +%H:%M:%S) $name"; "$@" > $OUT/$name.tmp 2>&1 && mv $OUT/$name.tmp $OUT/$name.log; }
# 1. Full networks against PyTorch, three interleaved rounds, both instruction sets.
for isa in native avx2; do
  step compare-full-$isa python3 Benchmarks/compare_models.py --python /tmp/torchpeer/bin/python --pfs $NEW --threads 2 --seconds 3 --rounds 3 --isa $isa --cases resnet20:128,resnet56:128,vgg16:64
done
# 2. The pruned ResNet-56: speed-up over the full network (prune --measure-speed), then PyTorch on the same widths.
for isa in native avx2; do
  E=""; [ $isa = avx2 ] && E="PFS_ISA=avx2"
  for r in 1 2; do
    step prune-any-$isa-$r env $E $NEW prune $G --keep-macs 0.5 --measure-speed --threads 2 --out $OUT/pruned-any.json
    step prune-round8-$isa-$r env $E $NEW prune $G --keep-macs 0.5 --round-to 8 --measure-speed --threads 2 --out $OUT/pruned-round8.json
  done
done
for isa in native avx2; do
  step compare-pruned-$isa python3 Benchmarks/compare_models.py --python /tmp/torchpeer/bin/python --pfs $NEW --threads 2 --seconds 3 --rounds 2 --isa $isa --cases "" --configs $OUT/pruned-any.json:128,$OUT/pruned-round8.json:128
done
# 3. Per layer, Winograd off and on alternately (PFS_WINOGRAD), two rounds, both instruction sets.
for isa in avx512 avx2; do
  step conv-resnet-$isa bash -c "for r in 1 2; do for v in 0 1; do echo \"round \$r winograd \$v\"; PFS_ISA=$isa PFS_WINOGRAD=\$v $NEW bench --op conv --threads 2 --seconds 1 2>&1 | tail -12; done; done"
  step conv-vgg-$isa bash -c "for r in 1 2; do for v in 0 1; do echo \"round \$r winograd \$v\"; PFS_ISA=$isa PFS_WINOGRAD=\$v $NEW bench --op conv --shapes vgg --batch 64 --threads 2 --seconds 1 2>&1 | tail -20; done; done"
done
# 4. Latency budget, batch 1 (the per-layer table is measured again: kernel revision r5).
for ms in 3 2 1.5; do
  step latency-$ms $NEW prune $G --max-latency-ms $ms --latency-batch 1 --threads 2 --out $OUT/latency-$ms.json
done
echo "== $(date -u +%H:%M:%S) done"
