#!/usr/bin/env bash
# tests/check-ptx.sh on PTX for compute_75, what CUDA 13 builds (runtime/cmake/SharpmaxPtxArch.cmake):
# it must assemble for the PTX's own target, not for a fixed sm_70 that ptxas refuses.
#   tests/cmake/check-ptx-compute-75.sh NVCC [HOST_COMPILER] (run in a scratch folder)
set -euo pipefail
NVCC=$1 HOST=${2:-}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf ptx75 && mkdir ptx75
"$NVCC" ${HOST:+-ccbin "$HOST"} -ptx -arch=compute_75 -I"$ROOT/kernels" "$ROOT/kernels/softmax.cu" -o ptx75/softmax.ptx
PATH="$(dirname "$NVCC"):$PATH" bash "$ROOT/tests/check-ptx.sh" ptx75
