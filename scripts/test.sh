#!/usr/bin/env bash
# The README's test command: set up .venv if needed, then run the whole test suite, slow tests
# included (plain `pytest` runs the fast ones only). Extra arguments go to pytest; a -m of your own
# replaces the selection (e.g. `bash scripts/test.sh -m "not slow"`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-env.sh
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
set +e
.venv/bin/python -m pytest -m "slow or not slow" "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    echo "error: pytest collected no tests; that is a failure, not a pass" >&2
    exit 1
fi
exit "$rc"
