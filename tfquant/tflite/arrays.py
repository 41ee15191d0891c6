"""Load NumPy files given by users, safely: never unpickle, and say what a file is when it is not one."""
import pathlib
import zipfile

import numpy as np

NPY_MAGIC, NPZ_MAGIC = b"\x93NUMPY", b"PK\x03\x04"


class NotAnArray(ValueError):
    """The file is not a NumPy .npy/.npz file of numbers; the message says what it is and the fix."""


def load(path, what="the array"):
    """The array in a .npy file, or the open NpzFile of a .npz; NotAnArray for anything else
    (text, pickles, Python objects, damaged files)."""
    path = pathlib.Path(path)
    with open(path, "rb") as f:
        head = f.read(6)
    if not head.startswith((NPY_MAGIC, NPZ_MAGIC)):
        raise NotAnArray(f"{path} is not a NumPy .npy/.npz file (it starts with {head!r}); "
                         f"save {what} with np.save(path, x)")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise NotAnArray(f"{path} holds Python objects, not numbers; save {what} as numbers: "
                             "np.save(path, np.asarray(x, dtype=np.float32))") from error
        raise NotAnArray(f"{path} is a damaged NumPy file ({error}); save {what} again") from error
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise NotAnArray(f"{path} is a damaged NumPy file ({error}); save {what} again") from error
