"""What makes an HDF5 file a run file, and opening one.

The format name and version, the error a user sees (:class:`RunFileError`), and opening a
file as a run file with a message that names the fix.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import os
import re
from pathlib import Path

import h5py

from ..errors import ModelInputError
from .encoding import _decode_attr

__all__ = ["FORMAT", "FORMAT_VERSION", "RunFileError"]

FORMAT = "bmsc-abm-run"
FORMAT_VERSION = 2             # 2: lattice datasets stored (nz, ny, nx) with axes="z,y,x"
_RESERVED_ROOT = ("format", "format_version", "package_version", "created")


class RunFileError(ModelInputError):
    """A run file cannot be created, opened, read or resumed.

    Raised for a missing file or folder, an existing file that would be overwritten,
    a file that is not HDF5 or is truncated/corrupt, an HDF5 file that is not a
    bmsc-abm run file, and a run without a checkpoint to resume. The message names
    the path and the fix; callers print it and exit non-zero.
    """


def _package_version() -> str:
    """Installed version of the bmsc-abm distribution (``"unknown"`` outside one)."""
    try:
        from importlib.metadata import version

        return version("bmsc-abm")
    except Exception:  # pragma: no cover - not installed as a distribution
        return "unknown"


def _open_h5(path, mode: str) -> h5py.File:
    """Open ``path`` as a bmsc-abm run file, or raise RunFileError with the fix."""
    p = Path(path)
    if not p.exists():
        raise RunFileError(f"no run file at {p}; check the path")
    if p.is_dir():
        raise RunFileError(f"{p} is a folder, not a run file; give the path of RUN.h5")
    try:
        f = h5py.File(p, mode)
    except OSError as e:
        locked = re.search(r"unable to lock|lock file|file lock", str(e), re.I) is not None
        if mode == "r" and locked:
            # Another process (a running `abm run`) holds the file: read without locking.
            try:
                f = h5py.File(p, mode, locking=False)
            except Exception as e2:  # pragma: no cover - depends on the platform
                raise RunFileError(f"{p} is not a readable HDF5 file ({_short(e2)}); "
                                   "it may be incomplete or corrupt") from None
        elif "already open" in str(e):
            raise RunFileError(f"{p} is already open in this program ({_short(e)}); close the "
                               "reader or writer that holds it first") from None
        elif locked:
            raise RunFileError(f"{p} is open in another program (HDF5 file lock: {_short(e)}); "
                               "stop that program, or wait for the run writing it to end") from None
        else:
            raise RunFileError(f"{p} is not a readable HDF5 file ({_short(e)}); "
                               "it may be incomplete or corrupt") from None
    except Exception as e:
        raise RunFileError(f"{p} is not a readable HDF5 file ({_short(e)}); "
                           "it may be incomplete or corrupt") from None
    try:
        fmt = _decode_attr(f.attrs.get("format"))
        ver = _decode_attr(f.attrs.get("format_version"))
    except Exception as e:
        f.close()
        raise RunFileError(f"{p} is not a readable HDF5 file ({_short(e)}); "
                           "it may be incomplete or corrupt") from None
    if fmt != FORMAT:
        f.close()
        raise RunFileError(f"{p} is not a bmsc-abm run file (it is HDF5 but has no "
                           f"format='{FORMAT}' attribute); check the path")
    if not isinstance(ver, int) or ver > FORMAT_VERSION:
        f.close()
        raise RunFileError(f"{p} has run-file format version {ver!r}, newer than this program "
                           f"reads ({FORMAT_VERSION}); upgrade bmsc-abm")
    try:
        link = _external_link(f)
    except Exception as e:  # noqa: BLE001 - an unreadable tree is a damaged file
        f.close()
        raise RunFileError(f"{p} is not a readable HDF5 file ({_short(e)}); "
                           "it may be incomplete or corrupt") from None
    if link is not None:
        f.close()
        raise RunFileError(f"{p} contains an HDF5 external link at {link}: a run file never "
                           "links to other files, and following one would read a file you did "
                           "not name; the file was altered: use an intact copy")
    return f


def _external_link(f: h5py.File, limit: int = 1_000_000) -> str | None:
    """Path of the first external link, or dataset stored in other files, in ``f``; else None.

    Links are inspected, never followed; a tree of more than ``limit`` entries (a crafted
    cycle of hard links) is refused as damaged.
    """
    stack, n = [f], 0
    while stack:
        g = stack.pop()
        for name in g:
            n += 1
            if n > limit:
                raise ValueError(f"more than {limit} entries")
            link = g.get(name, getlink=True)
            if not isinstance(link, (h5py.HardLink, h5py.SoftLink)):
                return f"{g.name.rstrip('/')}/{name}"
            if isinstance(link, h5py.HardLink):
                obj = g.get(name)
                if isinstance(obj, h5py.Group):
                    stack.append(obj)
                elif isinstance(obj, h5py.Dataset) and (obj.external or obj.is_virtual):
                    return f"{obj.name} (a dataset stored in another file)"
    return None


def _being_written(p: Path) -> bool:
    """Whether another open file description holds the HDF5 write lock on ``p``.

    HDF5 (1.10 and later) takes an exclusive ``flock`` on a file it opens for writing and
    a shared one for reading, for as long as the file is open. A shared lock that cannot
    be had at once therefore means a live writer (an ``abm run`` or ``abm resume`` in
    progress, or any program with the file open for writing); readers do not count. With
    ``HDF5_USE_FILE_LOCKING=FALSE`` writers take no lock and cannot be detected.
    """
    try:
        fd = os.open(p, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as e:
        return e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _refuse_if_being_written(p: Path) -> None:
    """RunFileError if another program is writing ``p`` (the file is left as it is)."""
    if p.is_file() and _being_written(p):
        raise RunFileError(f"{p} is being written by another program (an `abm run` or "
                           "`abm resume` still in progress holds its HDF5 write lock); it was "
                           "left as it is: wait for that run to end, stop it, or choose "
                           "another output path")


def _check_new_path(p: Path, overwrite: bool) -> Path:
    """``p`` if a new run file may be created there, else RunFileError naming the fix.

    Nothing is written or truncated here; an existing file that another program is
    writing is refused even with ``overwrite``.
    """
    if p.exists() and not overwrite:
        raise RunFileError(f"{p} exists; pass --overwrite to replace it, or choose another "
                           "output path")
    if p.is_dir():
        raise RunFileError(f"{p} is a folder; give a file name such as {p / 'run.h5'}")
    _refuse_if_being_written(p)
    if not p.parent.is_dir():
        raise RunFileError(f"cannot create {p}: the folder {p.parent} does not exist; "
                           "create it first or choose another output path")
    return p


def _short(e: BaseException) -> str:
    """A short, readable form of an h5py/OS error message (at most 200 characters)."""
    s = str(e).strip() or type(e).__name__
    s = s.replace("Unable to synchronously open file", "cannot open").replace(
        "Unable to open file", "cannot open")
    return s if len(s) < 200 else s[:197] + "..."


def _guard(fn):
    """Turn low-level HDF5 read errors into RunFileError naming the file."""

    @functools.wraps(fn)
    def wrapper(self, *a, **k):
        try:
            return fn(self, *a, **k)
        except RunFileError:
            raise
        except (OSError, KeyError, RuntimeError) as e:
            raise RunFileError(f"cannot read {fn.__name__} from {self.path} ({_short(e)}); "
                               "the file may be incomplete or corrupt") from None
    return wrapper
