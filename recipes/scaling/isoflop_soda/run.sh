#!/usr/bin/env bash
# SODA's IsoFLOP study on a GPU cluster. Stages (run all, or pick with STAGES="3 4"):
#   1 plan     -> exp/scaling/isoflop_soda/sweep.yaml + runs/*.yaml
#   2 train    -> every run, one after another on this node (resumable); on a cluster, use
#                 LAUNCH=print to print one command per run and submit them yourself
#   3 collect  -> runs.csv
#   4 fit      -> fit_<convention>.json + .png for total / non_embedding / non_embedding_plus_head
#   5 predict  -> N*, D*, loss and a ready config at PREDICT_BUDGET (default 1e21)
# Needs token shards and the unified tokenizer at the paths of conf/lm/soda_base.yaml
# (data.tokenizer, data.train_shards, data.val_shards); override them in base.yaml.
set -euo pipefail
cd "$(dirname "$0")/../../.."
HERE=recipes/scaling/isoflop_soda
OUT=exp/scaling/isoflop_soda
STAGES=${STAGES:-"1 2 3 4 5"}
LAUNCH=${LAUNCH:-local}                  # local | print
TRAIN_COMMAND=${TRAIN_COMMAND:-"{python} -m audiolm train lm {config}"}
PREDICT_BUDGET=${PREDICT_BUDGET:-1e21}
if [ -x .venv/bin/python ]; then . .venv/bin/activate; fi

for stage in $STAGES; do
  case $stage in
    1) python -m audiolm scaling plan "$HERE/plan.yaml" --out "$OUT/sweep.yaml" ;;
    2) if [ "$LAUNCH" = print ]; then
         python -m audiolm scaling run "$OUT/sweep.yaml" --print-commands --train-command "$TRAIN_COMMAND"
       else
         python -m audiolm scaling run "$OUT/sweep.yaml" --train-command "$TRAIN_COMMAND"
       fi ;;
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
