#!/bin/bash
# Pruned-network evidence for issue 15 after the exact-tail kernels. Resumable: each step writes
# its own log and is skipped when the log exists.
cd /work/main
OUT=runs/tails; NEW=runs/bin/pfs-a2tail; OLD=runs/bin/pfs-715c51a
G=Benchmarks/results/2026-12-04-zen4/gates.json
step() { local name=$1; shift; [ -s $OUT/$name.log ] && return; echo "== $(date -u +%H:%M:%S) $name"; "$@" > $OUT/$name.tmp 2>&1 && mv $OUT/$name.tmp $OUT/$name.log; }
# 1. Gate step with closed gates, old vs new, interleaved.
step gate-closed bash -c "for r in 1 2 3; do for f in 0.4 0.6; do for b in $OLD $NEW; do echo \"round \$r closed \$f \$(basename \$b) \$(\$b bench --model resnet56 --mode gate --closed-gates \$f --seconds 4 --threads 2 2>&1 | tail -1 | awk '{print \$4}')\"; done; done; done"
# 2. prune --measure-speed, any width and --round-to 8, three times each, AVX-512 then AVX2.
for isa in native avx2; do
  E=""; [ $isa = avx2 ] && E="PFS_ISA=avx2"
  for r in 1 2 3; do
    step prune-any-$isa-$r env $E $NEW prune $G --keep-macs 0.5 --measure-speed --threads 2 --out $OUT/pruned-any.json
    step prune-round8-$isa-$r env $E $NEW prune $G --keep-macs 0.5 --round-to 8 --measure-speed --threads 2 --out $OUT/pruned-round8.json
  done
done
# 3. Against PyTorch on the same widths, three rounds, both instruction sets.
for isa in native avx2; do
  step compare-pruned-$isa python3 Benchmarks/compare_models.py --python /tmp/torchpeer/bin/python --pfs $NEW --threads 2 --seconds 3 --rounds 3 --isa $isa --configs $OUT/pruned-any.json:128,$OUT/pruned-round8.json:128
done
# 4. Full networks, no regression: three rounds, both instruction sets.
for isa in native avx2; do
  step compare-full-$isa python3 Benchmarks/compare_models.py --python /tmp/torchpeer/bin/python --pfs $NEW --threads 2 --seconds 3 --rounds 3 --isa $isa --cases resnet20:128,resnet56:128,vgg16:64
done
echo "== $(date -u +%H:%M:%S) done"
