#!/usr/bin/env bash
# On the GPU machine, from the project root, with .gpu/ packed by `npm run gpu:pack` carried along:
#   bash apps/bench/gpu/run-on-gpu.sh [--quick]
# Times Tessera's webgpu backend and PyTorch (fp32, TF32 off) on the same GPU in one run and
# prints the side-by-side table. Results land in $OUT (or ./gpu-results).
set -euo pipefail
OUT=${OUT:-gpu-results}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
bash .gpu/run.sh --json "$OUT/webgpu.json" "$@" | tee "$OUT/webgpu.txt"
python3 apps/bench/gpu/torch_bench.py --json "$OUT/torch.json" "$@" | tee "$OUT/torch.txt"
python3 apps/bench/gpu/compare.py "$OUT/webgpu.json" "$OUT/torch.json" | tee "$OUT/table.txt"
