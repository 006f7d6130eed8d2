#!/usr/bin/env bash
# Speech-to-speech translation fine-tuning in miniature (2-core CPU): the offline Spanish->English
# corpus -> tokens (the quickstart codec) -> fine-tune the quickstart LM on s2st sequences -> evaluate
# the fine-tuned model beside the base model (2-shot prompts in the same format).
# Needs a finished quickstart (bash recipes/quickstart/run.sh: its codec, tokenizer and LM).
#   bash recipes/s2st/run.sh [--stage N] [--stop-stage M] [--exp DIR] [--quickstart DIR] [--size tiny|default]
set -euo pipefail
cd "$(dirname "$0")/../.."

stage=0
stop_stage=100
exp=exp/s2st
qs=exp/quickstart
size=default
RECIPE_OPTS="--quickstart:qs"
. recipes/lib.sh
parse_recipe_args "$@"
recipe_setup
for f in "$qs/codec/checkpoints/last.ckpt" "$qs/tokenizer.json" "$qs/lm/checkpoints/last.ckpt"; do
  [ -f "$f" ] || { echo "error: $f not found: run the quickstart first (bash recipes/quickstart/run.sh)" >&2; exit 2; }
done
if [ "$size" = tiny ]; then
  PAIRS=60; SPEAKERS=2; FT_SET="trainer.epochs=0 trainer.max_tokens=16384 trainer.val_every_n_steps=2"; ITEMS=3
else
  PAIRS=1500; SPEAKERS=4; FT_SET=""; ITEMS=100
fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
mkdir -p "$exp"
C=$exp/data/corpus
CODEC=$qs/codec/checkpoints/last.ckpt
BASE=$qs/lm/checkpoints/last.ckpt
FT=$exp/lm/checkpoints/last.ckpt

# 0. parallel Spanish/English sentences, Spanish voices on the source side, English on the target
run_stage 0 corpus audiolm prepare synth-s2st "$C" --pairs "$PAIRS" --speakers "$SPEAKERS" --jobs 2
# 1. both sides to token shards with the quickstart codec (a pair = one two-utterance document)
tokenize_all() {
  for split in train dev test; do
    audiolm tokenize --codec "$CODEC" "$C/cuts_$split.jsonl.gz" "$exp/tokens/$split" --jobs 2
  done
}
run_stage 1 tokenize tokenize_all
# 2. fine-tune the quickstart LM: one s2st sequence per pair, loss on everything after the source speech
run_stage 2 finetune audiolm train lm s2st_quick exp_dir="$exp" name=lm init_from="$BASE" \
  data.tokenizer="$qs/tokenizer.json" "data.train_shards=[$exp/tokens/train]" "data.val_shards=[$exp/tokens/dev]" $FT_SET
# 3. the base model (2 dev pairs as shots) and the fine-tuned model (no shots) on the same test pairs
evaluate() {
  local judge="asr_judge=corpus:$C"  # a phone recogniser + word loop trained on this corpus (both languages)
  audiolm eval "$BASE" --data "s2tt=$C" --data "s2st=$C" --tasks s2tt,s2st --set "$judge" \
    --set translation_shots=2 --max-items "$ITEMS" --out "$exp/eval/base.json"
  audiolm eval "$FT" --data "s2tt=$C" --data "s2st=$C" --tasks s2tt,s2st --set "$judge" \
    --set translation_cascade=true --max-items "$ITEMS" --out "$exp/eval/finetuned.json" --save-audio "$exp/eval/audio"
  python recipes/s2st/summarize.py "$exp/eval/base.json" "$exp/eval/finetuned.json" | tee "$exp/eval/summary.md"
}
run_stage 3 eval evaluate
echo
echo "done: $exp/eval/summary.md  (tensorboard --logdir $exp)"
