"""larq's BinaryConnect step time on the paper's VGG-9 (Table 2), against tf-keras' own float baseline.

Runs only in `.venv-larq` (made by `benchmarks/larq_env.sh`) under legacy Keras:

    TF_USE_LEGACY_KERAS=1 .venv-larq/bin/python -m benchmarks.larq_step_time --width 0.5

larq's BC is a layer: `QuantConv2D(kernel_quantizer="ste_sign", kernel_constraint="weight_clip")` keeps
the latent real kernel w_r as the variable, and each forward pass uses w_b = sign(w_r) with the
straight-through gradient dL/dw_r = dL/dw_b * 1{|w_r| <= 1}; plain Adam updates w_r, then the constraint
clips it to [-1, 1]. (tfquant's `BCAdam` does the same arithmetic in the optimizer instead: see
`benchmarks/larq_comparison.py`, which runs this script.) The baseline is the same net with tf-keras'
`Conv2D` and plain Adam, in the same process, on the same batch.

The net mirrors `tfquant/models.py::vgg9` layer for layer (that module is Keras 3 and cannot be imported
here): 3x3 convs without bias -> BN (momentum 0.9, eps 1e-5) -> ReLU on the plan
64,64,M,128,128,M,256,256,256,M, then Flatten -> Dense 256 without bias -> BN -> ReLU -> Dense 10 softmax,
every width times ``--width``. The JSON output carries the trainable parameter count so that the caller
can check the mirror against the Keras 3 model.

Timing: `benchmarks.timing.interleaved_medians` (warm-up, then ``--rounds`` rounds of ``--steps``
`train_on_batch` steps per model in a rotating order); median step time per model, with and without XLA
(`jit_compile`). Prints one JSON object.
"""

import argparse
import json
import os

if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
    raise SystemExit("larq_step_time.py needs legacy Keras: run it as "
                     "`TF_USE_LEGACY_KERAS=1 .venv-larq/bin/python -m benchmarks.larq_step_time` "
                     "(create the venv with `bash benchmarks/larq_env.sh`)")

import larq  # noqa: E402
import numpy as np  # noqa: E402
import tf_keras  # noqa: E402

from benchmarks.timing import add_arguments, interleaved_medians  # noqa: E402

PLAN = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M"]
DENSE = [256]


def _bn():
    return tf_keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)


def _conv(filters, binary):
    """3x3 'same' conv without bias; larq BC (sign in the forward pass, STE backward, clip) if ``binary``."""
    common = dict(padding="same", use_bias=False, kernel_initializer="he_normal")
    if binary:
        return larq.layers.QuantConv2D(filters, 3, input_quantizer=None, kernel_quantizer="ste_sign",
                                       kernel_constraint="weight_clip", **common)
    return tf_keras.layers.Conv2D(filters, 3, **common)


def vgg9(width, binary):
    """tf-keras copy of `tfquant/models.py::vgg9` (32x32x3 in, 10 classes)."""
    scale = lambda w: max(1, round(w * width))  # noqa: E731 (as tfquant.models._scaled)
    inputs = tf_keras.Input((32, 32, 3))
    x = inputs
    for item in PLAN:
        if item == "M":
            x = tf_keras.layers.MaxPooling2D(2)(x)
        else:
            x = tf_keras.layers.ReLU()(_bn()(_conv(scale(item), binary)(x)))
    x = tf_keras.layers.Flatten()(x)
    for units in DENSE:
        x = tf_keras.layers.ReLU()(_bn()(tf_keras.layers.Dense(scale(units), use_bias=False)(x)))
    outputs = tf_keras.layers.Dense(10, activation="softmax")(x)
    return tf_keras.Model(inputs, outputs)


def measure(width, batch, rounds, steps, jit):
    """Median `train_on_batch` seconds of larq BC and of the float baseline, interleaved."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, size=batch)
    models = {}
    for name, binary in (("larq BC", True), ("float", False)):
        tf_keras.utils.set_random_seed(0)
        model = vgg9(width, binary)
        model.compile(optimizer=tf_keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                      jit_compile=jit)
        models[name] = model
    medians = interleaved_medians({name: (lambda m=m: m.train_on_batch(x, y)) for name, m in models.items()},
                                  rounds, steps)
    params = {name: int(sum(np.prod(v.shape) for v in m.trainable_variables)) for name, m in models.items()}
    return medians, params


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser, "model")
    args = parser.parse_args()
    from importlib.metadata import version
    result = {"versions": {p: version(p) for p in ("larq", "tf-keras", "tensorflow-cpu", "numpy")},
              "width": args.width, "batch": args.batch, "rounds": args.rounds, "steps": args.steps,
              "median_s": {}}
    for jit in (False, True):
        medians, params = measure(args.width, args.batch, args.rounds, args.steps, jit)
        result["median_s"][f"jit_compile={jit}"] = medians
        result["trainable_params"] = params
    print(json.dumps(result))


if __name__ == "__main__":
    main()
