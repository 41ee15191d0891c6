#!/usr/bin/env bash
# Create .venv-larq: larq 0.14.0 on legacy tf-keras, for benchmarks/larq_step_time.py.
#
#   bash benchmarks/larq_env.sh [PATH]      # default PATH: .venv-larq (gitignored via .venv-*/)
#
# larq 0.14.0 does not import under Keras 3 and pins numpy<2, so it lives in its own venv and runs with
# TF_USE_LEGACY_KERAS=1. tf-keras 2.21 depends on the full `tensorflow` wheel (572 MB), which would be
# installed over tensorflow-cpu: it goes in with --no-deps (its own dependencies are TensorFlow's).
set -euo pipefail
VENV="${1:-.venv-larq}"
TF_VERSION=2.21.0
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "tensorflow-cpu==$TF_VERSION" "numpy<2" "larq==0.14.0"
"$VENV/bin/python" -m pip install -q --no-deps "tf-keras==$TF_VERSION"
# Check: larq imports, and tf.keras is the legacy tf-keras (not Keras 3, which tensorflow-cpu also installs).
TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=2 "$VENV/bin/python" -c '
import importlib.metadata as md, larq, tensorflow as tf, tf_keras
assert tf.keras.layers.Conv2D is tf_keras.layers.Conv2D, "tf.keras is not tf-keras: TF_USE_LEGACY_KERAS=1 did not take"
print(" ".join(f"{p}=={md.version(p)}" for p in ("larq", "tf-keras", "tensorflow-cpu", "numpy")))'
