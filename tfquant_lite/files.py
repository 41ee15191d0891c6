"""Writing files so that a failure never leaves a half-written file or replaces a good one.

Every output of tfquant (models, reports, C arrays, checkpoints, progress, histories, plots) is written to a
temporary file in the destination's directory and moved into place with `os.replace`, which is atomic on
POSIX and Windows: a reader sees the old file or the new one, never a mixture, and a full disk, a kill or an
exception while writing leaves the old file as it was.
"""

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


class UnwritableOutput(ValueError):
    """An output path cannot be written; the message says why and what to do."""


def check_writable(path):
    """Raise `UnwritableOutput` unless a file can be created at `path` (its directory exists and is writable).

    Called before any heavy work, so that an export or a training run does not fail at its last step.
    """
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise UnwritableOutput(f"output path {path!r} is not a file name (give a str or pathlib.Path, e.g. "
                               "'model.tflite')")
    path = Path(path)
    if path.is_dir():
        raise UnwritableOutput(f"{path} is a directory (give a file name inside it)")
    folder = path.parent
    if not folder.is_dir():
        raise UnwritableOutput(f"the folder {folder} does not exist (create it first: mkdir -p {folder})")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UnwritableOutput(f"the folder {folder} is not writable (choose another output path)")
    if path.exists() and not os.access(path, os.W_OK):
        raise UnwritableOutput(f"{path} exists and is read-only (remove it or choose another output path)")
    return path


def _give_mode(temporary, path):
    """Give `temporary` the permissions of the file it replaces, or those a new file gets (0o666 less umask)."""
    if path.exists():
        os.chmod(temporary, path.stat().st_mode & 0o777)
    else:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)


@contextlib.contextmanager
def atomic_write(path, mode="wb", **open_kwargs):
    """``with atomic_write(path) as f: f.write(...)``: `path` gets the whole content, or stays as it was.

    `mode` is "wb" or "w" (text, with `open_kwargs` such as ``encoding``). The temporary file lives beside
    `path` (same file system, so the final `os.replace` is a rename) and is removed if anything fails.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes whole files: mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    with _beside(path, ".tmp") as (fd, temporary):
        with os.fdopen(fd, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())


def write_bytes(path, data):
    """`Path.write_bytes`, atomically."""
    with atomic_write(path, "wb") as f:
        f.write(data)


def write_text(path, text, encoding="utf-8"):
    """`Path.write_text`, atomically."""
    with atomic_write(path, "w", encoding=encoding) as f:
        f.write(text)


def replace_with(path, write):
    """Atomically create `path` with a writer that insists on a file name (``model.save``, ``savefig``, ``np.save``).

    `write(temporary_path)` writes the file; it is moved onto `path` only if `write` returns without error.
    The temporary name keeps `path`'s suffix, since such writers choose the format by it.
    """
    path = Path(path)
    with _beside(path, path.suffix) as (fd, temporary):
        os.close(fd)
        write(temporary)


@contextlib.contextmanager
def _beside(path, suffix):
    """A temporary file in `path`'s folder, ``(fd, name)``: moved onto `path` if the block succeeds, else removed."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    try:
        yield fd, temporary
        _give_mode(temporary, path)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def staged(*paths):
    """Write several outputs as one unit: ``with staged(a, b) as (ta, tb):`` write `ta`, `tb`; on success both
    replace `a`, `b`; on any failure none of them is touched.

    Each temporary path lives in a hidden folder beside its destination and keeps the destination's name,
    so writers that derive other names from it (a C array's ``#include "model.h"``) see the final names.
    The last step moves each file into place with `os.replace` (atomic per file).
    """
    paths = [Path(p) for p in paths]
    if len({p.resolve() for p in paths}) != len(paths):
        raise ValueError(f"staged() got the same output twice: {[str(p) for p in paths]}")
    folders = {}
    try:
        for path in paths:
            if path.parent not in folders:
                folders[path.parent] = Path(tempfile.mkdtemp(prefix=".tfquant-staging-", dir=path.parent))
        temporaries = [folders[p.parent] / p.name for p in paths]
        yield temporaries
        missing = [str(t) for t in temporaries if not t.is_file()]
        if missing:
            raise FileNotFoundError(f"staged outputs were not written: {', '.join(missing)}")
        for path, temporary in zip(paths, temporaries):
            _give_mode(temporary, path)
            os.replace(temporary, path)
    finally:
        for folder in folders.values():
            shutil.rmtree(folder, ignore_errors=True)
