"""`tfquant.summary(model)`: each quantized weight's grid, bit width and memory."""

import numpy as np

from tfquant import selection
from tfquant.callbacks import quantizing_optimizer


def _rows(model, optimizer):
    variables = model.trainable_variables
    if optimizer is None:
        chosen = [getattr(v, selection.TAG, None) for v in variables]
    elif optimizer.built:
        chosen = [optimizer.quantizer_for(v) for v in variables]
    else:
        chosen = selection.resolve(variables, optimizer.quantize, optimizer.quantizer)
    for variable, quantizer in zip(variables, chosen):
        count = int(np.prod(variable.shape))
        float_bits = np.dtype(str(variable.dtype)).itemsize * 8
        bits = float_bits if quantizer is None or quantizer.bits is None else quantizer.bits
        yield {
            "weight": variable.path,
            "shape": tuple(variable.shape),
            "quantizer": repr(quantizer) if quantizer is not None else "full precision",
            "bits": bits,
            "count": count,
            "bytes": count * bits / 8,
            "float_bytes": count * float_bits / 8,
        }


def summary(model, optimizer=None, print_fn=print):
    """Print and return a table of the trainable weights: quantizer, bits per weight and packed memory.

    `optimizer` defaults to ``model.optimizer``; without a tfquant optimizer only per-layer tags count.
    Memory is what the weights need when stored at their bit width (per-channel scales not counted).
    """
    optimizer = optimizer if optimizer is not None else quantizing_optimizer(model)
    rows = list(_rows(model, optimizer))
    width = max([len(r["weight"]) for r in rows] + [6])
    lines = [f"{'weight':<{width}}  {'shape':<18} {'quantizer':<30} {'bits':>4} {'memory':>12}"]
    for r in rows:
        lines.append(
            f"{r['weight']:<{width}}  {str(r['shape']):<18} {r['quantizer']:<30} {r['bits']:>4} "
            f"{r['bytes'] / 1024:>9.1f} KiB"
        )
    total, total_float = sum(r["bytes"] for r in rows), sum(r["float_bytes"] for r in rows)
    quantized = sum(r["count"] for r in rows if r["quantizer"] != "full precision")
    lines.append(
        f"{quantized} of {sum(r['count'] for r in rows)} weights quantized; "
        f"{total / 1024:.1f} KiB against {total_float / 1024:.1f} KiB in float "
        f"({total_float / max(total, 1e-9):.1f}x smaller)"
    )
    print_fn("\n".join(lines))
    return rows
