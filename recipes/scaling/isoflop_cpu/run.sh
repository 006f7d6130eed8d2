#!/usr/bin/env bash
# A whole IsoFLOP study on a 2-core CPU: several budgets x several sizes of the quickstart LM,
# trained for real on the embedded synthetic corpus, then both fits, plots and a prediction.
# Stages (all by default, or e.g. STAGES="3 4"):
#   0 check    the quickstart's tokenizer, token shards and text corpus exist
#              (bash recipes/quickstart/run.sh --stop-stage 5 writes them)
#   1 plan     -> exp/scaling/isoflop_cpu/sweep.yaml + runs/*.yaml
#   2 train    -> every run in turn via `audiolm train lm` (resumable: rerun to continue)
#   3 collect  -> runs.csv
#   4 fit      -> fit_<convention>.json + .png for total / non_embedding / non_embedding_plus_head
#   5 predict  -> N*, D*, loss and a ready config at PREDICT_BUDGET (default 3.2e12)
set -euo pipefail
cd "$(dirname "$0")/../../.."
HERE=recipes/scaling/isoflop_cpu
OUT=${OUT:-exp/scaling/isoflop_cpu}
STAGES=${STAGES:-"0 1 2 3 4 5"}
PREDICT_BUDGET=${PREDICT_BUDGET:-3.2e12}
PLAN_SET=${PLAN_SET:-}                 # extra plan overrides, e.g. PLAN_SET="budgets=[1e12,3e12]"
if [ -x .venv/bin/python ]; then . .venv/bin/activate; else bash scripts/setup_env.sh && . .venv/bin/activate; fi

for stage in $STAGES; do
  echo "== stage $stage ($(date +%H:%M:%S))"
  case $stage in
    0) for f in exp/quickstart/tokenizer.json exp/quickstart/tokens/train exp/quickstart/tokens/dev \
               exp/quickstart/data/text/text_train.jsonl.gz exp/quickstart/data/text/text_dev.jsonl.gz; do
         if [ ! -e "$f" ]; then
           echo "missing $f: run the quickstart's data stages first (bash recipes/quickstart/run.sh --stop-stage 5)" >&2
           exit 1
         fi
       done ;;
    1) # shellcheck disable=SC2086
       python -m audiolm scaling plan "$HERE/plan.yaml" --out "$OUT/sweep.yaml" ${PLAN_SET:+--set $PLAN_SET} ;;
    2) python -m audiolm scaling run "$OUT/sweep.yaml" ;;
    3) python -m audiolm scaling collect "$OUT/sweep.yaml" --out "$OUT/runs.csv" ;;
    4) for conv in total non_embedding non_embedding_plus_head; do
         python -m audiolm scaling fit "$OUT/runs.csv" --sweep "$OUT/sweep.yaml" --param-convention "$conv" \
           --predict "$PREDICT_BUDGET" --out "$OUT/fit_$conv.json" --plot "$OUT/fit_$conv.png"
       done ;;
    5) python -m audiolm scaling predict "$OUT/fit_total.json" --budget "$PREDICT_BUDGET" \
         --out "$OUT/predicted_${PREDICT_BUDGET}.yaml" ;;
    *) echo "unknown stage $stage" >&2; exit 2 ;;
  esac
done
