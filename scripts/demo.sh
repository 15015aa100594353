#!/usr/bin/env bash
# The README's main-job command: set up .venv if needed, then run the offline demo:
# SmolLM2-135M-Instruct fine-tuned on the example emergency-response data, with the
# train -> evaluate -> decide loop measuring forgetting on the offline general suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-env.sh
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/harness demo "$@"
