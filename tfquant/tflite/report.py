"""The export report: sizes by kind, bits per packed weight, a per-layer table; typed, as a dict and as text.

`ExportReport` and its `LayerRecord`s are frozen: a step that learns more (the TFLite Micro arena, the
files written, their final paths) returns a new record (`dataclasses.replace`). `to_dict()` is the JSON
`tfquant-export --report` writes; the report also reads like that dict (`report["file_bytes"]`), read-only.

- `bytes_by_kind`: `packed_weights` (1-bit sign bytes or INT4 nibbles), `other_weights` (every other
  constant: float/int8 filters, biases, scales, the sign lookup table, shapes), `graph` (the rest of
  the file: tensors, ops, quantization parameters, names, alignment).
- `bits_per_packed_weight` = 8·packed bytes / packed weights (1 plus byte padding for 1-bit).
- `bits_per_packed_weight_with_scales` adds what the packed filters need besides their bits: the
  shared 256x8 sign table (2 KiB) and per-channel scales (4 bytes a channel as a float constant, or
  12 as int8 quantization parameters: float scale + int64 zero point).
"""
import collections.abc
import dataclasses
import json

from tfquant_lite import files
from tfquant_lite import flatbuffer as fb


@dataclasses.dataclass(frozen=True)
class LayerRecord:
    """One filter of the exported file: the Keras layer it comes from and how the file stores it.

    `keras_kernel` describes the grid of the Keras kernel (None when no Keras layer matched); `reason`
    says why the filter was kept in the base format (None when packed); `chunks` is the number of
    output-channel chunks a packed int8 filter is rebuilt in.
    """
    layer: str
    keras_kernel: str | None
    op: str
    shape: tuple
    weights: int
    stored_as: str
    bytes: int
    packed: bool
    reason: str | None
    chunks: int

    def to_dict(self):
        return dict(dataclasses.asdict(self), shape=list(self.shape))


@dataclasses.dataclass(frozen=True)
class BytesByKind:
    """The file's bytes: packed weights + other weights + graph = file size."""
    packed_weights: int
    other_weights: int
    graph: int


@dataclasses.dataclass(frozen=True)
class ExportReport(collections.abc.Mapping):
    """What `tfquant.tflite.export` made (docs/EXPORT.md, "The report", describes each field).

    `verification` holds the figures on the first input set, `verification_sets` those on every set
    (`verify.py`); `metadata` what the file's "tfquant" entry records; the optional fields are None
    until known (and left out of `to_dict()`): the bits per packed weight when nothing was packed,
    `tflm_arena_bytes` unless asked for, `path` and `c_array` until written.
    """
    format: str
    file_bytes: int
    float32_bytes: int
    bytes_by_kind: BytesByKind
    packed_weights: int
    layers: tuple
    verification: dict
    verification_sets: dict
    metadata: dict
    warnings: tuple = ()
    bits_per_packed_weight: float | None = None
    bits_per_packed_weight_with_scales: float | None = None
    tflm_arena_bytes: int | None = None
    path: str | None = None
    c_array: tuple | None = None

    @property
    def ratio_to_float32(self):
        return self.file_bytes / self.float32_bytes

    @property
    def not_packed(self):
        """The layers whose filters stayed in the base format, in op order."""
        return [layer.layer for layer in self.layers if not layer.packed]

    def moved(self, moves):
        """The report with the files it names moved as `moves` says ({written path: final path})."""
        rename = {str(old): str(new) for old, new in moves.items()}
        return dataclasses.replace(
            self, path=rename.get(self.path, self.path),
            c_array=None if self.c_array is None else tuple(rename.get(p, p) for p in self.c_array))

    def to_dict(self):
        """The report as JSON-ready builtins: the keys and order `tfquant-export --report` writes."""
        out = {"format": self.format, "file_bytes": self.file_bytes, "float32_bytes": self.float32_bytes,
               "ratio_to_float32": self.ratio_to_float32, "bytes_by_kind": dataclasses.asdict(self.bytes_by_kind),
               "packed_weights": self.packed_weights, "layers": [layer.to_dict() for layer in self.layers],
               "not_packed": self.not_packed, "verification": self.verification,
               "bits_per_packed_weight": self.bits_per_packed_weight,
               "bits_per_packed_weight_with_scales": self.bits_per_packed_weight_with_scales,
               "verification_sets": self.verification_sets, "metadata": self.metadata,
               "warnings": list(self.warnings), "tflm_arena_bytes": self.tflm_arena_bytes, "path": self.path,
               "c_array": None if self.c_array is None else list(self.c_array)}
        optional = ("bits_per_packed_weight", "bits_per_packed_weight_with_scales", "tflm_arena_bytes", "path",
                    "c_array")
        return {k: v for k, v in out.items() if v is not None or k not in optional}

    def to_text(self):
        """A human-readable summary."""
        kinds = self.bytes_by_kind
        lines = [f"format {self.format}: {self.file_bytes:,} bytes "
                 f"({self.ratio_to_float32:.4f} of float32's {self.float32_bytes:,})",
                 f"  packed weights {kinds.packed_weights:,} B, other weights {kinds.other_weights:,} B, "
                 f"graph {kinds.graph:,} B"]
        if self.bits_per_packed_weight is not None:
            lines.append(f"  {self.packed_weights:,} packed weights: {self.bits_per_packed_weight:.4f} bits each "
                         f"({self.bits_per_packed_weight_with_scales:.4f} with scales and table)")
        if self.tflm_arena_bytes is not None:
            lines.append(f"  TFLite Micro minimum arena: {self.tflm_arena_bytes:,} bytes")
        v = self.verification
        if v:
            where = "TFLite Micro" if v.get("interpreter") == "tflm" else "LiteRT"
            lines.append(f"  verified on {where} ({v['samples']} samples): max abs error {v['max_abs_error']:.3g}, "
                         f"relative {v['relative_error']:.3g}{_agreement(v)}")
        lines.append(f"  {'layer':<28} {'op':<18} {'shape':<18} {'weights':>9} {'stored':>8} {'bytes':>9}  note")
        for layer in self.layers:
            note = layer.reason or ""
            if layer.keras_kernel:
                note = layer.keras_kernel + (f"; kept: {note}" if note else "")
            lines.append(f"  {layer.layer[:28]:<28} {layer.op:<18} {str(list(layer.shape)):<18} "
                         f"{layer.weights:>9,} {layer.stored_as:>8} {layer.bytes:>9,}  {note}")
        return "\n".join(lines)

    # the read-only mapping: the keys and values of `to_dict()`
    def __getitem__(self, key):
        return self.to_dict()[key]

    def __iter__(self):
        return iter(self.to_dict())

    def __len__(self):
        return len(self.to_dict())


def build(fmt, model_bytes, float32_bytes, records, sources, descriptions, verification_sets, metadata,
          warnings=()):
    """The report of an exported file `model_bytes` (before the optional arena and paths are known).

    records: its `filters.FilterRecord`s; sources: the Keras layer name of each (`layer_names.source_layers`;
    None: shown by its tensor name); descriptions: the grid of each one's Keras kernel (`tfquant.grids.text` of
    `tfquant.summary.kernel_grids`, the answer summary gives; None: no kernel matched); verification_sets:
    {input set: figures}, the first one shown.
    """
    model = fb.read(model_bytes)
    constants = sum(len(b.data) for b in model.buffers if b.data is not None)
    packed = [r for r in records if r.packed]
    packed_bytes = sum(r.bytes for r in packed)
    packed_weights = sum(r.weights for r in packed)
    layers = []
    for r, layer, description in zip(records, sources, descriptions, strict=True):
        layers.append(LayerRecord(layer=layer or r.tensor, keras_kernel=description, op=r.op,
                                  shape=tuple(r.shape), weights=r.weights, stored_as=r.stored_as, bytes=r.bytes,
                                  packed=r.packed, reason=r.reason, chunks=r.chunks))
    bits = {}
    if packed_weights:
        table = sum(fb.buffer_bytes(model, t) for t in model.subgraphs[0].tensors   # the 256x8 sign tables
                    if list(t.shape) == [256, 8] and fb.buffer_bytes(model, t) == 2048)
        overhead = table + (4 if fmt == "packed" else 12) * sum(r.channels for r in packed)
        bits = {"bits_per_packed_weight": 8 * packed_bytes / packed_weights,
                "bits_per_packed_weight_with_scales": 8 * (packed_bytes + overhead) / packed_weights}
    return ExportReport(
        format=fmt, file_bytes=len(model_bytes), float32_bytes=float32_bytes,
        bytes_by_kind=BytesByKind(packed_bytes, constants - packed_bytes, len(model_bytes) - constants),
        packed_weights=packed_weights, layers=tuple(layers), verification=next(iter(verification_sets.values())),
        verification_sets=verification_sets, metadata=metadata, warnings=tuple(warnings), **bits)


def to_json(report, path):
    """Write `report` (an `ExportReport`) as JSON to `path`, atomically (`tfquant_lite.files`)."""
    files.write_text(path, json.dumps(report.to_dict(), indent=2))


def to_text(report):
    """`report.to_text()`: the name `tfquant.tflite.report_text` gives it."""
    return report.to_text()


def _agreement(verification):
    """", argmax agreement A (D decisive samples: A_d)" of a verification's figures; '' for one-value outputs."""
    if "argmax_agreement" not in verification:
        return ""
    text = f", argmax agreement {verification['argmax_agreement']:.3f}"
    if "decisive_samples" not in verification:  # a report written before the count was recorded
        return text
    if "decisive_agreement" not in verification:
        return text + " (no decisive sample: every output a near tie, agreement not judged)"
    return text + f" ({verification['decisive_samples']} decisive samples: {verification['decisive_agreement']:.3f})"
