"""The readout time series of a run file (``/readouts``).

One resizable 1-D dataset per column, rows buffered in memory and made visible by raising
``n_rows_complete`` only after they are written and flushed (see "Crash safety" in
:mod:`abm.runfile`).
"""

from __future__ import annotations

import math
from pathlib import Path

import h5py
import numpy as np

from .encoding import _decode_attr, _encode_list, _esc, _scalar
from .opening import RunFileError

__all__: list[str] = []        # package-internal helpers

_READOUT_CHUNK = 1024          # rows per chunk of a readout column
_READOUT_BUFFER = 256          # rows buffered in memory before they are written


def _n_rows(ro: h5py.Group) -> int:
    """Number of complete readout rows: ``n_rows_complete``, capped by every column's length."""
    n = int(ro.attrs.get("n_rows_complete", 0))
    lens = [ds.shape[0] for ds in ro.values()]
    return min([n] + lens)


def _truncate_after(ro: h5py.Group, step: int) -> None:
    """Drop the readout rows after model step ``step`` (on resume); rows are in step order."""
    if "step" not in ro:
        return
    n = _n_rows(ro)
    steps = ro["step"][:n]
    after = np.nonzero(steps > step)[0]
    keep = int(after[0]) if after.size else n
    for ds in ro.values():
        ds.resize((keep,))
    ro.attrs["n_rows_complete"] = np.int64(keep)


class _ReadoutSeries:
    """Buffered writer of the ``/readouts`` group of an open run file.

    Parameters
    ----------
    ro : h5py.Group
        The ``/readouts`` group (its columns, if any, are read from its ``columns``
        attribute).
    path : Path
        The run file, for messages.
    """

    def __init__(self, ro: h5py.Group, path: Path):
        self._ro = ro
        self._path = Path(path)
        self._buffer: list[tuple[int, float, list[float]]] = []
        self.columns: list[str] | None = (list(_decode_attr(ro.attrs["columns"]))
                                          if "columns" in ro.attrs else None)

    def append(self, step: int, time_min: float, values: dict[str, float],
               units: dict[str, str]) -> None:
        """Buffer one row (see :meth:`abm.runfile.RunWriter.append_readouts`)."""
        if self.columns is None:
            self._create(list(values), units)
        extra = [k for k in values if k not in self.columns]
        if extra:
            raise RunFileError(f"readout(s) {extra} were not in the first row written to "
                               f"{self._path}; the readout columns are fixed by the first row "
                               f"({self.columns})")
        row = [float(_scalar(values[c])) if c in values and values[c] is not None else math.nan
               for c in self.columns]
        self._buffer.append((int(step), float(time_min), row))
        if len(self._buffer) >= _READOUT_BUFFER:
            self.write_rows()
            self._ro.file.flush()

    def _create(self, columns: list[str], units: dict[str, str]) -> None:
        ro = self._ro
        for name, dtype, unit in (("time_min", np.float64, "min"), ("step", np.int64, "1")):
            ds = ro.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype,
                                   chunks=(_READOUT_CHUNK,))
            ds.attrs["unit"] = unit
        cols = []
        for c in columns:
            if c in ("time_min", "step"):
                raise ValueError(f"readout name {c!r} is reserved")
            ds = ro.create_dataset(_esc(c), shape=(0,), maxshape=(None,), dtype=np.float64,
                                   chunks=(_READOUT_CHUNK,), fillvalue=np.nan)
            ds.attrs["unit"] = str(units.get(c, ""))
            cols.append(c)
        ro.attrs["columns"] = _encode_list(cols, "readouts")
        ro.attrs["n_rows_complete"] = np.int64(0)
        self.columns = cols
        ro.file.flush()

    def write_rows(self) -> None:
        """Write the buffered rows, flush, then mark them complete."""
        if not self._buffer:
            return
        ro = self._ro
        rows, self._buffer = self._buffer, []
        n0 = _n_rows(ro)
        n1 = n0 + len(rows)
        data = {"step": np.array([r[0] for r in rows], np.int64),
                "time_min": np.array([r[1] for r in rows], np.float64)}
        vals = np.array([r[2] for r in rows], np.float64).reshape(len(rows), len(self.columns))
        for j, c in enumerate(self.columns):
            data[_esc(c)] = vals[:, j]
        for name, arr in data.items():
            ds = ro[name]
            ds.resize((n1,))
            ds[n0:n1] = arr
        ro.file.flush()
        ro.attrs["n_rows_complete"] = np.int64(n1)
