#!/usr/bin/env bash
# The Vision-R1 pipeline on the tiny model, end to end on CPU, as a user types it:
#   1. a VQA file of synthetic counting items (images + gold answers);
#   2. cold-start data by modality bridging: `rethinker coldstart` against a deterministic stand-in for the two models
#      (pseudo chain of thought -> image description -> reasoning; the pipeline's own filters and wrapping);
#   3. Vision-R1-Zero for comparison: `rethinker train vision-r1-zero-tiny` (HFRRF RL from the base model);
#   4. cold-start SFT: `rethinker sft vision-r1-cold-tiny` on the kept records;
#   5. PTST with HFRRF: `rethinker train vision-r1-tiny` from the SFT checkpoint;
#   6. OUT/summary.json: held-out accuracy and format rate at each point (benchmarks/vision_r1_tiny/summary.py).
# Usage: benchmarks/vision_r1_tiny/run.sh OUT_DIR [SEED]. Smaller runs (tests): VR1_SIZE (VQA items, 4096),
# VR1_SFT_STEPS (SFT steps, preset's 200), VR1_RL_STEPS (steps per PTST stage, preset's 15), VR1_EVAL_SIZE (held-out
# items, preset's 200).
set -euo pipefail
OUT=$(realpath -m "$1")
SEED=${2:-0}
SIZE=${VR1_SIZE:-4096}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY="$ROOT/.venv/bin/python"
CLI="$ROOT/.venv/bin/rethinker"
QUIET=(logging.tensorboard=false logging.progress=false)
mkdir -p "$OUT"

"$PY" -m rethinker.coldstart.synthetic_vqa "$OUT/vqa" --size "$SIZE" --seed "$SEED" >/dev/null
rm -f "$OUT/standin.url"
"$PY" -m rethinker.coldstart.standin --url-file "$OUT/standin.url" 2>/dev/null &
STANDIN=$!
trap 'kill "$STANDIN" 2>/dev/null || true' EXIT
for _ in $(seq 100); do [[ -s "$OUT/standin.url" ]] && break; sleep 0.1; done
URL=$(cat "$OUT/standin.url")
"$CLI" coldstart coldstart "input=$OUT/vqa/vqa.jsonl" "output_dir=$OUT/cold" "mllm.base_url=$URL" "reasoner.base_url=$URL" \
  reasoner.api_key_env=null filters.min_reasoning_chars=10 progress=false 2>"$OUT/coldstart.log"
kill "$STANDIN"

RL=("seed=$SEED" "${QUIET[@]}")
[[ -n "${VR1_EVAL_SIZE:-}" ]] && RL+=("eval.size=$VR1_EVAL_SIZE")
if [[ -n "${VR1_RL_STEPS:-}" ]]; then
  N=$VR1_RL_STEPS
  RL+=("train.steps=$((2 * N))" "eval.every=$N" \
    "stages=[{steps: $N, max_new_tokens: 96, group_size: 8}, {steps: $N, max_new_tokens: 128, group_size: 4}]")
fi
"$CLI" train vision-r1-zero-tiny "run_dir=$OUT/zero" "${RL[@]}" >"$OUT/zero.log" 2>&1

SFT=("run_dir=$OUT/sft" "seed=$SEED" "data.path=$OUT/cold/coldstart.jsonl" "data.image_root=$OUT/vqa" "${QUIET[@]}")
[[ -n "${VR1_SFT_STEPS:-}" ]] && SFT+=("train.steps=$VR1_SFT_STEPS")
"$CLI" sft vision-r1-cold-tiny "${SFT[@]}" >"$OUT/sft.log" 2>&1
CHECKPOINT=$(sed -n 's/^final checkpoint: //p' "$OUT/sft.log")
"$CLI" train vision-r1-tiny "model.path=$CHECKPOINT" "run_dir=$OUT/rl" "${RL[@]}" >"$OUT/rl.log" 2>&1

"$PY" "$ROOT/benchmarks/vision_r1_tiny/summary.py" "$OUT"
