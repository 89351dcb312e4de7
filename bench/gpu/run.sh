#!/usr/bin/env bash
# On the GPU machine, from the repository root: build bench/gpu against the local PyTorch, run the trainer's
# tests (the *_CUDA one included) and the throughput benchmark next to PyTorch from Python, on the GPU.
# VENDOR (default .gpu) holds what bench/gpu/CMakeLists.txt needs; results go to $OUT (default bench/out).
set -uo pipefail
vendor=$(realpath "${VENDOR:-.gpu}")
out=${OUT:-bench/out}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' | tee -a "$out/gpu.txt"
prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
cmake -S bench/gpu -B /tmp/gpu-build -G Ninja -DCMAKE_PREFIX_PATH="$prefix" -DVENDOR="$vendor" >"$out/configure.log" 2>&1 || { tail -30 "$out/configure.log"; exit 1; }
cmake --build /tmp/gpu-build -j 16 -- -k 0 >"$out/build.log" 2>&1 || { grep -E "error|Error" -A3 "$out/build.log" | head -60; exit 1; }
/tmp/gpu-build/gpu_tests 2>&1 | tee "$out/tests.log" | tail -15
for model in mlp cnn; do
  samples=60000; [[ $model == cnn ]] && samples=30000
  /tmp/gpu-build/train_throughput --model $model --device cuda --samples $samples --epochs 2 --threads 4 | tee -a "$out/throughput.jsonl"
  python3 bench/train_throughput.py --model $model --device cuda --samples $samples --epochs 2 --threads 4 --data-dir "$vendor" | tee -a "$out/throughput.jsonl"
done
