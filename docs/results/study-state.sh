#!/usr/bin/env bash
# Keeps a long `pfs study` resumable across machines that only keep the git repository.
#
#   docs/results/study-state.sh save    runs/study17 docs/results/runs/study17
#   docs/results/study-state.sh restore docs/results/runs/study17 runs/study17
#
# `save` copies a study directory (stop the study first, Ctrl-C saves its current run) into a
# lean copy worth committing: every small file (stage.json, scores.json, gates.json, pruned.json,
# result.json, metrics, results.csv/json, summary.txt …) and only the weights a rerun still needs:
#   - the checkpoint of every run that has not finished (no result.json / scores.json beside it),
#   - the pretraining snapshots while a checkpoint-gates or L1-norm source is still unscored,
#   - the Network Slimming run's weights while its scores are missing.
# A finished training run is recognised by its result.json alone, a finished source by its
# scores.json and a finished structure by its pruned.json, so their weights are not needed.
# `restore` copies the lean state back to where `pfs study --out` expects it.
set -euo pipefail

usage() { echo "usage: $0 save|restore FROM TO" >&2; exit 2; }
[ $# -eq 3 ] || usage
mode=$1 from=${2%/} to=${3%/}
[ -d "$from" ] || { echo "$0: no study directory at $from" >&2; exit 1; }

case $mode in
restore)
    mkdir -p "$to"
    cp -a "$from/." "$to/"
    echo "restored $from → $to ($(du -sh "$to" | cut -f1))"
    exit 0 ;;
save) ;;
*) usage ;;
esac

if [ -e "$from/.pfs-lock" ] && pid=$(sed -n "s/^pid \([0-9]*\).*/\1/p" "$from/.pfs-lock" | head -1) \
   && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    echo "$0: $from is locked by a running study (pid $pid); stop it with Ctrl-C (SIGINT) first" >&2
    exit 1
fi

# Which planned sources still need the pretraining snapshots or the slimming run's weights? The
# plan as run (DIR/plan.json) names them; a source counts as done once its scores.json exists.
# (A source that has not started has no directory yet, so the plan is the only complete list.)
read -r pretrain_needed slimming_needed < <(python3 - "$from" <<'PY'
import json, os, sys
d = sys.argv[1]
plan = json.load(open(os.path.join(d, "plan.json")))
final = (plan.get("pretraining") or {}).get("epochs")
def scored(name): return os.path.isfile(os.path.join(d, "scores", name, "scores.json"))
def epoch(e): return final if e == "final" else e
pretrain = slimming = False
for s in plan.get("sources", []):
    k = s.get("kind")
    if k == "checkpoint-gates":
        pretrain |= any(epoch(e) is None or not scored(f"checkpoint-gates-epoch{epoch(e)}") for e in s.get("epochs", []))
    elif k == "l1-norm":
        e = epoch(s.get("epoch", "final"))
        pretrain |= e is None or not scored(f"l1-norm-epoch{e}")
    elif k == "network-slimming":
        slimming |= not scored("network-slimming")
print(int(pretrain), int(slimming))
PY
)
[ -n "$pretrain_needed" ] || { echo "$0: cannot read the plan in $from/plan.json" >&2; exit 1; }

keep() {  # keep WEIGHTS_FILE → 0 when a rerun needs it
    local file=$1 dir
    dir=$(dirname "$file")
    case $dir in
    "$from/pretrain")  # sources start from the epoch snapshots; the checkpoint only until the run ends
        [ $pretrain_needed = 1 ] && { [ "${file##*/}" != checkpoint.safetensors ] || [ ! -f "$dir/result.json" ]; } ;;
    "$from/slimming") [ $slimming_needed = 1 ] ;;
    */search) [ ! -f "$(dirname "$dir")/scores.json" ] ;;
    *) [ ! -f "$dir/result.json" ] && [ ! -f "$dir/scores.json" ] ;;
    esac
}

rm -rf "$to.tmp"
mkdir -p "$to.tmp"
kept=0 dropped=0
while IFS= read -r -d '' file; do
    rel=${file#"$from"/}
    case $rel in */.pfs-lock|.pfs-lock|report.html) continue ;; esac  # the report is rebuilt by pfs report
    if [[ $rel == *.safetensors ]] && ! keep "$file"; then dropped=$((dropped + 1)); continue; fi
    [[ $rel == *.safetensors ]] && kept=$((kept + 1))
    mkdir -p "$to.tmp/$(dirname "$rel")"
    cp -p "$file" "$to.tmp/$rel"
done < <(find "$from" -type f -print0)
rm -rf "$to"
mv "$to.tmp" "$to"
echo "saved $from → $to ($(du -sh "$to" | cut -f1); weights kept $kept, dropped $dropped)"
