"""The export report: sizes by kind, bits per packed weight, a per-layer table; as a dict and as text.

- `bytes_by_kind`: `packed_weights` (1-bit sign bytes or INT4 nibbles), `other_weights` (every other
  constant: float/int8 filters, biases, scales, the sign lookup table, shapes), `graph` (the rest of
  the file: tensors, ops, quantization parameters, names, alignment).
- `bits_per_packed_weight` = 8·packed bytes / packed weights (1 plus byte padding for 1-bit).
- `bits_per_packed_weight_with_scales` adds what the packed filters need besides their bits: the
  shared 256x8 sign table (2 KiB) and per-channel scales (4 bytes a channel as a float constant, or
  12 as int8 quantization parameters: float scale + int64 zero point).
"""
import json
import re

from tfquant import files

from . import flatbuffer as fb


def _keras_layer(record, names):
    """The Keras layer whose name (or name_N, as the converter's scopes spell it) is a path segment."""
    segments = re.split(r"[/;]", record.tensor) + re.split(r"[/;]", record.output)
    for segment in segments:
        for name in names:
            if segment == name or re.fullmatch(re.escape(name) + r"_\d+", segment):
                return name
    return None


def build(fmt, model_bytes, float32_bytes, records, descriptions, verification):
    """The report dict of an exported file."""
    model = fb.read(model_bytes)
    constants = sum(len(b.data) for b in model.buffers if b.data is not None)
    packed = [r for r in records if r.packed]
    packed_bytes = sum(r.bytes for r in packed)
    packed_weights = sum(r.weights for r in packed)
    table = sum(fb.buffer_bytes(model, t) for t in model.subgraphs[0].tensors   # the 256x8 sign tables
                if list(t.shape) == [256, 8] and fb.buffer_bytes(model, t) == 2048) if packed else 0
    scale_bytes = 4 if fmt == "packed" else 12
    names = sorted(descriptions, key=len, reverse=True)
    layers = []
    for r in records:
        layer = _keras_layer(r, names)
        layers.append({"layer": layer or r.tensor, "keras_kernel": descriptions.get(layer),
                       **{k: getattr(r, k)
                          for k in ("op", "shape", "weights", "stored_as", "bytes", "packed", "reason", "chunks")}})
    report = {
        "format": fmt, "file_bytes": len(model_bytes), "float32_bytes": float32_bytes,
        "ratio_to_float32": len(model_bytes) / float32_bytes,
        "bytes_by_kind": {"packed_weights": packed_bytes, "other_weights": constants - packed_bytes,
                          "graph": len(model_bytes) - constants},
        "packed_weights": packed_weights,
        "layers": layers, "not_packed": [l["layer"] for l in layers if not l["packed"]],
        "verification": verification,
    }
    if packed_weights:
        overhead = table + scale_bytes * sum(r.channels for r in packed)
        report["bits_per_packed_weight"] = 8 * packed_bytes / packed_weights
        report["bits_per_packed_weight_with_scales"] = 8 * (packed_bytes + overhead) / packed_weights
    return report


def to_json(report, path):
    """Write `report` as JSON to `path`, atomically (`tfquant.files`)."""
    files.write_text(path, json.dumps(report, indent=2))


def to_text(report):
    """A human-readable summary of `report`."""
    kinds = report["bytes_by_kind"]
    lines = [f"format {report['format']}: {report['file_bytes']:,} bytes "
             f"({report['ratio_to_float32']:.4f} of float32's {report['float32_bytes']:,})",
             f"  packed weights {kinds['packed_weights']:,} B, other weights {kinds['other_weights']:,} B, "
             f"graph {kinds['graph']:,} B"]
    if "bits_per_packed_weight" in report:
        lines.append(f"  {report['packed_weights']:,} packed weights: {report['bits_per_packed_weight']:.4f} "
                     f"bits each ({report['bits_per_packed_weight_with_scales']:.4f} with scales and table)")
    if "tflm_arena_bytes" in report:
        lines.append(f"  TFLite Micro minimum arena: {report['tflm_arena_bytes']:,} bytes")
    v = report["verification"]
    if v:
        agreement = f", argmax agreement {v['argmax_agreement']:.3f}" if "argmax_agreement" in v else ""
        lines.append(f"  verified on LiteRT ({v['samples']} samples): max abs error {v['max_abs_error']:.3g}, "
                     f"relative {v['relative_error']:.3g}{agreement}")
    lines.append(f"  {'layer':<28} {'op':<18} {'shape':<18} {'weights':>9} {'stored':>8} {'bytes':>9}  note")
    for l in report["layers"]:
        note = l["reason"] or ""
        if l["keras_kernel"]:
            note = f"{l['keras_kernel']}" + (f"; kept: {note}" if note else "")
        lines.append(f"  {l['layer'][:28]:<28} {l['op']:<18} {str(l['shape']):<18} {l['weights']:>9,} "
                     f"{l['stored_as']:>8} {l['bytes']:>9,}  {note}")
    return "\n".join(lines)
