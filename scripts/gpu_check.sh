#!/usr/bin/env bash
# The GPU check, for a machine with CUDA (never run by CI): one short script whose output goes into
# bench/README.md. Needs the venv of the README's set-up command (.venv).
#
#   1. LeNet-5 on MNIST and ResNet-18 on the shapes set (both offline), with mixed precision, in one process;
#   2. the training loop against a bare PyTorch loop on the GPU (bench/bench_training.py ratio);
#   3. data-parallel training with nccl on every GPU present (torchrun, one process per GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export PLAYGROUND_RUNS="${PLAYGROUND_RUNS:-$(mktemp -d)}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'gpus', torch.cuda.device_count())"

echo "== 1. CUDA training with AMP"
$PY -m playground train --model lenet5 --dataset mnist --epochs 8 --device cuda --json
$PY - <<'PY'
import json, time
from playground.runner.execute import execute
from playground.runner.spec import RunSpec
spec = RunSpec.resolve("resnet18", "shapes", epochs=2, device="cuda", amp=True)
t = time.perf_counter()
outcome = execute(spec)
print(json.dumps({"resnet18_shapes_amp": outcome.metrics, "wall_s": time.perf_counter() - t}, indent=2))
PY

echo "== 2. the loop against a bare loop, on the GPU"
$PY bench/bench_training.py --device cuda --repeats 5
$PY bench/bench_training.py --model resnet18 --dataset shapes --device cuda --repeats 3

echo "== 3. DDP with nccl"
GPUS=$($PY -c "import torch; print(torch.cuda.device_count())")
if [ "$GPUS" -ge 2 ]; then
  $PY -m playground train --model lenet5 --dataset mnist --epochs 8 --device cuda --nproc-per-node "$GPUS" --json
else
  echo "one GPU: nccl with a single process"
  $PY -m playground train --model lenet5 --dataset mnist --epochs 8 --device cuda --nproc-per-node 1 --json
fi
