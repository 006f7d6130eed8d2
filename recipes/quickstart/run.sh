#!/usr/bin/env bash
# The whole SODA study in miniature on the embedded offline corpus (2-core CPU, <= 30 minutes):
#   corpus -> offline benchmarks -> codec -> tokens -> interleaved LM (30% text) -> eval -> report
# Stages are resumable: a finished stage leaves a .done marker and is skipped on a rerun.
#   bash recipes/quickstart/run.sh [--stage N] [--stop-stage M] [--exp DIR] [--size tiny|default] [--text-docs N]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

stage=0
stop_stage=100
exp=exp/quickstart
size=default
text_docs=""  # text-only documents (default: half the utterances); 20000 trades the link for syntax (RESULTS.md)
RECIPE_OPTS="--text-docs:text_docs"
. recipes/lib.sh
parse_recipe_args "$@"
recipe_setup

# Sizes: 'default' is the documented quickstart; 'tiny' is what the end-to-end test runs.
if [ "$size" = tiny ]; then
  UTTS=120; SPEAKERS=6; BENCH_SIZE=6; SALMON_SIZE=6
  CODEC_SET="trainer.max_steps=40 trainer.val_every_n_steps=40 data.batch_size=4 teacher.steps=40 data.val_max_cuts=4"
  LM_SET="trainer.max_tokens=81920 trainer.log_every_n_steps=2 trainer.val_every_n_steps=10 trainer.ckpt_every_n_steps=10"
  XM_EVERY=10; XM_ITEMS=3
  EVAL_ITEMS=3; BPE=600; SPEECH_SIZE=6
else
  UTTS=2000; SPEAKERS=10; BENCH_SIZE=400; SALMON_SIZE=200; CODEC_SET=""
  LM_SET=""; EVAL_ITEMS=400; BPE=2048; SPEECH_SIZE=100
  XM_EVERY=200; XM_ITEMS=48
fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

mkdir -p "$exp"

D=$exp/data
CODEC_CKPT=$exp/codec/checkpoints/last.ckpt
LM_CKPT=$exp/lm/checkpoints/last.ckpt

# 0. the embedded corpus: multi-speaker espeak-ng speech, documents of consecutive utterances
run_stage 0 corpus audiolm prepare synth "$D/corpus" --utterances "$UTTS" --speakers "$SPEAKERS" --jobs 2
# 1. text-only documents for the text share of the mixture (--text-docs 20000: one pass over
#    distinct text instead of ~20 over 1,000 documents: tBLIMP 0.65 -> 0.74, but the text<->audio
#    gain 0.34 -> 0.11 nats per token; RESULTS.md)
run_stage 1 text audiolm prepare synth-text "$D/text" --documents "${text_docs:-$((UTTS / 2))}"
# 2. offline benchmark sets with held-out voices (sWUGGY, sBLIMP, SALMon, StoryCloze, ...), held out
#    from the training corpus (no sentence or story of it; real words it says often)
run_stage 2 benchmarks audiolm prepare benchmarks "$D/benchmarks" --size "$BENCH_SIZE" --sizes "speech=$SPEECH_SIZE,salmon=$SALMON_SIZE" \
  --workers 2 --corpus "$D/corpus" --corpus "$D/text"
# 3. the quick split-RVQ codec (semantic codebook distilled from an offline phone recognizer)
run_stage 3 codec audiolm train codec quick exp_dir="$exp" name=codec \
  train_cuts="$D/corpus/cuts_train.jsonl.gz" val_cuts="$D/corpus/cuts_dev.jsonl.gz" $CODEC_SET
# 4. token shards (lhotse Shar, codes (T, n_q) int16)
tokenize_all() {
  for split in train dev test; do
    audiolm tokenize --codec "$CODEC_CKPT" "$D/corpus/cuts_$split.jsonl.gz" "$exp/tokens/$split" --jobs 2
  done
}
run_stage 4 tokenize tokenize_all
# 5. the unified tokenizer: byte-level BPE on transcripts + text, then specials, then audio ids
train_tokenizer() {  # the codebooks and their size come from the shards' codec description
  audiolm tokens train-bpe "$D/corpus/cuts_train.jsonl.gz" "$D/text/text_train.jsonl.gz" \
    "$exp/tokenizer.json" --vocab-size "$BPE" --shards "$exp/tokens/train"
}
run_stage 5 tokenizer train_tokenizer
# 6. the interleaved LM (conf/lm/quickstart.yaml): text-first + audio-first + word-level documents,
#    30% text-only tokens, 1024-token rows; the cross-modal
#    gain and the NLL vector go to tensorboard (eval/cross_modal/*) as it trains
XM_CALLBACK="callbacks=[{class_path: audiolm.eval.callback.EvalCallback, init_args: {tasks: cross_modal, data: $D/benchmarks, every_n_steps: $XM_EVERY, max_items: $XM_ITEMS, config: quick}}]"
run_stage 6 lm audiolm train lm quickstart exp_dir="$exp" name=lm "$XM_CALLBACK" \
  data.tokenizer="$exp/tokenizer.json" \
  "data.train_shards=[$exp/tokens/train]" "data.val_shards=[$exp/tokens/dev]" \
  "data.text_train=[$D/text/text_train.jsonl.gz]" "data.text_val=[$D/text/text_dev.jsonl.gz]" \
  $LM_SET
# 7. evaluation on the offline sets, beside baselines and oracles that know the training data
#    (two worker processes of one thread each: TTS beside the likelihood sets)
run_eval() {
  python benchmarks/benchmark_validity.py --bench "$D/benchmarks" --corpus "$D/corpus" --corpus "$D/text" \
    --tokenizer "$exp/tokenizer.json" --tokens "$exp/tokens/train" --codec "$CODEC_CKPT" \
    --max-items "$EVAL_ITEMS" --out "$exp/eval/validity.json"
  local extra=()
  if [ "$EVAL_ITEMS" -gt 0 ]; then extra=(--max-items "$EVAL_ITEMS"); fi
  audiolm eval "$LM_CKPT" --data "$D/benchmarks" --config quick --set "asr_judge=corpus:$D/corpus" --jobs 2 \
    --tasks swuggy,sblimp,salmon,twuggy,tblimp,sstorycloze,topic_sstorycloze,text_storycloze,hellaswag,cross_modal,asr,tts \
    --out "$exp/eval/report.json" --save-audio "$exp/eval/audio" "${extra[@]}" || {
      rc=$?; [ "$rc" -eq 1 ] || exit "$rc"; echo "(some tasks failed: see $exp/eval/report.json)"; }
}
run_stage 7 eval run_eval
# 8. the report: exp/quickstart/report.md + report.json + plots
run_stage 8 report audiolm report "$exp" --probe-cuts "$D/corpus"

echo
echo "done: $exp/report.md  (tensorboard --logdir $exp)"
