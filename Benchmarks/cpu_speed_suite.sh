#!/usr/bin/env bash
# The whole CPU-speed evidence in one run, on whatever machine this is (a quiet one: nothing else
# should run meanwhile). Writes every log under OUT (default runs/cpu-speed-<date>):
#
#   1. compare.log          pfs vs PyTorch (fwd/train/gate, medians, peak memory) for ResNet-20 and
#                           ResNet-56 at batch 128 and VGG-16 at batch 64, native ISA and AVX2 forced
#   2. search.log           the full ResNet-56 gate search: 45,000 CIFAR-10 images, 10 epochs, timed
#   3. prune-*.log          that search's gates cut to 50 % MACs, any width and --round-to 8, each
#                           with --measure-speed against the full network
#      pruned-compare.log   both pruned networks against PyTorch on the same widths
#   4. latency-*.log        three latency budgets (batch 1): predicted vs measured latency
#
# Usage: Benchmarks/cpu_speed_suite.sh [OUT]   (after `swift build -c release`; PYTHON names an
# interpreter with torch, DATA the CIFAR-10 binary folder; SKIP_SEARCH=1 reuses OUT/gates.json;
# ROUNDS (default 3) interleaved rounds of every PyTorch comparison, reported as median and range)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/cpu-speed-$(date -u +%Y%m%d-%H%M)}
PYTHON=${PYTHON:-/tmp/torchpeer/bin/python}
DATA=${DATA:-../shared/data/cifar-10-batches-bin}
PFS=.build/release/pfs
THREADS=${THREADS:-2}
mkdir -p "$OUT"
{
  echo "date: $(date -u +%FT%TZ)  commit: $(git rev-parse --short HEAD)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')  ($(nproc) CPUs)"
  echo "flags: $(grep -m1 flags /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|fma|avx512f|avx512bw|avx512vl)$' | tr '\n' ' ')"
  echo "threads: $THREADS"
} | tee "$OUT/machine.txt"

ROUNDS=${ROUNDS:-3}
compare() { "$PYTHON" Benchmarks/compare_models.py --python "$PYTHON" --threads "$THREADS" --seconds 5 --rounds "$ROUNDS" "$@"; }

echo "== 1. whole networks, native ISA and AVX2 forced" | tee "$OUT/compare.log"
for isa in native avx2; do
  echo "-- isa $isa" | tee -a "$OUT/compare.log"
  compare --isa "$isa" --cases resnet20:128,resnet56:128,vgg16:64 2>&1 | tee -a "$OUT/compare.log"
done

if [ "${SKIP_SEARCH:-0}" != 1 ]; then
  echo "== 2. ResNet-56 gate search, 10 epochs on 45,000 images" | tee "$OUT/search.log"
  start=$(date +%s)
  "$PFS" search --arch resnet56 --data "$DATA" --gate-epochs 10 --threads "$THREADS" \
      --out "$OUT/gates.json" 2>&1 | tee -a "$OUT/search.log"
  echo "wall seconds: $(( $(date +%s) - start ))" | tee -a "$OUT/search.log"
fi

echo "== 3. pruned to 50 % MACs" | tee "$OUT/prune.log"
"$PFS" prune "$OUT/gates.json" --keep-macs 0.5 --measure-speed --threads "$THREADS" \
    --out "$OUT/pruned.json" 2>&1 | tee "$OUT/prune-any.log"
"$PFS" prune "$OUT/gates.json" --keep-macs 0.5 --round-to 8 --measure-speed --threads "$THREADS" \
    --out "$OUT/pruned-round8.json" 2>&1 | tee "$OUT/prune-round8.log"
for isa in native avx2; do
  echo "-- isa $isa" | tee -a "$OUT/pruned-compare.log"
  compare --isa "$isa" --cases resnet56:128 --configs "$OUT/pruned.json:128,$OUT/pruned-round8.json:128" \
      2>&1 | tee -a "$OUT/pruned-compare.log"
done

echo "== 4. latency budgets (batch 1)"
"$PFS" bench --op latency --model resnet56 --batch 1 --threads "$THREADS" 2>&1 | tee "$OUT/latency-table.log"
for ms in ${LATENCY_BUDGETS:-3 2 1.5}; do
  "$PFS" prune "$OUT/gates.json" --max-latency-ms "$ms" --latency-batch 1 --threads "$THREADS" \
      --out "$OUT/pruned-latency-$ms.json" 2>&1 | tee "$OUT/latency-$ms.log"
done
echo "logs in $OUT"
