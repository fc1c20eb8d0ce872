#!/usr/bin/env bash
# Where pip reaches PyPI: download the wheels that bench/gpu_check.py needs beyond the GPU
# machine's packages (the list: bench/gpu_wheels.txt), built for that machine's Python 3.12 on
# x86-64 Linux, into bench/gpu_wheels/ (git-ignored; about 3 MB). bench/gpu_check.sh installs
# them there. Never torch or CUDA wheels: the machine has its own.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
rm -rf gpu_wheels
"$PYTHON" -m pip download --quiet --only-binary=:all: --no-deps \
    --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
    -r gpu_wheels.txt -d gpu_wheels
ls -l gpu_wheels
du -sh gpu_wheels
