#!/usr/bin/env bash
# The GPU exercises of issue 13, on a machine with an NVIDIA GPU and a CUDA PyTorch but none of Debian's
# packages, from the repository root, with VENDOR (default .gpu/vendor) made by `scripts/vendor` on Debian:
#   bash bench/gpu/run_search.sh build    builds automl against the machine's PyTorch with every core
#                                         (build-gpu/), runs the *_CUDA tests, and automl's and PyTorch-from-
#                                         Python's training throughput on the GPU (bench/train_throughput*), a
#                                         30 s search with an injected out-of-memory trial, and its model
#                                         predicted with the GPU hidden (CUDA_VISIBLE_DEVICES=)
#   bash bench/gpu/run_search.sh search   automl search on MNIST with --device cuda: convnet_optuna, tiny_cs
#                                         (images) and tiny_cs --flatten, BUDGET (240) s each, the three at once
#                                         on the one GPU, nvidia-smi sampled every 2 s; writes
#                                         bench/results/seed_exercises_gpu.json (bench/gpu/search_report.py)
#   bash bench/gpu/run_search.sh          both
# Results and logs go to $OUT (default bench/out): at most 8 files, the runs' small files packed in runs.tgz.
set -uo pipefail
cd "$(dirname "$0")/../.."
vendor=$(realpath "${VENDOR:-.gpu/vendor}")
out=${OUT:-bench/out}
budget=${BUDGET:-240}
phase=${1:-all}
mkdir -p "$out" build-gpu
export AUTOML_DATA_DIR=$vendor # mnist/*.gz
automl=build-gpu/apps/automl/automl

if [[ $phase == build || $phase == all ]]; then
  { nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
    g++ --version | head -1; nproc; } | tee build-gpu/machine.txt
  torch_dir=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
  start=$(date +%s)
  if ! AUTOML_TORCH_DIR=$torch_dir AUTOML_VENDOR_DIR=$vendor AUTOML_BUILD_DIR=$PWD/build-gpu AUTOML_JOBS=$(nproc) \
      scripts/build --target automl --target unit_tests --target train_throughput >build-gpu/build.log 2>&1; then
    grep -E "error|Error|undefined reference" -A3 build-gpu/build.log | head -120
    gzip -c build-gpu/build.log >"$out/build.log.gz"
    exit 1
  fi
  echo "build: $(($(date +%s) - start)) s"
  build-gpu/test/unit_tests --gtest_filter='*_CUDA*:Runtime.*:Cpus.*' 2>&1 | tee build-gpu/tests.log | tail -25
  : >build-gpu/throughput.jsonl
  for model in mlp cnn; do
    samples=60000; [[ $model == cnn ]] && samples=30000
    build-gpu/bench/train_throughput --model $model --device cuda --samples $samples --epochs 2 --threads 4 | tee -a build-gpu/throughput.jsonl
    python3 bench/train_throughput.py --model $model --device cuda --samples $samples --epochs 2 --threads 4 --data-dir "$vendor" | tee -a build-gpu/throughput.jsonl
  done
  # A short search on the GPU whose trial 3 runs out of memory (injected), then its model predicted on the CPU.
  rm -rf build-gpu/smoke
  AUTOML_TEST_INJECT_OOM=3 $automl search --space convnet_optuna --budget 30 --device cuda --workers 2 --test mnist:test \
    --out build-gpu/smoke --json --quiet >build-gpu/smoke.json 2>build-gpu/smoke.err
  echo "smoke search exit $?: $(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print({k: j.get(k) for k in ("test_accuracy", "trials", "elapsed_s")})' build-gpu/smoke.json 2>&1)"
  grep -h "out of memory" build-gpu/smoke/search.log | head -3
  CUDA_VISIBLE_DEVICES= $automl predict --model build-gpu/smoke/best_model.pt --data mnist:test --json >build-gpu/smoke_predict.json
  echo "predict on the CPU exit $?: $(head -c 300 build-gpu/smoke_predict.json)"
  cp build-gpu/machine.txt build-gpu/tests.log build-gpu/throughput.jsonl build-gpu/smoke.json "$out/"
fi

if [[ $phase == search || $phase == all ]]; then
  [[ -x $automl ]] || { echo "no $automl: run the build phase first" >&2; exit 1; }
  runs=build-gpu/runs
  rm -rf "$runs" && mkdir -p "$runs"
  common="--budget $budget --test mnist:test --trace-test --device cuda --workers 4 --threads 1"
  declare -A cmd=(
    [b]="automl search --space convnet_optuna $common"
    [d]="automl search --preset tiny_cs $common"
    [a]="automl search --preset tiny_cs --flatten $common")
  nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv,noheader,nounits -l 2 >"$runs/smi.csv" &
  smi=$!
  started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  declare -A pid
  for r in b d a; do
    ${cmd[$r]/automl/$automl} --out "$runs/$r" --json --quiet >"$runs/$r.json" 2>"$runs/$r.err" &
    pid[$r]=$!
  done
  for r in b d a; do
    wait "${pid[$r]}"
    echo "($r) exit $?: $(tail -c 300 "$runs/$r.err")"
  done
  kill $smi
  python3 bench/gpu/search_report.py bench/results/seed_exercises_gpu.json "$runs" "$started" "$budget" \
    "${cmd[a]}" "${cmd[b]}" "${cmd[d]}"
  cp bench/results/seed_exercises_gpu.json "$out/"
  (cd "$runs" && tar czf - smi.csv ./*.json ./*.err ./*/search.log ./*/test_trace.csv ./*/best_config.json ./*/results.json 2>/dev/null) >"$out/runs.tgz"
fi
