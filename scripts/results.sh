#!/usr/bin/env bash
# Every probe and reproduction of the papers on one zoo, into one results folder.
#
#   scripts/results.sh ZOO OUT        e.g. scripts/results.sh .cache/nws-mini docs/results/nws-mini
#   make results ZOO=.cache/nws-mini OUT=docs/results/nws-mini
#
# Each step writes its Markdown report (with CSV and PNG figures) into its own subfolder of OUT and
# logs its wall time to OUT/timings.tsv. A finished step leaves OUT/.done-STEP and is skipped when
# the script is run again, so a run that was stopped goes on where it stopped (delete the marker
# to redo a step).
set -euo pipefail
ZOO=${1:?usage: scripts/results.sh ZOO OUT}
OUT=${2:?usage: scripts/results.sh ZOO OUT}
WS=${WEIGHTSPACE:-weightspace}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
mkdir -p "$OUT"
[ -f "$OUT/timings.tsv" ] || printf 'step\tseconds\n' > "$OUT/timings.tsv"

step() {  # step NAME COMMAND...
    local name=$1; shift
    if [ -e "$OUT/.done-$name" ]; then echo "== $name: done before"; return; fi
    echo "== $name: $*"
    local began=$SECONDS
    "$@"
    printf '%s\t%s\n' "$name" "$((SECONDS - began))" >> "$OUT/timings.tsv"
    touch "$OUT/.done-$name"
}

"$WS" library info "$ZOO" > "$OUT/zoo.txt"
invariance() {
    mkdir -p "$OUT/invariance"
    "$WS" reproduce invariance "$ZOO" --csv "$OUT/invariance/invariance.csv" \
        --plot "$OUT/invariance/invariance.png" > "$OUT/invariance/invariance.txt"
}
step invariance invariance
step regression "$WS" probe regression "$ZOO" --out "$OUT/regression" --quiet
# global statistics: they work across architectures (layer-wise statistics need one architecture:
# run `weightspace probe svm ZOO --repr layer-stats --where "arch_id = '...'"` on such a zoo)
step svm "$WS" probe svm "$ZOO" --repr stats \
    --target dataset,optimizer,activation,init,augmentation --out "$OUT/svm" --quiet
step untangling "$WS" reproduce untangling "$ZOO" --out "$OUT/untangling" --quiet
step embeddings "$WS" reproduce embeddings "$ZOO" --figure all --out "$OUT/embeddings" --quiet
# NWS Fig. 13 once more without the batch-norm running statistics, which otherwise hold nearly all
# of the raw weights' variance (the report above says so)
step embeddings-learned "$WS" reproduce embeddings "$ZOO" --figure 13 \
    --roles kernel,bias,bn_gamma,bn_beta --out "$OUT/embeddings_learned" --quiet
step dmc "$WS" probe dmc "$ZOO" --kind local \
    --target dataset,optimizer,activation,init,augmentation,batch_size,lr \
    --test-snapshots=0,-1 --out "$OUT/dmc" --quiet
step performance-maps "$WS" reproduce performance-maps "$ZOO" \
    --out "$OUT/performance_maps" --quiet
echo "results in $OUT; wall times in $OUT/timings.tsv"
