#!/usr/bin/env bash
# SODA's design-choice ablations at laptop scale, on the quickstart's data: each variant is a
# 1-3 line YAML delta over conf/lm/quickstart.yaml; train, evaluate, then one table.
#   bash recipes/ablations/run.sh [VARIANT ...]     (default: text ratio + token composition)
# Needs exp/quickstart/{tokenizer.json,tokens/,data/} from `bash recipes/quickstart/run.sh --stop-stage 5`.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "${AUDIOLM_NO_SETUP:-0}" != "1" ]; then bash scripts/setup_env.sh; . .venv/bin/activate; fi
variants=("$@")
if [ ${#variants[@]} -eq 0 ]; then
  variants=(text_ratio_0 text_ratio_5 text_ratio_20 text_ratio_50 tokens_semantic tokens_semantic_acoustic tokens_interleaved layout_delay)
fi
exp=exp/ablations
Q=exp/quickstart
for f in "$Q/tokenizer.json" "$Q/tokens/train" "$Q/data/benchmarks"; do
  [ -e "$f" ] || { echo "missing $f: run bash recipes/quickstart/run.sh --stop-stage 5 first" >&2; exit 2; }
done
for v in "${variants[@]}"; do
  echo "== $v"
  audiolm train lm "recipes/ablations/$v.yaml" exp_dir="$exp" name="$v" \
    "data.text_train=[$Q/data/text/text_train.jsonl.gz]" "data.text_val=[$Q/data/text/text_dev.jsonl.gz]"
  if [ ! -f "$exp/$v/eval.json" ]; then
    audiolm eval "$exp/$v/checkpoints/last.ckpt" --data "$Q/data/benchmarks" \
      --tasks swuggy,sblimp,salmon,twuggy,tblimp,asr --out "$exp/$v/eval.json" || [ $? -eq 1 ]
  fi
done
python - "$exp" "${variants[@]}" <<'PY'
import json, sys
from pathlib import Path
exp, variants = Path(sys.argv[1]), sys.argv[2:]
cols = ["swuggy", "sblimp", "salmon", "twuggy", "tblimp"]
print("| variant | val NLL | bits/audio s | " + " | ".join(cols) + " | ASR WER |")
print("|---" * (len(cols) + 4) + "|")
for v in variants:
    final = json.loads((exp / v / "final.json").read_text())
    ev = json.loads((exp / v / "eval.json").read_text())["tasks"]
    acc = [f"{ev[c]['accuracy']:.3f}" if "accuracy" in ev.get(c, {}) else "-" for c in cols]
    wer = f"{ev['asr']['wer']:.3f}" if "wer" in ev.get("asr", {}) else "-"
    print(f"| {v} | {final['val_loss']:.3f} | {final['val_bits_per_audio_second']:.0f} | " + " | ".join(acc) + f" | {wer} |")
PY
