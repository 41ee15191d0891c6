"""TFQUANT_BINARY (format packed-tflm) against int8 and packed-int8 on TFLite Micro, on four small nets
shaped like the MLPerf Tiny ones (NOT the published models: `benchmarks/mlperf_tiny` measures those),
every kernel ±s_c per output channel (`export_models.binarize`):
file bytes, minimum arena (bisection, `interpreters.tflm_min_arena`), median TFLM Python-interpreter
invoke time, and whether the outputs equal the int8 file's.

    python -m benchmarks.tflm_binary_kernel          # prints a Markdown table
"""
import time

import numpy as np

FORMATS = ("int8", "packed-int8", "packed-tflm")


def _nets():
    """name -> (Keras model with ±s_c kernels, calibration inputs)."""
    import keras

    from benchmarks.export_models import binarize
    L = keras.layers

    def conv(x, filters, kernel, strides=1):
        return L.ReLU()(L.Conv2D(filters, kernel, strides=strides, padding="same")(x))

    def resnet_like():
        x = inputs = keras.Input((32, 32, 3))
        x = conv(x, 16, 3)
        for filters in (16, 32, 64):
            strides = 1 if filters == 16 else 2
            y = L.Conv2D(filters, 3, padding="same")(conv(x, filters, 3, strides))
            shortcut = x if strides == 1 else L.Conv2D(filters, 1, strides=strides)(x)
            x = L.ReLU()(L.Add()([y, shortcut]))
        return keras.Model(inputs, L.Dense(10)(L.GlobalAveragePooling2D()(x))), (32, 32, 3)

    def dscnn_like():
        x = inputs = keras.Input((49, 10, 1))
        x = conv(x, 64, (10, 4), 2)
        for _ in range(4):
            x = conv(L.ReLU()(L.DepthwiseConv2D(3, padding="same")(x)), 64, 1)
        return keras.Model(inputs, L.Dense(12)(L.GlobalAveragePooling2D()(x))), (49, 10, 1)

    def mobilenet_like():
        x = inputs = keras.Input((48, 48, 3))
        x = conv(x, 8, 3, 2)
        for filters, strides in ((16, 1), (32, 2), (32, 1), (64, 2), (128, 2), (256, 2)):
            x = conv(L.ReLU()(L.DepthwiseConv2D(3, strides=strides, padding="same")(x)), filters, 1)
        return keras.Model(inputs, L.Dense(2)(L.GlobalAveragePooling2D()(x))), (48, 48, 3)

    def autoencoder():
        x = inputs = keras.Input((640,))
        for units in (128, 128, 8, 128, 128):
            x = L.ReLU()(L.Dense(units)(x))
        return keras.Model(inputs, L.Dense(640)(x)), (640,)

    nets = {}
    for name, build in (("ResNet-8-like", resnet_like), ("DS-CNN-like", dscnn_like),
                        ("MobileNetV1-like", mobilenet_like), ("autoencoder", autoencoder)):
        keras.utils.set_random_seed(0)
        model, shape = build()
        binarize(model, dense=True)
        nets[name] = model, np.random.default_rng(0).normal(0.3, 1.0, (32,) + shape).astype(np.float32)
    return nets


def _latency_ms(model_bytes, sample, repeats=50):
    """Median invoke time after 3 warm-up invokes."""
    from tfquant.tflite import interpreters
    session = interpreters.open_session(model_bytes, "tflm", arena_size=16 << 20)
    session.set_input(sample[None])
    for _ in range(3):
        session.invoke()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.invoke()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def measure():
    """Rows of (net, format, file bytes, arena bytes, latency ms, outputs == int8 on TFLM)."""
    from tfquant.tflite import convert, interpreters, pack, packed_tflm
    rows = []
    for name, (model, data) in _nets().items():
        int8 = convert.to_tflite(model, int8=True, calibration=data)
        files = {"int8": int8, "packed-int8": pack.pack(int8)[0], "packed-tflm": packed_tflm.to_packed_tflm(int8)[0]}
        expected = interpreters.run(int8, data[:8], "tflm", arena_size=16 << 20)
        for fmt, model_bytes in files.items():
            same = np.array_equal(interpreters.run(model_bytes, data[:8], "tflm", arena_size=16 << 20), expected)
            rows.append((name, fmt, len(model_bytes), interpreters.tflm_min_arena(model_bytes, data[0]),
                         _latency_ms(model_bytes, data[0]), same))
    return rows


def main():
    print("| net | format | file bytes | TFLM arena bytes | TFLM latency (ms) | outputs == int8 |")
    print("|---|---|---|---|---|---|")
    for name, fmt, size, arena, latency, same in measure():
        print(f"| {name} | {fmt} | {size:,} | {arena:,} | {latency:.2f} | {'yes' if same else 'NO'} |")


if __name__ == "__main__":
    main()
