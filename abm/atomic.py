"""Writing an output file all at once: a reader never sees half of it."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_output"]


def _plain_mode(out: Path) -> int:
    """The mode a plain ``open()`` would give ``out`` (or the mode of the file it replaces)."""
    try:
        return out.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextmanager
def atomic_output(out, mode: str = "wb"):
    """Open a temporary file beside ``out``; on success it replaces ``out`` in one step.

    Parameters
    ----------
    out : str or Path
        Final path.
    mode : {"wb", "w"}
        Binary or text (UTF-8).

    Yields
    ------
    file object
        Write the whole content to it. If the block raises, ``out`` is untouched
        and the temporary file is removed.
    """
    out = Path(out)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        kw = {} if "b" in mode else {"encoding": "utf-8"}
        with os.fdopen(fd, mode, **kw) as fh:
            yield fh
        # mkstemp makes the file readable by its owner only
        os.chmod(tmp, _plain_mode(out))
        os.replace(tmp, out)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
