"""`tfquant.summary(model)`: each weight's grid, bit width and memory, and per-layer parameter counts by width.

The grid of a weight comes from, in this order: the model's tfquant optimizer (what it quantizes), a per-layer
tag (`tfquant.quantize_weights`), or, for the kernels of `tfquant.kernels.TABLE`, the values themselves
(`tfquant.grids.detect`, per output channel along the table's axes), so a model loaded with ``compile=False``
for deployment is described as the exporter sees it. `kernel_grids` gives the same answer, a
`tfquant.grids.Grid` per kernel, to the export report.
"""

import collections

import numpy as np

from tfquant import grids, kernels, selection
from tfquant import quantizers as quantizers_lib
from tfquant.optimizers import quantizing_optimizer


def _declared(model, optimizer):
    variables = model.trainable_variables
    if optimizer is None:
        return [getattr(v, selection.TAG, None) for v in variables]
    if optimizer.built:
        return [optimizer.quantizer_for(v) for v in variables]
    return selection.resolve(variables, optimizer.quantize, optimizer.quantizer)


def _layouts(model):
    """``{id(variable): output-channel axes}`` for every kernel of `model` (a tag wins over the table)."""
    return {id(v): kernels.channel_axes(v, (layer, name)) for layer, name, v in kernels.model_kernels(model)}


def _weights(model, optimizer):
    """``[(variable, declared quantizer, Grid or None, axes)]`` per trainable weight: the declared grid; without a
    tfquant optimizer and a tag, the grid the values lie on (kernels only)."""
    layouts, out = _layouts(model), []
    for variable, quantizer in zip(model.trainable_variables, _declared(model, optimizer)):
        axes, grid = layouts.get(id(variable)), None
        if quantizer is not None:
            grid = quantizer.grid(np.asarray(variable), axes)
        elif optimizer is None and (axes is not None or selection.is_kernel(variable)):
            grid = grids.detect(np.asarray(variable), axes)
        out.append((variable, quantizer, grid, axes))
    return out


def _on_grid(quantizer, variable):
    """Whether `variable`'s values lie on `quantizer`'s grid: not yet when the optimizer that declares it has not
    been built (compiled, not trained), nor after float values were loaded or assigned into the model."""
    return bool(np.all(np.asarray(quantizer.on_grid(np.asarray(variable)))))


def kernel_grids(model, optimizer=None):
    """``{(layer name, weight name): Grid or None}`` for every kernel of `model`, as `rows` decides it (a frozen
    kernel, which no optimizer trains, by its values), except that a kernel whose values are not on its declared
    grid is described by its values: the export report says what the file is made from."""
    optimizer = optimizer if optimizer is not None else quantizing_optimizer(model)
    trained = {id(v): grid if quantizer is None or _on_grid(quantizer, v) else grids.detect(np.asarray(v), axes)
               for v, quantizer, grid, axes in _weights(model, optimizer)}
    return {(layer.name, name): trained[id(v)] if id(v) in trained
            else grids.detect(np.asarray(v), kernels.channel_axes(v, (layer, name)))
            for layer, name, v in kernels.model_kernels(model)}


def _layer_of(model):
    """Variable path -> the name of the layer that owns it (the innermost one)."""
    owners = {}
    layers = model._flatten_layers(include_self=False) if hasattr(model, "_flatten_layers") else model.layers
    for layer in layers:
        for variable in layer.trainable_variables:
            owners[selection.path_of(variable)] = layer.name
    return owners


def rows(model, optimizer=None):
    """One dict per trainable weight: weight, layer, shape, quantizer, grid (`tfquant.grids.Grid` or None), source,
    bits, count, bytes, float_bytes, on_grid (whether the values lie on the declared quantizer's grid; None
    without one)."""
    optimizer = optimizer if optimizer is not None else quantizing_optimizer(model)
    owners = _layer_of(model)
    for variable, quantizer, grid, axes in _weights(model, optimizer):
        source = "optimizer" if optimizer is not None else "tag"
        name = repr(quantizer) if quantizer is not None else None
        if quantizer is None and grid is not None:
            found = quantizers_lib.from_grid(grid, axes, float32=str(variable.dtype) == "float32")
            source, name = "values", repr(found) if found is not None else grid.text
        count = int(np.prod(variable.shape))
        float_bits = np.dtype(str(variable.dtype)).itemsize * 8
        bits = float_bits if grid is None or (quantizer is not None and quantizer.bits is None) else grid.bits
        path = selection.path_of(variable)
        yield {
            "weight": path,
            "layer": owners.get(path, path.rsplit("/", 1)[0]),
            "shape": tuple(variable.shape),
            "quantizer": name or "full precision",
            "grid": grid,
            "source": source if name is not None else None,
            "bits": bits,
            "count": count,
            "bytes": count * bits / 8,
            "float_bytes": count * float_bits / 8,
            "on_grid": None if quantizer is None else _on_grid(quantizer, variable),
        }


def _width(bits):
    return "1-bit" if bits == 1 else ("32-bit" if bits >= 32 else "k-bit")


def summary(model, optimizer=None, print_fn=print):
    """Print and return (as `rows`) the trainable weights: quantizer, bits per weight and packed memory,
    then, per layer, the parameter counts at 1 bit, at 2..16 bits (k-bit) and at 32 bits, with the memory
    they need stored at those widths (larq.models.summary's table; per-channel scales not counted).

    `optimizer` defaults to ``model.optimizer``; without a tfquant optimizer, tags count, and conv and dense
    kernels are checked for a grid in their values.
    """
    if not hasattr(model, "trainable_variables") or not hasattr(model, "_flatten_layers"):
        raise ValueError(f"tfquant.summary takes a keras.Model (or a layer), got {type(model).__name__}: pass the "
                         "model itself (load a .keras file with keras.models.load_model first)")
    if not model.weights:
        raise ValueError(f"{model.name!r} has no weights yet: build it first (keras.Input, model.build(shape), or "
                         "one call or fit on data)")
    table = list(rows(model, optimizer))
    width = max([len(r["weight"]) for r in table] + [6])
    lines = [f"{'weight':<{width}}  {'shape':<18} {'quantizer':<34} {'bits':>4} {'memory':>12}"]
    for r in table:
        lines.append(
            f"{r['weight']:<{width}}  {str(r['shape']):<18} {r['quantizer']:<34} {r['bits']:>4} "
            f"{r['bytes'] / 1024:>8.2f} KiB"
        )
    per_layer = collections.OrderedDict()
    for r in table:
        counts = per_layer.setdefault(r["layer"], collections.Counter())
        counts[_width(r["bits"])] += r["count"]
        counts["bytes"] += r["bytes"]
    name_width = max([len(name) for name in per_layer] + [5])
    lines.append("")
    lines.append(f"{'layer':<{name_width}}  {'# 1-bit':>10} {'# k-bit':>10} {'# 32-bit':>10} {'memory':>12}")
    for name, counts in per_layer.items():
        lines.append(
            f"{name:<{name_width}}  {counts['1-bit']:>10} {counts['k-bit']:>10} {counts['32-bit']:>10} "
            f"{counts['bytes'] / 1024:>8.2f} KiB"
        )
    pending = [r["weight"] for r in table if r.get("on_grid") is False]
    total, total_float = sum(r["bytes"] for r in table), sum(r["float_bytes"] for r in table)
    quantized = sum(r["count"] for r in table if r["quantizer"] != "full precision")
    lines.append(
        f"{quantized} of {sum(r['count'] for r in table)} weights quantized; "
        f"{total / 1024:.1f} KiB against {total_float / 1024:.1f} KiB in float "
        f"({total_float / max(total, 1e-9):.1f}x smaller)"
    )
    if pending:
        lines.append(f"not on their grid yet: {', '.join(pending)} (the optimizer rounds them when it is built, "
                     "by fit or optimizer.build; exported now, they stay float)")
    print_fn("\n".join(lines))
    return table
