"""Cutting an open run file back to its last complete checkpoint.

So that a resumed run continues exactly where that checkpoint left off (used by
:meth:`RunWriter.resume`).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from .encoding import _decode_attr
from .layout import _complete, _numbered, _read_tree
from .opening import FORMAT_VERSION, RunFileError
from .readouts import _truncate_after

__all__: list[str] = []        # package-internal helpers


def _cut_back_to_checkpoint(f: h5py.File, p: Path) -> dict:
    """Keep what the last complete checkpoint of ``f`` needs; return that checkpoint.

    Deletes incomplete checkpoints and snapshots and those after the checkpoint's step,
    label versions no remaining snapshot uses (version 0 is always kept), and readout rows
    after the step; marks a version-1 file as the current version.

    Returns
    -------
    dict
        ``{"step": int, "time_min": float, "state": dict}``.

    Raises
    ------
    RunFileError
        No complete checkpoint.
    """
    ck = f["checkpoints"]
    done = [(int(ck[n].attrs["step"]), i, n) for i, n in _numbered(ck) if _complete(ck[n])]
    if not done:
        raise RunFileError(f"{p} has no complete checkpoint to resume from; start the run "
                           "again with `abm run ... --overwrite` (or set a shorter "
                           "checkpoint interval)")
    step, _, name = max(done, key=lambda t: (t[1], t[0]))
    state = {"step": step, "time_min": float(ck[name].attrs["time_min"]),
             "state": _read_tree(ck[name]["state"]) if "state" in ck[name] else {}}
    for i, n in _numbered(ck):
        if not _complete(ck[n]) or int(ck[n].attrs["step"]) > step:
            del ck[n]
    sn = f["snapshots"]
    for i, n in _numbered(sn):
        if not _complete(sn[n]) or int(sn[n].attrs["step"]) > step:
            del sn[n]
    # label versions: keep 0 and those used by a remaining snapshot
    used = {0} | {int(sn[n].attrs["labels_version"]) for _, n in _numbered(sn)}
    lab = f["tissue/labels"]
    for i, n in _numbered(lab):
        if i > max(used) or not _complete(lab[n]):
            if i != 0:
                del lab[n]
    if _decode_attr(f.attrs.get("format_version")) != FORMAT_VERSION:
        # a version-1 file: its old (nx, ny, nz) datasets stay readable (no ``axes``
        # attribute), but what is written from now on needs a current reader
        f.attrs["format_version"] = np.int64(FORMAT_VERSION)
    _truncate_after(f["readouts"], step)
    return state
