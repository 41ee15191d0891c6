"""Stateless, counter-based uniform noise for stochastic rounding.

Stochastic rounding needs one uniform draw per weight per step, and it must be

* keyed: the same (seed, step, stream) always gives the same noise, so a resumed run, every replica of a
  data-parallel run and every backend draw exactly the same bits, with no generator state to save;
* cheap under XLA: `keras.random.uniform` only takes an int seed or a stateful `SeedGenerator`, and on
  XLA-CPU TensorFlow picks a slow stateless algorithm for it (FINDINGS: 9.6 ms against 0.33 ms).

A counter-based generator gives all three: element ``i`` of stream ``s`` at step ``t`` is

    u_i = (mix(i * 0x9E3779B9 XOR k) AND 0xFFFFFF) / 2**24,   k = mix(mix(mix(seed) XOR t) XOR s)

where ``mix`` is the "lowbias32" integer finaliser (C. Wellons, 2018; bias 0.17, better than MurmurHash3's
fmix32), a bijection of 32-bit integers, applied to a Weyl sequence XOR-ed with the key (XOR, not addition,
so that the streams of two keys are not shifted copies of each other). 24 bits become a float32 in [0, 1)
exactly. All arithmetic is int32 with two's-complement wrap-around, which every Keras backend provides, so
TensorFlow, JAX and PyTorch draw identical noise. About 17 elementwise integer operations per weight:
XLA fuses them into one loop; without XLA they are most of SR's overhead (see docs/RESULTS.md).
"""

from keras import ops

_MUL1 = 0x7FEB352D  # lowbias32 constants
_MUL2 = 0x846CA68B - (1 << 32)  # as a signed int32
_GOLDEN = 0x9E3779B9 - (1 << 32)


def _logical_right_shift(x, bits):
    """``x >>> bits`` on int32 (``ops.right_shift`` is arithmetic for signed types)."""
    return ops.bitwise_and(ops.right_shift(x, bits), (1 << (32 - bits)) - 1)


def _mix(x):
    """lowbias32: x ^= x>>>16; x *= 0x7feb352d; x ^= x>>>15; x *= 0x846ca68b; x ^= x>>>16."""
    x = ops.bitwise_xor(x, _logical_right_shift(x, 16))
    x = ops.multiply(x, ops.convert_to_tensor(_MUL1, "int32"))
    x = ops.bitwise_xor(x, _logical_right_shift(x, 15))
    x = ops.multiply(x, ops.convert_to_tensor(_MUL2, "int32"))
    return ops.bitwise_xor(x, _logical_right_shift(x, 16))


def _int32(value):
    """Any integer (Python int or integer tensor) as int32, wrapping modulo 2**32."""
    if isinstance(value, int):
        return ops.convert_to_tensor(((value + (1 << 31)) % (1 << 32)) - (1 << 31), "int32")
    return ops.cast(value, "int32")


def stream_key(seed, step, stream):
    """The 32-bit key of one draw: ``mix(mix(mix(seed) ^ step) ^ stream)``."""
    key = _mix(_int32(seed))
    key = _mix(ops.bitwise_xor(key, _int32(step)))
    return _mix(ops.bitwise_xor(key, _int32(stream)))


def uniform(shape, seed, step, stream, dtype="float32"):
    """Uniform noise in [0, 1) of `shape`, a pure function of (seed, step, stream).

    Args:
        shape: static shape of the draw.
        seed: Python int, the user's seed.
        step: int tensor or int, the optimizer step.
        stream: Python int, e.g. the variable's index, so variables draw independent noise.
    """
    size = 1
    for dim in shape:
        size *= int(dim)
    key = stream_key(seed, step, stream)
    counter = ops.arange(size, dtype="int32")
    bits = _mix(ops.bitwise_xor(ops.multiply(counter, _GOLDEN), key))
    low24 = ops.bitwise_and(bits, (1 << 24) - 1)
    noise = ops.multiply(ops.cast(low24, "float32"), 2.0**-24)
    return ops.cast(ops.reshape(noise, shape), dtype)
