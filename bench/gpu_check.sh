#!/usr/bin/env bash
# One GPU check, under 8 minutes on one H100/H200, from the repo root on a fresh machine:
#
#   1. set-up (scripts/setup-env.sh: CUDA torch from the registry, the project, its offline
#      assets; then bitsandbytes through the project's qlora extra), skipped when .venv works
#   2. training through the real trainer plugins (what `harness train` runs): LoRA bf16 and
#      QLoRA NF4 on SmolLM2-135M: tokens/s, MFU, peak memory (bench/gpu_check.py)
#   3. one round of `harness run` (the demo's config, cut to one round)
#   4. the same two on a random Llama-3.1-8B-shaped model (made and saved once, then loaded)
#   5. shared-prefix evaluation speed against the lm-eval CLI (bench/eval_speed.py, one task)
#   6. full fine-tuning of SmolLM2-135M
#   7. FSDP full fine-tuning under torchrun (Axolotl's fsdp keys), one process
#   8. the memory plan of an 8B-shaped full fine-tune on this GPU (8-bit optimizer, gradient
#      checkpointing), then two steps of it where the plan says it fits: peak against the plan
# in this order of need: when the budget runs out, the last sections are skipped.
#
# Every section has a time box and records its own outcome, so one failure costs only its
# own time; sections that no longer fit the budget are recorded as skipped. A summary
# table ends the output. Results go to $OUT when set (the device runner collects it),
# else to runs/gpu_check/; large files (models, checkpoints) stay in a scratch folder.
#
#   bash bench/gpu_check.sh              # on the GPU machine
#   bash bench/gpu_check.sh --dry-run    # anywhere: every section on CPU with the tiny model
#
# Environment: GPU_CHECK_BUDGET (seconds, default 470), GPU_CHECK_PYTHON (default
# .venv/bin/python), GPU_CHECK_SCRATCH (default ${TMPDIR:-/tmp}/gpu_check).
set -uo pipefail
cd "$(dirname "$0")/.."

DRY=""
SCALE=1  # time boxes are sized for the GPU machine; a dry run on a small CPU gets more
[ "${1:-}" = "--dry-run" ] && DRY="--tiny" && SCALE=${GPU_CHECK_DRY_SCALE:-6}
RESULTS_DIR=${OUT:-runs/gpu_check}
mkdir -p "$RESULTS_DIR"
RESULTS_DIR=$(cd "$RESULTS_DIR" && pwd)
RESULTS=$RESULTS_DIR/results.jsonl
LOGS=$RESULTS_DIR/logs
SCRATCH=${GPU_CHECK_SCRATCH:-${TMPDIR:-/tmp}/gpu_check}
PY=${GPU_CHECK_PYTHON:-.venv/bin/python}
BUDGET=${GPU_CHECK_BUDGET:-470}
[ -n "$DRY" ] && BUDGET=${GPU_CHECK_BUDGET:-$((470 * SCALE))}
mkdir -p "$LOGS" "$SCRATCH"
rm -f "$RESULTS"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export HARNESS_CACHE=${HARNESS_CACHE:-$SCRATCH/cache}

note() { printf '[%4ds] %s\n' "$SECONDS" "$*"; }

record() {  # record SECTION STATUS WHY SECONDS: a line for a section that produced none itself
    "$PY" bench/gpu_check.py record "$1" "$2" --why "$3" --seconds "$4" --results "$RESULTS" >/dev/null 2>&1 \
        || printf '{"section": "%s", "status": "%s", "why": "%s"}\n' "$1" "$2" "$3" >> "$RESULTS"
}

# section NAME LIMIT COMMAND...: run COMMAND within min(LIMIT, what is left of the budget).
section() {
    local name=$1 limit=$(($2 * SCALE))
    shift 2
    local left=$((BUDGET - SECONDS))
    if [ "$left" -lt 30 ]; then
        note "$name: skipped (budget spent)"
        record "$name" skipped "budget of ${BUDGET}s spent" 0
        return 1
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    local log="$LOGS/$(echo "$name" | tr -c 'a-zA-Z0-9\n' '_').log" start=$SECONDS rc=0
    note "$name (time box ${limit}s; log $log)"
    timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1 || rc=$?
    LAST_SECONDS=$((SECONDS - start))
    if [[ " ${OK_CODES:-0} " == *" $rc "* ]]; then
        note "$name: done in ${LAST_SECONDS}s (exit $rc)"
        rc=0
    elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        note "$name: timed out after ${LAST_SECONDS}s"
        record "$name" timeout "no result within ${limit}s" "$LAST_SECONDS"
    else
        note "$name: failed (exit $rc); last lines:"
        tail -n 5 "$log" | sed 's/^/    /'
        record "$name" failed "exit $rc: $(tail -n 1 "$log" | tr -d '"\\' | cut -c1-160)" "$LAST_SECONDS"
    fi
    return "$rc"
}

# ------------------------------------------------------------------------- 1. set-up
note "results in $RESULTS_DIR, scratch in $SCRATCH, budget ${BUDGET}s${DRY:+ (dry run: CPU, tiny model)}"
if ! "$PY" -c "import torch, harness, harness_plugins" >/dev/null 2>&1; then
    section "setup" 300 env HARNESS_NO_BROWSER=1 bash scripts/setup-env.sh || true
fi
if [ -z "$DRY" ] && ! "$PY" -c "import bitsandbytes" >/dev/null 2>&1; then
    section "setup qlora extra" 120 "$PY" -m pip install -q -e ".[qlora]" || true
fi
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), \
torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')" 2>&1 | sed 's/^/    /'
if [ -z "$DRY" ] && ! "$PY" -c "import torch; assert torch.cuda.is_available()" >/dev/null 2>&1; then
    note "no CUDA here: this is a GPU check (try --dry-run)"
    record "cuda" failed "torch sees no CUDA device" 0
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | sed 's/^/    /'

# ------------------------------------------------------------------------- 2. training
train() {  # train MODEL METHOD LIMIT [extra args]
    local model=$1 method=$2 limit=$3
    shift 3
    section "train $model $method" "$limit" "$PY" bench/gpu_check.py train --model "$model" --method "$method" \
        --scratch "$SCRATCH" --results "$RESULTS" $DRY "$@"
}
STEPS=(--steps 8 --warmup 2)
if [ -n "$DRY" ]; then
    STEPS=(--steps 3 --warmup 1)
    section "dry run: tiny model" 60 "$PY" -c "from pathlib import Path; from harness.testing import build_tiny_model; \
build_tiny_model(Path('$SCRATCH/tiny'))"
fi
train smollm2-135m-instruct lora 60 "${STEPS[@]}"
train smollm2-135m-instruct qlora 60 "${STEPS[@]}"

# ------------------------------------------------------------------------- 3. one loop round
LOOP_RUN=$SCRATCH/loop-run
rm -rf "$LOOP_RUN"
LOOP_CONFIG=$RESULTS_DIR/loop.yml
# exit 1 (fail) and 3 (undecided) are verdicts, not failures of the check
if section "loop config" 30 "$PY" bench/gpu_check.py loop-config --out "$RESULTS_DIR" --scratch "$SCRATCH" $DRY \
        && OK_CODES="0 1 3" section "loop" 150 "$PY" -m harness run "$LOOP_CONFIG" --run-dir "$LOOP_RUN" \
        && [ -f "$LOOP_RUN/verdict.json" ]; then
    "$PY" bench/gpu_check.py loop-result "$LOOP_RUN" --seconds "$LAST_SECONDS" --results "$RESULTS" >/dev/null
    cp "$LOOP_RUN/verdict.json" "$RESULTS_DIR/loop_verdict.json"
    [ -f "$LOOP_RUN/report.md" ] && cp "$LOOP_RUN/report.md" "$RESULTS_DIR/loop_report.md"
fi

# ------------------------------------------------------------------------- 4. the 8B shape
train llama8b-random lora 210 "${STEPS[@]}"   # includes making and saving the random 16 GB model
train llama8b-random qlora 150 "${STEPS[@]}"
rm -rf "$SCRATCH/out"  # the random 8B model stays for section 8

# ------------------------------------------------------------------------- 5. evaluation
if [ -n "$DRY" ]; then
    EVAL_ARGS=(--model "$SCRATCH/tiny" --tasks offline_arc_easy --limit 4 --dtype float32 --batch-size 4)
else
    EVAL_ARGS=(--tasks offline_hellaswag --limit 100 --dtype bfloat16 --batch-size 16)
fi
if section "eval speed" 120 "$PY" bench/eval_speed.py "${EVAL_ARGS[@]}"; then
    "$PY" bench/gpu_check.py eval-result "$LOGS/eval_speed.log" --seconds "$LAST_SECONDS" --results "$RESULTS" >/dev/null
fi

# ------------------------------------------------------------------------- 6. full fine-tuning
train smollm2-135m-instruct full 60 "${STEPS[@]}"
rm -rf "$SCRATCH/out"

# ------------------------------------------------------------------------- 7. FSDP (Axolotl's fsdp keys)
# One process under torchrun: FSDP2 full fine-tuning of SmolLM2 through `harness train`. A CPU has
# no sharding (accelerate's MULTI_CPU drops the FSDP plugin), so the dry run skips it.
if [ -z "$DRY" ] && [ -f "$LOOP_CONFIG" ]; then
    section "fsdp full train" 90 "$PY" -m torch.distributed.run --nproc-per-node 1 -m harness train "$LOOP_CONFIG" \
        --output-dir "$SCRATCH/fsdp" --set adapter= --set max_steps=4 --set "fsdp=[full_shard, auto_wrap]" \
        --set fsdp_config.transformer_layer_cls_to_wrap=LlamaDecoderLayer || true
    rm -rf "$SCRATCH/fsdp"
fi

# ------------------------------------------------------------------------- 8. memory plan, 8B full
# The plan is printed first (the section's log); the two steps run only where it says they fit, so
# an 80 GB card records the plan and "skipped" instead of an out-of-memory error after minutes.
OPTIMIZER=adamw_bnb_8bit
[ -n "$DRY" ] && OPTIMIZER=adamw_torch  # bitsandbytes' optimizers need CUDA
train llama8b-random full 150 --steps 2 --warmup 1 --micro-batch 1 --gradient-checkpointing \
    --optimizer "$OPTIMIZER" --plan
rm -rf "$SCRATCH/llama-3.1-8b-random" "$SCRATCH/out"

# ------------------------------------------------------------------------- summary
"$PY" bench/gpu_check.py summary "$RESULTS" | tee "$RESULTS_DIR/summary.txt"
note "total ${SECONDS}s"
