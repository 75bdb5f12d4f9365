#!/usr/bin/env bash
# Run the book under the gpu profile on a bare, offline GPU machine, from the repository root,
# with what scripts/gpu_carry.sh gathered into .carry/. Writes to $OUT (default build/gpu-out)
# as each chapter ends, so that a run cut short still returns what it finished:
#   env.json (GPU, torch, CUDA, chapters at a time), times.tsv (seconds and exit status per
#   chapter), results.tar.gz (build/gpu/results/*.json), bench.json (training throughput per
#   model), log.txt, logs.tar.gz (each chapter's runner output), notebooks.tar.gz (the executed
#   notebooks, tracebacks included), gpu.csv (nvidia-smi's utilisation every 5 s)
# Usage: scripts/gpu_run.sh [NAME ...]   (no names: every chapter)
#   JOBS=N             chapters at once (default: all of them). Their models are so small that a
#                      training step is kernel launches and one host sync, leaving the GPU idle
#                      most of the time: chapters side by side fill it (book/gpu.md)
#   CHAPTER_TIMEOUT=S  stop a chapter after S seconds (exit 124), so that one slow chapter cannot
#                      take the others' record with it (default: no limit)
#   BENCH=0            no throughput benchmark first
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build/gpu-out}
SITE=/tmp/site
LOGS=build/gpu/logs
mkdir -p "$OUT" "$SITE" "$LOGS"
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

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  mapfile -t names < <(python3 -c "from kdbook.runner import toc_notebooks; print(*toc_notebooks(), sep='\n')")
fi
JOBS=${JOBS:-${#names[@]}}
# the cores shared out among the chapters at once: torch's CPU work (data, the CPU timings)
# must not oversubscribe them (the gpu profile leaves torch's thread count to the machine)
THREADS=$(( $(nproc) / JOBS > 0 ? $(nproc) / JOBS : 1 ))
export JOBS THREADS

python3 - > "$OUT/env.json" <<'PY'
import json, os, shutil, subprocess, torch
gpu = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version",
                      "--format=csv,noheader"], capture_output=True, text=True).stdout.strip() \
    if shutil.which("nvidia-smi") else None
print(json.dumps({"nvidia_smi": gpu, "torch": torch.__version__, "cuda": torch.version.cuda,
                  "cudnn": torch.backends.cudnn.version(), "cuda_available": torch.cuda.is_available(),
                  "device": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
                  "cpu_cores": os.cpu_count(), "jobs": int(os.environ["JOBS"]),
                  "threads_per_chapter": int(os.environ["THREADS"])}, indent=1))
PY
cat "$OUT/env.json"

if [ "${BENCH:-1}" = 1 ]; then  # alone on the GPU, before the chapters share it
  timeout 120 python3 bench/gpu_throughput.py --out "$OUT/bench.json" --steps 40
fi

rm -f build/gpu/monitor.pid
if command -v nvidia-smi > /dev/null; then  # started from a subshell: not one of the jobs waited for
  (nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 5 \
    > "$OUT/gpu.csv" 2> /dev/null & echo $! > build/gpu/monitor.pid)
fi

# $OUT's archives are rewritten by whichever chapter ends, one at a time (this lock), each
# written beside and renamed, so that a run cut short returns whole files
record() {
  tar -czf "$OUT/results.tar.gz.part" -C build/gpu results 2> /dev/null \
    && mv "$OUT/results.tar.gz.part" "$OUT/results.tar.gz"
  tar -czf "$OUT/logs.tar.gz.part" -C build/gpu logs && mv "$OUT/logs.tar.gz.part" "$OUT/logs.tar.gz"
  tar -czf "$OUT/notebooks.tar.gz.part" -C build/gpu/site notebooks 2> /dev/null \
    && mv "$OUT/notebooks.tar.gz.part" "$OUT/notebooks.tar.gz"
}

run_chapter() {
  local name=$1 tic=$SECONDS status
  rm -f "build/gpu/results/$name.json"  # a chapter that fails early returns no stale verdicts
  echo "[gpu_run] $name: started at $((SECONDS - start)) s"
  OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS \
    timeout -k 15 "${CHAPTER_TIMEOUT:-0}" \
    python3 -m kdbook run --profile gpu --only "$name" --force --jobs 1 > "$LOGS/$name.log" 2>&1
  status=$?
  {
    flock 9
    printf '%s\t%s\t%s\n' "$name" $((SECONDS - tic)) "$status" >> "$OUT/times.tsv"
    record
  } 9> build/gpu/record.lock
  echo "[gpu_run] $name: exit $status after $((SECONDS - tic)) s"
  tail -n 3 "$LOGS/$name.log"
}

printf 'chapter\tseconds\tstatus\n' > "$OUT/times.tsv"
start=$SECONDS
echo "[gpu_run] ${#names[@]} chapter(s), $JOBS at a time, $THREADS CPU thread(s) each"
# (the chapters' own process ids, polled: a bare `wait` would also wait for the tee above)
pids=()
for name in "${names[@]}"; do
  while [ "$(for pid in "${pids[@]}"; do kill -0 "$pid" 2> /dev/null && echo; done | wc -l)" -ge "$JOBS" ]; do
    sleep 1
  done
  run_chapter "$name" &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
printf 'total\t%s\t\n' $((SECONDS - start)) >> "$OUT/times.tsv"
[ -f build/gpu/monitor.pid ] && kill "$(cat build/gpu/monitor.pid)"
cat "$OUT/times.tsv"
