#!/usr/bin/env bash
# The prepared GPU check, one command of at most 10 minutes on an H100/H200 that reaches no registry:
#   1. installs the wheels carried with the working tree (xformers, nvidia-cuda-runtime-cu12, ...),
#   2. records torch/CUDA/xformers versions and `python -m xformers.info`,
#   3. runs the CUDA tests (pytest -m gpu: xformers and varlen vs SDPA forward/backward, one training step each),
#   4. runs the training-step matrix: presets x {xformers, varlen, sdpa} x {eager, compiled per block},
#      seq 4096, bf16 autocast, packed documents -> tokens/s, MFU (989 TFLOP/s dense bf16), peak memory,
#      recompiles after warm-up; writes $OUT/gpu_matrix.md (+ .json) and the logs.
#
#   bash benchmarks/gpu_check.sh [--dry-run] [--wheels DIR] [--shapes 135m,600m] [--batch 4]
#
# --dry-run: runs every step on this machine's CPU with the tiny preset (seq 128, eager only) and prints
# what the GPU run would do: the script itself is tested without a GPU (tests/test_gpu_check.py).
set -euo pipefail
cd "$(dirname "$0")/.."
dry=0; wheels=.whl; shapes=135m,600m; batch=4; seq=4096; modes=eager,compiled; budget=150
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry=1 ;;
    --wheels) wheels=$2; shift ;;
    --shapes) shapes=$2; shift ;;
    --batch) batch=$2; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
OUT=${OUT:-exp/gpu_check}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && PY=.venv/bin/python
if [ "$dry" = 1 ]; then
  shapes=tiny; seq=128; batch=2; modes=eager; budget=120
  device=(--path device --device cpu --rounds 1 --reps 1 --threads 1)
else
  device=(--device cuda --rounds 3 --reps 2)
fi

echo "== 1. wheels from $wheels"
if compgen -G "$wheels/*.whl" > /dev/null; then
  cmd=("$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/gpu_site "$wheels"/*.whl)
  if [ "$dry" = 1 ]; then echo "would run: ${cmd[*]}"; else "${cmd[@]}"; export PYTHONPATH=/tmp/gpu_site; fi
else
  echo "no wheels in $wheels: using what is installed"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

echo "== 2. versions"
"$PY" - <<'PY' | tee "$OUT/env.txt"
import torch
from audiolm.lm.cuda_libs import preload_cudart12
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, device: "
      f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu'}")
print(f"libcudart.so.12: {preload_cudart12() or 'not found'}")
try:
    import xformers
    print(f"xformers {xformers.__version__}")
except Exception as e:
    print(f"xformers not importable: {type(e).__name__}: {e}")
from audiolm.lm.attention import resolve_backend, varlen_available
print(f"attention=auto resolves to: {resolve_backend('auto', 'cuda' if torch.cuda.is_available() else 'cpu')}; "
      f"varlen kernels: {'yes' if varlen_available() else 'no'}")
PY
"$PY" -m xformers.info > "$OUT/xformers_info.txt" 2>&1 || echo "python -m xformers.info failed (see $OUT/xformers_info.txt)"
grep -E "^(xFormers|pytorch\.|gpu\.|build\.cuda|memory_efficient_attention\.(cutlassF|fa2F|fa3F))" "$OUT/xformers_info.txt" || true

echo "== 3. CUDA tests"
if [ "$dry" = 1 ]; then
  "$PY" -m pytest -q -m gpu tests/ -p no:cacheprovider --collect-only 2>&1 | tail -3 | tee "$OUT/cuda_tests.txt"
else
  timeout 180 "$PY" -m pytest -q -m gpu tests/ -p no:cacheprovider -rs 2>&1 | tail -15 | tee "$OUT/cuda_tests.txt" || true
fi

echo "== 4. training-step matrix: $shapes x {xformers,varlen,sdpa} x {$modes}, seq $seq, batch $batch"
: > "$OUT/gpu_matrix.jsonl"
for shape in ${shapes//,/ }; do
  timeout "$budget" "$PY" benchmarks/bench_lm_train_step.py "${device[@]}" --shapes "$shape" --seq "$seq" --batch "$batch" \
    --backends xformers,varlen,sdpa --modes "$modes" --json > "$OUT/matrix_$shape.json" 2> "$OUT/matrix_$shape.log" \
    && cat "$OUT/matrix_$shape.json" | "$PY" -c "import json,sys; print(json.dumps(json.load(sys.stdin)))" >> "$OUT/gpu_matrix.jsonl" \
    || echo "$shape: the matrix did not finish (exit $?; see $OUT/matrix_$shape.log)"
done
"$PY" - "$OUT" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
runs = [json.loads(line) for line in (out / "gpu_matrix.jsonl").read_text().splitlines() if line.strip()]
env = (out / "env.txt").read_text().strip().replace("\n", "; ")
lines = [f"# GPU check", "", f"{env}", ""]
if runs:
    lines.append(f"machine: {runs[0]['machine']}")
    lines += ["", "| shape | attention | mode | batch x seq | tokens/s | MFU | peak memory | recompiles |", "|---|---|---|---|---|---|---|---|"]
    for run in runs:
        for r in run["rows"]:
            tok = r.get("tok_s")
            tok_s = f"{tok:,.0f}" if isinstance(tok, float) else str(tok)
            mfu = f"{r['mfu']:.3f}" if isinstance(r.get("mfu"), float) else "-"
            mem = f"{r['peak_mem_gib']:.1f} GiB" if "peak_mem_gib" in r else "-"
            lines.append(f"| {r['shape']} | {r['attention']} | {r.get('mode', 'eager')} | {r['batch']} x {r['seq']} | {tok_s} | "
                         f"{mfu} | {mem} | {r.get('recompiles', '-')} |")
else:
    lines.append("no matrix row finished")
(out / "gpu_matrix.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
PY
