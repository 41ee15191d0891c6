"""One process of a JAX multi-process data-parallel run; tests/core/test_multiprocess.py starts several.

    KERAS_BACKEND=jax python tests/core/multiprocess_check.py PROCESS_ID NUM_PROCESSES PORT METHOD OUT_DIR MODE

NUM_PROCESSES=1 is the one-process reference (no jax.distributed). MODE is "train" (2 epochs, process 0 saves
OUT_DIR/epoch1.keras after the first) or "resume" (load epoch1.keras, train 1 epoch). Each process writes
the values of its local copy of every variable to OUT_DIR/<MODE>-<NUM_PROCESSES>p-<PROCESS_ID>.npz. The launch
is exactly what one host of a multi-host run executes, with "localhost" replaced by process 0's address.
"""

import os
import sys

import numpy as np

PROCESS, PROCESSES, PORT, METHOD, OUT, MODE = sys.argv[1:7]
PROCESS, PROCESSES = int(PROCESS), int(PROCESSES)
os.environ["KERAS_BACKEND"] = "jax"

import jax  # noqa: E402

if PROCESSES > 1:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(f"localhost:{PORT}", num_processes=PROCESSES, process_id=PROCESS)

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402  (tf.data only: Keras shards a tf.data.Dataset across processes)

import tfquant  # noqa: E402

MAKE = {
    "bc": lambda: tfquant.BCAdam(1e-2, seed=5),
    "bc-stochastic": lambda: tfquant.BCAdam(1e-2, rounding="stochastic", seed=5),
    "sr": lambda: tfquant.SRAdam(1e-2, quantizer=tfquant.Uniform(0.05, bits=3), seed=5),
}


def model_and_data():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, name="conv1"), keras.layers.ReLU(),
                              keras.layers.Conv2D(3, 3, name="conv2"), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(2, name="dense")])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8, 8, 1)).astype("float32")
    y = (x.reshape(64, -1).sum(axis=1) > 0).astype("int32")
    return model, tf.data.Dataset.from_tensor_slices((x, y)).batch(16)


def key(variable):
    """'conv1/kernel' whether the model was built here ('sequential/conv1/kernel') or loaded from a file."""
    return "/".join(variable.path.split("/")[-2:])


def local(variable):
    return np.asarray(variable.value.addressable_shards[0].data)


def main():
    if PROCESSES > 1:
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=jax.devices()))
    model, data = model_and_data()
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if MODE == "train":
        model.compile(optimizer=MAKE[METHOD](), loss=loss)
        model.fit(data, epochs=1, verbose=0)
        # Every process runs save (it reads the replicated state on each), process 0's file is the one kept.
        model.save(os.path.join(OUT, f"epoch1-{PROCESSES}p.keras" if PROCESS == 0 else f"scratch-{PROCESS}.keras"))
        model.fit(data, epochs=1, verbose=0)
    else:
        model = keras.models.load_model(os.path.join(OUT, "epoch1-2p.keras"))
        model.fit(data, epochs=1, verbose=0)
    optimizer = model.optimizer
    values = {key(v): local(v) for v in model.variables}
    values.update({"quantized:" + key(v): np.array(optimizer.quantizer_for(v) is not None)
                   for v in model.trainable_variables})
    values.update({"on_grid:" + key(v): np.asarray(optimizer.quantizer_for(v).on_grid(local(v)))
                   for v in model.trainable_variables if optimizer.quantizer_for(v) is not None})
    values["devices"] = np.array(len(jax.devices()))
    np.savez(os.path.join(OUT, f"{MODE}-{PROCESSES}p-{PROCESS}.npz"), **values)


if __name__ == "__main__":
    main()
