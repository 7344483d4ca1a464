#!/usr/bin/env bash
# The CUDA checks, on a GPU machine: the GPU tests, the training benchmark, and the CLI's whole training path.
#
#   scripts/gpu_check.sh MODEL_DIR [OUT_DIR]
#
# MODEL_DIR is a Hugging Face model folder. One with config and tokenizer files but no weights gets random
# weights of that shape (enough for speed and for the code paths; say so when reporting its losses).
# Extra wheels (bitsandbytes, ...) in $WHEELS are installed into a temporary site folder first. CLI=0 skips the
# CLI run, NF4=0 the benchmark's forced-4-bit row; EXAMPLES and REPEATS size the benchmark.
set -uo pipefail
MODEL=${1:?model folder}
OUT=${2:-${OUT:-/tmp/gpu-check}}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore
if [ -n "${WHEELS:-}" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    "$WHEELS"/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers, peft, bitsandbytes as b; print('torch', torch.__version__, 'transformers',
transformers.__version__, 'peft', peft.__version__, 'bitsandbytes', b.__version__)" | tee -a "$OUT/gpu.txt" || exit 1

if [ ! -e "$MODEL/model.safetensors" ]; then
  python3 - "$MODEL" /tmp/random-model <<'PY' || exit 1
import shutil, sys
from pathlib import Path
import torch
from transformers import AutoConfig, AutoModelForCausalLM
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
shutil.copytree(src, dst, dirs_exist_ok=True)
torch.manual_seed(0)
AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(src), dtype=torch.bfloat16).save_pretrained(dst)
print("random weights in the shape of", src.name)
PY
  MODEL=/tmp/random-model
fi

echo "== GPU tests"
python3 -m pytest -m gpu tests/engine/test_engine_cuda.py -q -p no:cacheprovider 2>&1 | tee "$OUT/gpu_tests.txt"

if [ "${CLI:-1}" = 1 ]; then
echo "== CLI: init, demo, train on the GPU"
export LOCALTUNE_HOME=/tmp/lt-home
rm -rf "$LOCALTUNE_HOME"
cli() { python3 -m localtune "$@"; }
{ printf 'gpu check pass\ngpu check pass\n' | cli init &&
  printf 'gpu check pass\n' | cli demo &&
  printf 'gpu check pass\n' | cli models add "$MODEL" --name gpu-model &&
  printf 'gpu check pass\n' | cli train --model gpu-model --dry-run &&
  printf 'gpu check pass\n' | cli train --model gpu-model --epochs 1 --name gpu-v1 --json | tail -3; } \
  2>&1 | tee "$OUT/cli.txt"
fi

echo "== training benchmark"
python3 benchmarks/train_throughput.py --model "$MODEL" --examples "${EXAMPLES:-256}" --repeats "${REPEATS:-2}" \
  $([ "${NF4:-1}" = 1 ] && echo --with-nf4) 2>&1 | tee "$OUT/benchmark.md"
