#!/usr/bin/env bash
# Table 1 of the paper at full scale: every network x dataset column, all five rows, paper defaults
# (Adam, lr 0.01 /10 at epochs 82 and 122 of 160 on CIFAR; 90 epochs, drops at 30 and 60 on ImageNet;
# batch 128; big-batch SR at 1024, or 512 for WRN-56-2 and ResNet-18; binary conv kernels only).
# For a machine with a GPU and the data (CIFAR via keras.datasets, ImageNet prepared for
# tensorflow-datasets: pip install '.[train,imagenet]'). Backend: KERAS_BACKEND=jax (pip install
# 'jax[cuda12]' plus tensorflow-cpu for tf.data) or KERAS_BACKEND=tensorflow (pip install tensorflow).
# Every run resumes after an interruption; finished runs are skipped.
#
#   SEEDS="0 1" OUT=runs/paper KERAS_BACKEND=jax bash training/run_paper.sh
#   ONLY=cifar10-resnet56 bash training/run_paper.sh        # one column
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/paper}
SEEDS=${SEEDS:-0}
PY=${PY:-python}
COLUMNS=("cifar10 vgg9 1024" "cifar10 vgg_bc 1024" "cifar10 resnet56 1024" "cifar10 wrn56_2 512"
         "cifar100 resnet56 1024" "imagenet resnet18 512")
for seed in $SEEDS; do
  for column in "${COLUMNS[@]}"; do
    read -r dataset model big <<<"$column"
    [[ -n "${ONLY:-}" && "$ONLY" != "$dataset-$model" ]] && continue
    for row in "adam 128" "bc 128" "sr $big" "sr 128" "r 128"; do
      read -r method batch <<<"$row"
      dir="$OUT/$dataset-$model/$method-b$batch-s$seed"
      [[ -f "$dir/history.json" ]] && continue
      "$PY" -m training.train --model "$model" --dataset "$dataset" --method "$method" \
        --batch-size "$batch" --seed "$seed" --out "$dir" --progress epochs
    done
  done
done
