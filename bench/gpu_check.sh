#!/usr/bin/env bash
# On the GPU machine (no internet): install bench/gpu_wheels/ (made by bench/gpu_wheels.sh)
# into a folder of its own, then run bench/gpu_check.py with the same arguments.
#     bench/gpu_check.sh OUTPUT_DIR [--dry_run]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python3}
site=${GPU_CHECK_SITE:-/tmp/gpu_check_site}
if [ -d "$here/gpu_wheels" ]; then
    "$PYTHON" -m pip install --quiet --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$site" --find-links "$here/gpu_wheels" -r "$here/gpu_wheels.txt"
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
exec "$PYTHON" "$here/gpu_check.py" "$@"
