#!/usr/bin/env bash
# The Table-1-scale studies (training/studies.py: fig4_t1, bigbatch_t1, fig7_t1) on a GPU machine without
# TensorFlow, with the Keras JAX backend (PyTorch if JAX cannot start), 12 runs at a time on the one GPU.
#
#   bash training/run_studies_gpu.sh OUT_DIR [SECONDS]
#
# Needs python3 with keras (or its wheels in .whl/, installed to /tmp/site) and Fashion-MNIST's four files in
# $FASHION_MNIST_DIR (default: .data/). Finished runs under $ROOT (default /tmp/studies) are skipped, so a
# second call continues. Every 30 s, and at the end, $ROOT is packed into OUT_DIR/studies.tgz; the log is
# OUT_DIR/log.txt. After SECONDS (default 450) the runs still going are stopped and left out.
set -u
out=${1:?usage: run_studies_gpu.sh OUT_DIR [SECONDS]}
seconds=${2:-450}
root=${ROOT:-/tmp/studies}
mkdir -p "$out" "$root"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
fi
export FASHION_MNIST_DIR=${FASHION_MNIST_DIR:-$PWD/.data} XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
export KERAS_BACKEND=jax
python3 -c "import jax, keras; print(jax.devices(), float(keras.ops.sum(keras.ops.ones(3))))" || export KERAS_BACKEND=torch
nvidia-smi -L
pack() { tar czf "$out/.studies.tgz" -C "$(dirname "$root")" "$(basename "$root")" && mv "$out/.studies.tgz" "$out/studies.tgz"; }
(while sleep 30; do pack; done) &
packer=$!
: > "$out/log.txt"  # appended to by every process, so none overwrites another's lines
timeout "$seconds" python3 -m training.studies run --studies fig4_t1 bigbatch_t1 fig7_t1 --workers 12 \
  --order longest --root "$root" >> "$out/log.txt" 2>&1
echo "studies exit status $? (124: stopped after $seconds s)" >> "$out/log.txt"
pkill -f "training[.]studies"; kill $packer
pack
ls "$root" | wc -l
