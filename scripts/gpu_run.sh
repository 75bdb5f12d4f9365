#!/usr/bin/env bash
# Run the book under the gpu profile on a bare, offline GPU machine, from the repository root,
# with what scripts/gpu_carry.sh gathered into .carry/. Writes to $OUT (default build/gpu-out),
# after every chapter, so that a run cut short still returns what it finished:
#   env.json (GPU, torch, CUDA), times.tsv (seconds per chapter), results.tar.gz
#   (build/gpu/results/*.json), bench.json (training throughput per model), log.txt
# Usage: scripts/gpu_run.sh [NAME ...]   (no names: every chapter; BENCH=0: no benchmark first)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build/gpu-out}
SITE=/tmp/site
mkdir -p "$OUT" "$SITE"
exec > >(tee -a "$OUT/log.txt") 2>&1

# the carried wheels, but only those whose distribution the machine lacks: installed ones stay
# (a copy on PYTHONPATH would shadow them)
missing=$(python3 - <<'PY'
import glob, importlib.metadata as md
for wheel in sorted(glob.glob(".carry/wheels/*.whl")):
    name = wheel.split("/")[-1].split("-")[0]
    try:
        md.version(name)
    except md.PackageNotFoundError:
        print(wheel)
PY
)
if [ -n "$missing" ]; then
  python3 -m pip install --quiet --no-index --no-deps --target "$SITE" $missing || exit 1
fi
# the notebook kernels inherit these; jupyter and matplotlib write their state under /tmp
export PYTHONPATH="$SITE:$PWD" KD_DATA="$PWD/.carry/data" HF_HUB_OFFLINE=1
export KD_CHECKPOINTS="$PWD/build/gpu/checkpoints" JUPYTER_RUNTIME_DIR=/tmp/jupyter-runtime
export JUPYTER_DATA_DIR=/tmp/jupyter-data JUPYTER_CONFIG_DIR=/tmp/jupyter-config
export IPYTHONDIR=/tmp/ipython MPLCONFIGDIR=/tmp/matplotlib PYDEVD_DISABLE_FILE_VALIDATION=1
# papermill asks for kernel "python3": jupyter_client finds ipykernel's own spec for it (this
# python3) when ipykernel imports, so nothing is installed outside /tmp
python3 -c "import papermill, ipykernel, mlxtend, myst_nb" || exit 1

python3 - > "$OUT/env.json" <<'PY'
import json, subprocess, torch
gpu = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version",
                      "--format=csv,noheader"], capture_output=True, text=True).stdout.strip()
print(json.dumps({"nvidia_smi": gpu, "torch": torch.__version__, "cuda": torch.version.cuda,
                  "cudnn": torch.backends.cudnn.version(), "cuda_available": torch.cuda.is_available(),
                  "device": torch.cuda.get_device_name() if torch.cuda.is_available() else None}, indent=1))
PY
cat "$OUT/env.json"

if [ "${BENCH:-1}" = 1 ]; then
  timeout 120 python3 bench/gpu_throughput.py --out "$OUT/bench.json" --steps 40
fi

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  mapfile -t names < <(python3 -c "from kdbook.runner import toc_notebooks; print(*toc_notebooks(), sep='\n')")
fi
printf 'chapter\tseconds\tstatus\n' > "$OUT/times.tsv"
start=$SECONDS
for name in "${names[@]}"; do
  tic=$SECONDS
  rm -f "build/gpu/results/$name.json"  # a chapter that fails early returns no stale verdicts
  python3 -m kdbook run --profile gpu --only "$name" --force --jobs 1
  status=$?
  printf '%s\t%s\t%s\n' "$name" $((SECONDS - tic)) "$status" >> "$OUT/times.tsv"
  tar -czf "$OUT/results.tar.gz" -C build/gpu results 2>/dev/null
done
printf 'total\t%s\t\n' $((SECONDS - start)) >> "$OUT/times.tsv"
cat "$OUT/times.tsv"
