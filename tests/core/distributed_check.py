"""Run by tests/core/test_distributed.py in a fresh process (devices must be set up before the backend starts).

Trains the same small CNN with a tfquant optimizer on 2 data-parallel replicas and on 1 device with the same
global batch, then prints JSON: whether the replicas' quantized kernels are identical, and how far the
2-replica run is from the single-device run.

    KERAS_BACKEND=tensorflow python -m tests.core.distributed_check sr
    KERAS_BACKEND=jax XLA_FLAGS=--xla_force_host_platform_device_count=2 python -m tests.core.distributed_check bc
"""

import json
import os
import sys

import numpy as np

BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")
if BACKEND == "tensorflow":
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

import tfquant  # noqa: E402
from tests.conftest import compile_model, small_cnn, toy_data  # noqa: E402

MAKE = {
    "bc": lambda: tfquant.BCAdam(1e-2),
    "sr": lambda: tfquant.SRAdam(1e-2, quantizer=tfquant.Uniform(0.05, bits=3), seed=9),
    "bc-stochastic": lambda: tfquant.BCAdam(1e-2, rounding="stochastic", seed=9),
}


def train(method, scope):
    keras.utils.set_random_seed(0)
    x, y = toy_data(n=128)
    with scope():
        # No batch norm: its statistics are per replica under MirroredStrategy, which is not what is tested.
        model = compile_model(small_cnn(batch_norm=False), MAKE[method]())
    model.fit(x, y, batch_size=32, epochs=3, verbose=0, shuffle=False)
    return model


def replicas(variable):
    """The per-device copies of a variable."""
    if BACKEND == "tensorflow":
        return [np.array(v) for v in variable.value.values]
    return [np.array(shard.data) for shard in variable.value.addressable_shards]


def main(method):
    if BACKEND == "tensorflow":
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        parallel = train(method, strategy.scope)
        single = train(method, tf.distribute.OneDeviceStrategy("/cpu:0").scope)
    else:
        import contextlib

        devices = keras.distribution.list_devices("cpu")
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        parallel = train(method, contextlib.nullcontext)
        keras.distribution.set_distribution(None)
        single = train(method, contextlib.nullcontext)
    optimizer = parallel.optimizer
    report = {"replicas": 0, "identical": True, "max_diff": 0.0, "mismatch": 0.0, "on_grid": True}
    for p, s in zip(parallel.trainable_variables, single.trainable_variables):
        copies = replicas(p)
        report["replicas"] = len(copies)
        report["identical"] &= all(np.array_equal(copies[0], c) for c in copies[1:])
        if optimizer.quantizer_for(p) is not None:
            report["on_grid"] &= bool(np.all(np.array(optimizer.quantizer_for(p).on_grid(copies[0]))))
            report["mismatch"] = max(report["mismatch"], float(np.mean(copies[0] != np.array(s))))
        else:
            report["max_diff"] = max(report["max_diff"], float(np.max(np.abs(copies[0] - np.array(s)))))
    print("RESULT " + json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
