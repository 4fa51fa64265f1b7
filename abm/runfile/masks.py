"""The mask arrays a run's scenario read, stored in the run file (``/masks``).

A run file never makes the program read a path recorded in it: the masks a scenario named
(``{shape: mask, file: ...}``) are stored when the run starts, and a scenario rebuilt from
the file (``abm resume``, ``abm info``) takes them from here, never from the disk.
"""

from __future__ import annotations

import h5py
import numpy as np

from .encoding import _esc, _unesc

__all__: list[str] = []        # package-internal helpers


def _write_masks(f: h5py.File, masks: dict[str, np.ndarray]) -> None:
    """Store ``masks`` (key -> boolean array indexed [x, y, z]) in ``/masks``."""
    g = f.require_group("masks")
    for key, arr in masks.items():
        name = _esc(key)
        if name in g:
            del g[name]
        g.create_dataset(name, data=np.asarray(arr, dtype=np.uint8), compression="gzip",
                         compression_opts=1, shuffle=True)


def _read_masks(f: h5py.File) -> dict[str, np.ndarray]:
    """The stored masks (key -> boolean array); empty for a file without ``/masks``."""
    g = f.get("masks")
    if not isinstance(g, h5py.Group):
        return {}
    return {_unesc(n): np.asarray(g[n][...]).astype(bool) for n in g
            if isinstance(g[n], h5py.Dataset)}
