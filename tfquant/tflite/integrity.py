"""Integrity of .tflite files: structural checks, a checksum of the weights, the input normalisation.

Export writes a metadata entry named "tfquant" (JSON) into every file:

    {"tfquant": 1, "format": "packed", "weights_sha256": "<hex>",
     "input_normalization": {"mean": m, "std": s} | "none" | "unknown"}

- `weights_sha256` = SHA-256 over the constant buffers the tensors read, in buffer order, each as its
  length (8 bytes, little endian) followed by its bytes. Metadata buffers are not weights, so stamping
  does not change it.
- `input_normalization`: how 8-bit pixels p become the model's input, x = (p / 255 - mean) / std;
  "none" means x = p / 255 (mean 0, std 1); "unknown" that the exporter was not told.

Before a file is run, `check` verifies, in order: its size (at least a flatbuffer root and identifier),
the file identifier "TFL3", the structure (the flatbuffers Python package has no verifier, so the
whole tree is parsed and every index and buffer range is checked: tensor buffers, op tensor indices,
operator codes, subgraph inputs/outputs, constant sizes against shape x element size, buffer
offset + size within the file), and the weights' checksum when the file has one. A file that fails is
refused with `DamagedModel`, naming what is wrong.
Needs numpy, flatbuffers and the TFLite schema (via flatbuffer.py), no TensorFlow.
"""
import hashlib
import json
import struct

import numpy as np

from . import flatbuffer as fb

FILE_IDENTIFIER = b"TFL3"
METADATA_NAME = "tfquant"
MIN_SIZE = 8  # root offset (4 bytes) + identifier (4 bytes)
NORMALIZATION_KINDS = ("none", "unknown")
# bytes per element of the fixed-size tensor types, to check constant sizes against shapes
_ITEM_BYTES = {t: np.dtype(d).itemsize for t, d in fb.NUMPY_TYPES.items()}
_ITEM_BYTES.update({fb.schema.TensorType.FLOAT16: 2, fb.schema.TensorType.BOOL: 1})


class DamagedModel(ValueError):
    """The file is not a sound TFLite model, or its weights do not match the checksum written at export."""


def check_header(data, source="the model"):
    """Size and file identifier, from the raw bytes alone; DamagedModel when wrong."""
    if len(data) < MIN_SIZE:
        raise DamagedModel(f"{source} is {len(data)} bytes, too short to be a TFLite model "
                           "(re-export or copy it again)")
    if data[4:8] != FILE_IDENTIFIER:
        raise DamagedModel(f"{source} is not a TFLite model: file identifier {bytes(data[4:8])!r}, expected "
                           f"{FILE_IDENTIFIER!r} (give a .tflite file written by the converter or tfquant-export)")
    root = struct.unpack_from("<I", data, 0)[0]
    if not MIN_SIZE <= root < len(data):
        raise DamagedModel(f"{source} is truncated or damaged: its root table offset {root} lies outside the "
                           f"file's {len(data)} bytes (copy it again)")


def _indices_within(indices, limit, what):
    for i in (indices if indices is not None else ()):
        if not -1 <= int(i) < limit:
            raise DamagedModel(f"{what} refers to index {int(i)} of {limit}")


def _check_tree(model, size):
    """Every reference in the parsed `model` points inside its table; buffers lie inside the file."""
    buffers = model.buffers or []
    if not model.subgraphs:
        raise DamagedModel("the model has no subgraph")
    for i, buffer in enumerate(buffers):
        if buffer.offset > 1 and buffer.offset + buffer.size > size:
            raise DamagedModel(f"buffer {i} ends at byte {buffer.offset + buffer.size}, past the file's {size}")
    codes = len(model.operatorCodes or [])
    for s, sub in enumerate(model.subgraphs):
        tensors = sub.tensors or []
        _indices_within(sub.inputs, len(tensors), f"subgraph {s}'s inputs")
        _indices_within(sub.outputs, len(tensors), f"subgraph {s}'s outputs")
        for t, tensor in enumerate(tensors):
            if not 0 <= tensor.buffer < max(len(buffers), 1):
                raise DamagedModel(f"tensor {t} refers to buffer {tensor.buffer} of {len(buffers)}")
            data = buffers[tensor.buffer].data if buffers else None
            shape = [int(d) for d in (tensor.shape if tensor.shape is not None else ())]
            if data is not None and len(data) and tensor.type in _ITEM_BYTES and min(shape, default=1) >= 0:
                expected = int(np.prod(shape)) * _ITEM_BYTES[tensor.type]
                if expected != len(data):
                    raise DamagedModel(f"tensor {fb.tensor_name(tensor) or t!r} has shape {shape} "
                                       f"({expected} bytes) but {len(data)} bytes of data")
        for o, op in enumerate(sub.operators or []):
            if not 0 <= op.opcodeIndex < codes:
                raise DamagedModel(f"operator {o} refers to operator code {op.opcodeIndex} of {codes}")
            for field in ("inputs", "outputs", "intermediates"):
                _indices_within(getattr(op, field), len(tensors), f"operator {o}'s {field}")


def _buffer_data(model, data, index):
    buffer = model.buffers[index]
    if buffer.offset > 1:  # large models keep buffers after the flatbuffer
        return bytes(data[buffer.offset:buffer.offset + buffer.size])
    return b"" if buffer.data is None else np.asarray(buffer.data, dtype=np.uint8).tobytes()


def weights_sha256(model, data=b""):
    """SHA-256 (hex) of the constant buffers the tensors of `model` read (see the module docstring);
    `data`: the file's bytes, needed only for buffers stored after the flatbuffer."""
    used = sorted({t.buffer for sub in model.subgraphs for t in (sub.tensors or [])})
    digest = hashlib.sha256()
    for index in used:
        raw = _buffer_data(model, data, index)
        if raw:
            digest.update(len(raw).to_bytes(8, "little") + raw)
    return digest.hexdigest()


def _entry(model):
    for entry in model.metadata or []:
        name = entry.name.decode() if isinstance(entry.name, bytes) else entry.name
        if name == METADATA_NAME:
            return entry
    return None


def read_metadata(model):
    """The "tfquant" metadata of a parsed `model` as a dict, or None when the file has none."""
    entry = _entry(model)
    if entry is None:
        return None
    try:
        record = json.loads(np.asarray(model.buffers[entry.buffer].data, dtype=np.uint8).tobytes())
    except (ValueError, TypeError, IndexError) as error:
        raise DamagedModel(f"the file's {METADATA_NAME!r} metadata is not valid JSON ({error})") from error
    if not isinstance(record, dict):
        raise DamagedModel(f"the file's {METADATA_NAME!r} metadata is not a JSON object")
    return record


def normalization_record(normalization):
    """`normalization` as it is recorded: None -> "unknown", "none", or (mean, std) -> {"mean", "std"}
    (numbers, or lists of one per channel); ValueError for anything else."""
    if normalization is None:
        return "unknown"
    if isinstance(normalization, str):
        if normalization not in NORMALIZATION_KINDS:
            raise ValueError(f"normalization {normalization!r}: give (mean, std), 'none' or None")
        return normalization
    if isinstance(normalization, dict):
        normalization = (normalization.get("mean"), normalization.get("std"))
    mean, std = (np.asarray(v, dtype=np.float64) if v is not None else None for v in normalization)
    if mean is None or std is None or not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std))):
        raise ValueError(f"normalization {normalization!r}: mean and std must be finite numbers")
    if np.any(std <= 0):
        raise ValueError(f"normalization std {std.tolist()} must be > 0")
    return {"mean": mean.tolist(), "std": std.tolist()}


def stamp(model_bytes, normalization=None, fmt=None):
    """`model_bytes` with a "tfquant" metadata entry (replacing any older one): the weights' checksum,
    the input normalisation (see `normalization_record`) and the export format."""
    model = fb.read(model_bytes)
    record = {"tfquant": 1, "format": fmt, "weights_sha256": weights_sha256(model),
              "input_normalization": normalization_record(normalization)}
    _write_entry(model, record)
    return fb.write(model)


def update_checksum(model):
    """Recompute the checksum of a parsed, edited `model` that carries a "tfquant" entry (fold.expand)."""
    record = read_metadata(model)
    if record is not None:
        record["weights_sha256"] = weights_sha256(model)
        _write_entry(model, record)


def _write_entry(model, record):
    data = np.frombuffer(json.dumps(record, sort_keys=True).encode(), dtype=np.uint8).copy()
    entry = _entry(model)
    if entry is None:
        buffer = fb.schema.BufferT()
        model.buffers.append(buffer)
        entry = fb.schema.MetadataT()
        entry.name, entry.buffer = METADATA_NAME.encode(), len(model.buffers) - 1
        model.metadata = (model.metadata or []) + [entry]
    model.buffers[entry.buffer].data = data


def check(data, source="the model"):
    """Check the bytes of a .tflite file before it is run (see the module docstring).

    Returns the file's "tfquant" metadata (a dict; `checksum` is "verified", or "absent" for a file
    exported without it); raises DamagedModel naming what is wrong."""
    data = bytes(data)
    check_header(data, source)
    try:
        model = fb.read(data)
    except Exception as error:  # noqa: BLE001 - any failure to parse is damage, whatever the parser raised
        raise DamagedModel(f"{source} is damaged: its flatbuffer cannot be parsed ({type(error).__name__}: "
                           f"{str(error)[:80]}); re-export it or copy it again") from error
    try:
        _check_tree(model, len(data))
    except DamagedModel as error:
        raise DamagedModel(f"{source} is damaged: {error} (re-export it or copy it again)") from error
    record = read_metadata(model)
    if record is None:
        return {"checksum": "absent", "input_normalization": "unknown"}
    expected = record.get("weights_sha256")
    actual = weights_sha256(model, data)
    if expected != actual:
        raise DamagedModel(f"{source} is damaged: its weights do not match the checksum written at export "
                           f"(sha256 {actual[:12]}... != {str(expected)[:12]}...); re-export it or copy it again")
    return dict(record, checksum="verified")
