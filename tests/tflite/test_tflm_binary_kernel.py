"""tfquant's 1-bit TFLite Micro op (tfquant_lite/tflm_kernel/) in the STOCK `tflite-micro` Python
interpreter: first the probe that guards tflm_abi.h's declarations, then TFQUANT_BINARY against the int8
file's outputs, bit for bit, on every layer kind, stride, padding, dilation, depth multiplier and channel
count of the four MLPerf Tiny nets (ResNet-8, DS-CNN, MobileNetV1 0.25, the FC autoencoder) and edge
cases (channels not a multiple of 8, dilation 2, VALID padding, input zero point != 0, RELU6), so that
both the core's 4-channel depthwise path (depth multiplier 1, channels % 4 == 0) and its general one run."""
import shutil

import numpy as np
import pytest

from tfquant.tflite import flatbuffer as fb
from tfquant.tflite import packed_tflm, requantize
from tfquant_lite import interpreters, tflm_ops

S = fb.schema
ARENA = 1 << 20
pytestmark = pytest.mark.skipif(shutil.which("g++") is None and not tflm_ops.LIBRARY.exists(),
                                reason="building the kernel library needs g++ (Debian: apt-get install g++)")


def _probe_model(constant, options=b"PRB1"):
    """input int32 [2, 3] + constant int32 [2, 3] through the TFQUANT_ABI_PROBE op."""
    model = S.ModelT()
    model.version, model.buffers = 3, [S.BufferT()]
    code = S.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = S.BuiltinOperator.CUSTOM
    code.customCode, code.version = tflm_ops.PROBE_OP_NAME.encode(), 1
    model.operatorCodes, sub = [code], S.SubGraphT()
    sub.tensors, model.subgraphs = [], [sub]
    a = fb.add_tensor(model, sub, "a", [2, 3], S.TensorType.INT32)
    b = fb.add_tensor(model, sub, "b", [2, 3], S.TensorType.INT32, np.asarray(constant, np.int32).reshape(2, 3))
    out = fb.add_tensor(model, sub, "out", [2, 3], S.TensorType.INT32)
    op = S.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, np.array([a, b], np.int32), np.array([out], np.int32)
    op.customOptions = np.frombuffer(options, np.uint8).copy()
    sub.operators, sub.inputs, sub.outputs = [op], np.array([a], np.int32), np.array([out], np.int32)
    return fb.write(model)


def _micro(model_bytes, registerer):
    from tflite_micro.python.tflite_micro import runtime
    tflm_ops.load()
    with interpreters.silenced():
        return runtime.Interpreter.from_bytes(model_bytes, custom_op_registerers=[registerer], arena_size=1 << 16)


PROBE_VALUES = [7, -1, 1 << 20, 3, 0, 42]  # kProbeValues in tfquant_binary_ops.cc


def test_abi_probe_reads_known_tensors_through_the_declared_structs():
    """Node, eval tensors (type, dims, data), custom options, persistent and scratch buffers read
    through tflm_abi.h give the known values, and the op's output proves the data pointers."""
    interpreter = _micro(_probe_model(PROBE_VALUES), tflm_ops.PROBE_REGISTERER)
    x = np.arange(6, dtype=np.int32).reshape(2, 3) * 100
    interpreter.set_input(x, 0)
    interpreter.invoke()
    np.testing.assert_array_equal(interpreter.get_output(0), x + np.reshape(PROBE_VALUES, (2, 3)))


@pytest.mark.parametrize("constant, options", [(PROBE_VALUES[:5] + [41], b"PRB1"), (PROBE_VALUES, b"PRB2")])
def test_abi_probe_fails_when_what_it_reads_differs(constant, options):
    """The probe is not vacuous: a different constant or custom option makes Prepare fail."""
    with pytest.raises(RuntimeError):
        _micro(_probe_model(constant, options), tflm_ops.PROBE_REGISTERER)


def test_registering_twice_is_refused():
    """The registerer goes through the resolver's own FindOp: a second registration is refused."""
    from tflite_micro.python.tflite_micro import runtime
    tflm_ops.load()
    with pytest.raises(RuntimeError), interpreters.silenced():
        runtime.Interpreter.from_bytes(_probe_model(PROBE_VALUES), arena_size=1 << 16,
                                       custom_op_registerers=[tflm_ops.PROBE_REGISTERER] * 2)


def test_missing_kernel_sources_are_named(monkeypatch, tmp_path):
    monkeypatch.setattr(tflm_ops, "SOURCE", tmp_path / "nowhere")
    with pytest.raises(tflm_ops.KernelUnavailable, match="kernel sources .* are missing"):
        tflm_ops.build()


def test_a_kernel_that_does_not_compile_is_reported(monkeypatch, tmp_path):
    """A build failure surfaces as KernelUnavailable with the compiler's last line, not a traceback."""
    broken = tmp_path / "src"
    shutil.copytree(tflm_ops.SOURCE, broken)
    (broken / "binary_core.c").write_text("#error deliberately broken\n")
    monkeypatch.setattr(tflm_ops, "SOURCE", broken)
    monkeypatch.setattr(tflm_ops, "BUILT", tmp_path / "build" / "libtfquant_binary_ops.so")
    with pytest.raises(tflm_ops.KernelUnavailable, match="kernel failed: .*deliberately broken"):
        tflm_ops.build()


def test_the_cached_library_is_named_by_its_sources(monkeypatch, tmp_path):
    """Another install's sources (one byte changed) get another library folder: a library built from other
    sources is never loaded for these, whatever the files' times say."""
    assert tflm_ops.BUILT.parent.name == tflm_ops._sources_digest()
    other = tmp_path / "src"
    shutil.copytree(tflm_ops.SOURCE, other)
    (other / "binary_core.c").write_bytes((other / "binary_core.c").read_bytes() + b"\n")
    monkeypatch.setattr(tflm_ops, "SOURCE", other)
    assert len(tflm_ops._sources_digest()) == 16 and tflm_ops._sources_digest() != tflm_ops.BUILT.parent.name


# ------------------------------------------------------------------------------- requantization

@pytest.mark.parametrize("real, expected", [(0.0, (0, 0)), (0.5, (1 << 30, 0)), (0.75, (3 << 29, 0)),
                                            (1.0, (1 << 30, 1)), (2.0 ** -40, (0, 0)),
                                            (1 - 2.0 ** -33, (1 << 30, 1))])
def test_quantize_multiplier_matches_tflm(real, expected):
    """M·2^shift / 2^31 = real; a q that rounds up to 2^31 moves to the next exponent; tiny flushes to 0."""
    assert requantize.quantize_multiplier(real) == expected


def test_channel_multipliers_broadcast_one_scale_and_refuse_a_count_that_fits_no_channel():
    one = requantize.channel_multipliers(0.02, [0.01], 0.05, 3)
    assert one.shape == (3, 2) and (one == one[0]).all()
    assert tuple(one[0]) == requantize.quantize_multiplier(float(np.float32(0.02)) * float(np.float32(0.01))
                                                           / float(np.float32(0.05)))
    with pytest.raises(ValueError, match="2 filter scales for 3 output channels"):
        requantize.channel_multipliers(0.02, [0.01, 0.02], 0.05, 3)


def test_activation_range_rounds_like_tflm():
    assert requantize.activation_range("NONE", 0.1, 3) == (-128, 127)
    assert requantize.activation_range("RELU", 0.1, -5) == (-5, 127)
    assert requantize.activation_range("RELU6", 0.05, -128) == (-128, -8)  # -128 + round(6 / 0.05)
    with pytest.raises(ValueError):
        requantize.activation_range("TANH", 0.1, 0)


_OVERFLOW_HARNESS = r"""
#include <stdio.h>
#include <stdint.h>
#include "binary_core.h"
/* FULLY_CONNECTED 1 <- 64 and CONV_2D 1x1 64 -> 1, every input 127 (x' = 255 with zero point -128), every
 * weight +127, bias INT32_MAX - 1000: q·Σ x' + bias leaves int32. Prints tfq_run's outputs, then the int8
 * loop's (its int32 accumulator wrapping) through the same requantization. */
int main(void) {
  static const tfq_layer layers[2] = {
      {TFQ_FULLY_CONNECTED, 1, 1, 1, 64, 1, 1, 1, 1, TFQ_PADDING_VALID, 1, -128, 0, -128, 127},
      {TFQ_CONV_2D, 1, 1, 1, 64, 1, 1, 1, 1, TFQ_PADDING_VALID, 1, -128, 0, -128, 127}};
  static const tfq_shape in = {1, 1, 1, 64}, out = {1, 1, 1, 1};
  const tfq_channel ch = {1 << 30, 127 | ((-20 & 0xFF) << 8)};
  int8_t x[64], y;
  uint8_t bits[8];
  int32_t bias = INT32_MAX - 1000, i, k, expected;
  uint32_t acc = (uint32_t)bias;
  for (i = 0; i < 64; ++i) { x[i] = 127; acc += 127u * 255u; }
  for (i = 0; i < 8; ++i) bits[i] = 0xFF;
  expected = tfq_multiply_by_quantized_multiplier((int32_t)acc, ch.multiplier, -20);
  for (k = 0; k < 2; ++k) {
    tfq_run(&layers[k], &in, x, bits, &bias, &ch, &out, &y);
    printf("%d ", y);
  }
  printf("%d\n", expected < -128 ? -128 : expected > 127 ? 127 : expected);
  return 0;
}
"""


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_core_accumulator_wraps_like_the_int8_loop_without_undefined_overflow(tmp_path):
    """An accumulator that leaves int32 (a bias near its limit) is computed modulo 2^32, as TFLM's int8
    loop's int32 accumulator wraps: the core built with -fsanitize=signed-integer-overflow (which aborts on
    any signed overflow, undefined in C) runs and gives the wrapped loop's output on both paths."""
    import subprocess
    source = tmp_path / "overflow.c"
    source.write_text(_OVERFLOW_HARNESS)
    binary = tmp_path / "overflow"
    subprocess.run(["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-fsanitize=signed-integer-overflow",
                    "-fno-sanitize-recover=all", f"-I{tflm_ops.SOURCE}", str(source),
                    str(tflm_ops.SOURCE / "binary_core.c"), "-o", str(binary)], check=True)
    done = subprocess.run([str(binary)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    fully_connected, conv, expected = (int(v) for v in done.stdout.split())
    assert fully_connected == conv == expected


# ----------------------------------------------------------------------------- layers, bit for bit

def _binarize(model, seed=0):
    """Every kernel ±s_c per output channel (random signs and scales), biases random."""
    import keras
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        for v in layer.weights:
            w = np.asarray(v)
            if "kernel" in v.name:
                if isinstance(layer, keras.layers.DepthwiseConv2D):  # (kh, kw, in, multiplier)
                    scales = rng.uniform(0.05, 0.3, w.shape[2:]).reshape((1, 1) + w.shape[2:])
                else:
                    scales = rng.uniform(0.05, 0.3, w.shape[-1]).reshape([1] * (w.ndim - 1) + [-1])
                v.assign(np.where(rng.random(w.shape) < 0.5, -1.0, 1.0) * scales)
            elif "bias" in v.name:
                v.assign(rng.normal(0, 0.2, w.shape))


def _layer(kind, *args, **kwargs):
    import keras
    return getattr(keras.layers, kind)(*args, **kwargs)


# (name, layer, input shape, fused activation, input offset: the calibration data's mean, so the
# input zero point is != 0 where it is not 0)
CASES = [
    ("resnet8 3x3 s1 16->16 relu", ("Conv2D", 16, 3), {"padding": "same"}, (8, 8, 16), "relu", 0.0),
    ("resnet8 3x3 s2 16->32", ("Conv2D", 32, 3), {"strides": 2, "padding": "same"}, (8, 8, 16), None, 0.0),
    ("resnet8 3x3 s2 32->64", ("Conv2D", 64, 3), {"strides": 2, "padding": "same"}, (8, 8, 32), "relu", 0.0),
    ("resnet8 1x1 s2 shortcut 16->32", ("Conv2D", 32, 1), {"strides": 2, "padding": "same"}, (8, 8, 16), None, 0.0),
    ("resnet8 first conv 3 channels", ("Conv2D", 16, 3), {"padding": "same"}, (8, 8, 3), "relu", 0.5),
    ("ds-cnn 10x4 s2 1->64", ("Conv2D", 64, (10, 4)), {"strides": 2, "padding": "same"}, (25, 10, 1), "relu", 0.3),
    ("ds-cnn dw 3x3 s1 64", ("DepthwiseConv2D", 3), {"padding": "same"}, (7, 5, 64), "relu", 0.0),
    ("ds-cnn pw 1x1 64->64", ("Conv2D", 64, 1), {}, (7, 5, 64), "relu", 0.0),
    ("mobilenet conv 3x3 s2 3->8", ("Conv2D", 8, 3), {"strides": 2, "padding": "same"}, (12, 12, 3), "relu", 0.5),
    ("mobilenet dw 3x3 s1 8", ("DepthwiseConv2D", 3), {"padding": "same"}, (6, 6, 8), "relu", 0.0),
    ("mobilenet dw 3x3 s2 16", ("DepthwiseConv2D", 3), {"strides": 2, "padding": "same"}, (6, 6, 16), "relu", 0.0),
    ("mobilenet pw 1x1 128->256", ("Conv2D", 256, 1), {}, (3, 3, 128), "relu", 0.0),
    ("autoencoder fc 640->128", ("Dense", 128), {}, (640,), "relu", 0.3),
    ("autoencoder fc 128->8", ("Dense", 8), {}, (128,), "relu", 0.0),
    ("autoencoder fc 8->128", ("Dense", 128), {}, (8,), "relu", 0.0),
    ("autoencoder fc 128->640", ("Dense", 640), {}, (128,), None, 0.0),
    ("13 channels, 7 in, VALID s2", ("Conv2D", 13, 3), {"strides": 2, "padding": "valid"}, (9, 9, 7), None, 0.7),
    ("dilation 2", ("Conv2D", 5, 3), {"dilation_rate": 2, "padding": "same"}, (9, 9, 3), None, 0.4),
    ("dilation 2 VALID", ("Conv2D", 6, 3), {"dilation_rate": 2, "padding": "valid"}, (9, 9, 3), None, 0.0),
    ("dw depth multiplier 2, 5 channels, relu6", ("DepthwiseConv2D", 3), {"strides": 2, "padding": "same",
                                                                           "depth_multiplier": 2}, (8, 8, 5),
     "relu6", 0.5),
    ("dw dilation 2 VALID", ("DepthwiseConv2D", 3), {"dilation_rate": 2, "padding": "valid"}, (9, 9, 6), None, 0.2),
    ("dw 4-channel path, dilation 2, zero point", ("DepthwiseConv2D", 3), {"dilation_rate": 2, "padding": "same"},
     (9, 9, 8), None, 0.6),
    ("fc 13->7", ("Dense", 7), {}, (13,), None, 0.6),
]


def _case(layer, kwargs, shape, activation, offset):
    import keras

    from tfquant.tflite import convert
    keras.utils.set_random_seed(0)
    post = {"relu": [keras.layers.ReLU()], "relu6": [keras.layers.ReLU(6.0)], None: []}[activation]
    model = keras.Sequential([keras.Input(shape), _layer(*layer, **kwargs)] + post)
    _binarize(model)
    data = np.random.default_rng(1).normal(offset, 1.0, (16,) + shape).astype(np.float32)
    return convert.to_tflite(model, int8=True, calibration=data), data


def _custom_ops(model_bytes):
    model = fb.read(model_bytes)
    return [fb.op_name(model, op) for op in model.subgraphs[0].operators].count("CUSTOM")


@pytest.mark.parametrize("name, layer, kwargs, shape, activation, offset", CASES, ids=[c[0] for c in CASES])
def test_binary_op_equals_int8_bit_for_bit(name, layer, kwargs, shape, activation, offset):
    int8, data = _case(layer, kwargs, shape, activation, offset)
    packed, records = packed_tflm.to_packed_tflm(int8)
    assert [r.packed for r in records] == [True], [r.reason for r in records]
    assert _custom_ops(packed) == 1
    weights = records[0].weights
    assert records[0].bytes == -(-weights // 8)
    expected = interpreters.run(int8, data[:6], "tflm", arena_size=ARENA)
    actual = interpreters.run(packed, data[:6], "tflm", arena_size=ARENA)
    np.testing.assert_array_equal(actual, expected)
    assert np.ptp(expected) > 0  # a constant output would prove nothing


def test_a_flipped_bit_changes_the_output():
    """The comparison can fail: one sign bit flipped in the packed file changes the outputs."""
    int8, data = _case(("Conv2D", 8, 3), {"padding": "same"}, (6, 6, 4), None, 0.0)
    packed = fb.read(packed_tflm.to_packed_tflm(int8)[0])
    sub = packed.subgraphs[0]
    op = next(o for o in sub.operators if fb.op_name(packed, o) == "CUSTOM")
    bits = packed.buffers[sub.tensors[op.inputs[1]].buffer].data
    bits[0] ^= 1
    expected = interpreters.run(int8, data[:4], "tflm", arena_size=ARENA)
    assert not np.array_equal(interpreters.run(fb.write(packed), data[:4], "tflm", arena_size=ARENA), expected)


def _custom_op(model):
    sub = model.subgraphs[0]
    return sub, next(o for o in sub.operators if fb.op_name(model, o) == "CUSTOM")


def _bad_magic(model):
    op = _custom_op(model)[1]
    op.customOptions = op.customOptions.copy()
    op.customOptions[0] ^= 0xFF


def _bad_shift(model):
    sub, op = _custom_op(model)
    params = model.buffers[sub.tensors[op.inputs[3]].buffer].data.view(np.int32)
    params[1] = 127 | (40 << 8)  # channel 0: shift 40, outside TFLM's [-31, 30]


def _short_bits(model):
    sub, op = _custom_op(model)
    sub.tensors[op.inputs[1]].shape = np.asarray([3], np.int32)


@pytest.mark.parametrize("damage", [_bad_magic, _bad_shift, _short_bits])
def test_prepare_refuses_inconsistent_op_data(damage):
    """The op checks its options and constants in Prepare: TFLM refuses the file instead of running it."""
    from tflite_micro.python.tflite_micro import runtime
    int8, _ = _case(("Conv2D", 8, 3), {"padding": "same"}, (6, 6, 4), None, 0.0)
    model = fb.read(packed_tflm.to_packed_tflm(int8)[0])
    damage(model)
    tflm_ops.load()
    with pytest.raises(RuntimeError), interpreters.silenced():
        runtime.Interpreter.from_bytes(fb.write(model), custom_op_registerers=[tflm_ops.REGISTERER],
                                       arena_size=ARENA)


def test_other_interpreters_refuse_the_file_by_name():
    """LiteRT cannot run TFQUANT_BINARY: open_session says so and names the way on, before LiteRT fails."""
    int8, data = _case(("Conv2D", 8, 3), {"padding": "same"}, (6, 6, 4), None, 0.0)
    with pytest.raises(interpreters.InterpreterUnavailable, match="only TFLite Micro runs; use interpreter 'tflm'"):
        interpreters.run(packed_tflm.to_packed_tflm(int8)[0], data[:1], "litert")
    assert tflm_ops.uses_op(packed_tflm.to_packed_tflm(int8)[0]) and not tflm_ops.uses_op(int8)
    assert tflm_ops.registerers(int8) == []  # a plain int8 file loads no kernel library


def test_non_binary_and_unsupported_layers_stay_as_they_are():
    """A conv whose filter is not ±q_c per channel is left to TFLM's own kernel, with the reason."""
    import keras

    from tfquant.tflite import convert
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6, 6, 3)), keras.layers.Conv2D(4, 3)])
    data = np.random.default_rng(0).normal(size=(8, 6, 6, 3)).astype(np.float32)
    packed, records = packed_tflm.to_packed_tflm(convert.to_tflite(model, int8=True, calibration=data))
    assert [r.packed for r in records] == [False] and "±q_c" in records[0].reason
    assert _custom_ops(packed) == 0


def test_grouped_conv_stays_int8_with_the_reason():
    """A grouped CONV_2D (filter depth = input depth / groups), which the core refuses in Prepare, is left to
    TFLM's own kernel: the file still runs, and equals the int8 file."""
    import keras

    from tfquant.tflite import convert
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6, 6, 4)), keras.layers.Conv2D(8, 3, groups=2)])
    _binarize(model)
    data = np.random.default_rng(0).normal(size=(8, 6, 6, 4)).astype(np.float32)
    int8 = convert.to_tflite(model, int8=True, calibration=data)
    packed, records = packed_tflm.to_packed_tflm(int8)
    assert [r.packed for r in records] == [False] and "grouped CONV_2D (2 groups)" in records[0].reason
    assert _custom_ops(packed) == 0
    np.testing.assert_array_equal(interpreters.run(packed, data[:2], "tflm", arena_size=ARENA),
                                  interpreters.run(int8, data[:2], "tflm", arena_size=ARENA))


# ---------------------------------------------------------------------------------- the export format

def test_export_packed_tflm_verifies_on_tflm_and_writes_the_registering_header(tmp_path):
    """`export(format="packed-tflm")`: verified on TFLite Micro against the int8 file (difference 0),
    every binary layer 1 bit a weight, an arena no larger than int8's, and a firmware header that
    registers the custom op."""
    import keras

    import tfquant.tflite as T
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((12, 12, 3)), keras.layers.Conv2D(16, 3, strides=2, padding="same"), keras.layers.ReLU(),
        keras.layers.DepthwiseConv2D(3, padding="same"), keras.layers.ReLU(), keras.layers.Conv2D(32, 1),
        keras.layers.ReLU(), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)])
    _binarize(model)
    x = np.random.default_rng(0).normal(0.3, 1, (32, 12, 12, 3)).astype(np.float32)
    report = T.export(model, tmp_path / "m.tflite", format="packed-tflm", calibration=x, tflm_arena=True,
                      c_array_path=tmp_path / "m.cc")
    assert [layer.stored_as for layer in report.layers] == ["1-bit"] * 4
    assert all(s["max_diff_vs_unpacked"] == 0.0 for s in report.verification_sets.values())
    int8 = T.export(model, tmp_path / "m8.tflite", format="int8", calibration=x, tflm_arena=True)
    assert report.tflm_arena_bytes <= int8.tflm_arena_bytes
    assert report.file_bytes < int8.file_bytes
    header = (tmp_path / "m.h").read_text()
    assert '#include "tfquant_binary_ops.h"' in header
    assert "resolver.AddCustom(tfquant::kBinaryOpName, tfquant::Register_TFQUANT_BINARY())" in header


# ------------------------------------------------------------------------------------------ Cortex-M

@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
                    reason="needs Debian's gcc-arm-none-eabi and qemu-system-arm (the Makefile's APT list)")
@pytest.mark.parametrize("cpu, board", [("cortex-m4", "mps2-an386"), ("cortex-m55", "mps3-an547")])
def test_core_on_emulated_cortex_m_equals_the_int8_loop(cpu, board, tmp_path):
    """The C core built with arm-none-eabi-gcc -O2 -Werror runs under qemu-system-arm and gives the
    outputs of a plain int8 loop over the unpacked filter (the harness exits non-zero otherwise)."""
    from benchmarks.tflm_binary_kernel_qemu import _build, _qemu
    for layer in (0, 1, 2):
        assert _qemu(cpu, _build(cpu, layer, 3, tmp_path / f"{layer}.elf")) == 0, (cpu, board, layer)


def test_the_runner_does_not_claim_to_expand_a_packed_tflm_file(tmp_path):
    """packed-tflm has no unpack chains to fold: even with expand=True the runner loads it as it is and says so
    (its format name starts with 'packed', which once made the runner fold it and report it expanded)."""
    from tfquant_lite import integrity, runner
    int8, _ = _case(("Conv2D", 8, 3), {"padding": "same"}, (6, 6, 4), None, 0.0)
    path = tmp_path / "packed-tflm.tflite"
    path.write_bytes(integrity.stamp(packed_tflm.to_packed_tflm(int8)[0], "none", "packed-tflm"))
    images = np.random.default_rng(0).integers(0, 256, (2, 6, 6, 4)).astype(np.uint8)
    result = runner.run(path, images, interpreter="tflm", arena_kb=ARENA // 1024, expand=True)
    assert result["integrity"] == "verified" and result["expanded"] is False
