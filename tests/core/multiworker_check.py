"""One worker of a tf.distribute.MultiWorkerMirroredStrategy run with a custom training loop (Keras 3's fit
fails under this strategy upstream, keras-team/keras#20585); tests/core/test_multiprocess.py starts two.

    python tests/core/multiworker_check.py WORKER_INDEX PORT0,PORT1 METHOD OUT_DIR

Writes the worker's copy of every variable to OUT_DIR/mwms-<WORKER_INDEX>.npz.
"""

import json
import os
import sys

import numpy as np

INDEX, PORTS, METHOD, OUT = int(sys.argv[1]), sys.argv[2].split(","), sys.argv[3], sys.argv[4]
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ["TF_CONFIG"] = json.dumps(
    {"cluster": {"worker": [f"localhost:{p}" for p in PORTS]}, "task": {"type": "worker", "index": INDEX}}
)

import tensorflow as tf  # noqa: E402

strategy = tf.distribute.MultiWorkerMirroredStrategy()

import keras  # noqa: E402

import tfquant  # noqa: E402

MAKE = {
    "bc": lambda: tfquant.BCAdam(1e-2, seed=5),
    "sr": lambda: tfquant.SRAdam(1e-2, quantizer=tfquant.Uniform(0.05, bits=3), seed=5),
}
GLOBAL_BATCH = 16


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8, 8, 1)).astype("float32")
    y = (x.reshape(64, -1).sum(axis=1) > 0).astype("int32")
    with strategy.scope():
        model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, name="conv1"),
                                  keras.layers.ReLU(), keras.layers.Conv2D(3, 3, name="conv2"),
                                  keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2, name="dense")])
        optimizer = MAKE[METHOD]()
        optimizer.build(model.trainable_variables)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
    data = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices((x, y)).batch(GLOBAL_BATCH))

    @tf.function
    def step(xb, yb):
        def replica_step(xb, yb):
            with tf.GradientTape() as tape:
                per_example = loss_fn(yb, model(xb, training=True))
                loss = tf.nn.compute_average_loss(per_example, global_batch_size=GLOBAL_BATCH)
            optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)

        strategy.run(replica_step, args=(xb, yb))

    for _ in range(2):
        for xb, yb in data:
            step(xb, yb)
    values = {v.path: np.asarray(v.value.values[0] if hasattr(v.value, "values") else v.value)
              for v in model.trainable_variables}
    values.update({"on_grid:" + v.path: np.asarray(optimizer.quantizer_for(v).on_grid(values[v.path]))
                   for v in model.trainable_variables if optimizer.quantizer_for(v) is not None})
    values["iterations"] = np.asarray(optimizer.iterations)
    np.savez(os.path.join(OUT, f"mwms-{INDEX}.npz"), **values)


if __name__ == "__main__":
    main()
