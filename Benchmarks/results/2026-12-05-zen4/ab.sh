#!/usr/bin/env bash
# A/B: alternate two binaries, whole-network steps, median img/s per round.
A=$1; Bb=$2; shift 2; rounds=${ROUNDS:-5}
P=Benchmarks/results/2026-12-04-zen4/winograd/pruned-any.json
for r in $(seq $rounds); do
  for net in ${NETS:-full pruned}; do
    if [ $net = full ]; then arg="--model resnet56"; else arg="--config $P"; fi
    for bin in $A $Bb; do
      v=$($bin bench $arg "$@" --seconds 2 --threads 2 | grep -A2 "img/s median" | tail -1 | awk '{print $4}')
      echo "round $r $net $(basename $bin) $v"
    done
  done
done
