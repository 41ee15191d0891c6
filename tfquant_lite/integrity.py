"""Integrity of .tflite files: a stamp over the whole file, soundness checks, the input normalisation.

Export writes a metadata entry named "tfquant" (JSON, version 2) into every file (`stamp`, the one writer):

    {"file_sha256": "<64 hex>", "format": "packed", "input_normalization": {"mean": m, "std": s} | "none" |
     "unknown", "tfquant": 2}

- `file_sha256` = SHA-256 of every byte of the file, in order, with the 64 bytes of this hex field replaced by
  64 ASCII "0" (`FILLER`). The field sits at a fixed place, first in the entry's buffer (the JSON starts with
  `PREFIX`), so it is found by parsing the metadata alone; writing it does not change what it covers. So the
  digest covers the graph, operator options, tensors, quantization parameters, constant buffers, signatures,
  the recorded normalisation and format: any change after export is refused (`ChangedAfterExport`).
  Checking it streams the file through the hash in chunks, with no second copy.
- `input_normalization`: how 8-bit pixels p become the model's input, x = (p / 255 - mean) / std;
  "none" means x = p / 255 (mean 0, std 1); "unknown" that the exporter was not told. Validated by
  `normalization.check`, the function that validates typed --mean/--std.

`check(data, trust_foreign=False)` verifies, in order: the size and the "TFL3" identifier; the flatbuffer
parses; `soundness.check` (structure, op codes, shapes against buffers, scales, zero points, names: what an
interpreter must not be handed); then the stamp:
- version 2 and the digest matches: `Integrity.VERIFIED`;
- no stamp, or `trust_foreign`: `Integrity.FOREIGN` (checked for soundness only; the recorded normalisation
  is used only when it validates);
- a digest that does not match (the file was edited, damaged, or re-quantized by another tool): refused
  with "the file was changed after export ...; re-export it, or run it with --trust-foreign";
- a version-1 stamp (the weights' checksum only, tfquant before the whole-file stamp): refused, because it
  vouches for the weights and not for the graph: re-export it, or run it with --trust-foreign.
Needs numpy, flatbuffers and the TFLite schema (via flatbuffer.py), no TensorFlow.
"""
import hashlib
import json
import struct

import numpy as np

from . import flatbuffer as fb
from . import normalization as norm
from . import soundness
from .states import Integrity

FILE_IDENTIFIER = b"TFL3"
METADATA_NAME = "tfquant"
VERSION = 2
MIN_SIZE = 8  # root offset (4 bytes) + identifier (4 bytes)
NORMALIZATION_KINDS = ("none", "unknown")
DIGEST_KEY, DIGEST_HEX = "file_sha256", 64
PREFIX = b'{"' + DIGEST_KEY.encode() + b'": "'  # the stamp's first bytes; the digest follows them
FILLER = b"0" * DIGEST_HEX
OLD_PREFIX = b'{"format": '  # a version-1 stamp (sorted keys, no digest field)
CHUNK = 1 << 20
TRUST_FOREIGN_HINT = "re-export it, or run it with --trust-foreign to treat it as a foreign file"


class DamagedModel(ValueError):
    """The file is not a sound TFLite model, or it was changed after export; the message says what and the fix."""


class ChangedAfterExport(DamagedModel):
    """The file's stamp does not match its bytes (edited, damaged, or re-quantized by another tool)."""


class OutdatedStamp(DamagedModel):
    """The file carries a version-1 stamp, which covers its weights but not its graph."""


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


def normalization_record(normalization):
    """`normalization` as it is recorded: None -> "unknown", "none", or (mean, std) -> {"mean", "std"}
    (numbers, or lists of one per channel, validated by `normalization.check`); ValueError for anything else."""
    if normalization is None:
        return "unknown"
    if isinstance(normalization, str):
        if normalization not in NORMALIZATION_KINDS:
            raise ValueError(f"normalization {normalization!r}: give (mean, std), 'none' or None")
        return normalization
    if isinstance(normalization, dict):
        if set(normalization) != set(norm.PARTS):
            raise ValueError(f"normalization {normalization!r}: give exactly 'mean' and 'std'")
        normalization = (normalization["mean"], normalization["std"])
    if not isinstance(normalization, (tuple, list)) or len(normalization) != 2:
        raise ValueError(f"normalization {normalization!r}: give (mean, std), 'none' or None")
    mean, std = norm.check(*normalization)
    return {"mean": mean, "std": std}


# -- the stamp ----------------------------------------------------------------------------------------------------
def _stamp_bytes(record):
    """The stamp's JSON: `PREFIX`, the 64 hex digits, then the other keys sorted."""
    rest = json.dumps({k: v for k, v in record.items() if k != DIGEST_KEY}, sort_keys=True)
    return PREFIX + record.get(DIGEST_KEY, FILLER.decode()).encode() + b'", ' + rest[1:].encode()


def _entries(model):
    """Metadata entries named "tfquant" (names decoded strictly)."""
    return [e for m, e in enumerate(model.metadata or [])
            if soundness.name(e.name, f"the name of metadata entry {m}") == METADATA_NAME]


def _write_entry(model, raw):
    data = np.frombuffer(raw, dtype=np.uint8).copy()
    entries = _entries(model)
    if not entries:
        buffer = fb.schema.BufferT()
        model.buffers.append(buffer)
        entry = fb.schema.MetadataT()
        entry.name, entry.buffer = METADATA_NAME.encode(), len(model.buffers) - 1
        model.metadata = (model.metadata or []) + [entry]
        entries = [entry]
    model.buffers[entries[0].buffer].data = data


def _span(data, index):
    """(start, length) of buffer `index`'s data inside the file's bytes `data`, or None when it has none."""
    buffer = fb.schema.Model.GetRootAs(data, 0).Buffers(index)
    offset = buffer._tab.Offset(4)  # field 0 of Buffer: data
    return (buffer._tab.Vector(offset), buffer._tab.VectorLen(offset)) if offset else None


def file_digest(data, start):
    """SHA-256 (hex) of `data` with bytes [start, start + 64) read as `FILLER`, streamed in chunks (no copy)."""
    view, digest = memoryview(data), hashlib.sha256()
    for low, high in ((0, start), (start + DIGEST_HEX, len(view))):
        for at in range(low, high, CHUNK):
            digest.update(view[at:min(at + CHUNK, high)])
        if low == 0:
            digest.update(FILLER)
    return digest.hexdigest()


def stamp(model_bytes, normalization=None, fmt=None):
    """`model_bytes` with the "tfquant" stamp (replacing any older one): format, input normalisation (see
    `normalization_record`) and the digest of the whole file (see the module docstring). The one writer."""
    model = fb.read(model_bytes)
    record = {"tfquant": VERSION, "format": fmt, "input_normalization": normalization_record(normalization)}
    _write_entry(model, _stamp_bytes(record))
    out = bytearray(fb.write(model))
    start = _span(out, _entries(fb.read(out))[0].buffer)[0] + len(PREFIX)
    out[start:start + DIGEST_HEX] = file_digest(out, start).encode()
    return bytes(out)


def restamp(model):
    """Bytes of a parsed, edited `model` (fold.expand), stamped again with its recorded format and normalisation
    when it carried a stamp; written plain otherwise."""
    found = _entries(model)
    try:
        record = _parse_stamp(model, found[0], "the model") if found else None
    except DamagedModel:  # a foreign file run under --trust-foreign: its stale stamp vouches for nothing
        record = None
    if record is None:
        return fb.write(model)
    return stamp(fb.write(model), record["input_normalization"], record.get("format"))


# -- reading and checking it --------------------------------------------------------------------------------------
def _raw(model, index):
    data = model.buffers[index].data
    return b"" if data is None else np.asarray(data, dtype=np.uint8).tobytes()


def _parse_stamp(model, entry, source):
    raw = _raw(model, entry.buffer)
    try:
        record = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ChangedAfterExport(f"{source}: the file was changed after export (its {METADATA_NAME!r} stamp is "
                                 f"not valid JSON: {str(error)[:60]}); {TRUST_FOREIGN_HINT}") from None
    if not isinstance(record, dict):
        raise ChangedAfterExport(f"{source}: the file was changed after export (its stamp is not a JSON object); "
                                 f"{TRUST_FOREIGN_HINT}")
    if record.get("tfquant") == 1 or (DIGEST_KEY not in record and "weights_sha256" in record):
        raise OutdatedStamp(f"{source} carries a version-1 tfquant stamp, which covers its weights but not its "
                            f"graph or metadata; re-export it with this tfquant, or run it with --trust-foreign "
                            "to treat it as a foreign file")
    digest = record.get(DIGEST_KEY)
    if (record.get("tfquant") != VERSION or not raw.startswith(PREFIX) or not isinstance(digest, str)
            or len(digest) != DIGEST_HEX or raw[len(PREFIX):len(PREFIX) + DIGEST_HEX] != digest.encode()):
        raise ChangedAfterExport(f"{source}: the file was changed after export (its stamp is malformed); "
                                 f"{TRUST_FOREIGN_HINT}")
    try:
        record["input_normalization"] = normalization_record(_recorded(record.get("input_normalization")))
    except ValueError as error:
        raise ChangedAfterExport(f"{source}: the file was changed after export (recorded {error}); "
                                 f"{TRUST_FOREIGN_HINT}") from None
    return record


def _recorded(value):
    """The recorded normalisation as `normalization_record` takes it back ("unknown" -> None)."""
    return None if value == "unknown" else value


def _stray_stamps(model, entries):
    """Buffers that hold a stamp no metadata entry named "tfquant" points at (a damaged name or index)."""
    named = {e.buffer for e in entries}
    return [i for i in range(len(model.buffers or [])) if i not in named
            and _raw(model, i)[:len(PREFIX)].startswith((PREFIX, OLD_PREFIX))]


def foreign_normalization(record_value):
    """(recorded normalisation, None) for a foreign file's value that validates, else ("unknown", the reason)."""
    try:
        return normalization_record(_recorded(record_value)), None
    except ValueError as error:
        return "unknown", str(error)


def _verify(model, data, source):
    entries = _entries(model)
    stray = _stray_stamps(model, entries)
    if len(entries) > 1 or (stray and not entries):
        raise ChangedAfterExport(f"{source}: the file was changed after export (its metadata no longer names "
                                 f"one tfquant stamp); {TRUST_FOREIGN_HINT}")
    if not entries:
        return None
    record = _parse_stamp(model, entries[0], source)
    span = _span(data, entries[0].buffer)
    if span is None:
        raise ChangedAfterExport(f"{source}: the file was changed after export (its stamp is stored outside the "
                                 f"flatbuffer); {TRUST_FOREIGN_HINT}")
    actual = file_digest(data, span[0] + len(PREFIX))
    if actual != record[DIGEST_KEY]:
        raise ChangedAfterExport(f"{source}: the file was changed after export (sha256 of its bytes {actual[:12]}... "
                                 f"!= the stamp's {record[DIGEST_KEY][:12]}...: edited, damaged, or re-quantized "
                                 f"by another tool); {TRUST_FOREIGN_HINT}")
    return record


def read_metadata(model):
    """The "tfquant" stamp of a parsed `model` as a dict (not verified), or None when it has none."""
    entries = _entries(model)
    if not entries:
        return None
    try:
        return json.loads(_raw(model, entries[0].buffer).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise DamagedModel(f"the file's {METADATA_NAME!r} metadata is not valid JSON ({error})") from error


def check(data, source="the model", trust_foreign=False):
    """Check the bytes of a .tflite file before it is run (see the module docstring).

    Returns the file's stamp as a dict, with `checksum` an `Integrity` (VERIFIED, or FOREIGN for a file without
    a stamp or under `trust_foreign`) and `input_normalization` validated; raises DamagedModel (its subclasses
    ChangedAfterExport, OutdatedStamp) naming what is wrong and the way on. A foreign file's recorded
    normalisation that does not validate is "unknown", the reason in `normalization_problem`."""
    check_header(data, source)
    try:
        model = fb.read(data)
    except Exception as error:  # noqa: BLE001 - any failure to parse is damage, whatever the parser raised
        raise DamagedModel(f"{source} is damaged: its flatbuffer cannot be parsed ({type(error).__name__}: "
                           f"{str(error)[:80]}); re-export it or copy it again") from error
    try:
        soundness.check(model, len(data))
    except soundness.Unsound as error:
        raise DamagedModel(f"{source} is damaged or malformed: {error} (re-export it or copy it again)") from error
    if trust_foreign:
        try:
            recorded = read_metadata(model) or {}
        except DamagedModel:
            recorded = {}
        recorded = recorded if isinstance(recorded, dict) else {}
        value, problem = foreign_normalization(recorded.get("input_normalization", "unknown"))
        return {"checksum": Integrity.FOREIGN, "format": None, "input_normalization": value,
                "normalization_problem": problem}
    record = _verify(model, data, source)
    if record is None:
        return {"checksum": Integrity.FOREIGN, "format": None, "input_normalization": "unknown"}
    return dict(record, checksum=Integrity.VERIFIED)
