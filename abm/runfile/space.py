"""Free disk space, checked before every write to a run file.

HDF5 does not survive a write that fails half-way: after ``ENOSPC`` in the middle of a
snapshot, the library's metadata on disk no longer matches the data, and the whole file,
with every snapshot and checkpoint completed before, becomes unreadable. So the writer
never lets a write reach a full disk: before each snapshot and checkpoint it compares the
bytes the write can take (the arrays uncompressed, an upper bound of what gzip stores,
plus :data:`RESERVE_BYTES` for HDF5 metadata, the readout rows, the sidecar and the
final status attribute) with the space the file system has left for this user, and
refuses with :class:`DiskFullError` *before* writing anything. The file then stays
complete up to its last snapshot and checkpoint, and ``abm resume`` continues it once
space has been freed.

What it cannot see: another program filling the disk between the check and the write
(a race of milliseconds), or a quota the file system does not report through
``statvfs``. A write that fails anyway is reported as :class:`WriteFailedError`, naming
the error and saying the file may be damaged.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import numpy as np

from .opening import RunFileError

__all__ = ["RESERVE_BYTES", "DiskFullError", "WriteFailedError", "free_bytes", "tree_nbytes",
           "ensure_space", "human_bytes", "write_error"]

#: Head room kept free beyond a write's arrays (HDF5 metadata, readout rows, the XDMF
#: sidecar, the status attribute written when the run stops), bytes.
RESERVE_BYTES = 4 * 1024 * 1024

#: errno values that mean "the storage refused the write", not a bug.
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG,
                   errno.EACCES, errno.EPERM}


class DiskFullError(RunFileError):
    """Not enough free space for the next write; nothing was written."""


class WriteFailedError(RunFileError):
    """A write to the run file failed at the storage level (disk full, read-only, I/O)."""


def free_bytes(path) -> int:
    """Bytes this user may still write on the file system holding ``path`` (or its folder)."""
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    return int(shutil.disk_usage(folder).free)


def tree_nbytes(obj) -> int:
    """Bytes of every NumPy-like array in a nested dict/list (``nbytes``), others ~0."""
    if isinstance(obj, dict):
        return sum(tree_nbytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(tree_nbytes(v) for v in obj)
    nb = getattr(obj, "nbytes", None)
    if nb is not None:
        return int(nb)
    if isinstance(obj, str):
        return len(obj.encode("utf-8", "replace"))
    return 8


def human_bytes(n: float) -> str:
    """``1.5 MiB``-style size."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def ensure_space(path, need: int, what: str, *, resume_hint: bool = True) -> None:
    """Refuse (before writing) unless ``need`` + :data:`RESERVE_BYTES` bytes are free.

    Parameters
    ----------
    path : Path
        The file about to be written (its folder's file system is checked).
    need : int
        Upper bound of the bytes the write stores (arrays uncompressed), bytes.
    what : str
        What is about to be written, for the message (``"the snapshot at t = 4 h"``).
    resume_hint : bool
        Say that ``abm resume`` continues the file once space is freed.

    Raises
    ------
    DiskFullError
        With the free and needed sizes and the fix.
    """
    free = free_bytes(path)
    total = int(need) + RESERVE_BYTES
    if free >= total:
        return
    p = Path(path)
    folder = p.parent if not p.is_dir() else p
    tail = (f"; {p.name} keeps everything written before it: free space and continue with "
            f"abm resume {p}") if resume_hint else "; free space or choose another --out"
    raise DiskFullError(f"not enough disk space in {folder} for {what}: "
                        f"{human_bytes(free)} free, about {human_bytes(total)} needed{tail}")


def write_error(exc: OSError, path, what: str) -> WriteFailedError | None:
    """A :class:`WriteFailedError` for a storage-level failure of ``what``, else None.

    HDF5 wraps the system error in its own message; the errno is found in either.
    """
    code = getattr(exc, "errno", None)
    text = str(exc)
    storage = code in _STORAGE_ERRNOS or any(
        os.strerror(e) in text for e in _STORAGE_ERRNOS)
    if not storage:
        return None
    reason = next((os.strerror(e) for e in _STORAGE_ERRNOS if os.strerror(e) in text),
                  os.strerror(code) if code else "I/O error")
    return WriteFailedError(f"writing {what} to {path} failed ({reason}); the file may be "
                            f"damaged after its last complete checkpoint: check it with abm info "
                            f"{path}, free space, and resume or run again")


def array_nbytes(*arrays) -> int:
    """Total ``nbytes`` of the given arrays (None skipped), bytes."""
    return sum(int(np.asarray(a).nbytes) for a in arrays if a is not None)
