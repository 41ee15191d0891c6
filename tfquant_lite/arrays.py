"""Load NumPy files given by users, safely: never unpickle, never allocate what the file cannot hold, and say
what a file is when it is not one.

Before NumPy reads any array, every .npy header (the file's, or each member's of a .npz) is read alone and
checked: its dtype holds no Python objects (object arrays are pickles), and prod(shape) x itemsize is no
more than the bytes that follow the header (for a .npz member: its uncompressed size). A header that claims
more (e.g. shape (99999999999, 28) in a 1 KiB file) is refused before any allocation, and so is a .npz whose
members would inflate past the caller's `limit` (a compression bomb).
"""
import pathlib
import zipfile

import numpy as np

NPY_MAGIC, NPZ_MAGIC = b"\x93NUMPY", b"PK\x03\x04"
_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


class NotAnArray(ValueError):
    """The file is not a NumPy .npy/.npz file of numbers; the message says what it is and the fix."""


def _check_header(f, available, where, what):
    """Read the .npy header at `f`'s position; NotAnArray unless it describes numbers that fit in `available`
    bytes (the header included)."""
    start = f.tell()
    try:
        version = np.lib.format.read_magic(f)
        reader = _HEADER_READERS.get(version)
        if reader is None:
            shape, _, dtype = np.lib.format._read_array_header(f, version)  # version 3.0: utf8 field names
        else:
            shape, _, dtype = reader(f)
    except (ValueError, OSError, EOFError, SyntaxError) as error:
        raise NotAnArray(f"{where} is a damaged NumPy file ({error}); save {what} again") from None
    if dtype.hasobject:
        raise NotAnArray(f"{where} holds Python objects, not numbers; save {what} as numbers: "
                         "np.save(path, np.asarray(x, dtype=np.float32))")
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    have = available - (f.tell() - start)
    if need > have:
        raise NotAnArray(f"{where}: its header claims shape {tuple(shape)} of {dtype} ({need:,} bytes) but the "
                         f"file holds {max(have, 0):,} bytes of data: it is damaged or truncated; save {what} again")


def _check_members(path, what, limit):
    """Check every member that holds a .npy header, whatever its name (NumPy reads a member "x" as array "x"
    just as it reads "x.npy"); NotAnArray when the members hold more than `limit` bytes uncompressed."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = [info for info in archive.infolist() if not info.is_dir()]
            total = sum(info.file_size for info in members)
            if limit is not None and total > limit:
                raise NotAnArray(f"{path} holds {total:,} bytes uncompressed, more than the {limit:,} it may have "
                                 f"here: it was not read; give the right file")
            for info in members:
                with archive.open(info) as f:
                    if f.read(len(NPY_MAGIC)) != NPY_MAGIC:
                        continue  # NumPy returns such a member as bytes, never as an array
                with archive.open(info) as f:
                    name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                    _check_header(f, info.file_size, f"{path} (array {name!r})", what)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as error:
        raise NotAnArray(f"{path} is a damaged NumPy file ({error}); save {what} again") from error


def load(path, what="the array", limit=None):
    """The array in a .npy file, or the open NpzFile of a .npz (every member checked, see the module docstring);
    NotAnArray for anything else (text, pickles, Python objects, damaged files, headers larger than the file, a
    .npz whose members hold more than `limit` bytes uncompressed)."""
    path = pathlib.Path(path)
    with open(path, "rb") as f:
        head = f.read(6)
        if head.startswith(NPY_MAGIC):
            f.seek(0)
            _check_header(f, path.stat().st_size, str(path), what)
    if not head.startswith((NPY_MAGIC, NPZ_MAGIC)):
        raise NotAnArray(f"{path} is not a NumPy .npy/.npz file (it starts with {head!r}); "
                         f"save {what} with np.save(path, x)")
    if head.startswith(NPZ_MAGIC):
        _check_members(path, what, limit)
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise NotAnArray(f"{path} holds Python objects, not numbers; save {what} as numbers: "
                             "np.save(path, np.asarray(x, dtype=np.float32))") from error
        raise NotAnArray(f"{path} is a damaged NumPy file ({error}); save {what} again") from error
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise NotAnArray(f"{path} is a damaged NumPy file ({error}); save {what} again") from error


def member(npz, name, path, what="the array"):
    """Array `name` of an open NpzFile `npz` (from `load`), NotAnArray when it cannot be read as numbers."""
    try:
        return npz[name]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise NotAnArray(f"{path}: array {name!r} cannot be read ({error}); save {what} again") from error
