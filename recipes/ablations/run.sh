#!/usr/bin/env bash
# SODA's design-choice ablations at CPU scale, on the quickstart's data (recipes/ablations/study.yaml):
# every variant x seed is trained and evaluated (resumable), then results.csv, tables, verdicts and plots.
#   bash recipes/ablations/run.sh [audiolm ablations run options]   e.g. --only text_ratio_0,text_ratio_5  --dry-run
# Prepares the quickstart's corpus, benchmarks, codec, tokens and tokenizer first when they are missing
# (`recipes/quickstart/run.sh --stop-stage 5`). Outputs: exp/ablations/{results.csv,summary.md,verdicts.json,plots/}.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "${AUDIOLM_NO_SETUP:-0}" != "1" ]; then bash scripts/setup_env.sh; . .venv/bin/activate; fi
Q=exp/quickstart
if [ ! -e "$Q/tokenizer.json" ] || [ ! -e "$Q/data/benchmarks" ] || [ ! -e "$Q/tokens/train" ]; then
  AUDIOLM_NO_SETUP=1 bash recipes/quickstart/run.sh --stop-stage 5
fi
audiolm ablations run "$@"
