"""Keras model -> base TFLite flatbuffer (float32 or full-integer int8), with a fixed batch of 1.

The batch is fixed because TFLite Micro needs static shapes and LiteRT.js rejects a dynamic batch.
Full-integer int8 uses per-channel int8 filters (symmetric: a `±s_c` binary channel becomes exactly
`±127`, zero point 0), int8 activations calibrated on the given inputs, and float input/output
(QUANTIZE/DEQUANTIZE at the ends). Dense layers are quantized per tensor, because tflite-runtime
2.14 rejects per-channel FULLY_CONNECTED (version 12). A model built under a mixed-precision policy
("mixed_float16", "mixed_bfloat16") is converted computing in float32 (`float32_compute`).
"""
import contextlib
import io
import warnings

from tfquant_lite.interpreters import silenced

from .errors import ExportError


def input_shape(model):
    """Shape of the single input without its batch dimension; refuses what cannot be exported."""
    return _single_input(model)[0]


def _single_input(model):
    """(shape without batch, dtype) of the model's one input: its `inputs`, or, for a subclassed model that
    `fit` or a call has built, the input shape Keras recorded when building it."""
    inputs = getattr(model, "inputs", None) or []
    built = getattr(model, "_build_shapes_dict", None) or {}
    if len(inputs) > 1 or (not inputs and len(built) > 1):
        raise ExportError(f"the model has {len(inputs) or len(built)} inputs; the exporter handles "
                          "single-input models")
    if inputs:
        shape, dtype = tuple(inputs[0].shape[1:]), inputs[0].dtype
    elif built and isinstance(next(iter(built.values())), (tuple, list)):
        shape, dtype = tuple(next(iter(built.values()))[1:]), "float32"
    else:
        raise ExportError("the model has no defined input; build it (call it once on data or use "
                          "keras.Input) before exporting")
    if any(d is None for d in shape):
        raise ExportError(f"input shape {shape} has unknown dimensions; give keras.Input a full shape")
    return shape, dtype


def _fixed_batch(model):
    import keras
    shape, dtype = _single_input(model)
    inputs = keras.Input(batch_shape=(1,) + shape, dtype=dtype)
    outputs = model(inputs, training=False)
    if isinstance(outputs, (list, tuple, dict)):
        raise ExportError("the model has several outputs; the exporter handles single-output models")
    return keras.Model(inputs, outputs)


def to_tflite(model, int8=False, calibration=None):
    """Convert `model` to TFLite bytes; `int8=True` needs `calibration`, float32 inputs of shape (N, ...)
    already checked by `calibration.validate`."""
    import tensorflow as tf
    converter = tf.lite.TFLiteConverter.from_keras_model(_fixed_batch(model))
    if int8:
        samples = calibration
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([s[None]] for s in samples)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    with _quiet():
        try:
            return converter.convert()
        except Exception as error:  # the converter's errors are long MLIR dumps: keep the first line
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ExportError(f"the TFLite converter failed: {first}") from error


@contextlib.contextmanager
def float32_compute(model):
    """Within the block, every layer of `model` whose float32 variables compute in float16 or bfloat16 (a
    mixed-precision policy, "mixed_float16" / "mixed_bfloat16") computes in float32; each policy is given
    back after. TFLite's builtin float kernels take float32 (a float16 graph fails to convert: "'tf.Conv2D' op
    is neither a custom op nor a flex op"), and the variables hold float32 values, so the file computes what
    the trained weights compute, and verification compares it with the same float32 computation in Keras.
    Layers whose variables are not float32 (a pure "float16" policy) are refused: cast the model to float32."""
    changed = []
    try:
        for layer in model._flatten_layers(include_self=True):
            policy = getattr(layer, "dtype_policy", None)
            if policy is None or policy.compute_dtype not in ("float16", "bfloat16"):
                continue
            if policy.variable_dtype != "float32":
                raise ExportError(f"layer {layer.name!r} keeps its weights in {policy.variable_dtype} (dtype policy "
                                  f"{policy.name!r}); TFLite float kernels compute in float32: rebuild the model "
                                  "under the 'float32' or a 'mixed_*' policy and copy its weights")
            changed.append((layer, policy))
            layer.dtype_policy = "float32"
        yield
    finally:
        for layer, policy in reversed(changed):
            layer.dtype_policy = policy


@contextlib.contextmanager
def _quiet():
    """Silence the converter's printouts ('Saved artifact ...' from Python, calibration from C++) and its
    UserWarning 'Statistics for quantized inputs were expected, but not specified', which it gives on every
    full-int8 conversion: the file's input is float (quantized inside the graph), so there are none to give."""
    with contextlib.redirect_stdout(io.StringIO()), silenced(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs were expected")
        yield
